"""Our scan against the popular peer face pipelines, side by side.

For each folder, runs one pipeline after another, each in a process of its
own (``bench/peer_pipelines.py``), on the same photos: our
``scan_folder`` (YuNet + SFace), face_recognition's dlib pipeline (HOG +
ResNet 128-d) and facenet-pytorch (MTCNN + Inception-ResNet-v1 CASIA-WebFace).
Every pipeline decodes each photo, finds all its faces and embeds every face.
Models are loaded before the clock starts, for all pipelines alike. Prints,
per pipeline: photos/s, faces/s, faces found, labelled faces found, wall and
CPU time, peak memory (max RSS of its process) and the ratio ours/peer.

Labelled faces: on LFW (no labels.csv; 250x250 photos, the labelled face
centred) a photo counts when a found box contains the image centre. On a
folder with ``labels.csv`` (the demo album) a photo with an identity counts
when >= 1 face is found there, and faces found on ``noface_*`` photos are
false positives.

Install the peers into the project's environment first (bench only; the app
never depends on them):

    .venv/bin/pip install -r bench/requirements-peers.txt
    .venv/bin/pip install --no-deps face-recognition-ng==1.4.2 facenet-pytorch==2.6.0

Usage:

    .venv/bin/python bench/peers.py [--folder PATH]... [--limit N]
        [--pipelines ours,dlib,facenet-pytorch] [--threads N] [--omp-passive] [--json]
    .venv/bin/python bench/peers.py --check-facenet-mapping

Default folders: resources/demo and ../shared/data/lfw-dev/images (skipped
with a message when absent).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from peer_pipelines import PIPELINES, BenchError, PhotoFaces, RunResult

from engine.imageio import is_photo_name

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "resources" / "demo"
LFW = REPO.parent / "shared" / "data" / "lfw-dev" / "images"
WORKER = Path(__file__).resolve().parent / "peer_pipelines.py"

# What the lead's scan must show against each peer on this machine.
TARGET_SPEEDUP = {"dlib": 4.0, "facenet-pytorch": 2.0}


@dataclass
class Labels:
    """Which photos of a folder hold a labelled face, and how to tell it was found."""

    rule: str  # "centre" (LFW) or "labels.csv"
    labelled: set[str] = field(default_factory=set)  # photos with a labelled face
    faceless: set[str] = field(default_factory=set)  # photos with no face at all

    def found(self, photo: PhotoFaces) -> bool:
        if photo.relpath not in self.labelled:
            return False
        if self.rule == "labels.csv":
            return bool(photo.boxes)
        cx, cy = photo.width / 2, photo.height / 2
        return any(x <= cx <= x + w and y <= cy <= y + h for x, y, w, h in photo.boxes)


@dataclass
class Measurement:
    """One pipeline on one folder."""

    pipeline: str
    photos: int
    faces: int
    embedded: int
    labelled_found: int
    false_positives: int
    seconds: float
    cpu_seconds: float  # of the timed work, measured inside the process
    process_cpu_seconds: float  # of the whole process, model loading and start-up included
    peak_mib: float  # max RSS of the process
    load_seconds: float
    problems: int
    threads: str
    detail: str

    @property
    def photos_per_s(self) -> float:
        return self.photos / self.seconds if self.seconds > 0 else 0.0

    @property
    def faces_per_s(self) -> float:
        return self.faces / self.seconds if self.seconds > 0 else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", action="append", type=Path, help="repeatable")
    parser.add_argument("--limit", type=int, default=None, help="first N photos of each folder")
    parser.add_argument("--pipelines", default=",".join(PIPELINES))
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--threads", type=int, default=None,
        help="cap torch and OpenCV threads in every pipeline (default: each library's own)",
    )
    parser.add_argument(
        "--omp-passive", action="store_true",
        help="run every pipeline with OMP_WAIT_POLICY=PASSIVE: OpenMP threads sleep, not spin, "
        "while they wait (default: the library's own policy)",
    )
    parser.add_argument(
        "--check-facenet-mapping", action="store_true",
        help="compare facenet-pytorch's network carrying our mapped weights with ours, then exit",
    )
    args = parser.parse_args()
    if args.check_facenet_mapping:
        from peer_pipelines import largest_mapping_error

        error = largest_mapping_error()
        print(f"largest difference of the two FaceNets' embeddings of 4 random crops: {error:.3g}")
        return 0 if error < 1e-4 else 1
    pipelines = [p.strip() for p in args.pipelines.split(",") if p.strip()]
    unknown = [p for p in pipelines if p not in PIPELINES]
    if unknown or not pipelines:
        parser.error(f"unknown pipelines {unknown}; expected some of: {', '.join(PIPELINES)}")
    folders = args.folder or [DEMO, LFW]
    if args.folder is None and not LFW.is_dir():
        sys.stderr.write(f"LFW images not found at {LFW}: skipped\n")
        folders = [DEMO]
    for folder in folders:
        if not folder.is_dir():
            parser.error(f"{folder} is not a folder of photos")

    report: dict[str, Any] = {
        "load_average_start": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "threads": args.threads,
        "omp_passive": args.omp_passive,
        "python": sys.version.split()[0],
        "folders": [],
    }
    out = _Printer(quiet=args.json)
    out.line(
        f"peers benchmark, {os.cpu_count()} CPUs, load average at start "
        f"{_load(report['load_average_start'])}"
    )
    out.line(
        "each pipeline runs in its own process, one after another; models are loaded before "
        "the clock starts (load s), the first photo is timed for all alike; "
        + (
            f"torch and OpenCV capped at {args.threads} threads (dlib: one thread)"
            if args.threads
            else "each pipeline uses the threads it uses by default (torch and OpenCV: their "
            "default thread counts; dlib: one thread)"
        )
        + (
            "; OMP_WAIT_POLICY=PASSIVE for every pipeline"
            if args.omp_passive
            else f"; OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY', 'unset')}"
        )
    )
    for folder in folders:
        report["folders"].append(
            _bench_folder(
                folder.resolve(), args.limit, pipelines, args.threads, args.omp_passive, out
            )
        )
    report["load_average_end"] = os.getloadavg()
    out.line(f"load average at end {_load(report['load_average_end'])}")
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0


def list_photos(folder: Path, limit: int | None) -> list[str]:
    """Relative paths of the photos under ``folder``, sorted, the first ``limit`` of them."""
    found: list[str] = []
    for here, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        base = Path(here).relative_to(folder)
        found.extend(str(base / name) for name in files if is_photo_name(name))
    found.sort()
    return found[:limit] if limit else found


def read_labels(folder: Path, relpaths: list[str]) -> Labels:
    """The demo album's ``labels.csv`` when there is one, else LFW's centred-face rule."""
    import csv

    table = folder / "labels.csv"
    if not table.is_file():
        return Labels("centre", labelled=set(relpaths))
    chosen = set(relpaths)
    labels = Labels("labels.csv")
    with table.open(newline="") as handle:
        for row in csv.DictReader(handle):
            name = row.get("file", "")
            if name not in chosen:
                continue
            if (row.get("identity") or "").strip():
                labels.labelled.add(name)
            if name.startswith("noface_"):
                labels.faceless.add(name)
    return labels


def measure(
    pipeline: str,
    folder: Path,
    relpaths: list[str],
    labels: Labels,
    threads: int | None = None,
    omp_passive: bool = False,
) -> Measurement:
    """Run ``pipeline`` in a fresh process on ``relpaths``; its rusage says its CPU and memory."""
    with tempfile.TemporaryDirectory(prefix="facealbum-peers-") as work:
        photo_list, result_file = Path(work) / "photos.json", Path(work) / "result.json"
        photo_list.write_text(json.dumps(relpaths))
        command = [sys.executable, str(WORKER), pipeline, str(folder), str(photo_list),
                   str(result_file)] + ([str(threads)] if threads else [])
        # The worker's own output goes to stderr, so that --json keeps stdout clean.
        env = os.environ | ({"OMP_WAIT_POLICY": "PASSIVE"} if omp_passive else {})
        process = subprocess.Popen(command, stdout=sys.stderr, cwd=REPO, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0 or not result_file.is_file():
            raise BenchError(
                f"the {pipeline} pipeline exited with status {process.returncode} on {folder}; "
                f"its error is printed above (are the peers installed? see bench/README.md)"
            )
        raw = json.loads(result_file.read_text())
    raw["photos"] = [PhotoFaces(**p) for p in raw["photos"]]
    result = RunResult(**raw)
    return Measurement(
        pipeline=pipeline,
        photos=len(result.photos),
        faces=sum(len(p.boxes) for p in result.photos),
        embedded=sum(p.embedded for p in result.photos),
        labelled_found=sum(labels.found(p) for p in result.photos),
        false_positives=sum(len(p.boxes) for p in result.photos if p.relpath in labels.faceless),
        seconds=result.seconds,
        cpu_seconds=result.cpu_seconds,
        process_cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_mib=usage.ru_maxrss / 1024,  # Linux reports KiB
        load_seconds=result.load_seconds,
        problems=result.problems,
        threads=result.threads,
        detail=result.detail,
    )


def _bench_folder(
    folder: Path,
    limit: int | None,
    pipelines: list[str],
    threads: int | None,
    omp_passive: bool,
    out: "_Printer",
) -> dict[str, Any]:
    relpaths = list_photos(folder, None)
    truncated = bool(limit) and len(relpaths) > (limit or 0)
    relpaths = relpaths[:limit] if truncated else relpaths
    if not relpaths:
        raise BenchError(f"no photos found under {folder}; pass a folder of .jpg/.png/... files")
    labels = read_labels(folder, relpaths)
    out.line("")
    out.line(f"== {folder} ({'the first ' if truncated else ''}{len(relpaths)} photos)")
    if labels.rule == "centre":
        out.line("labelled faces: photos where a found box contains the image centre (LFW rule)")
    else:
        out.line(
            f"labelled faces: {len(labels.labelled)} photos with an identity in labels.csv "
            f"where >= 1 face was found; false+ = faces found on the {len(labels.faceless)} "
            f"noface_* photos"
        )
    results: dict[str, Measurement] = {}
    with tempfile.TemporaryDirectory(prefix="facealbum-peers-photos-") as staging:
        source = _stage(folder, relpaths, Path(staging)) if truncated else folder
        for pipeline in pipelines:
            started = time.strftime("%H:%M:%S")
            out.line(f"-- {pipeline} (started {started}, load average {_load(os.getloadavg())})")
            results[pipeline] = measure(pipeline, source, relpaths, labels, threads, omp_passive)
            out.line(f"   {results[pipeline].detail}; {results[pipeline].threads}")
    out.table(list(results.values()), labels)
    out.line(
        "wall s, cpu s: the timed work (cpu = user + system of that process); proc cpu s: "
        "the whole process, start-up and model loading included; peak MiB: its max RSS"
    )
    ratios = _ratios(results, labels)
    for line in ratios["lines"]:
        out.line(line)
    return {
        "folder": str(folder),
        "photos": len(relpaths),
        "limit": limit if truncated else None,
        "labels": {"rule": labels.rule, "labelled": len(labels.labelled),
                   "faceless": len(labels.faceless)},
        "pipelines": {
            name: asdict(m) | {"photos_per_s": m.photos_per_s, "faces_per_s": m.faces_per_s}
            for name, m in results.items()
        },
        "ratios": ratios["values"],
    }


def _ratios(results: dict[str, Measurement], labels: Labels) -> dict[str, Any]:
    ours = results.get("ours")
    lines: list[str] = []
    values: dict[str, dict[str, float | bool]] = {}
    if ours is None:
        return {"lines": lines, "values": values}
    for name, peer in results.items():
        if name == "ours":
            continue
        speed = ours.photos_per_s / peer.photos_per_s if peer.photos_per_s else float("inf")
        faces = ours.faces_per_s / peer.faces_per_s if peer.faces_per_s else float("inf")
        ours_cpu = ours.cpu_seconds / max(ours.photos, 1)
        peer_cpu = peer.cpu_seconds / max(peer.photos, 1)
        cpu = peer_cpu / ours_cpu if ours_cpu else float("inf")
        memory = ours.peak_mib / peer.peak_mib if peer.peak_mib else float("inf")
        target = TARGET_SPEEDUP.get(name, 1.0)
        fast_enough = speed >= target
        finds_enough = ours.labelled_found >= peer.labelled_found
        values[name] = {
            "photos_per_s": speed, "faces_per_s": faces, "cpu_per_photo_peer_over_ours": cpu,
            "peak_memory": memory, "target_speedup": target, "speed_target_met": fast_enough,
            "labelled_target_met": finds_enough,
        }
        lines.append(
            f"ours/{name}: photos/s x{speed:.2f} (target >= x{target:g}: "
            f"{'met' if fast_enough else 'NOT met'}), faces/s x{faces:.2f}, "
            f"CPU s per photo peer/ours x{cpu:.2f}, "
            f"peak memory x{memory:.2f}; labelled {ours.labelled_found} vs "
            f"{peer.labelled_found} ({'met' if finds_enough else 'NOT met'})"
        )
    return {"lines": lines, "values": values}


def _stage(folder: Path, relpaths: list[str], staging: Path) -> Path:
    """A folder of links to just ``relpaths``, so every pipeline sees the same photos."""
    for rel in relpaths:
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(folder / rel)
    return staging


def _load(average: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in average)


class _Printer:
    """Human-readable lines on stdout, or on stderr when stdout carries --json."""

    def __init__(self, quiet: bool) -> None:
        self.stream = sys.stderr if quiet else sys.stdout

    def line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def table(self, rows: list[Measurement], labels: Labels) -> None:
        labelled = f"labelled/{len(labels.labelled)}"
        self.line(
            f"{'pipeline':16s} {'photos/s':>8s} {'faces/s':>8s} {'faces':>6s} {labelled:>13s} "
            f"{'false+':>6s} {'wall s':>8s} {'cpu s':>8s} {'proc cpu s':>10s} "
            f"{'peak MiB':>8s} {'load s':>6s}"
        )
        for m in rows:
            false_pos = str(m.false_positives) if labels.faceless else "-"
            self.line(
                f"{m.pipeline:16s} {m.photos_per_s:8.2f} {m.faces_per_s:8.2f} {m.faces:6d} "
                f"{m.labelled_found:13d} {false_pos:>6s} {m.seconds:8.2f} {m.cpu_seconds:8.2f} "
                f"{m.process_cpu_seconds:10.2f} {m.peak_mib:8.0f} {m.load_seconds:6.2f}"
            )
            if m.embedded != m.faces or m.problems:
                self.line(
                    f"  {m.pipeline}: {m.embedded} faces embedded of {m.faces} found, "
                    f"{m.problems} photos unreadable"
                )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        sys.stderr.write(f"peers: {exc}\n")
        sys.exit(1)
