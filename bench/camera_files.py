"""Scan speed of camera-sized files beside the speed of merely decoding them.

Makes 12-megapixel JPEG, HEIC and RAW (DNG with a full-size embedded preview)
copies of demo photos in a temporary folder, then prints for each format the
scan's photos/s beside the decode floor's photos/s (decoding alone, with as
many threads as the scan's decode pool: Pillow draft to 1600 px for JPEG, a
full pillow-heif decode for HEIC, the preview's extraction and draft decode
for RAW), and checks that the scan of the enlarged photos finds the same
faces as the scan of the originals (same count per photo, boxes scaled by
the enlargement, embeddings of the same person). Usage:

    .venv/bin/python bench/camera_files.py [--limit 40] [--formats jpeg,heic,raw]

``--detect-side N`` tries a smaller first look (``engine.detect.DETECT_SIDE``)
for the enlarged files only; the originals are always scanned as shipped, so
the check says what the smaller look loses.
"""

import argparse
import contextlib
import io
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import rawpy
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import engine.detect  # noqa: E402
import engine.scan  # noqa: E402
from engine.catalog import Catalog  # noqa: E402
from engine.models.age import AgeEstimator  # noqa: E402
from engine.models.registry import get_detector, get_embedder, resolve_device  # noqa: E402
from engine.people.cluster import ClusterParams  # noqa: E402
from engine.scan import ScanOptions, ScanSummary, scan_folder  # noqa: E402
from engine.scan import box_iou as iou  # noqa: E402
from tests.test_raw import write_dng  # noqa: E402

DEMO = REPO / "resources" / "demo"
TARGET_PIXELS = 12_000_000
SUFFIX = {"jpeg": ".jpg", "heic": ".heic", "raw": ".dng"}


def make_files(photos: list[Path], folder: Path, fmt: str) -> dict[str, float]:
    """Enlarged copies of ``photos`` in ``fmt``; returns each file's scale factor."""
    folder.mkdir(parents=True)
    factors: dict[str, float] = {}
    for photo in photos:
        with Image.open(photo) as im:
            rgb = im.convert("RGB")
        factor = math.sqrt(TARGET_PIXELS / (rgb.width * rgb.height))
        big = rgb.resize((round(rgb.width * factor), round(rgb.height * factor)),
                         Image.Resampling.BICUBIC)
        name = photo.stem + SUFFIX[fmt]
        if fmt == "jpeg":
            big.save(folder / name, "JPEG", quality=90)
        elif fmt == "heic":
            big.save(folder / name, "HEIF", quality=80)
        else:
            write_dng(folder / name, np.asarray(big), quality=90)
        factors[photo.stem] = big.width / rgb.width
    return factors


def decode_floor(folder: Path, fmt: str, threads: int) -> float:
    """Photos/s of decoding alone, the fastest a scan of these files could go."""
    files = sorted(folder.iterdir())

    def one(path: Path) -> None:
        data = path.read_bytes()
        if fmt == "raw":
            with rawpy.imread(io.BytesIO(data)) as raw:
                data = bytes(raw.extract_thumb().data)
        with Image.open(io.BytesIO(data)) as im:
            if fmt != "heic":
                im.draft("RGB", (1600, 1600))
            im.load()

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, files))
    return len(files) / (time.perf_counter() - start)


def scan(folder: Path, catalog_path: Path, options: ScanOptions, models: tuple) -> tuple:
    summary = ScanSummary()
    with Catalog(catalog_path) as catalog:
        for _ in scan_folder(catalog, folder, options, summary=summary,
                             detector=models[0], embedder=models[1], ages=models[2]):
            pass
        ids, matrix = catalog.embeddings(models[1].name)
        vectors = dict(zip((int(i) for i in ids), matrix, strict=True))
        faces = {}
        for photo in catalog.photos():
            found = catalog.faces(photo_id=photo.id)
            faces[Path(photo.display_path).stem] = [(f.box, vectors.get(f.id)) for f in found]
    return summary, faces


def same_faces(original: dict, enlarged: dict, factors: dict[str, float]) -> list[str]:
    """Where the enlarged photos' faces differ from the originals'."""
    threshold = ClusterParams().threshold
    differences = []
    for stem, faces in original.items():
        other = enlarged.get(stem, [])
        if len(other) != len(faces):
            differences.append(f"{stem}: {len(faces)} faces, enlarged {len(other)}")
            continue
        k = factors[stem]
        for box, vec in faces:
            scaled = tuple(v * k for v in box)
            best = max(other, key=lambda f: iou(scaled, f[0]))
            if iou(scaled, best[0]) < 0.5:
                differences.append(f"{stem}: face at {box} not found again")
            elif vec is not None and best[1] is not None and \
                    float(np.sum((vec - best[1]) ** 2)) > threshold:
                differences.append(f"{stem}: face at {box} looks like someone else")
    return differences


@contextlib.contextmanager
def _detect_side(side: int) -> Iterator[None]:
    """The scan with another first-look size, for measuring; 0 leaves it."""
    if not side:
        yield
        return
    saved = (engine.detect.DETECT_SIDE, engine.scan.DETECT_SIDE)
    engine.detect.DETECT_SIDE = engine.scan.DETECT_SIDE = side
    try:
        yield
    finally:
        engine.detect.DETECT_SIDE, engine.scan.DETECT_SIDE = saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=40, help="demo photos to enlarge")
    parser.add_argument("--formats", default="jpeg,heic,raw")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--detect-side", type=int, default=0,
                        help="first look's long side for the enlarged files (experiment)")
    args = parser.parse_args()
    photos = sorted(DEMO.glob("*.jpg"))[: args.limit]
    options = ScanOptions(device=args.device, import_xmp=False)
    threads = options.workers or min(4, os.cpu_count() or 1)
    device = resolve_device(args.device)
    models = (get_detector(options.detector, device=device),
              get_embedder(options.embedder, device=device), AgeEstimator(device))
    work = Path(tempfile.mkdtemp(prefix="facealbum-camera-"))
    try:
        originals = work / "originals"
        originals.mkdir()
        for p in photos:
            shutil.copy(p, originals / p.name)
        _, original_faces = scan(originals, work / "o.sqlite", options, models)
        print(f"{len(photos)} demo photos, enlarged to about {TARGET_PIXELS / 1e6:.0f} MP;"
              f" {threads} decode threads, {os.cpu_count()} cores, device {device}")
        print(f"{'format':8} {'scan/s':>8} {'floor/s':>8} {'ratio':>6}  stage seconds")
        for fmt in args.formats.split(","):
            folder = work / fmt
            factors = make_files(photos, folder, fmt)
            floor = decode_floor(folder, fmt, threads)
            with _detect_side(args.detect_side):
                summary, faces = scan(folder, work / f"{fmt}.sqlite", options, models)
            rate = summary.scanned / summary.seconds if summary.seconds else 0.0
            stages = " ".join(f"{k}={v:.1f}" for k, v in summary.stage_seconds.items())
            print(f"{fmt:8} {rate:8.2f} {floor:8.2f} {rate / floor:6.2f}  {stages}")
            differences = same_faces(original_faces, faces, factors)
            for line in differences or ["same faces as the originals"]:
                print(f"    {line}")
            if summary.problem_list:
                print(f"    problems: {summary.problem_list}")
            shutil.rmtree(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
