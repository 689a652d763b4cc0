"""Does learning from the user's corrections help? Measured on LFW, with and without the head.

Protocol (the issue's point 4): take the people of ../shared/data/lfw-dev/images
with at least 5 photos; for a random half of them, a third of their faces
(at least two) are confirmed by the user. The projection head is trained on
those facts through ``engine.train.adapter.train_adapter``, in a real catalog.
Then the app's own people code runs twice on copies of that catalog, once
with the head disabled and once enabled:

- assignment: ``engine.people.update_people`` (each unassigned face joins the
  confirmed person nearest by average linkage under the threshold, the rest
  are clustered among themselves), as after a scan;
- clustering: ``engine.people.recluster`` (constrained agglomerative
  clustering of every face, confirmed faces as seeds).

BCubed F1 (``engine.metrics.cluster_scores``; an unassigned face is its own
cluster) is reported on (a) the unconfirmed faces of the confirmed people and
(b) the faces of the people never confirmed, each set scored on its own.

Embeddings: SFace on the face nearest each photo's centre, computed once and
cached under /tmp/facealbum-bench. Hyper-parameters of the head are the
defaults of ``AdapterOptions``; ``--seeds`` repeats the split to show spread.

Usage: .venv/bin/python bench/adapter_eval.py [--seeds 0 1 2] [--json FILE]
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.catalog import Catalog, PhotoStatus  # noqa: E402
from engine.catalog.persons import new_person  # noqa: E402
from engine.metrics import cluster_scores  # noqa: E402
from engine.models.registry import get_detector, get_embedder  # noqa: E402
from engine.people import confirm_faces, name_person, recluster, update_people  # noqa: E402
from engine.train.adapter import (  # noqa: E402
    AdapterOptions,
    adapter_status,
    set_adapter_enabled,
    train_adapter,
)
from engine.train.crops import load_crops, prepare_crops  # noqa: E402
from engine.train.triplet import Mining  # noqa: E402

LFW = ROOT.parent / "shared" / "data" / "lfw-dev" / "images"
WORK = Path(tempfile.gettempdir()) / "facealbum-bench"
MODEL = "sface"
MIN_PHOTOS = 5


def embeddings() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(vectors, person label, relative path) of every usable photo of people with >= 5."""
    cache = WORK / f"lfw{MIN_PHOTOS}_{MODEL}.npz"
    if cache.is_file():
        data = np.load(cache)
        return data["vectors"], data["labels"], list(data["paths"])
    subset = WORK / f"lfw{MIN_PHOTOS}"
    subset.mkdir(parents=True, exist_ok=True)
    for person in sorted(LFW.iterdir()):
        if person.is_dir() and len(list(person.glob("*.jpg"))) >= MIN_PHOTOS:
            link = subset / person.name
            if not link.exists():
                link.symlink_to(person)
    embedder, detector = get_embedder(MODEL), get_detector("yunet")
    started = time.perf_counter()
    for _ in prepare_crops(subset, embedder, detector, cache_root=WORK / "crops"):
        pass
    crops = load_crops(subset, embedder, detector, cache_root=WORK / "crops")
    vectors = np.concatenate([embedder.predict(np.array(crops.crops[i : i + 64]))
                              for i in range(0, len(crops.paths), 64)])
    print(f"embedded {len(vectors)} faces ({len(crops.skipped)} photos without a face) in "
          f"{time.perf_counter() - started:.1f} s")
    np.savez(cache, vectors=vectors, labels=crops.labels, paths=np.array(crops.paths))
    return vectors, crops.labels, crops.paths


def build_catalog(path: Path, vectors: np.ndarray, labels: np.ndarray, seed: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """A catalog with one photo and face per vector and the split's facts.

    Returns per face: its id, and its set: 0 confirmed, 1 = (a), 2 = (b).
    """
    rng = np.random.default_rng(seed)
    people = np.unique(labels)
    confirmed_people = set(rng.permutation(people)[: len(people) // 2].tolist())
    subset = np.full(len(labels), 2)
    with Catalog(path) as cat:
        root = cat.root_id(str(LFW))
        face_ids = np.zeros(len(labels), dtype=np.int64)
        with cat.transaction():
            for i, v in enumerate(vectors):
                photo = cat.add_photo(root, f"{i}.jpg".encode(), size=1, mtime_ns=1,
                                      sha256=None, width=250, height=250,
                                      status=PhotoStatus.OK)
                face_ids[i] = cat.add_face(photo, (0, 0, 100, 100), None, score=1.0,
                                           quality=1.0, sharpness=1.0, detector="yunet")
                cat.put_embedding(int(face_ids[i]), MODEL, v)
        for person in sorted(confirmed_people):
            rows = np.flatnonzero(labels == person)
            take = rng.permutation(rows)[: max(2, round(len(rows) / 3))]
            subset[rows] = 1
            subset[take] = 0
            with cat.transaction():
                pid = new_person(cat)
            name_person(cat, pid, f"p{person}")
            confirm_faces(cat, [int(face_ids[i]) for i in take], pid)
    return face_ids, subset


def predicted(path: Path, face_ids: np.ndarray) -> np.ndarray:
    with Catalog(path) as cat:
        rows = {face.id: face.person_id for face in cat.faces()}
    return np.array([-1 if rows[int(f)] is None else int(rows[int(f)]) for f in face_ids])


def run(seed: int, vectors: np.ndarray, labels: np.ndarray, options: AdapterOptions
        ) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix=f"adapter-eval-{seed}-", dir=WORK))
    base = folder / "base.sqlite"
    face_ids, subset = build_catalog(base, vectors, labels, seed)
    with Catalog(base) as cat:
        started = time.perf_counter()
        for _ in train_adapter(cat, MODEL, options, enable=True):
            pass
        train_seconds = time.perf_counter() - started
        metrics = adapter_status(cat, MODEL).metrics
        cat.checkpoint()  # the copies below are then whole catalogs
    result: dict[str, object] = {
        "seed": seed, "train_seconds": round(train_seconds, 2), "adapter": metrics,
        "faces": {"confirmed": int((subset == 0).sum()), "a": int((subset == 1).sum()),
                  "b": int((subset == 2).sum())},
    }
    for head in ("without", "with"):
        for method, work in (("assignment", update_people), ("clustering", recluster)):
            copy = folder / f"{head}-{method}.sqlite"
            shutil.copy(base, copy)
            with Catalog(copy) as cat:
                set_adapter_enabled(cat, MODEL, head == "with")
                for _ in work(cat):
                    pass
            pred = predicted(copy, face_ids)
            for name, code in (("a", 1), ("b", 2)):
                scores = cluster_scores(pred[subset == code], labels[subset == code])
                result[f"{method}/{name}/{head}"] = round(100 * scores.bcubed_f1, 2)
    shutil.rmtree(folder)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--identity-weight", type=float, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--margin", type=float, default=None)
    parser.add_argument("--mining", choices=["semi-hard", "batch-hard", "batch-all"], default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if not LFW.is_dir():
        print(f"skipped: {LFW} is absent; this benchmark needs ../shared/data/lfw-dev "
              "beside the repository")
        return 0
    torch.set_num_threads(1)
    WORK.mkdir(parents=True, exist_ok=True)
    vectors, labels, _ = embeddings()
    defaults = AdapterOptions()
    options = AdapterOptions(
        steps=args.steps or defaults.steps,
        identity_weight=defaults.identity_weight if args.identity_weight is None
        else args.identity_weight,
        lr=args.lr or defaults.lr,
        margin=args.margin or defaults.margin,
        mining=Mining(args.mining or defaults.mining),
    )
    print(f"{len(vectors)} faces of {len(np.unique(labels))} people with >= {MIN_PHOTOS} photos;"
          f" head: steps={options.steps} lr={options.lr} identity_weight="
          f"{options.identity_weight} margin={options.margin} mining={options.mining}")
    results = [run(seed, vectors, labels, options) for seed in args.seeds]
    keys = [f"{m}/{s}/{h}" for m in ("assignment", "clustering") for s in ("a", "b")
            for h in ("without", "with")]
    print(f"\nBCubed F1 (%) per seed; faces: {results[0]['faces']}")
    print("seed  train_s  " + "  ".join(k.replace("/", ":") for k in keys))
    for r in results:
        print(f"{r['seed']:>4}  {r['train_seconds']:>7}  "
              + "  ".join(f"{r[k]:>{len(k)}}" for k in keys))
    mean = {k: float(np.mean([float(str(r[k])) for r in results])) for k in keys}
    print("mean           " + "  ".join(f"{mean[k]:>{len(k)}.2f}" for k in keys))
    decision = {}
    for method in ("assignment", "clustering"):
        gain_a = mean[f"{method}/a/with"] - mean[f"{method}/a/without"]
        cost_b = mean[f"{method}/b/without"] - mean[f"{method}/b/with"]
        decision[method] = {"gain_a": round(gain_a, 2), "cost_b": round(cost_b, 2),
                            "enable": gain_a > 0 and cost_b < 0.5}
        print(f"{method}: (a) {gain_a:+.2f} points, (b) {-cost_b:+.2f} points -> "
              f"{'enable' if decision[method]['enable'] else 'keep disabled'} by default")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "mean": mean,
                                         "decision": decision}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
