"""The hard faces of real albums, one command: each row of issue 12's table on the dev data.

With no option it prints, one line per row:

- **detection** (small faces in crowds) on ``../shared/data/wider-dev``:
  the photos are scanned into a temporary catalog by the ``facealbum`` command
  itself (``scan --no-people``), every face is read back with
  ``facealbum faces --all --json``, and those boxes are scored against
  WIDER's: recall at IoU 0.5 by ground-truth box height (<16, 16-32, 32-64,
  >=64 px), recall of faces >= 16 px, false positives per photo. The peer is
  dlib's HOG detector as ``face_recognition.face_locations`` runs it
  (upsample 1) on the full photo;
- **profiles** and **frontal control** on ``../shared/data/cfp-dev``:
  FP and FF verification and the BCubed F1 (precision, recall) of clustering,
  computed by ``bench/cfp.py``'s functions for the default embedder, then
  as the issue measures them, by ``facealbum eval`` on a fresh scan of every
  photo (``--workdir``/eval-cfp, made anew each run);
- **LFW** held-out verification on ``../shared/data/lfw-dev`` with
  ``bench/accuracy.py``'s landmarks and fold rule (through ``bench/cfp.py``),
  then through ``facealbum eval`` likewise (``--workdir``/eval-lfw),
  beside dlib's 128-d ResNet (``face_recognition``: HOG face nearest the
  centre, 1 jitter; a photo where dlib finds no face makes its pairs
  "different");
- **age gap**: said to be unmeasurable here (no shareable set); what stands
  in for it is the demo album's two babies, scanned and grouped by the
  ``facealbum`` command into a temporary catalog: their apparent ages and
  whether they are one person or two.

The peer runs only when ``face_recognition`` imports (``pip install -r
bench/requirements-peers.txt``, see bench/README.md); otherwise its columns
say so. Embeddings, landmarks and dlib's encodings are cached under
``--cache`` (default ``/tmp/facealbum-bench-cfp``, shared with
``bench/cfp.py``), the scanned catalog under ``--workdir``. A row whose data
is absent is skipped with a message.

    .venv/bin/python bench/hard_faces.py                         # every row
    .venv/bin/python bench/hard_faces.py --rows detection --peers ''
    .venv/bin/python bench/hard_faces.py --methods baseline,search   # detector paths in-process
    .venv/bin/python bench/hard_faces.py --methods search --folder resources/demo  # cost only

``--methods`` runs the detection step in-process instead of the rows:
``search`` is ``engine.detect.find_faces`` exactly as the scan calls it
(with MTCNN's second opinion on weak faces, and ONet's landmarks averaged
in); ``first-landmarks`` is the search with the detector's landmarks alone;
``unchecked`` is the search without the second opinion and ONet;
``baseline`` is the scan's earlier path (YuNet's ``predict`` on a copy at
most 960 px long); ``mirror`` and
``mirror-detail`` are the unchecked search with the mirrored looks
``find_faces`` leaves off. Each prints recall by height,
false positives per photo and photos/s of the detection step alone
(decoding excluded). With ``--folder`` it times the step on any photos
(recursively, sorted) and prints faces found and photos with a face instead
of recall. A detection is
a false positive when it matches no unmatched valid box and no box WIDER
marks invalid; a second detection of the same face counts as false.
``photos_with_extra_pass`` counts the photos where a method asked the
detector for more passes than ``search`` (run ``search`` first), and
``--halves N`` scores N random halves of the WIDER photos, the same halves
for every method.
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine.detect import DETECT_SIDE, find_faces, in_original, second_landmarks
from engine.imageio import Decoded, decode, is_photo_name, read_bytes
from engine.models.base import Detection, Detector
from engine.models.mtcnn import MtcnnCheck
from engine.models.yunet import YuNetDetector

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # bench.cfp and bench.accuracy, run as a script
WIDER = REPO.parent / "shared" / "data" / "wider-dev"
DEMO = REPO / "resources" / "demo"
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


_CHECK = MtcnnCheck()


def search(detector: Detector, decoded: Decoded) -> list[Detection]:
    """engine.detect as the scan calls it, with MTCNN's second opinion on weak
    faces and its landmarks averaged with the detector's (``engine.analyse``)."""
    found = find_faces(detector, decoded.image, check=_CHECK)
    if detector.wants_second_landmarks:
        found = second_landmarks(decoded.image, found, _CHECK)
    return in_original(found, decoded.scale)


def first_landmarks(detector: Detector, decoded: Decoded) -> list[Detection]:
    """``search`` with the detector's landmarks alone: the scan before ONet's were averaged in."""
    return in_original(find_faces(detector, decoded.image, check=_CHECK), decoded.scale)


def unchecked(detector: Detector, decoded: Decoded) -> list[Detection]:
    """engine.detect without the second opinion."""
    return in_original(find_faces(detector, decoded.image), decoded.scale)


def mirror(detector: Detector, decoded: Decoded) -> list[Detection]:
    """engine.detect with a look at the mirrored copy for weak faces of ordinary size."""
    return in_original(find_faces(detector, decoded.image, mirror_look=True), decoded.scale)


def mirror_detail(detector: Detector, decoded: Decoded) -> list[Detection]:
    """``mirror`` and a mirrored second look for weak small faces."""
    found = find_faces(detector, decoded.image, mirror_look=True, mirror_detail=True)
    return in_original(found, decoded.scale)


METHODS: dict[str, Method] = {
    "baseline": baseline, "search": search, "mirror": mirror, "mirror-detail": mirror_detail,
    "unchecked": unchecked, "first-landmarks": first_landmarks,
}


class CountingYuNet(YuNetDetector):
    """YuNet that counts, per photo, the passes ``engine.detect`` asks of it."""

    def __init__(self) -> None:
        super().__init__()
        self.passes = 0

    def candidates(self, image: np.ndarray, floor: float) -> list[Detection]:
        self.passes += 1
        return super().candidates(image, floor)


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


def tally(
    found_by_photo: dict[str, list[Detection]], truth: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict[str, object]:
    """Recall by box height, recall >= 16 px and false positives per photo of ``found``."""
    hits, totals = np.zeros(len(BINS)), np.zeros(len(BINS))
    false = 0
    for name, (valid, invalid) in truth.items():
        matched, wrong = score_photo(found_by_photo.get(name, []), valid, invalid)
        false += wrong
        for k, (low, high) in enumerate(BINS):
            in_bin = (valid[:, 3] >= low) & (valid[:, 3] < high)
            totals[k] += in_bin.sum()
            hits[k] += (matched & in_bin).sum()
    recall = hits / np.maximum(totals, 1)
    return {
        "photos": len(truth),
        "recall_by_height": {
            f"{low:g}-{high:g}" if high != float("inf") else f">={low:g}": round(100 * r, 1)
            for (low, high), r in zip(BINS, recall, strict=True)
        },
        "recall_16_up": round(100 * hits[1:].sum() / max(totals[1:].sum(), 1), 1),
        "false_per_photo": round(false / max(len(truth), 1), 3),
        "faces": [int(t) for t in totals],
    }


def measure_wider(
    detector: CountingYuNet, method: Method, folder: Path, limit: int | None, halves: int = 0
) -> tuple[dict[str, object], list[int]]:
    """The method's row on WIDER, and the detector passes it made per photo."""
    truth = read_truth(folder)
    names = list(truth)[:limit] if limit else list(truth)
    found: dict[str, list[Detection]] = {}
    passes = []
    seconds = 0.0
    for name in names:
        decoded = decode(read_bytes(str(folder / "images" / name)), min_side=DETECT_SIDE)
        detector.passes = 0
        start = time.perf_counter()
        found[name] = method(detector, decoded)
        seconds += time.perf_counter() - start
        passes.append(detector.passes)
    row = tally(found, {name: truth[name] for name in names})
    row["photos_per_s"] = round(len(names) / seconds, 1)
    if halves:
        # Seeds 0..halves-1: the same halves for every method of a run.
        recalls, falses = [], []
        for seed in range(halves):
            half = np.random.default_rng(seed).permutation(len(names))[: len(names) // 2]
            scored = tally(found, {names[i]: truth[names[i]] for i in half})
            recalls.append(float(scored["recall_16_up"]))  # type: ignore[arg-type]
            falses.append(float(scored["false_per_photo"]))  # type: ignore[arg-type]
        row["halves_recall_16_up"] = recalls
        row["halves_false_per_photo"] = falses
    return row, passes


def measure_folder(
    detector: CountingYuNet, method: Method, folder: Path, limit: int | None, halves: int = 0
) -> tuple[dict[str, object], list[int]]:
    """The method's cost and faces on any photos, and the detector passes per photo."""
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and is_photo_name(p.name))
    paths = paths[:limit] if limit else paths
    faces, with_face, seconds, cpu = 0, 0, 0.0, 0.0
    passes = []
    for path in paths:
        decoded = decode(read_bytes(str(path)), min_side=DETECT_SIDE)
        detector.passes = 0
        start, cpu_start = time.perf_counter(), time.process_time()
        found = method(detector, decoded)
        seconds += time.perf_counter() - start
        cpu += time.process_time() - cpu_start
        passes.append(detector.passes)
        faces += len(found)
        with_face += bool(found)
    return {
        "photos": len(paths),
        "faces": faces,
        "photos_with_face": with_face,
        "photos_per_s": round(len(paths) / seconds, 1),
        "cpu_ms_per_photo": round(1000 * cpu / len(paths), 2),
    }, passes


# -- the rows of the table ------------------------------------------------------


def scanned_faces(images: Path, workdir: Path) -> tuple[list[dict[str, Any]], float]:
    """Every face of a fresh scan of ``images``, as ``facealbum faces --all --json`` prints it.

    Returns the faces and the scan's wall-clock seconds. The catalog is made
    anew each time so that the detector as it is now is what gets measured.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    catalog = workdir / "wider.facealbum"
    for stale in workdir.glob("wider.facealbum*"):
        stale.unlink()
    cli = [sys.executable, "-m", "engine.cli.main", "--catalog", str(catalog)]
    started = time.perf_counter()
    subprocess.run(
        [*cli, "scan", str(images), "--no-people", "--device", "cpu"],
        cwd=REPO, check=True, stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    done = subprocess.run(
        [*cli, "faces", "--all", "--json"], cwd=REPO, check=True, capture_output=True, text=True
    )
    faces: list[dict[str, Any]] = json.loads(done.stdout)
    return faces, seconds


def evaluated(images: Path, pairs: list[Path], workdir: Path) -> tuple[list[dict[str, Any]], float]:
    """``facealbum eval images --pairs P --json`` for each pairs file, as the
    issue measures: one fresh scan of every photo into ``workdir`` (made anew,
    so that the code as it is now is measured), the later pairs files scored
    on the same catalog. Returns each run's JSON and the first run's seconds."""
    if workdir.exists():
        shutil.rmtree(workdir)
    cli = [sys.executable, "-m", "engine.cli.main", "eval", str(images), "--workdir",
           str(workdir), "--device", "cpu", "--json"]
    results: list[dict[str, Any]] = []
    seconds = 0.0
    for pairs_file in pairs:
        started = time.perf_counter()
        done = subprocess.run([*cli, "--pairs", str(pairs_file)], cwd=REPO, check=True,
                              capture_output=True, text=True)
        seconds = seconds or time.perf_counter() - started
        results.append(json.loads(done.stdout))
    return results, seconds


def _eval_text(result: dict[str, Any]) -> str:
    return (
        f"BCubed F1 {result['bcubed_f1']:.4f} (precision {result['bcubed_precision']:.4f}, "
        f"recall {result['bcubed_recall']:.4f}), {result['photos_without_face']} photos "
        "without a face"
    )


def detection_row(data: Path, workdir: Path, peers: set[str]) -> None:
    if not (data / "gt.txt").is_file():
        print(f"detection: skipped, WIDER dev is not at {data} (expected gt.txt and images/)")
        return
    truth = read_truth(data)
    faces, seconds = scanned_faces(data / "images", workdir)
    found: dict[str, list[Detection]] = {}
    for face in faces:
        if face["state"] == "face":
            x, y, w, h = (float(v) for v in face["box"])
            found.setdefault(face["photo"], []).append(
                Detection((x, y, w, h), np.zeros((5, 2), np.float32), float(face["score"]))
            )
    ours = tally(found, truth)
    boxes = sum(len(valid) for valid, _ in truth.values())
    print(
        f"detection (WIDER dev, {len(truth)} photos, {boxes} faces; "
        f"from `facealbum faces --all --json` of a scan, {seconds:.0f} s):\n"
        f"  facealbum {_detection_text(ours)}",
        flush=True,
    )
    if "dlib" not in peers:
        return
    fr = _face_recognition()
    if fr is None:
        print(f"  dlib      {NO_DLIB}", flush=True)
        return
    peer: dict[str, list[Detection]] = {}
    for name in truth:
        image = fr.load_image_file(str(data / "images" / name))
        peer[name] = [
            Detection(
                (float(left), float(top), float(right - left), float(bottom - top)),
                np.zeros((5, 2), np.float32),
                1.0,
            )
            for top, right, bottom, left in fr.face_locations(image)
        ]
    print(f"  dlib      {_detection_text(tally(peer, truth))} (HOG, upsample 1)", flush=True)


def _detection_text(row: dict[str, Any]) -> str:
    bins = row["recall_by_height"]
    return (
        f"recall >= 16 px {row['recall_16_up']:.1f} % (16-32 px {bins['16-32']:.1f} %, "
        f"32-64 px {bins['32-64']:.1f} %, >= 64 px {bins['>=64']:.1f} %, < 16 px "
        f"{bins['0-16']:.1f} %), {row['false_per_photo']:.3f} false positives per photo"
    )


def profile_rows(cache: Path, workdir: Path) -> None:
    # Imported here: bench/cfp.py brings torch and the embedders, which the
    # detection row (run through the command line) does not need.
    from bench import cfp
    from engine.metrics import cluster_scores
    from engine.models.defaults import DEFAULT_EMBEDDER
    from engine.people.cluster import Constraints, cluster
    from engine.quality import face_quality

    if not (cfp.CFP / "pairs_fp.txt").is_file():
        print(f"profiles: skipped, CFP dev is not at {cfp.CFP} (expected images/, pairs_*.txt)")
        return
    cache.mkdir(parents=True, exist_ok=True)
    faces = cfp.detect_cfp(cache / "cfp-faces.npz")
    # Embedded as the scan embeds: faces turned aside with their mirror too.
    vectors, _, _ = cfp.variant_vectors(f"{DEFAULT_EMBEDDER}+turned", "cfp", faces, cache)
    fp_pairs = cfp.pair_indices(faces, cfp.CFP / "pairs_fp.txt")
    fp = cfp.verify(vectors, faces, fp_pairs)
    ff = cfp.verify(vectors, faces, cfp.pair_indices(faces, cfp.CFP / "pairs_ff.txt"))
    fp_context = _in_context(vectors, fp_pairs)
    scored = faces.central >= 0
    identity = [f.split("/")[0] for f, s in zip(faces.files, scored, strict=True) if s]
    # Clustered as the app clusters: with each face's pose read from its landmarks.
    poses = face_quality.yaws(faces.landmarks)
    labels = cluster(vectors, Constraints(photo=faces.photo), poses=poses)
    bc = cluster_scores(labels[faces.central[scored]], identity)
    print(
        f"profiles (CFP dev, {len(faces.files)} photos, {DEFAULT_EMBEDDER}): FP verification "
        f"{100 * fp[0]:.2f} % ± {100 * fp[1]:.2f}, BCubed F1 {bc.bcubed_f1:.3f} "
        f"(precision {bc.bcubed_precision:.3f}, recall {bc.bcubed_recall:.3f})\n"
        f"  in context (engine.people.context, every face of the 3,500 photos around the "
        f"pairs, as face search ranks them): FP verification {100 * fp_context[0]:.2f} % "
        f"± {100 * fp_context[1]:.2f}\n"
        f"frontal control (CFP dev FF): verification {100 * ff[0]:.2f} % ± {100 * ff[1]:.2f}\n"
        f"  dlib      not run on CFP (the table's peer rows are detection and LFW)",
        flush=True,
    )
    (on_fp, on_ff), seconds = evaluated(
        cfp.CFP / "images", [cfp.CFP / "pairs_fp.txt", cfp.CFP / "pairs_ff.txt"],
        workdir / "eval-cfp",
    )
    print(
        f"  through `facealbum eval` (every photo scanned afresh, {seconds:.0f} s): FP "
        f"verification {100 * on_fp['verification_accuracy']:.2f} % ± "
        f"{100 * on_fp['verification_std']:.2f}, in context "
        f"{100 * on_fp['context_verification_accuracy']:.2f} %, FF "
        f"{100 * on_ff['verification_accuracy']:.2f} %, {_eval_text(on_fp)}",
        flush=True,
    )


def _in_context(
    vectors: np.ndarray, pairs: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[float, float]:
    """Verification of the pairs by context distance; a missed face makes its pair "different"."""
    from engine.metrics import verification_accuracy
    from engine.people.context import Context

    rows, same, fold = pairs
    found = (rows >= 0).all(axis=1)
    distances = np.full(len(rows), 4.0)
    distances[found] = Context(vectors).distances(rows[found, 0], rows[found, 1])
    return verification_accuracy(distances, same, fold)


def lfw_row(cache: Path, workdir: Path, peers: set[str]) -> None:
    from bench import cfp
    from bench.accuracy import LFW, fold_accuracy, read_pairs
    from engine.models.defaults import DEFAULT_EMBEDDER

    if not (LFW / "pairs.txt").is_file():
        print(f"LFW: skipped, LFW dev is not at {LFW} (expected images/ and pairs.txt)")
        return
    cache.mkdir(parents=True, exist_ok=True)
    accuracy, _ = cfp.lfw_accuracy(DEFAULT_EMBEDDER, cache)
    folds, pairs = read_pairs(LFW / "pairs.txt")
    print(
        f"LFW held out ({len(pairs)} pairs, {folds} folds): facealbum {DEFAULT_EMBEDDER} "
        f"verification {100 * accuracy:.2f} %",
        flush=True,
    )
    (on_lfw,), seconds = evaluated(LFW / "images", [LFW / "pairs.txt"], workdir / "eval-lfw")
    print(
        f"  through `facealbum eval` (every photo scanned afresh, {seconds:.0f} s): "
        f"verification {100 * on_lfw['verification_accuracy']:.2f} % ± "
        f"{100 * on_lfw['verification_std']:.2f}, {_eval_text(on_lfw)}",
        flush=True,
    )
    if "dlib" not in peers:
        return
    fr = _face_recognition()
    if fr is None:
        print(f"  dlib      {NO_DLIB}", flush=True)
        return
    files = sorted({f for a, b, _ in pairs for f in (a, b)})
    encodings, misses = _dlib_encodings(fr, files, LFW / "images", cache / "lfw-dlib.npz")
    row = {f: i for i, f in enumerate(files)}
    a = np.array([row[x] for x, _, _ in pairs])
    b = np.array([row[y] for _, y, _ in pairs])
    found = ~(np.isnan(encodings[a, 0]) | np.isnan(encodings[b, 0]))
    diff = np.nan_to_num(encodings[a] - encodings[b])
    distances = np.where(found, np.sum(diff * diff, axis=1), 1e9)
    same = np.array([s for _, _, s in pairs])
    peer = float(np.mean(fold_accuracy(distances, same, folds)))
    print(
        f"  dlib      verification {100 * peer:.2f} % (ResNet 128-d; no face in {misses} photos)",
        flush=True,
    )


def _dlib_encodings(
    fr: Any, files: list[str], root: Path, cache: Path
) -> tuple[np.ndarray, int]:
    """(N, 128) dlib encodings of each photo's face nearest its centre (NaN: none), misses."""
    if cache.is_file():
        data = np.load(cache)
        if list(data["files"]) == files:
            return data["encodings"], int(data["misses"])
    out = np.full((len(files), 128), np.nan)
    misses = 0
    started = time.perf_counter()
    for i, name in enumerate(files):
        image = fr.load_image_file(str(root / name))
        locations = fr.face_locations(image)
        if not locations:
            misses += 1
            continue
        h, w = image.shape[:2]
        nearest = min(
            locations,
            key=lambda t: ((t[1] + t[3]) / 2 - w / 2) ** 2 + ((t[0] + t[2]) / 2 - h / 2) ** 2,
        )
        out[i] = fr.face_encodings(image, [nearest])[0]
        if i % 500 == 0:
            print(
                f"  dlib on LFW: {i}/{len(files)} photos, {time.perf_counter() - started:.0f} s",
                flush=True,
            )
    np.savez(cache, files=np.array(files), encodings=out, misses=misses)
    return out, misses


def age_gap_row(workdir: Path) -> None:
    print(
        "age gap: not measured here. The set the issue measured on (1,005 people, "
        "3,798 photos) may not be redistributed and no other age-gap set is shared; "
        "the demo album's two babies are the only children at hand.",
        flush=True,
    )
    workdir.mkdir(parents=True, exist_ok=True)
    catalog = workdir / "demo.facealbum"
    for stale in workdir.glob("demo.facealbum*"):
        stale.unlink()
    cli = [sys.executable, "-m", "engine.cli.main", "--catalog", str(catalog)]
    subprocess.run([*cli, "scan", str(DEMO), "--device", "cpu"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    done = subprocess.run(
        [*cli, "faces", "--all", "--json"], cwd=REPO, check=True, capture_output=True, text=True
    )
    babies = sorted((f["photo"], f["age"], f["person"]) for f in json.loads(done.stdout)
                    if f["photo"].startswith("baby_"))
    people = {person for _, _, person in babies}
    together = len(babies) == 2 and len(people) == 1 and None not in people
    print("  demo album's babies (scan + people update, faces --all --json): "
          + ", ".join(f"{photo} {age} years, " + ("in no person" if person is None
                                                   else f"person {person}")
                      for photo, age, person in babies)
          + (": one person" if together else ": not one person"), flush=True)


NO_DLIB = (
    "skipped: face_recognition is not installed "
    "(.venv/bin/pip install -r bench/requirements-peers.txt, see bench/README.md)"
)


def _face_recognition() -> Any:
    try:
        import face_recognition  # bench-only peer, see bench/requirements-peers.txt
    except ImportError:
        return None
    return face_recognition


ROWS = ("detection", "profiles", "lfw", "age")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default=",".join(ROWS), help=f"of {', '.join(ROWS)}")
    parser.add_argument("--peers", default="dlib", help="'dlib' or '' for none")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/facealbum-bench-cfp"))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/facealbum-bench-hard"))
    parser.add_argument("--data", type=Path, default=WIDER, help="WIDER-format folder")
    parser.add_argument("--methods", default="", help="in-process detector paths instead of rows")
    parser.add_argument("--folder", type=Path, help="with --methods: time them on these photos")
    parser.add_argument("--limit", type=int, help="with --methods: first N photos only")
    parser.add_argument("--threads", type=int, default=0, help="OpenCV threads; 0 = default")
    parser.add_argument("--json", action="store_true", help="with --methods: print JSON")
    parser.add_argument("--halves", type=int, default=0,
                        help="with --methods on WIDER: also score N random halves (seeds 0..N-1)")
    args = parser.parse_args(argv)
    if args.threads:
        cv2.setNumThreads(args.threads)
    if args.methods or args.folder:
        return run_methods(args)
    rows = [r for r in args.rows.split(",") if r]
    unknown = set(rows) - set(ROWS)
    if unknown:
        print(f"unknown rows {sorted(unknown)}; expected some of {', '.join(ROWS)}",
              file=sys.stderr)
        return 2
    peers = set(args.peers.split(",")) - {""}
    if "detection" in rows:
        detection_row(args.data, args.workdir, peers)
    if "profiles" in rows:
        profile_rows(args.cache, args.workdir)
    if "lfw" in rows:
        lfw_row(args.cache, args.workdir, peers)
    if "age" in rows:
        age_gap_row(args.workdir)
    return 0


def run_methods(args: argparse.Namespace) -> int:
    """The detection step in-process, per method: what the search costs beside the old path."""
    folder = args.folder or args.data
    if not folder.is_dir():
        print(f"no photos at {folder}: pass --data or --folder", file=sys.stderr)
        return 2
    detector = CountingYuNet()
    detector.load()  # loading is start-up, not detection
    rows = {}
    passes: dict[str, list[int]] = {}
    for name in (args.methods or "baseline,search").split(","):
        if name not in METHODS:
            print(f"unknown method {name!r}; expected one of {', '.join(METHODS)}", file=sys.stderr)
            return 2
        measure = measure_folder if args.folder else measure_wider
        rows[name], passes[name] = measure(detector, METHODS[name], folder, args.limit, args.halves)
        if name != "search" and "search" in passes:
            # Photos where this method asked more of the detector than the search.
            rows[name]["photos_with_extra_pass"] = sum(
                mine > theirs for mine, theirs in zip(passes[name], passes["search"], strict=True)
            )
        if not args.json:
            print(f"{name:9s} {json.dumps(rows[name])}", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
