"""Review on dev data: how many of a person's strays do "Is this Anna?" questions gather?

``facealbum eval`` scans a set's images into a catalog of its own (kept
under ``--workdir``, so a rerun scans nothing). A copy of that catalog is
clustered as the app clusters it. Each identity's person is the one holding
most of its photos (the face nearest each photo's centre is scored, as
``eval`` scores it); its strays are its photos held by another person or by
no one. Then a user who knows everyone goes through each such person's
suggestions (``engine.people.suggest``) in order, up to ``--questions`` of
them, answering yes when most of a suggestion's scored faces are that
identity. Printed, for suggestions ranked and offered by the merge distance
alone and in the context of the library (the default):

- asked: questions put to the user, over every person with strays;
- yes: questions answered yes;
- gathered: strays those answers bring into their person, and their share
  of all strays;
- wrong: faces of another identity brought in by a yes.

    .venv/bin/python bench/review.py [--set cfp|lfw] [--questions 5,10,20]

Skips with a message when the data is absent. Never copies the images.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.catalog import Catalog, PhotoStatus  # noqa: E402
from engine.people.evaluate import EvalResult, _central_faces, evaluate_folder  # noqa: E402
from engine.people.suggest import suggest  # noqa: E402
from engine.people.update import load_faces, recluster  # noqa: E402

DATA = REPO.parent / "shared" / "data"
SETS = {
    "cfp": (DATA / "cfp-dev" / "images", DATA / "cfp-dev" / "pairs_fp.txt"),
    "lfw": (DATA / "lfw-dev" / "images", DATA / "lfw-dev" / "pairs.txt"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=sorted(SETS), default="cfp")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where eval keeps its scan (default /tmp/facealbum-bench-review-SET)")
    parser.add_argument("--questions", default="5,10,20",
                        help="questions answered per person at most, comma-separated")
    args = parser.parse_args()
    images, pairs = SETS[args.set]
    if not pairs.is_file():
        print(f"skipped: {args.set} is not at {images.parent}")
        return 0
    workdir = args.workdir or Path(f"/tmp/facealbum-bench-review-{args.set}")
    started = time.perf_counter()
    for _ in evaluate_folder(images, EvalResult(), pairs_file=pairs, workdir=workdir):
        pass
    print(f"eval (scan cached under {workdir}): {time.perf_counter() - started:.0f} s")
    budgets = [int(q) for q in args.questions.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "catalog.sqlite"
        shutil.copy(workdir / "eval.sqlite", copy)
        with Catalog(copy) as cat:
            for _ in recluster(cat):
                pass
            homes, identity_of = _homes(cat)
            table = load_faces(cat)
            holder = {int(f): int(p) for f, p in zip(table.ids, table.person, strict=True)}
            strays = {who: [f for f, w in identity_of.items() if w == who and holder[f] != home]
                      for who, home in homes.items()}
            total = sum(len(s) for s in strays.values())
            print(f"{len(homes)} people, {total} strays "
                  f"({len(identity_of)} photos scored)")
            for in_context in (False, True):
                t0 = time.perf_counter()
                asked = {who: suggest(cat, homes[who], limit=max(budgets), in_context=in_context)
                         for who in homes if strays[who]}
                seconds = time.perf_counter() - t0
                name = "in context" if in_context else "distance alone"
                print(f"{name}: {1000 * seconds / max(len(asked), 1):.0f} ms per person's "
                      "suggestions")
                for budget in budgets:
                    counts = Counter[str]()
                    for who, found in asked.items():
                        for s in found[:budget]:
                            counts["asked"] += 1
                            seen = [identity_of.get(f) for f in s.face_ids]
                            theirs = sum(1 for w in seen if w == who)
                            if 2 * theirs > len(seen):
                                counts["yes"] += 1
                                counts["gathered"] += theirs
                                counts["wrong"] += sum(1 for w in seen
                                                       if w is not None and w != who)
                    print(f"  {budget:3d} questions at most: asked {counts['asked']:5d}, "
                          f"yes {counts['yes']:4d}, gathered {counts['gathered']:4d} "
                          f"({counts['gathered'] / max(total, 1):.3f}), "
                          f"wrong {counts['wrong']}")
    return 0


def _homes(cat: Catalog) -> tuple[dict[str, int], dict[int, str]]:
    """Each identity's person (held by no other identity's majority) and
    each scored face's identity."""
    photos = {p.id: p for p in cat.photos(PhotoStatus.OK)}
    identity_of = {face: rel.split("/")[0] for rel, face in _central_faces(cat).items()}
    held: dict[str, Counter[int]] = {}
    for face in cat.faces():
        who = identity_of.get(face.id)
        if who is not None and face.person_id is not None and face.photo_id in photos:
            held.setdefault(who, Counter())[face.person_id] += 1
    homes = {who: c.most_common(1)[0][0] for who, c in held.items()}
    owners = Counter(homes.values())
    return {w: p for w, p in homes.items() if owners[p] == 1}, identity_of


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
