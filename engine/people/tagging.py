"""Faces the detector missed, drawn by the user: measured, then added as one operation.

``draw_face`` is what ``facealbum tag`` and the photo viewer's "draw a face"
call: it checks the box, reads the photo, measures the face in it
(``measure_face``) and hands the result to ``engine.people.facts.tag_face``,
the user operation that stores it, so undo and redo work as for every
operation. Measuring looks for the face's landmarks by running the detector
on a generously enlarged crop around the box, scaled so that the face is as
large as the detector finds faces best (a face too small for the scan's
look is found there, weak faces included); when it still finds none, the
embedder's template is placed in the box. The aligned crop is embedded with
the catalog's embedder, and the face's apparent age read, so the drawn face
can be named, clustered and suggested like any other.

This module never writes the catalog itself (``facts.tag_face`` does, in its
transaction), never reads a file inside a transaction, and never prints.
``find_photo`` and ``parse_box`` turn what a user typed into a photo and a box.
"""

import os
import threading

import numpy as np

from engine.align import align_faces, landmarks_in_box
from engine.analyse import embed_crops, turned_aside
from engine.catalog import Catalog, Photo
from engine.catalog.faces import DrawnFace, photos_at
from engine.detect import find_in_box, second_landmarks
from engine.errors import NotFoundError, PhotoError
from engine.imageio import Decoded, decode, read_bytes
from engine.models.age import AgeEstimator
from engine.models.base import Detector, Embedder
from engine.models.defaults import DEFAULT_DETECTOR
from engine.models.mtcnn import MtcnnCheck
from engine.people.facts import (
    FaceBoxError,
    PeopleError,
    check_face_box,
    check_no_face_at,
    tag_face,
)
from engine.people.update import active_embedder
from engine.quality import face_quality

# The photo is decoded with a long side of up to this many pixels, so that a
# small face in a large photo keeps the detail its embedding needs.
READ_SIDE = 4096
# What ``DrawnFace.detector`` says when no detector found the face.
BY_HAND = "manual"


def draw_face(
    cat: Catalog,
    photo: Photo,
    box: tuple[float, float, float, float],
    *,
    name: str | None = None,
    person_id: int | None = None,
    detector: Detector | None = None,
    embedder: Embedder | None = None,
    device: str = "cpu",
) -> int:
    """Add the face in ``box`` of ``photo`` (pixels of the upright photo); returns its id.

    ``name`` or ``person_id`` puts it in a person, in the same operation.
    ``detector`` and ``embedder`` override the catalog's models (tests).
    """
    if name is not None and person_id is not None:
        raise PeopleError("a drawn face goes to one person: give --name or --person, not both")
    check_no_face_at(cat, photo, check_face_box(photo, box))
    drawn = measure_photo_face(cat, photo, box, detector=detector, embedder=embedder,
                               device=device)
    return tag_face(cat, photo.id, drawn, name=name, person_id=person_id)


def measure_photo_face(
    cat: Catalog,
    photo: Photo,
    box: tuple[float, float, float, float],
    *,
    detector: Detector | None = None,
    embedder: Embedder | None = None,
    device: str = "cpu",
) -> DrawnFace:
    """Read ``photo`` and measure the face in ``box`` with the catalog's models.

    Only reads the catalog (which embedder it uses); safe on a worker thread
    with its own connection. With the catalog's embedder the face's apparent
    age is read too; with an embedder given (tests), it is not.
    """
    box = check_face_box(photo, box)
    ages = None
    if detector is None or embedder is None:
        default_detector, default_embedder = catalog_models(cat, device)
        detector = detector or default_detector
        if embedder is None:
            embedder, ages = default_embedder, age_reader(device)
    try:
        data = read_bytes(photo.path)
        long_side = max(photo.width or 0, photo.height or 0)
        decoded = decode(data, min_side=min(long_side, READ_SIDE), max_side=READ_SIDE)
    except PhotoError as exc:
        raise PhotoError(
            f"cannot read {photo.path} to measure the drawn face: {exc}; check the file is "
            "there (its disk mounted), then draw the face again"
        ) from exc
    return measure_face(decoded, box, detector, embedder, ages)


def measure_face(
    decoded: Decoded,
    box: tuple[float, float, float, float],
    detector: Detector,
    embedder: Embedder,
    ages: AgeEstimator | None = None,
) -> DrawnFace:
    """Landmarks, embedding, quality and, with ``ages``, the apparent age of
    the face in ``box`` (upright original pixels)."""
    scale = decoded.scale
    work_box = tuple(v * scale for v in box)
    found = find_in_box(decoded.image, work_box, detector)
    second = None
    if found is not None and detector.wants_second_landmarks:
        # As the scan places a found face's landmarks (engine.analyse).
        check = _landmark_check()
        (found,) = second_landmarks(decoded.image, [found], check)
        second = check.name
    if found is not None:
        landmarks, score, by = found.landmarks, found.score, detector.name
    else:
        landmarks, score, by = landmarks_in_box(work_box, embedder), 0.0, BY_HAND
    crops = align_faces(decoded.image, [landmarks], embedder)
    sharpness = face_quality.sharpness(crops[0])
    # As the scan embeds (a face turned aside with its mirror), so the drawn
    # face lies where the scan's faces of the same person do.
    vector = embed_crops(embedder, list(crops), turned_aside([landmarks]))[0]
    age = None
    if ages is not None:
        chip = align_faces(decoded.image, [landmarks], template=ages.template,
                           size=ages.input_size)
        age = float(ages.predict(chip)[0])
    return DrawnFace(
        box=box,
        landmarks=(np.asarray(landmarks, np.float64) / scale).astype(np.float32),
        score=float(score),
        quality=face_quality.score(box, sharpness),
        sharpness=sharpness,
        detector=by,
        model=embedder.name,
        embedding=vector,
        age=age,
        second_landmarks=second,
    )


def find_photo(cat: Catalog, spec: str) -> Photo:
    """The scanned photo ``spec`` names: its id, its absolute path, or its path
    relative to its scanned folder (or to the current folder)."""
    text = spec.strip()
    if text.isdigit():
        return cat.photo(int(text))
    found = {p.id: p for p in photos_at(cat, text)}
    if not os.path.isabs(text) and os.path.exists(text):
        found.update({p.id: p for p in photos_at(cat, os.path.abspath(text))})
    if not found:
        raise NotFoundError(
            f"no scanned photo at {spec!r}: give the path of a photo in a scanned folder "
            "(absolute, or relative to that folder as `facealbum people --json` prints it) "
            "or a photo id; `facealbum scan FOLDER` adds a folder's photos"
        )
    if len(found) > 1:
        listed = "; ".join(f"{p.id}: {p.path}" for p in found.values())
        raise PeopleError(
            f"{spec!r} names {len(found)} scanned photos ({listed}); give the absolute path "
            "or the id of the one you mean"
        )
    return next(iter(found.values()))


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``X,Y,W,H`` (pixels of the upright photo) as four numbers."""
    parts = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise FaceBoxError(
            f"a face's box is X,Y,W,H: four numbers in pixels of the upright photo, such as "
            f"240,38,40,40; got {text!r}"
        )
    return (values[0], values[1], values[2], values[3])


def catalog_models(cat: Catalog, device: str = "cpu") -> tuple[Detector, Embedder]:
    """The detector and the catalog's embedder, loaded once per process and device."""
    from engine.models.registry import get_detector, get_embedder  # torch: only when measuring

    embedder_name = active_embedder(cat)
    with _MODELS_LOCK:
        key = (DEFAULT_DETECTOR, embedder_name, device)
        if key not in _MODELS:
            _MODELS[key] = (get_detector(DEFAULT_DETECTOR, device=device),
                            get_embedder(embedder_name, device=device))
        return _MODELS[key]


def age_reader(device: str = "cpu") -> AgeEstimator:
    """The apparent-age network, loaded once per process and device."""
    with _MODELS_LOCK:
        if device not in _AGES:
            _AGES[device] = AgeEstimator(device)
        return _AGES[device]


# -- private -------------------------------------------------------------------

def _landmark_check() -> MtcnnCheck:
    """This thread's second landmark network (its networks are not thread-safe)."""
    check: MtcnnCheck | None = getattr(_LANDMARKS, "check", None)
    if check is None:
        check = _LANDMARKS.check = MtcnnCheck()
    return check


_AGES: dict[str, AgeEstimator] = {}
_LANDMARKS = threading.local()
_MODELS: dict[tuple[str, str, str], tuple[Detector, Embedder]] = {}
_MODELS_LOCK = threading.Lock()

