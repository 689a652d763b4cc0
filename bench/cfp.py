"""Frontal against profile faces (CFP): verification and clustering of embedding variants.

For every photo of ``../shared/data/cfp-dev`` the default detector finds all
faces on the scan's own decode (``engine.imageio.decode``), with landmarks
placed as the scan places them (YuNet's averaged with MTCNN's ONet's,
``engine.detect.second_landmarks``); the face nearest
the photo's centre is the one scored, the others take part in clustering as
strangers in the background of an album do (as ``facealbum eval`` does).
Each variant is scored on

- FP: ``pairs_fp.txt`` (a frontal photo against a profile photo) and FF:
  ``pairs_ff.txt`` (frontal against frontal, the control), LFW pairs format,
  5 identity-disjoint folds; the threshold is chosen on the other folds
  (``engine.metrics.verification_accuracy``); a photo without a face makes its
  pair "different", as ``facealbum eval`` counts it;
- BCubed F1 (precision, recall) of ``engine.people.cluster.cluster`` with the
  default parameters over all faces of all 3,500 photos (faces of one photo are
  never one person), scoring the central face of each photo by its folder;
- LFW (``--lfw``): ``../shared/data/lfw-dev/pairs.txt`` with
  ``bench/accuracy.py``'s landmarks (misses at the mean) and fold rule;
- crops per second of embedding on ``--threads`` torch threads (wall clock and
  per CPU second: on a shared machine the CPU column is the steadier one).

A variant is ``EMBEDDER[@ALIGN][+flip]``:

- ``EMBEDDER``: a registered embedder (``sface``, ``facenet``, ``fusion``)
  or ``fusion:W``, SFace and FaceNet embedded each on its own crop and joined
  as ``[sqrt(W) * sface, sqrt(1 - W) * facenet]``, whose squared distance is
  ``W * d_sface + (1 - W) * d_facenet`` (unit length, no renormalising). It
  reuses the two cached embeddings, so a sweep of W costs no network time;
  the registered ``fusion`` (``engine.models.fusion``, W = 0.65) gets both
  crops from one larger canvas instead, whose embeddings lie within a median
  cosine of 0.994-0.998 of these;
- ``+flip``: the embedding of the crop plus that of its mirror image,
  renormalised (test-time flip);
- ``+turned``: the flip for faces turned aside only, as the scan embeds
  (``engine.analyse.FLIP_TURNED``);
- ``+crops``: test-time crops, the mean embedding of seven crops (the
  default, zoomed out and in by 10 %, moved 3 px left, right, up and down)
  and their mirror images, 14 network passes; ``+turned-crops`` the same for
  faces turned aside only;
- ``@ALIGN``: how the similarity transform onto the template is fitted:
  ``five`` (the default: all five landmarks, Umeyama), ``vertical`` (the eye
  centre and mouth centre only, with the rotation of the eye-to-mouth line:
  turning the head shrinks the face across but not down, so the scale comes
  from the one length a yaw leaves alone), ``centre`` (scale and rotation of
  the five-point fit, placed so the eye-mouth centre lands on the template's).
  On profiles the three give crops that are hard to tell apart (the
  five-point least-squares scale already rests on the face's height when the
  eyes close up), so they are not in the default list.

BCubed depends on ``engine.people.cluster`` as it is when the script runs:
compare rows of one run. Embeddings of each crop (and of its mirror when a
``+flip`` variant asks) are cached, with a digest of the landmarks they were
aligned on, under ``--cache``
(default ``/tmp/facealbum-bench-cfp``) per data set, embedder and alignment,
so a rerun, or a variant built from cached parts, costs no network time.
``--save-crops N`` writes the first N profile crops of each alignment there
as PNG files to look at.

Usage:

    .venv/bin/python bench/cfp.py [--variants sface,sface+flip,...] [--lfw]
        [--lfw-variants ...] [--threads 1] [--cache DIR] [--save-crops N]

Skips with a message when ../shared/data/cfp-dev is absent. Never copies the
images anywhere but the cache's crop previews under /tmp.
"""

import argparse
import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.accuracy import (  # noqa: E402
    LFW,
    detect_all,
    fold_accuracy,
    landmarks_from,
    load_rgb,
    read_pairs,
)
from engine.align import align_faces, similarity_transform  # noqa: E402
from engine.analyse import FLIP_TURNED  # noqa: E402
from engine.detect import second_landmarks  # noqa: E402
from engine.imageio import decode, read_bytes  # noqa: E402
from engine.metrics import best_threshold, cluster_scores, verification_accuracy  # noqa: E402
from engine.models.base import Embedder  # noqa: E402
from engine.models.mtcnn import MtcnnCheck  # noqa: E402
from engine.models.registry import DEFAULT_DETECTOR, get_detector, get_embedder  # noqa: E402
from engine.people.cluster import Constraints, cluster  # noqa: E402
from engine.quality import face_quality  # noqa: E402

CFP = REPO.parent / "shared" / "data" / "cfp-dev"
DEFAULT_VARIANTS = "sface,sface+flip,facenet,facenet+flip,fusion:0.65,fusion:0.65+flip"
FAR = 4.0  # squared distance of opposite unit vectors: a pair with a missed face
BATCH = 16


@dataclass
class Faces:
    """Every face found in a data set, and which one of each photo is scored."""

    files: list[str]  # relative to the data set's images folder
    landmarks: np.ndarray  # (M, 5, 2) in the decoded photo's pixels
    photo: np.ndarray  # (M,) index into files
    central: np.ndarray  # (len(files),) index into the faces, -1: no face found


@dataclass
class Embedded:
    """Embeddings of every face's crop and of its mirror, and what one pass costs."""

    plain: np.ndarray
    mirror: np.ndarray | None  # None: not computed (no variant asked for the flip)
    seconds: float  # wall clock of the network, one pass over all crops
    cpu: float  # CPU seconds of the network, one pass


@dataclass
class Row:
    label: str
    fp: tuple[float, float]
    ff: tuple[float, float]
    bcubed: tuple[float, float, float]  # F1, precision, recall
    crops_per_s: float
    crops_per_cpu_s: float
    lfw: float | None = None
    lfw_threshold: float | None = None  # most accurate over all LFW pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=DEFAULT_VARIANTS)
    parser.add_argument("--lfw", action="store_true", help="also score LFW (3,811 photos)")
    parser.add_argument("--lfw-variants", default="", help="LFW only for these (default: all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/facealbum-bench-cfp"))
    parser.add_argument("--save-crops", type=int, default=0, metavar="N")
    args = parser.parse_args()
    if not (CFP / "pairs_fp.txt").is_file():
        print(f"skipped: CFP is not at {CFP} (expected images/, pairs_fp.txt, pairs_ff.txt)")
        return 0
    torch.set_num_threads(args.threads)
    args.cache.mkdir(parents=True, exist_ok=True)
    variants = [v for v in args.variants.split(",") if v]
    lfw_variants = set(args.lfw_variants.split(",")) - {""} if args.lfw else set()
    if args.lfw and not lfw_variants:
        lfw_variants = set(variants)
    faces = detect_cfp(args.cache / "cfp-faces.npz")
    print(
        f"CFP: {len(faces.files)} photos, {len(faces.photo)} faces; no face in "
        f"{int((faces.central < 0).sum())} photos; {args.threads} torch thread(s)"
    )
    if args.save_crops:
        save_profile_crops(faces, args.cache, args.save_crops)
    fp = pair_indices(faces, CFP / "pairs_fp.txt")
    ff = pair_indices(faces, CFP / "pairs_ff.txt")
    identity = [f.split("/")[0] for f in faces.files]
    rows = []
    for variant in variants:
        vectors, rate, cpu_rate = variant_vectors(variant, "cfp", faces, args.cache)
        labels = cluster(vectors, Constraints(photo=faces.photo))
        scored = faces.central >= 0
        scores = cluster_scores(
            labels[faces.central[scored]], [i for i, s in zip(identity, scored, strict=True) if s]
        )
        row = Row(
            label=variant,
            fp=verify(vectors, faces, fp),
            ff=verify(vectors, faces, ff),
            bcubed=(scores.bcubed_f1, scores.bcubed_precision, scores.bcubed_recall),
            crops_per_s=rate,
            crops_per_cpu_s=cpu_rate,
        )
        if variant in lfw_variants:
            row.lfw, row.lfw_threshold = lfw_accuracy(variant, args.cache)
        print_row(row)
        rows.append(row)
    return 0


# -- variants ------------------------------------------------------------------


def variant_vectors(
    variant: str, dataset: str, faces: Faces, cache: Path
) -> tuple[np.ndarray, float, float]:
    """(M, D) unit embeddings of a variant, crops per second and per CPU second."""
    for suffix in ("+crops", "+turned-crops"):
        if variant.endswith(suffix):
            return _many_crops(variant[: -len(suffix)], dataset, faces, cache,
                               turned_only=suffix == "+turned-crops")
    if variant.endswith("+turned"):
        # As the scan embeds: faces turned aside averaged with their mirror (engine.analyse).
        base = variant[: -len("+turned")]
        plain, _, _ = variant_vectors(base, dataset, faces, cache)
        flipped, rate, cpu_rate = variant_vectors(base + "+flip", dataset, faces, cache)
        turned = face_quality.yaws(faces.landmarks) >= FLIP_TURNED
        passes = 1.0 + float(turned.mean())  # network passes per face; +flip makes 2
        vectors = np.where(turned[:, None], flipped, plain)
        return vectors, rate * 2 / passes, cpu_rate * 2 / passes
    name, flip = (variant[: -len("+flip")], True) if variant.endswith("+flip") else (variant, False)
    name, _, alignment = name.partition("@")
    alignment = alignment or "five"
    if name.startswith("fusion:"):
        weight = float(name.split(":", 1)[1])
        parts = [
            (weight, embedded(dataset, "sface", alignment, faces, cache, flip)),
            (1.0 - weight, embedded(dataset, "facenet", alignment, faces, cache, flip)),
        ]
    else:
        parts = [(1.0, embedded(dataset, name, alignment, faces, cache, flip))]
    joined, seconds, cpu = [], 0.0, 0.0
    passes = 2 if flip else 1
    for weight, part in parts:
        joined.append(np.sqrt(weight) * (_flip_average(part) if flip else part.plain))
        seconds += part.seconds * passes
        cpu += part.cpu * passes
    count = len(faces.photo)
    return np.concatenate(joined, axis=1), count / seconds, count / cpu


def _many_crops(
    name: str, dataset: str, faces: Faces, cache: Path, *, turned_only: bool
) -> tuple[np.ndarray, float, float]:
    """Test-time crops: the mean of the seven ``CROPS`` and their mirrors (14 passes),
    for every face or for faces turned aside only (the rest as they are)."""
    total, seconds, cpu = 0.0, 0.0, 0.0
    for alignment in CROPS:
        part = embedded(dataset, name, alignment, faces, cache, True)
        assert part.mirror is not None
        total = total + part.plain + part.mirror
        seconds += 2 * part.seconds
        cpu += 2 * part.cpu
    vectors = np.asarray(total) / np.linalg.norm(total, axis=1, keepdims=True)
    passes = 2.0 * len(CROPS)
    if turned_only:
        turned = face_quality.yaws(faces.landmarks) >= FLIP_TURNED
        plain = embedded(dataset, name, "five", faces, cache, False).plain
        vectors = np.where(turned[:, None], vectors, plain)
        passes = 1.0 + (passes - 1.0) * float(turned.mean())
    count = len(faces.photo)
    one = 2.0 * len(CROPS)
    return vectors, count / seconds * one / passes, count / cpu * one / passes


def _flip_average(part: Embedded) -> np.ndarray:
    if part.mirror is None:
        raise ValueError("the flip needs the mirror embeddings; embedded() computes them")
    total = part.plain + part.mirror
    normalised: np.ndarray = total / np.linalg.norm(total, axis=1, keepdims=True)
    return normalised


def embedded(
    dataset: str, name: str, alignment: str, faces: Faces, cache: Path, mirrored: bool
) -> Embedded:
    """Embeddings of every face (and its mirror if asked), from the cache or computed once."""
    path = cache / f"{dataset}-{name}-{alignment}.npz"
    # The crops rest on the landmarks: embeddings of other landmarks are stale.
    digest = hashlib.sha256(np.ascontiguousarray(faces.landmarks, np.float32)).hexdigest()
    if path.is_file():
        data = np.load(path)
        has_mirror = len(data["mirror"]) == len(data["plain"])
        same_faces = "landmarks" in data and str(data["landmarks"]) == digest
        if same_faces and (has_mirror or not mirrored):
            passes = int(data["passes"]) if "passes" in data else 2
            return Embedded(
                data["plain"],
                data["mirror"] if has_mirror else None,
                float(data["seconds"]) / passes,
                float(data["cpu"]) / passes,
            )
    embedder = get_embedder(name)
    embedder.load()
    align = ALIGNMENTS[alignment]
    root = CFP / "images" if dataset == "cfp" else LFW / "images"
    plain, mirror = [], []
    seconds = cpu = 0.0
    started = time.perf_counter()
    for start in range(0, len(faces.files), BATCH):
        crops = []
        for p in range(start, min(start + BATCH, len(faces.files))):
            rows = np.flatnonzero(faces.photo == p)
            if len(rows):
                image = _image(dataset, root / faces.files[p])
                crops.append(align(image, faces.landmarks[rows], embedder))
        if not crops:
            continue
        batch = np.concatenate(crops)
        t0, c0 = time.perf_counter(), time.process_time()
        plain.append(embedder.predict(batch))
        if mirrored:
            mirror.append(embedder.predict(np.ascontiguousarray(batch[:, :, ::-1])))
        seconds += time.perf_counter() - t0
        cpu += time.process_time() - c0
        if start // BATCH % 20 == 0:
            done = start + BATCH
            print(
                f"  {dataset} {name}@{alignment}: {min(done, len(faces.files))}/"
                f"{len(faces.files)} photos, {time.perf_counter() - started:.0f} s",
                flush=True,
            )
    passes = 2 if mirrored else 1
    result = Embedded(
        np.concatenate(plain),
        np.concatenate(mirror) if mirrored else None,
        seconds / passes,
        cpu / passes,
    )
    np.savez(
        path,
        plain=result.plain,
        mirror=result.mirror if result.mirror is not None else np.zeros((0, 1), np.float32),
        seconds=seconds,
        cpu=cpu,
        passes=passes,
        landmarks=digest,
    )
    return result


def _image(dataset: str, path: Path) -> np.ndarray:
    # CFP as the scan sees it; LFW as bench/accuracy.py does, whose landmarks these are.
    return decode(read_bytes(str(path))).image if dataset == "cfp" else load_rgb(path)


# -- alignments ----------------------------------------------------------------


def _five(image: np.ndarray, landmarks: np.ndarray, embedder: Embedder) -> np.ndarray:
    return align_faces(image, list(landmarks), embedder)


def _vertical(image: np.ndarray, landmarks: np.ndarray, embedder: Embedder) -> np.ndarray:
    """Fit on the eye centre and the mouth centre: scale and tilt from the face's height."""
    return align_faces(
        image, [_two_point(points, embedder.template) for points in landmarks], embedder
    )


def _two_point(points: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Five points that carry exactly the two-point (eyes-mouth) similarity onto ``template``.

    ``align_faces`` fits five points; giving it the template's points mapped
    back through the two-point transform makes its fit that transform.
    """
    src = np.stack([points[:2].mean(axis=0), points[3:].mean(axis=0)]).astype(np.float64)
    dst = np.stack([template[:2].mean(axis=0), template[3:].mean(axis=0)]).astype(np.float64)
    forward = _similarity_two(src, dst)
    inverse = np.linalg.inv(np.vstack([forward, [0.0, 0.0, 1.0]]))[:2]
    back: np.ndarray = np.asarray(template, np.float64) @ inverse[:, :2].T + inverse[:, 2]
    return back


def _similarity_two(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 similarity taking src[0] to dst[0] and src[1] to dst[1]."""
    a, b = src[1] - src[0], dst[1] - dst[0]
    za, zb = complex(a[0], a[1]), complex(b[0], b[1])
    if abs(za) < 1e-9:
        za = complex(0.0, 1.0)  # eyes on the mouth: keep the face upright at scale 1
    k = zb / za
    matrix = np.array([[k.real, -k.imag, 0.0], [k.imag, k.real, 0.0]])
    matrix[:, 2] = dst[0] - matrix[:, :2] @ src[0]
    return matrix


def _centre(image: np.ndarray, landmarks: np.ndarray, embedder: Embedder) -> np.ndarray:
    """The five-point fit's scale and rotation, moved so the eye-mouth centre lands right."""
    template = np.asarray(embedder.template, np.float64)
    adjusted = []
    for points in landmarks:
        fit = similarity_transform(points, template)
        mid = (points[:2].mean(axis=0) + points[3:].mean(axis=0)) / 2
        want = (template[:2].mean(axis=0) + template[3:].mean(axis=0)) / 2
        fit[:, 2] += want - (fit[:, :2] @ mid + fit[:, 2])
        inverse = np.linalg.inv(np.vstack([fit, [0.0, 0.0, 1.0]]))[:2]
        adjusted.append(template @ inverse[:, :2].T + inverse[:, 2])
    return align_faces(image, adjusted, embedder)


def _moved(
    scale: float, dx: float, dy: float
) -> Callable[[np.ndarray, np.ndarray, Embedder], np.ndarray]:
    """The five-point fit onto the template scaled about the crop's centre and moved
    (``scale`` under 1 shows more around the face)."""

    def align(image: np.ndarray, landmarks: np.ndarray, embedder: Embedder) -> np.ndarray:
        centre = embedder.input_size / 2
        template = (np.asarray(embedder.template, np.float64) - centre) * scale + centre
        template += np.array([dx, dy])
        return align_faces(
            image, list(landmarks), template=template, size=embedder.input_size,
            aspect=embedder.crop_aspect,
        )

    return align


ALIGNMENTS: dict[str, Callable[[np.ndarray, np.ndarray, Embedder], np.ndarray]] = {
    "five": _five,
    "vertical": _vertical,
    "centre": _centre,
    "zoomout": _moved(0.9, 0, 0),
    "zoomin": _moved(1.1, 0, 0),
    "left": _moved(1.0, -3, 0),
    "right": _moved(1.0, 3, 0),
    "up": _moved(1.0, 0, -3),
    "down": _moved(1.0, 0, 3),
}
# The crops of ``+crops``: the default one, zoomed out and in by 10 %, moved 3 px each way.
CROPS = ("five", "zoomout", "zoomin", "left", "right", "up", "down")


# -- data ----------------------------------------------------------------------


def detect_cfp(path: Path) -> Faces:
    """All faces of every CFP photo, from the cache when it is there."""
    files = sorted(
        f"{d.name}/{f.name}" for d in (CFP / "images").iterdir() if d.is_dir()
        for f in d.iterdir() if f.suffix.lower() == ".jpg"
    )
    source = landmarks_from(DEFAULT_DETECTOR)
    if path.is_file():
        data = np.load(path)
        cached_source = str(data["landmarks_from"]) if "landmarks_from" in data else "detector"
        if list(data["files"]) == files and cached_source == source:
            return Faces(files, data["landmarks"], data["photo"], data["central"])
    detector = get_detector(DEFAULT_DETECTOR)
    detector.load()
    check = MtcnnCheck()
    landmarks: list[np.ndarray] = []
    photo: list[int] = []
    central: list[int] = []
    started = time.perf_counter()
    for p, f in enumerate(files):
        image = decode(read_bytes(str(CFP / "images" / f))).image
        found = detector.predict(image)
        if detector.wants_second_landmarks:
            found = second_landmarks(image, found, check)  # as the scan aligns
        h, w = image.shape[:2]
        nearest, best = -1, np.inf
        for d in found:
            x, y, bw, bh = d.box
            distance = (x + bw / 2 - w / 2) ** 2 + (y + bh / 2 - h / 2) ** 2
            if distance < best:
                nearest, best = len(photo), distance
            landmarks.append(d.landmarks.astype(np.float32))
            photo.append(p)
        central.append(nearest)
    print(
        f"detected with {DEFAULT_DETECTOR} in {time.perf_counter() - started:.0f} s", flush=True
    )
    faces = Faces(
        files,
        np.stack(landmarks),
        np.array(photo, dtype=np.int64),
        np.array(central, dtype=np.int64),
    )
    np.savez(
        path, files=np.array(files), landmarks=faces.landmarks, photo=faces.photo,
        central=faces.central, landmarks_from=source,
    )
    return faces


def pair_indices(faces: Faces, pairs_file: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(face rows (P, 2) with -1 for a missed face, same person, fold) of a pairs file."""
    folds, pairs = read_pairs(pairs_file)
    index = {f: i for i, f in enumerate(faces.files)}
    rows = np.array([[faces.central[index[a]], faces.central[index[b]]] for a, b, _ in pairs])
    same = np.array([s for _, _, s in pairs])
    fold = np.arange(len(pairs)) * folds // len(pairs)
    return rows, same, fold


def verify(
    vectors: np.ndarray, faces: Faces, pairs: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[float, float]:
    rows, same, fold = pairs
    found = (rows >= 0).all(axis=1)
    diff = vectors[rows[:, 0]] - vectors[rows[:, 1]]
    distances = np.where(found, np.sum(diff * diff, axis=1), FAR)
    return verification_accuracy(distances, same, fold)


def lfw_accuracy(variant: str, cache: Path) -> tuple[float, float]:
    """Mean LFW accuracy over its folds, bench/accuracy.py's way, and the best threshold."""
    folds, pairs = read_pairs(LFW / "pairs.txt")
    files = sorted({f for a, b, _ in pairs for f in (a, b)})
    landmarks, _misses, _rate, _cpu = detect_all(files, cache / "lfw-landmarks.npz")
    faces = Faces(
        files,
        np.stack([landmarks[f] for f in files]),
        np.arange(len(files)),
        np.arange(len(files)),
    )
    vectors, _, _ = variant_vectors(variant, "lfw", faces, cache)
    row = {f: i for i, f in enumerate(files)}
    a = np.array([row[p] for p, _, _ in pairs])
    b = np.array([row[q] for _, q, _ in pairs])
    distances = np.sum((vectors[a] - vectors[b]) ** 2, axis=1)
    same = np.array([s for _, _, s in pairs])
    accuracy = float(np.mean(fold_accuracy(distances, same, folds)))
    return accuracy, best_threshold(distances, same)


def save_profile_crops(faces: Faces, cache: Path, count: int) -> None:
    """Side by side, per alignment, SFace crops of the first ``count`` profile photos."""
    embedder = get_embedder("sface")
    profiles = [p for p, f in enumerate(faces.files) if int(f[-8:-4]) > 10][:count]
    for p in profiles:
        rows = faces.central[p : p + 1]
        if rows[0] < 0:
            continue
        image = decode(read_bytes(str(CFP / "images" / faces.files[p]))).image
        crops = [align(image, faces.landmarks[rows], embedder)[0] for align in ALIGNMENTS.values()]
        name = faces.files[p].replace("/", "-").replace(".jpg", ".png")
        Image.fromarray(np.concatenate(crops, axis=1)).save(cache / f"crops-{name}")
    print(f"saved {len(profiles)} crop strips ({', '.join(ALIGNMENTS)}) to {cache}")


def print_row(row: Row) -> None:
    lfw = (
        f"LFW {100 * row.lfw:.2f} % (threshold {row.lfw_threshold:.3f})"
        if row.lfw is not None else "LFW -"
    )
    print(
        f"{row.label:24s} FP {100 * row.fp[0]:.2f} % ± {100 * row.fp[1]:.2f}  "
        f"FF {100 * row.ff[0]:.2f} % ± {100 * row.ff[1]:.2f}  "
        f"BCubed F1 {row.bcubed[0]:.3f} (P {row.bcubed[1]:.3f} R {row.bcubed[2]:.3f})  "
        f"{lfw}  {row.crops_per_s:.1f} crops/s, {row.crops_per_cpu_s:.1f} per CPU s",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
