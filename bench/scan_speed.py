"""Whole-scan speed on the demo album and on the LFW images.

Prints photos/s and faces/s of `scan_folder` (decode, detect, align, embed,
write) into a fresh temporary catalog, and how many photos got at least one
face. Usage:

    .venv/bin/python bench/scan_speed.py [--embedder sface] [--device cpu] [--limit N]

Reads ../shared/data/lfw-dev/images when present (skipped with a message if not).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from engine.catalog import Catalog, PhotoStatus
from engine.models.age import AgeEstimator
from engine.models.registry import get_detector, get_embedder, resolve_device
from engine.scan import ScanOptions, ScanSummary, scan_folder

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "resources" / "demo"
LFW = REPO.parent / "shared" / "data" / "lfw-dev" / "images"


def measure(
    folder: Path, options: ScanOptions, limit: int | None, ages: bool = True
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="facealbum-bench-"))
    try:
        source = folder
        if limit:
            source = work / "photos"
            source.mkdir()
            photos = sorted(p for p in folder.rglob("*.jpg"))[:limit]
            for p in photos:
                target = source / p.relative_to(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(p)
        device = resolve_device(options.device)
        detector = get_detector(options.detector, device=device)
        embedder = get_embedder(options.embedder, device=device)
        reader = AgeEstimator(device) if ages else None
        detector.load()
        embedder.load()  # model loading is start-up, not scanning
        if reader is not None:
            reader.load()
        summary = ScanSummary()
        with Catalog(work / "catalog.sqlite") as catalog:
            start, cpu_start = time.perf_counter(), time.process_time()
            for _ in scan_folder(
                catalog, source, options, summary=summary, detector=detector, embedder=embedder,
                ages=reader,
            ):
                pass
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu_start
            with_face = len({f.photo_id for f in catalog.faces()})
            ok = len(catalog.photos(status=PhotoStatus.OK))
        return {
            "photos": summary.scanned,
            "faces": summary.faces,
            "photos_with_a_face": with_face,
            "photos_ok": ok,
            "problems": summary.problems,
            "seconds": round(seconds, 2),
            "photos_per_s": round(summary.scanned / seconds, 1),
            "faces_per_s": round(summary.faces / seconds, 1),
            "cpu_seconds": round(cpu, 2),
            "stage_seconds": {k: round(v, 2) for k, v in summary.stage_seconds.items()},
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default="sface")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--limit", type=int, default=None, help="only the first N LFW photos")
    parser.add_argument("--no-ages", action="store_true",
                        help="leave out the apparent-age network (to see its cost)")
    args = parser.parse_args()
    options = ScanOptions(embedder=args.embedder, device=args.device, import_xmp=False)
    results = {"demo_album": measure(DEMO, options, None, not args.no_ages)}
    if LFW.is_dir():
        results["lfw"] = measure(LFW, options, args.limit, not args.no_ages)
    else:
        print(f"LFW images not found at {LFW}: skipped", file=sys.stderr)
    import torch

    print(
        f"embedder={args.embedder} ages={not args.no_ages} device={args.device} "
        f"torch_threads={torch.get_num_threads()}"
        f" load_average={os.getloadavg()[0]:.2f}"
    )
    for name, r in results.items():
        print(
            f"{name:11s} {r['photos']:5d} photos {r['faces']:5d} faces in {r['seconds']:7.2f} s:"
            f" {r['photos_per_s']:6.1f} photos/s {r['faces_per_s']:6.1f} faces/s"
            f" ({r['photos_with_a_face']} photos with a face, {r['problems']} problems,"
            f" {r['cpu_seconds']} CPU s)"
        )
        stages = ", ".join(f"{k} {v:.2f}" for k, v in r["stage_seconds"].items())
        print(f"{'':11s} seconds per stage: {stages}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
