"""How a photo is searched for faces: which copies the detector sees, and which faces are kept.

``find_faces`` takes the working image ``engine.imageio.decode`` gives and
returns faces in its pixels, best first; ``in_original`` maps them to the
upright original's pixels. The search, cheapest first:

1. The detection copy (long side at most ``DETECT_SIDE``), at a score floor
   below the detector's own threshold, so weak faces become candidates.
2. A second look at ``DETAIL`` times the copy's resolution (an upscaled copy
   of a small photo, the working image itself of a large one), only where the
   first look saw a face smaller than ``SMALL_FACE``: small faces come in
   crowds, and this is where the detector misses them. A face is kept if one
   look scores it at the detector's threshold, or if both looks see it (same
   box, IoU >= ``SAME_FACE``) with a mean score of at least ``CONFIRM``.
   A weak face cut by the copy's edge gets a look of its own at the same
   resolution with the detector's grid moved by ``EDGE_SHIFT``: half a face
   scores by where the grid falls on it more than a whole face does, so one
   grid alone decides too much. That look may only confirm the cut faces.
   Weak faces no look confirmed get a second opinion from a detector of
   another design (``FaceCheck``; the scan asks MTCNN's last two stages,
   ``engine.models.mtcnn``), and those it calls faces are kept too.
3. No face at the detector's threshold: the detector's padded retries for
   faces filling the frame (two paddings; a small photo also brought up to
   the retry's size). A face filling the frame may have been seen only in
   weak parts the looks agreed on (an ear cut by the edge): a face the
   retries find at the threshold replaces the weak faces touching it,
   unless the looks saw that face itself (the same box), which stays as
   they saw it. Where no retry scores the threshold, their weak faces go
   to the second opinion with the first look's, so a full profile filling
   the frame, which YuNet scores under its threshold at every padding, is
   kept when MTCNN calls it a face.
4. Still no face: a smaller copy (long side at most ``TURN_SIDE``) turned
   by 90, 180 and 270 degrees (scanned prints and sideways photos), keeping
   the turn whose best face scores highest. The second opinion's weak faces
   do not count as found here: they are asked for after the padded retry,
   and a turn's faces replace them.

A look at the mirrored copy (``mirror_look``, ``mirror_detail``) was
measured as a third opinion on weak faces no other look confirmed and is
off: on the WIDER dev photos it gained too few faces for the false ones it
added, and it confirmed the demo album's galaxy (docs/PERFORMANCE.md).

Faces found by both looks are merged into one; boxes and landmarks come back
in the upright working image's pixels whatever copy or turn found them.

``second_landmarks`` then averages each kept face's landmarks with those a
second network places (``LandmarkOpinion``; the scan asks MTCNN's ONet,
shown each face upright): the aligned crop rests on the landmarks, and two
networks' mean is nearer the face than either's points.

``find_in_box`` finds the face in a box a user drew: the detector looks at
a crop around the box, enlarged so that the face is of the size it finds
best, weak faces included (the user said a face is there).

This module never reads or decodes photos, never writes the catalog and
never embeds faces; it knows detectors only through ``Detector`` and the two
extra calls of ``WeakFaceDetector``.
"""

from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from engine.models.base import Detection, Detector

# The detector runs on a copy this long: YuNet misses faces wider than ~700 px.
DETECT_SIDE = 960
# The second look's resolution, in multiples of the detection copy's: a 16 px
# face becomes 32 px, where YuNet finds three quarters of faces instead of
# about a third. Since the copy is at most DETECT_SIDE long, the second look is
# at most 2 * DETECT_SIDE long and runs in one piece: no tiles, no seams.
DETAIL = 2.0
# A first-look candidate shorter than this (detection-copy pixels) calls for
# the second look; 32 px is where YuNet's recall on crowds drops below 75 %.
SMALL_FACE = 32.0
# Weak faces down to this score are candidates; below it most are not faces
# and two looks agreeing no longer tells them apart.
FLOOR = 0.6
# Both looks must see a weak face with at least this mean score: halfway
# between FLOOR and the detector's own threshold (0.8 for YuNet).
CONFIRM = 0.7
# Boxes of two looks overlapping this much (IoU) are the same face...
SAME_FACE = 0.5
# ...and a weaker box overlapping a kept one this much is dropped (the
# detector's own NMS threshold).
OVERLAP = 0.3
# A weak face lying this much inside a kept face's box is a part of it (a
# mouth, an eye and a nose of a large face): the second opinion is not asked.
INSIDE = 0.5
# A weak candidate reaching this close to the copy's edge (pixels) is cut by
# it...
EDGE = 1.0
# ...and is looked at again on the copy moved right and down by this many
# pixels: half a cell of YuNet's finest grid (strides 8, 16 and 32), so each
# of its grids moves by a fraction of a cell. The chirac_3 face cut by the
# right edge scores 0.71 on the 960 px copy and 0.82 moved by 4 px; on the
# WIDER dev photos, the score of a face cut by an edge moves four times as
# much with the grid as a whole face's (see docs/PERFORMANCE.md).
EDGE_SHIFT = 4
# Landmark order on a mirrored look: right eye, left eye, nose, mouth right,
# mouth left each take the other side's place.
MIRRORED = (1, 0, 2, 4, 3)
# Faces shorter than this (detection-copy pixels) are dropped: most false
# faces are this small, and an aligned crop of such a face is mostly blur.
MIN_FACE = 12.0
# Turns tried when nothing upright is found, in np.rot90's quarter turns...
TURNS = (1, 2, 3)
# ...on a copy this long: they run on every photo without a face, and three
# turns at 640 px cost 1.3 looks at 960 px instead of 3. A face a fifteenth of
# the photo's long side is still 43 px there, where YuNet is reliable.
TURN_SIDE = 640
# A face drawn by the user (``find_in_box``): the crop the detector sees
# spans this many times the drawn box's long side...
BOX_CONTEXT = 3.0
# ...scaled so that the box's long side is this many pixels: YuNet finds faces
# of 40 to 200 px best, and a face drawn loosely is a little smaller than its box.
BOX_LOOK_SIDE = 96.0
# The user said there is a face: weak detections count, down to this score.
BOX_FLOOR = 0.3
# A detection is the drawn face when its centre lies in the box and its long
# side is at least this share of the box's.
BOX_MIN_SHARE = 0.25
# OpenCV's rotation for each of np.rot90's counter-clockwise quarter turns.
_ROTATIONS = {1: cv2.ROTATE_90_COUNTERCLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_CLOCKWISE}


@runtime_checkable
class WeakFaceDetector(Protocol):
    """A detector that can also report weak faces and retry frame-filling ones."""

    score_threshold: float

    def candidates(self, image: np.ndarray, floor: float) -> list[Detection]:
        """One pass at the image's size, faces scoring ``floor`` or more, best first."""

    def frame_filling(self, image: np.ndarray, floor: float | None = None) -> list[Detection]:
        """Faces that fill the frame, which a plain pass misses; where none
        reaches the detector's threshold, the weaker ones scoring ``floor``
        or more, if given."""


@runtime_checkable
class FaceCheck(Protocol):
    """A second opinion, of another design than the detector, on weak faces."""

    def confirms(self, image: np.ndarray, faces: list[Detection]) -> list[bool]:
        """For each face (a box in ``image``'s pixels), whether it is a face."""


def find_faces(
    detector: Detector,
    image: np.ndarray,
    *,
    second_look: bool = True,
    edge_look: bool = True,
    turns: bool = True,
    mirror_look: bool = False,
    mirror_detail: bool = False,
    check: FaceCheck | None = None,
) -> list[Detection]:
    """Faces in an RGB uint8 working image, in its pixels, best first.

    ``second_look``, ``edge_look`` and ``turns`` switch off the second look,
    the look at cut faces and the turns (for measuring what each brings);
    the scan leaves all on. ``mirror_look`` adds a look at the mirrored copy
    for weak first-look faces of ordinary size, not cut, that no look
    confirmed; ``mirror_detail`` a mirrored second look for such small ones.
    Both are off: measured, not adopted (see the module's docstring).
    ``check`` is asked about the weak faces, one per place, that no look
    confirmed and no kept face overlaps.
    """
    height, width = image.shape[:2]
    factor = min(1.0, DETECT_SIDE / max(height, width))
    copy = _resized(image, factor)
    if not isinstance(detector, WeakFaceDetector):
        # Without weak faces there is nothing to confirm: one look, then turns.
        found = _kept_size(_scaled(detector.predict(copy), 1.0 / factor), factor)
        return found or (_turned(detector, image) if turns else [])

    threshold = detector.score_threshold
    first = detector.candidates(copy, FLOOR)
    seen = _scaled(first, 1.0 / factor)
    looks = [_kept_size(seen, factor)]
    # Even a candidate too small to keep says that small faces may be there.
    detail_ran = second_look and any(d.box[3] * factor < SMALL_FACE for d in seen)
    if detail_ran:
        detail = DETAIL * factor
        closer = detector.candidates(_resized(image, detail), FLOOR)
        looks.append(_kept_size(_scaled(closer, 1.0 / detail), factor))
    cut = [d for d in _kept_size(first, 1.0) if d.score < threshold and _is_cut(d, copy)]
    if edge_look and cut:
        moved = _moved_look(detector, copy)
        again = [d for d in moved if any(_iou(d.box, c.box) >= SAME_FACE for c in cut)]
        looks.append(_kept_size(_scaled(again, 1.0 / factor), factor))
    found = _confirmed(looks, threshold)
    if mirror_look or mirror_detail:
        # Weak first-look faces no look confirmed: ordinary ones not cut (the
        # moved grid is theirs) for the mirrored copy, small ones for the
        # mirrored second look.
        alone = _unconfirmed(looks[0], found, threshold)
        ordinary = [
            d for d in alone
            if d.box[3] * factor >= SMALL_FACE and not _is_cut(_scaled([d], factor)[0], copy)
        ]
        small = [d for d in alone if d.box[3] * factor < SMALL_FACE]
        extra: list[Detection] = []
        if mirror_look and ordinary:
            mirrored = _scaled(_mirrored_look(detector, copy), 1.0 / factor)
            extra += [d for d in mirrored if any(_iou(d.box, w.box) >= SAME_FACE for w in ordinary)]
        if mirror_detail and detail_ran and small:
            detail = DETAIL * factor
            mirrored = _scaled(_mirrored_look(detector, _resized(image, detail)), 1.0 / detail)
            extra += [d for d in mirrored if any(_iou(d.box, w.box) >= SAME_FACE for w in small)]
        if extra:
            looks.append(_kept_size(extra, factor))
            found = _confirmed(looks, threshold)
    if all(d.score < threshold for d in found):
        # Nothing at the threshold: a face filling the frame may have been
        # seen only in weak parts (an ear, an eye) that the looks agreed on.
        filled = _kept_size(_scaled(detector.frame_filling(copy, FLOOR), 1.0 / factor), factor)
        whole = [d for d in filled if d.score >= threshold]
        # A whole face the looks already saw (the same box) stays as they saw
        # it; a new one takes the place of the weak faces touching it.
        new = [w for w in whole if not any(_iou(d.box, w.box) >= SAME_FACE for d in found)]
        if new:
            found = new + [d for d in found if not any(_inside(d.box, w.box) > 0.0 for w in new)]
        elif not whole:
            # Weak faces that fill the frame (a full profile) go to the check
            # like the first look's weak faces.
            looks.append(filled)
    checked: list[Detection] = []
    if check is not None:
        # After the padded retry: parts of a face that fills the frame look
        # like faces to the check too, and the whole face overlaps them.
        weak = _unclaimed(looks, found)
        if weak:
            said = check.confirms(image, weak)
            checked = [d for d, yes in zip(weak, said, strict=True) if yes]
    if not found and turns:
        # Faces at the detector's threshold on a turned copy outrank weak
        # ones upright: upright, a sideways photo shows only parts of faces.
        turned = _turned(detector, image)
        if turned:
            return turned
    return sorted(found + checked, key=lambda d: -d.score)


@runtime_checkable
class LandmarkOpinion(Protocol):
    """A second network's five landmarks for upright faces."""

    name: str  # as the catalog records it beside the landmarks

    def landmarks(
        self, image: np.ndarray, boxes: list[tuple[float, float, float, float]]
    ) -> np.ndarray:
        """(N, 5, 2) landmarks of the upright faces in ``boxes`` of ``image``,
        in its pixels, in the detector's order (the person's right eye first)."""


def find_in_box(
    image: np.ndarray, box: tuple[float, ...], detector: Detector
) -> Detection | None:
    """The detector's best face in and around ``box`` (a face a user drew:
    working pixels), in working pixels; None where it sees none.

    The detector looks at a crop ``BOX_CONTEXT`` times the box's long side,
    scaled so that the box's long side is ``BOX_LOOK_SIDE`` pixels; weak
    faces count down to ``BOX_FLOOR``. A face counts when its centre lies in
    the box and its long side is at least ``BOX_MIN_SHARE`` of the box's.
    """
    x, y, w, h = box
    side = BOX_CONTEXT * max(w, h)
    cx, cy = x + w / 2, y + h / 2
    height, width = image.shape[:2]
    x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
    x1, y1 = min(width, int(np.ceil(cx + side / 2))), min(height, int(np.ceil(cy + side / 2)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    factor = BOX_LOOK_SIDE / max(w, h)
    size = (max(1, round((x1 - x0) * factor)), max(1, round((y1 - y0) * factor)))
    interpolation = cv2.INTER_AREA if factor < 1.0 else cv2.INTER_CUBIC
    crop = cv2.resize(np.ascontiguousarray(image[y0:y1, x0:x1]), size,
                      interpolation=interpolation)
    if isinstance(detector, WeakFaceDetector):
        seen = detector.candidates(crop, BOX_FLOOR)
    else:
        seen = detector.predict(crop)
    best: Detection | None = None
    for det in seen:
        dx, dy, dw, dh = (v / factor for v in det.box)
        dx, dy = dx + x0, dy + y0
        centre_x, centre_y = dx + dw / 2, dy + dh / 2
        inside = x <= centre_x <= x + w and y <= centre_y <= y + h
        if not inside or max(dw, dh) < BOX_MIN_SHARE * max(w, h):
            continue
        if best is None or det.score > best.score:
            best = Detection(
                box=(dx, dy, dw, dh),
                landmarks=(det.landmarks / factor + [x0, y0]).astype(np.float32),
                score=det.score,
            )
    return best


def second_landmarks(
    image: np.ndarray, found: list[Detection], opinion: LandmarkOpinion
) -> list[Detection]:
    """The faces with their landmarks the mean of the detector's and ``opinion``'s.

    Each network places the points with errors of its own, and the aligned
    crop rests on them: the mean of two networks is nearer the face than
    either (docs/PERFORMANCE.md). A face lying on its side, as a turned
    photo's do, is shown to ``opinion`` turned upright, since a landmark
    network reads upright faces; its points come back in ``image``'s pixels.
    Boxes and scores are kept.
    """
    if not found:
        return found
    height, width = image.shape[:2]
    quarters = [_upright_quarter(d.landmarks) for d in found]
    means: list[np.ndarray | None] = [None] * len(found)
    for quarter in sorted(set(quarters)):
        which = [i for i, q in enumerate(quarters) if q == quarter]
        shown = image if quarter == 0 else cv2.rotate(image, _ROTATIONS[quarter])
        boxes = []
        for i in which:
            x, y, w, h = found[i].box
            corners = _turned_points(
                np.array([[x, y], [x + w, y + h]], np.float64), quarter, height, width
            )
            low, high = corners.min(axis=0), corners.max(axis=0)
            boxes.append((float(low[0]), float(low[1]), float(high[0] - low[0]),
                          float(high[1] - low[1])))
        placed = np.asarray(opinion.landmarks(shown, boxes), np.float64)
        for i, points in zip(which, placed, strict=True):
            back = _unturned_points(points, quarter, height, width)
            means[i] = (found[i].landmarks.astype(np.float64) + back) / 2
    return [
        Detection(box=d.box, landmarks=np.asarray(m, np.float32), score=d.score)
        for d, m in zip(found, means, strict=True)
    ]


def in_original(found: list[Detection], scale: float) -> list[Detection]:
    """Faces of the working image in the upright original's pixels.

    ``scale`` is ``Decoded.scale``: working pixels per original pixel.
    """
    return _scaled(found, 1.0 / scale)


# -- private -------------------------------------------------------------------


def _resized(image: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    interpolation = cv2.INTER_AREA if factor < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interpolation)


def _is_cut(det: Detection, copy: np.ndarray) -> bool:
    """Whether the face's box reaches the copy's edge: part of the face is outside."""
    x, y, w, h = det.box
    height, width = copy.shape[:2]
    return x < EDGE or y < EDGE or x + w > width - EDGE or y + h > height - EDGE


def _moved_look(detector: WeakFaceDetector, copy: np.ndarray) -> list[Detection]:
    """Candidates of the copy moved right and down by EDGE_SHIFT, in the copy's pixels."""
    shift = EDGE_SHIFT
    moved = cv2.copyMakeBorder(copy, shift, 0, shift, 0, cv2.BORDER_CONSTANT)
    return [
        Detection(
            box=(d.box[0] - shift, d.box[1] - shift, d.box[2], d.box[3]),
            landmarks=(d.landmarks - shift).astype(np.float32),
            score=d.score,
        )
        for d in detector.candidates(moved, FLOOR)
    ]


def _mirrored_look(detector: WeakFaceDetector, image: np.ndarray) -> list[Detection]:
    """Candidates of the image mirrored left to right, in the image's own pixels."""
    width = image.shape[1]
    mirrored = np.ascontiguousarray(image[:, ::-1])
    return [_unmirrored(d, width) for d in detector.candidates(mirrored, FLOOR)]


def _unmirrored(det: Detection, width: int) -> Detection:
    """A face found on ``image[:, ::-1]`` in ``image``'s pixels, the person's right eye first.

    The mirror turns the person's right eye into the left one of the face the
    detector sees: the eyes and the mouth's corners trade places back.
    """
    x, y, w, h = det.box
    points = det.landmarks[list(MIRRORED)]
    landmarks = np.stack([width - points[:, 0], points[:, 1]], axis=1)
    return Detection(
        box=(width - x - w, y, w, h), landmarks=landmarks.astype(np.float32), score=det.score
    )


def _scaled(found: list[Detection], by: float) -> list[Detection]:
    if by == 1.0:
        return found
    return [
        Detection(
            box=(d.box[0] * by, d.box[1] * by, d.box[2] * by, d.box[3] * by),
            landmarks=(d.landmarks * by).astype(np.float32),
            score=d.score,
        )
        for d in found
    ]


def _kept_size(found: list[Detection], factor: float) -> list[Detection]:
    """Faces at least MIN_FACE tall on the detection copy (``factor`` of the working image)."""
    return [d for d in found if d.box[3] * factor >= MIN_FACE]


def _grouped(tagged: list[tuple[Detection, int]]) -> list[list[tuple[Detection, int]]]:
    """Boxes (each with the look that saw it) grouped by face, best first: a
    box joins the group of the best box it overlaps as the same face, and is
    dropped if it only half overlaps one (the detector's NMS)."""
    groups: list[list[tuple[Detection, int]]] = []
    for det, look in sorted(tagged, key=lambda item: -item[0].score):
        overlaps = [_iou(det.box, group[0][0].box) for group in groups]
        best = int(np.argmax(overlaps)) if overlaps else -1
        if best >= 0 and overlaps[best] >= SAME_FACE:
            groups[best].append((det, look))
        elif best < 0 or overlaps[best] < OVERLAP:
            groups.append([(det, look)])
    return groups


def _confirmed(looks: list[list[Detection]], threshold: float) -> list[Detection]:
    """One face per group of boxes the looks agree on, if strong or seen by both."""
    groups = _grouped([(d, look) for look, found in enumerate(looks) for d in found])
    kept = []
    for group in groups:
        per_look: dict[int, float] = {}
        for det, look in group:
            per_look[look] = max(per_look.get(look, 0.0), det.score)
        top = max(per_look.values())
        seen_twice = len(per_look) >= 2 and float(np.mean(list(per_look.values()))) >= CONFIRM
        if top >= threshold or seen_twice:
            kept.append(_merged([det for det, _ in group], top))
    return sorted(kept, key=lambda d: -d.score)


def _unconfirmed(
    look: list[Detection], found: list[Detection], threshold: float
) -> list[Detection]:
    """The weak faces of one look that no kept face stands for."""
    return [
        d for d in look
        if d.score < threshold and not any(_iou(d.box, f.box) >= SAME_FACE for f in found)
    ]


def _unclaimed(looks: list[list[Detection]], found: list[Detection]) -> list[Detection]:
    """One face per group of the looks' weak faces that no kept face overlaps
    or holds (a part of a large face lies inside its box at a small IoU)."""
    groups = _grouped([
        (d, look) for look, seen in enumerate(looks) for d in seen
        if not any(
            _iou(d.box, f.box) >= OVERLAP or _inside(d.box, f.box) >= INSIDE for f in found
        )
    ])
    return [_merged([d for d, _ in group], group[0][0].score) for group in groups]


def _merged(same: list[Detection], score: float) -> Detection:
    """The score-weighted mean of one face's boxes and landmarks across looks."""
    if len(same) == 1:
        return same[0]
    weights = np.array([d.score for d in same], np.float64)
    weights /= weights.sum()
    box = np.einsum("i,ij->j", weights, np.array([d.box for d in same], np.float64))
    landmarks = np.einsum("i,ijk->jk", weights, np.stack([d.landmarks for d in same]))
    return Detection(
        box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
        landmarks=landmarks.astype(np.float32),
        score=score,
    )


def _turned(detector: Detector, image: np.ndarray) -> list[Detection]:
    """Faces of the image turned a quarter, half or three quarters, in its upright pixels.

    Only faces at the detector's own threshold count: each turn is another
    chance for a false face, so no weak face is taken here.
    """
    long_side = max(image.shape[:2])
    factor = min(1.0, TURN_SIDE / long_side)
    copy = _resized(image, factor)
    best: list[Detection] = []
    for quarter in TURNS:
        turned = cv2.rotate(copy, _ROTATIONS[quarter])  # np.rot90's turn, 20x faster
        found = [_unturned(d, quarter, copy.shape[:2]) for d in detector.predict(turned)]
        found = _kept_size(_scaled(found, 1.0 / factor), min(1.0, DETECT_SIDE / long_side))
        if found and (not best or found[0].score > best[0].score):
            best = found
    return best


def _unturned(det: Detection, quarter: int, upright: tuple[int, ...]) -> Detection:
    """A face found on ``np.rot90(image, quarter)`` in ``image``'s pixels.

    Only positions move: the person's right eye stays the right eye, so the
    landmarks keep their order and alignment turns the face upright.
    """
    height, width = upright[0], upright[1]
    x, y, w, h = det.box
    box = np.array([[x, y], [x + w, y + h]], np.float64)
    corners = _unturned_points(box, quarter, height, width)
    low, high = corners.min(axis=0), corners.max(axis=0)
    landmarks = _unturned_points(det.landmarks.astype(np.float64), quarter, height, width)
    return Detection(
        box=(float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])),
        landmarks=landmarks.astype(np.float32),
        score=det.score,
    )


def _upright_quarter(landmarks: np.ndarray) -> int:
    """How many of np.rot90's quarter turns stand the face upright: the turn
    that points its eyes-to-mouth line most nearly down."""
    points = np.asarray(landmarks, np.float64)
    dx, dy = points[3:].mean(axis=0) - points[:2].mean(axis=0)
    # A turn carries a direction (dx, dy) to (dy, -dx) (image y points down).
    downs = [dy, -dx, -dy, dx]
    return int(np.argmax(downs))


def _turned_points(points: np.ndarray, quarter: int, height: int, width: int) -> np.ndarray:
    """Points of the upright image in ``np.rot90(image, quarter)``'s pixels
    (``_unturned_points`` undone)."""
    x, y = points[:, 0], points[:, 1]
    if quarter % 4 == 1:
        return np.stack([y, width - x], axis=1)
    if quarter % 4 == 2:
        return np.stack([width - x, height - y], axis=1)
    if quarter % 4 == 3:
        return np.stack([height - y, x], axis=1)
    return points.copy()


def _unturned_points(points: np.ndarray, quarter: int, height: int, width: int) -> np.ndarray:
    # np.rot90 turns counter-clockwise: a point (u, v) of the turned image is,
    # in the upright one, (W - v, u) after one quarter, (W - u, H - v) after
    # two and (v, H - u) after three (continuous pixel coordinates).
    u, v = points[:, 0], points[:, 1]
    if quarter % 4 == 1:
        return np.stack([width - v, u], axis=1)
    if quarter % 4 == 2:
        return np.stack([width - u, height - v], axis=1)
    if quarter % 4 == 3:
        return np.stack([v, height - u], axis=1)
    return points


def _inside(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """The share of box ``a``'s area that lies inside box ``b``."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    area = a[2] * a[3]
    return max(0.0, x2 - x1) * max(0.0, y2 - y1) / area if area > 0 else 0.0


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
