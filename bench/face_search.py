"""Face search on CFP dev: does a profile find its person's frontal photos?

``facealbum eval`` scans ``../shared/data/cfp-dev/images`` into a catalog
of its own (kept under ``--workdir``, so a rerun scans nothing) and scores
the FP pairs alone and in context. Then, for each profile photo's face
(``_0011``-``_0014``), this searches the catalog with
``engine.people.search.similar_faces`` (the context distance) and, as the
baseline, ranks the same catalog by the embeddings' distance alone. It
prints, over the profiles searched:

- mAP: mean average precision of finding the person's other photos among
  every face of the catalog (the faces a search returns, up to ``--limit``,
  then the rest in plain order);
- frontal@10: the share of the person's frontal photos among the first 10
  faces found (10 frontal photos per person in CFP);
- the median time of one search.

    .venv/bin/python bench/face_search.py [--profiles 300] [--limit 50]

Skips with a message when the data is absent. Never copies the images.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.catalog import Catalog, PhotoStatus  # noqa: E402
from engine.people.evaluate import EvalResult, _central_faces, evaluate_folder  # noqa: E402
from engine.people.search import similar_faces  # noqa: E402
from engine.people.update import load_faces  # noqa: E402

CFP = REPO.parent / "shared" / "data" / "cfp-dev"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/facealbum-bench-search"))
    parser.add_argument("--profiles", type=int, default=300, help="profiles searched (sampled)")
    parser.add_argument("--limit", type=int, default=50, help="faces one search returns")
    args = parser.parse_args()
    if not (CFP / "pairs_fp.txt").is_file():
        print(f"skipped: CFP is not at {CFP}")
        return 0
    result = EvalResult()
    started = time.perf_counter()
    for _ in evaluate_folder(CFP / "images", result, pairs_file=CFP / "pairs_fp.txt",
                             workdir=args.workdir):
        pass
    print(f"eval (scan cached under {args.workdir}): {time.perf_counter() - started:.0f} s; "
          f"FP verification alone {result.verification_accuracy:.4f}, "
          f"in context {result.context_verification_accuracy:.4f}")
    with Catalog(args.workdir / "eval.sqlite") as cat:
        central = _central_faces(cat)
        table = load_faces(cat)
        photos = {p.id: os.fsdecode(p.relpath) for p in cat.photos(PhotoStatus.OK)}
        row_of = {int(f): i for i, f in enumerate(table.ids)}
        identity = np.array([photos[int(p)].split("/")[0] for p in table.photo])
        frontal = np.array([int(photos[int(p)][-8:-4]) <= 10 for p in table.photo])
        is_central = np.zeros(len(table.ids), dtype=bool)
        for face in central.values():
            if face in row_of:
                is_central[row_of[face]] = True
        queries = [row_of[f] for rel, f in central.items()
                   if f in row_of and int(rel[-8:-4]) > 10]
        rng = np.random.default_rng(0)
        queries = sorted(rng.choice(queries, min(args.profiles, len(queries)), replace=False))
        scores: dict[str, list[tuple[float, float]]] = {"plain": [], "context": []}
        seconds = []
        for q in queries:
            own = is_central & (identity == identity[q]) & (table.photo != table.photo[q])
            others = np.flatnonzero(table.photo != table.photo[q])
            plain = others[np.argsort(np.sum((table.vectors[others] - table.vectors[q]) ** 2,
                                             axis=1), kind="stable")]
            t0 = time.perf_counter()
            found = similar_faces(cat, int(table.ids[q]), limit=args.limit)
            seconds.append(time.perf_counter() - t0)
            first = [row_of[m.face_id] for m in found]
            context = np.array(first + [r for r in plain if r not in set(first)])
            for name, order in (("plain", plain), ("context", context)):
                scores[name].append(_ranked(order, own, frontal))
    print(f"{len(queries)} profiles searched among {len(table.ids)} faces; "
          f"one search: median {1000 * statistics.median(seconds):.0f} ms "
          f"(loading the catalog's faces included)")
    for name, values in scores.items():
        ap, at10 = np.mean(values, axis=0)
        print(f"  {name:8s} mAP {ap:.4f}  frontal@10 {at10:.4f}")
    return 0


def _ranked(order: np.ndarray, own: np.ndarray, frontal: np.ndarray) -> tuple[float, float]:
    hits = own[order]
    if not hits.any():
        return 0.0, 0.0
    ranks = np.flatnonzero(hits) + 1
    ap = float(np.mean(np.arange(1, len(ranks) + 1) / ranks))
    wanted = own & frontal
    at10 = float((wanted[order[:10]]).sum() / max(1, min(10, wanted.sum())))
    return ap, at10


if __name__ == "__main__":
    sys.exit(main())
