"""Detection recall on crowd photos, and what the search costs, as a scan runs it.

Prints one row per method: recall at IoU 0.5 by ground-truth box height
(<16, 16-32, 32-64, >=64 px), recall of faces >= 16 px, false positives per
photo and photos/s of the detection step alone (decoding excluded, it is the
same for both). ``search`` is ``engine.detect.find_faces`` exactly as the scan
calls it; ``baseline`` is the scan's earlier path (YuNet's ``predict`` on a
copy at most 960 px long). Photos are decoded by ``engine.imageio.decode`` as
the scan decodes them. A detection is a false positive when it matches no
unmatched valid box and no box WIDER marks invalid; a second detection of the
same face counts as false.

    .venv/bin/python bench/hard_faces.py                         # WIDER dev subset
    .venv/bin/python bench/hard_faces.py --methods search --limit 20
    .venv/bin/python bench/hard_faces.py --folder resources/demo  # cost only, no truth
    .venv/bin/python bench/hard_faces.py --folder ../shared/data/lfw-dev/images --limit 500

``--folder`` times the detection step on any photos (recursively, sorted)
and prints faces found and photos with a face instead of recall.
"""

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from engine.detect import DETECT_SIDE, find_faces, in_original
from engine.imageio import Decoded, decode, is_photo_name, read_bytes
from engine.models.base import Detection, Detector
from engine.models.registry import get_detector

REPO = Path(__file__).resolve().parent.parent
WIDER = REPO.parent / "shared" / "data" / "wider-dev"
BINS = ((0.0, 16.0), (16.0, 32.0), (32.0, 64.0), (64.0, float("inf")))
IOU = 0.5

Method = Callable[[Detector, Decoded], list[Detection]]


def baseline(detector: Detector, decoded: Decoded) -> list[Detection]:
    """The scan's path before engine.detect: one look at a copy <= 960 px long."""
    image = decoded.image
    height, width = image.shape[:2]
    factor = min(1.0, DETECT_SIDE / max(height, width))
    if factor < 1.0:
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return in_original(detector.predict(image), factor * decoded.scale)


def search(detector: Detector, decoded: Decoded) -> list[Detection]:
    """engine.detect as the scan calls it."""
    return in_original(find_faces(detector, decoded.image), decoded.scale)


METHODS: dict[str, Method] = {"baseline": baseline, "search": search}


def read_truth(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Photo -> (valid boxes, invalid boxes), each (N, 4) x y w h, from WIDER's gt.txt."""
    lines = (folder / "gt.txt").read_text().splitlines()
    truth: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    i = 0
    while i < len(lines) and lines[i].strip():
        name, count = lines[i].strip(), int(lines[i + 1])
        valid: list[list[float]] = []
        invalid: list[list[float]] = []
        for row in lines[i + 2 : i + 2 + max(count, 1)]:
            values = [float(v) for v in row.split()[:8]]
            if count:
                (invalid if values[7] == 1 else valid).append(values[:4])
        truth[name] = (np.array(valid).reshape(-1, 4), np.array(invalid).reshape(-1, 4))
        i += 2 + max(count, 1)
    return truth


def overlaps(box: tuple[float, float, float, float], boxes: np.ndarray) -> np.ndarray:
    if len(boxes) == 0:
        return np.zeros(0)
    x1, y1 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2])
    y2 = np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    return inter / (box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter)


def score_photo(
    found: list[Detection], valid: np.ndarray, invalid: np.ndarray
) -> tuple[np.ndarray, int]:
    """Which valid boxes were found (greedy, best detection first), and false positives."""
    matched = np.zeros(len(valid), bool)
    false = 0
    for det in sorted(found, key=lambda d: -d.score):
        iou = np.where(matched, -1.0, overlaps(det.box, valid))
        if len(iou) and iou.max() >= IOU:
            matched[int(np.argmax(iou))] = True
        elif not (len(invalid) and overlaps(det.box, invalid).max() >= IOU):
            false += 1
    return matched, false


def measure_wider(
    detector: Detector, method: Method, folder: Path, limit: int | None
) -> dict[str, object]:
    truth = read_truth(folder)
    names = list(truth)[:limit] if limit else list(truth)
    hits, totals = np.zeros(len(BINS)), np.zeros(len(BINS))
    false, seconds = 0, 0.0
    for name in names:
        decoded = decode(read_bytes(str(folder / "images" / name)), min_side=DETECT_SIDE)
        start = time.perf_counter()
        found = method(detector, decoded)
        seconds += time.perf_counter() - start
        valid, invalid = truth[name]
        matched, wrong = score_photo(found, valid, invalid)
        false += wrong
        for k, (low, high) in enumerate(BINS):
            in_bin = (valid[:, 3] >= low) & (valid[:, 3] < high)
            totals[k] += in_bin.sum()
            hits[k] += (matched & in_bin).sum()
    recall = hits / np.maximum(totals, 1)
    return {
        "photos": len(names),
        "recall_by_height": {
            f"{low:g}-{high:g}" if high != float("inf") else f">={low:g}": round(100 * r, 1)
            for (low, high), r in zip(BINS, recall, strict=True)
        },
        "recall_16_up": round(100 * hits[1:].sum() / max(totals[1:].sum(), 1), 1),
        "false_per_photo": round(false / len(names), 3),
        "photos_per_s": round(len(names) / seconds, 1),
        "faces": [int(t) for t in totals],
    }


def measure_folder(
    detector: Detector, method: Method, folder: Path, limit: int | None
) -> dict[str, object]:
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and is_photo_name(p.name))
    paths = paths[:limit] if limit else paths
    faces, with_face, seconds, cpu = 0, 0, 0.0, 0.0
    for path in paths:
        decoded = decode(read_bytes(str(path)), min_side=DETECT_SIDE)
        start, cpu_start = time.perf_counter(), time.process_time()
        found = method(detector, decoded)
        seconds += time.perf_counter() - start
        cpu += time.process_time() - cpu_start
        faces += len(found)
        with_face += bool(found)
    return {
        "photos": len(paths),
        "faces": faces,
        "photos_with_face": with_face,
        "photos_per_s": round(len(paths) / seconds, 1),
        "cpu_ms_per_photo": round(1000 * cpu / len(paths), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=WIDER, help="WIDER-format folder")
    parser.add_argument("--folder", type=Path, help="time the detection step on these photos")
    parser.add_argument("--methods", default="baseline,search", help="comma-separated")
    parser.add_argument("--limit", type=int, help="first N photos only")
    parser.add_argument("--threads", type=int, default=0, help="OpenCV threads; 0 = default")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        cv2.setNumThreads(args.threads)
    folder = args.folder or args.data
    if not folder.is_dir():
        print(f"no photos at {folder}: pass --data or --folder", file=sys.stderr)
        return 2
    detector = get_detector("yunet")
    detector.load()  # loading is start-up, not detection
    rows = {}
    for name in args.methods.split(","):
        if name not in METHODS:
            print(f"unknown method {name!r}; expected one of {', '.join(METHODS)}", file=sys.stderr)
            return 2
        measure = measure_folder if args.folder else measure_wider
        rows[name] = measure(detector, METHODS[name], folder, args.limit)
        if not args.json:
            print(f"{name:9s} {json.dumps(rows[name])}", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
