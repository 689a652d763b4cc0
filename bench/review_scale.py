"""How long do a person's suggestions and a face search take in a large library?

Builds a synthetic catalog of ``--faces`` faces through the engine's
``Catalog`` API (one face per photo; a tenth as many people as faces, each
face a noisy copy of its person's direction), clusters it as the app does,
then times, on that catalog:

- ``load_faces``: what both read first (every face, its vector and holder);
- ``suggest`` for one person, by the merge distance alone and in context
  (what the review page reads off the GUI thread for each person);
- ``similar_faces`` for one face ("More Like This Face", ``faces --like``).

The catalog is kept (``--catalog``) so a rerun only measures.

    .venv/bin/python bench/review_scale.py [--faces 100000]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.catalog import Catalog  # noqa: E402
from engine.catalog.records import PhotoStatus  # noqa: E402
from engine.people.search import similar_faces  # noqa: E402
from engine.people.suggest import suggest  # noqa: E402
from engine.people.update import load_faces, recluster  # noqa: E402


def build(path: Path, faces: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(max(1, faces // 10), 128)).astype(np.float32)
    vectors = (directions[rng.integers(0, len(directions), faces)]
               + 0.09 * rng.normal(size=(faces, 128)).astype(np.float32))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with Catalog(path) as cat:
        cat.set_meta("embedder", "sface")
        root = cat.root_id(path.parent)
        with cat.transaction():
            for i, vector in enumerate(vectors):
                photo = cat.add_photo(root, f"p{i}.jpg".encode(), size=1, mtime_ns=10**18,
                                      sha256=f"{i:064x}", width=100, height=100,
                                      status=PhotoStatus.OK)
                face = cat.add_face(photo, (0, 0, 10, 10), None, score=1.0, quality=0.9,
                                    sharpness=1.0, detector="synthetic")
                cat.put_embedding(face, "sface", vector)
        for _ in recluster(cat):
            pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--catalog", type=Path, default=None,
                        help="kept between runs (default /tmp/facealbum-review-scale-N.sqlite)")
    args = parser.parse_args()
    path = args.catalog or Path(f"/tmp/facealbum-review-scale-{args.faces}.sqlite")
    if not path.exists():
        started = time.perf_counter()
        build(path, args.faces)
        print(f"built and clustered {args.faces} faces in {time.perf_counter() - started:.0f} s")
    with Catalog(path) as cat:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        table = load_faces(cat)
        timings["load_faces"] = time.perf_counter() - started
        person = int(table.person[table.person >= 0][0])
        for name, call in (
            ("suggest, merge distance alone", lambda: suggest(cat, person, in_context=False)),
            ("suggest, in context", lambda: suggest(cat, person)),
            ("similar_faces", lambda: similar_faces(cat, int(table.ids[0]))),
        ):
            started = time.perf_counter()
            call()
            timings[name] = time.perf_counter() - started
    print(f"{len(table.ids)} faces, {len(np.unique(table.person[table.person >= 0]))} people")
    for name, seconds in timings.items():
        print(f"  {name:32s} {seconds:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
