"""One photo's analysis: read it, decode it, find, align and embed its faces.

This is the work on pixels, and it runs wherever the pixels are: on the decode
threads and main thread of a scan on this machine (``engine.scan``), or on the
workers of a Ray cluster (``engine.ray_scan``). Nothing here touches the
catalog: a ``Job`` carries what the catalog knew of the file, and a ``Result``
with its ``Analysis`` carries back what the scan writes.
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from engine.align import align_faces
from engine.catalog import Photo, PhotoStatus
from engine.detect import (
    DETECT_SIDE,
    FaceCheck,
    LandmarkOpinion,
    find_faces,
    find_in_box,
    in_original,
    second_landmarks,
)
from engine.errors import PhotoError
from engine.imageio import (
    Decoded,
    content_hash,
    decode,
    is_raw_name,
    is_video_name,
    read_bytes,
    read_taken,
)
from engine.models.age import AgeEstimator
from engine.models.base import Detection, Detector, Embedder
from engine.models.mtcnn import MtcnnCheck
from engine.people.cluster import ClusterParams
from engine.people.importer import MetadataRefusedError, PhotoNames, read_names
from engine.quality import face_quality
from engine.video import Frame, distinct_faces, file_hash, sample_video

EMBED_BATCH = 32  # crops per network call
# Faces turned at least this far (yaw in degrees, ``engine.quality``) are
# embedded with their mirror image too and the two averaged (test-time
# flip): a profile's embedding then depends less on which side the camera
# saw, so a person's left and right profiles meet. It is where clustering
# starts counting a face as a profile. CFP dev, clustering all faces (SFace,
# poses counted): BCubed F1 0.9579 -> 0.9630; flipping every face instead
# gives 0.9629 for twice the embedding time, flipping frontal faces 0.9578.
FLIP_TURNED = ClusterParams().turn_from


@dataclass(frozen=True)
class Job:
    """A file to look at, and what the catalog knew of it."""

    relpath: bytes
    size: int
    mtime_ns: int
    old: Photo | None  # the catalog's row at this path, if any
    reembed_only: bool = False
    # Of a photo only re-embedded: its faces as the catalog holds them, in order.
    old_faces: tuple[Detection, ...] = ()
    # Its content matched a vanished photo that another file has already
    # claimed: it is a new photo, to analyse.
    not_moved: bool = False
    # Unchanged, but a sidecar beside it is newer than its scan: read the
    # names other tools wrote for it, nothing else.
    names_only: bool = False
    # Unchanged, but its capture date was never read (a catalog from before
    # dates were): read its metadata, nothing else.
    dates_only: bool = False
    # Of a photo analysed again (``reembed_only``) only for its faces' apparent
    # ages (a catalog from before ages): no embedding.
    ages_only: bool = False
    # Of a photo re-embedded: which of ``old_faces`` get their landmarks
    # placed again with the second network first (a catalog from before
    # landmarks were averaged); empty: none.
    place_again: tuple[bool, ...] = ()
    # Which of ``old_faces`` a user drew (their box is the user's; their
    # landmarks are the detector's face found in it): placed again as
    # drawing them now would (``engine.detect.find_in_box``); empty: none.
    drawn: tuple[bool, ...] = ()


@dataclass
class Result:
    """What reading a file found: its problem, its move, or its pixels."""

    job: Job
    sha256: str | None = None
    decoded: Decoded | None = None
    problem: str | None = None
    moved_from: Photo | None = None
    names: PhotoNames = field(default_factory=PhotoNames)  # from the photo's metadata
    regions_problem: str | None = None  # why its metadata is not imported
    read_seconds: float = 0.0
    decode_seconds: float = 0.0
    frames: list[Frame] | None = None  # of a video: the frames sampled through it
    face_seconds: list[float] | None = None  # of a video: when each kept face was seen
    taken: float | None = None  # capture time from the metadata (engine.imageio)
    taken_read: bool = False  # the metadata was looked at for ``taken``

    def without_pixels(self) -> "Result":
        """The same result without its pixels, to send back from a worker."""
        decoded = self.decoded
        if decoded is not None:
            decoded = replace(decoded, image=np.zeros((0, 0, 3), np.uint8))
        return replace(self, decoded=decoded, frames=None)


@dataclass
class Analysis:
    """The faces of one analysed photo, in original-photo pixels."""

    detections: list[Detection]
    sharpness: list[float]
    crops: list[np.ndarray]  # aligned, until embedded
    vectors: np.ndarray | None = None  # once embedded
    turned: list[bool] = field(default_factory=list)  # per crop: embed its mirror too
    age_chips: list[np.ndarray] = field(default_factory=list)  # aligned for the age, until read
    # Apparent age in years per face (``engine.models.age``), once embedded;
    # None for each face where no age was estimated.
    ages: list[float | None] = field(default_factory=list)
    # Per face: the second network its landmarks were averaged with, if any.
    second_landmarks: list[str | None] = field(default_factory=list)


Claim = Callable[[str], Photo | None]


def read(root: bytes, job: Job, claim: Claim, import_xmp: bool) -> Result:
    """Read, hash, and decode unless it is a move; for a photo to analyse,
    read the face regions of its metadata too.

    ``claim`` is asked for the vanished photo with this content, if any: a
    file that is one is recorded as its move, not decoded.
    """
    result = Result(job)
    path = os.path.join(root, job.relpath)
    if job.dates_only or job.names_only:
        _read_date_unless_known(result, path, job.old)
    if job.names_only and job.old is not None:
        size = (int(job.old.width or 0), int(job.old.height or 0))
        try:
            result.names = read_names(os.fsdecode(path), size)
        except MetadataRefusedError as exc:
            result.regions_problem = str(exc)
        return result
    if job.dates_only:
        return result
    video = is_video_name(job.relpath)
    data = b""
    try:
        started = time.perf_counter()
        if video:  # hashed in pieces: a video need not fit in memory
            result.sha256 = file_hash(path)
        else:
            data = read_bytes(path)
            result.sha256 = content_hash(data)
        result.read_seconds = time.perf_counter() - started
        if job.old is None and not job.reembed_only and not job.not_moved:
            result.moved_from = claim(result.sha256)
            if result.moved_from is not None:
                _read_date_unless_known(result, path, result.moved_from, data)
                return result
        if (
            job.old is not None
            and not job.reembed_only
            and job.old.status in (PhotoStatus.OK, PhotoStatus.MISSING)
            and job.old.sha256 == result.sha256
        ):
            # Touched, or back after missing: same content, no decode.
            _read_date_unless_known(result, path, job.old, data)
            return result
        started = time.perf_counter()
        if video:
            sampled = sample_video(path, min_side=DETECT_SIDE)
            result.frames = sampled.frames
            result.decoded = result.frames[0].decoded
            result.taken = sampled.taken
        else:
            result.decoded = decode(data, min_side=DETECT_SIDE, raw=is_raw_name(job.relpath))
            result.taken = result.decoded.taken
        result.taken_read = True
        result.decode_seconds = time.perf_counter() - started
        if import_xmp and not job.reembed_only and not video:
            size = (result.decoded.width, result.decoded.height)
            try:
                result.names = read_names(os.fsdecode(path), size)
            except MetadataRefusedError as exc:
                result.regions_problem = str(exc)
    except PhotoError as exc:
        result.problem = str(exc)
    except MemoryError:
        result.problem = "not enough memory to decode this image"
    return result


def _read_date_unless_known(
    result: Result, path: bytes, photo: Photo | None, data: bytes = b""
) -> None:
    """The capture date of a file not decoded now, from its metadata alone
    (``data``: its bytes, when read already), unless the catalog's row
    already holds what a date reader found."""
    if photo is not None and not photo.taken_read:
        result.taken = read_taken(path, data)
        result.taken_read = True


class Analyser:
    """Finds, aligns and embeds the faces of decoded photos with one pair of
    networks, adding the seconds of each stage to ``stage_seconds``; with an
    ``AgeEstimator``, it reads each face's apparent age too (counted as
    embedding time: it is another network over aligned faces). Weak faces
    the detector's looks did not confirm get ``face_check``'s opinion
    (MTCNN's by default). The landmarks of every face kept are averaged with
    ``landmarks``' when given; by default with the face check's own (MTCNN
    places landmarks) when the detector asks for it
    (``Detector.wants_second_landmarks``, YuNet does)."""

    def __init__(
        self,
        detector: Detector,
        embedder: Embedder,
        stage_seconds: dict[str, float],
        ages: AgeEstimator | None = None,
        face_check: FaceCheck | None = None,
        landmarks: LandmarkOpinion | None = None,
    ) -> None:
        self.detector = detector
        self.embedder = embedder
        self.stage_seconds = stage_seconds
        self.age_estimator = ages
        self.face_check = MtcnnCheck() if face_check is None else face_check
        if (landmarks is None and detector.wants_second_landmarks
                and isinstance(self.face_check, LandmarkOpinion)):
            landmarks = self.face_check
        self.landmark_opinion = landmarks

    def analyse(self, result: Result) -> Analysis:
        """The faces of a decoded photo, aligned but not yet embedded (a
        video's come embedded: choosing them needs their embeddings)."""
        decoded = result.decoded
        if decoded is None:
            raise ValueError("only a decoded photo can be analysed")
        if result.frames is not None:
            return self._analyse_video(result, result.frames)
        if result.job.reembed_only:
            detections = list(result.job.old_faces)
            landmarks = [d.landmarks * decoded.scale for d in detections]
            second: list[str | None] = [None] * len(detections)
            if any(result.job.place_again) and self.landmark_opinion is not None:
                clock = time.perf_counter()
                detections, landmarks, second = self._place_again(
                    decoded, detections, result.job.place_again, result.job.drawn
                )
                self.stage_seconds["detect"] += time.perf_counter() - clock
        else:
            clock = time.perf_counter()
            detections, landmarks = self._detect(decoded)
            self.stage_seconds["detect"] += time.perf_counter() - clock
            second = [self._opinion_name()] * len(detections)
        clock = time.perf_counter()
        crops: list[np.ndarray] = (
            list(align_faces(decoded.image, landmarks, self.embedder))
            if landmarks and not result.job.ages_only else []
        )
        sharpness = [face_quality.sharpness(c) for c in crops]
        chips = self._age_chips(decoded.image, landmarks)
        self.stage_seconds["align"] += time.perf_counter() - clock
        return Analysis(
            detections, sharpness, crops, turned=turned_aside(landmarks), age_chips=chips,
            second_landmarks=second,
        )

    def _opinion_name(self) -> str | None:
        opinion = self.landmark_opinion
        return None if opinion is None else opinion.name

    def _place_again(
        self, decoded: Decoded, faces: list[Detection], which: tuple[bool, ...],
        drawn: tuple[bool, ...] = (),
    ) -> tuple[list[Detection], list[np.ndarray], list[str | None]]:
        """Stored faces (original pixels) with the landmarks of those ``which``
        marks averaged with the second network's, as a scan now places them;
        and every face's landmarks in working pixels.

        A face the user drew (``drawn``) keeps its box: the second network
        reads the detector's face found in it, as drawing it now would
        (``engine.people.tagging.measure_face``, which reads the photo at up
        to 4,096 px where the scan reads it at up to 1,920); where the
        detector no longer finds one there, the stored box and landmarks
        are used."""
        assert self.landmark_opinion is not None
        scale = decoded.scale
        working = [
            Detection(box=(d.box[0] * scale, d.box[1] * scale, d.box[2] * scale, d.box[3] * scale),
                      landmarks=d.landmarks * scale, score=d.score)
            for d in faces
        ]
        chosen = [i for i, again in enumerate(which) if again]
        by_hand = {i for i, was_drawn in enumerate(drawn) if was_drawn}
        looked = [
            (find_in_box(decoded.image, working[i].box, self.detector) if i in by_hand else None)
            or working[i]
            for i in chosen
        ]
        placed = second_landmarks(decoded.image, looked, self.landmark_opinion)
        second: list[str | None] = [None] * len(faces)
        for i, det in zip(chosen, placed, strict=True):
            working[i] = replace(working[i], landmarks=det.landmarks)
            second[i] = self.landmark_opinion.name
        return in_original(working, scale), [d.landmarks for d in working], second

    def _age_chips(self, image: np.ndarray, landmarks: list[np.ndarray]) -> list[np.ndarray]:
        """The faces aligned for the age network; none without one."""
        estimator = self.age_estimator
        if estimator is None or not landmarks:
            return []
        return list(
            align_faces(image, landmarks, template=estimator.template, size=estimator.input_size)
        )

    def read_ages(self, chips: list[np.ndarray]) -> list[float | None]:
        """Apparent ages of aligned chips; None for each without an estimator."""
        if self.age_estimator is None or not chips:
            return [None] * len(chips)
        clock = time.perf_counter()
        ages = self.age_estimator.predict(np.stack(chips))
        self.stage_seconds["embed"] += time.perf_counter() - clock
        return [float(a) for a in ages]

    def embed(self, crops: list[np.ndarray], turned: list[bool] | None = None) -> np.ndarray:
        """``embed_crops`` with this analyser's embedder, its time counted."""
        clock = time.perf_counter()
        vectors = embed_crops(self.embedder, crops, turned)
        self.stage_seconds["embed"] += time.perf_counter() - clock
        return vectors

    def embed_all(self, analyses: list[Analysis]) -> None:
        """Embed the crops of every analysis not yet embedded, in shared batches."""
        todo = [a for a in analyses if a.vectors is None]
        if not todo:
            return
        vectors = self.embed(
            [crop for a in todo for crop in a.crops],
            [t for a in todo for t in (a.turned or [False] * len(a.crops))],
        )
        ages = self.read_ages([chip for a in todo for chip in a.age_chips])
        offset = age_offset = 0
        for a in todo:
            a.vectors = vectors[offset : offset + len(a.crops)]
            offset += len(a.crops)
            a.crops = []
            if a.age_chips:
                a.ages = ages[age_offset : age_offset + len(a.age_chips)]
                age_offset += len(a.age_chips)
                a.age_chips = []
            else:
                a.ages = [None] * len(a.vectors)

    def _analyse_video(self, result: Result, frames: list[Frame]) -> Analysis:
        """Faces of every sampled frame, then one per person seen: the video's faces.

        People are not known while scanning, so faces of the video's frames
        close enough to be grouped by clustering are one person, and the best
        of them stands for the video. A video is analysed whole again when
        its embeddings are missing: its faces come from many frames.
        """
        found: list[tuple[Detection, np.ndarray, float, float]] = []
        chips: list[np.ndarray] = []
        for frame in frames:
            clock = time.perf_counter()
            detections, landmarks = self._detect(frame.decoded)
            self.stage_seconds["detect"] += time.perf_counter() - clock
            if not landmarks:
                continue
            clock = time.perf_counter()
            crops = align_faces(frame.decoded.image, landmarks, self.embedder)
            chips += self._age_chips(frame.decoded.image, landmarks)
            self.stage_seconds["align"] += time.perf_counter() - clock
            for det, crop in zip(detections, crops, strict=True):
                found.append((det, crop, face_quality.sharpness(crop), frame.seconds))
        if not found:
            result.face_seconds = []
            return Analysis([], [], [], np.zeros((0, self.embedder.dim), np.float32))
        vectors = self.embed(
            [crop for _, crop, _, _ in found],
            turned_aside([det.landmarks for det, _, _, _ in found]),
        )
        quality = [face_quality.score(det.box, sharp) for det, _, sharp, _ in found]
        kept = distinct_faces(vectors, quality, ClusterParams().threshold)
        result.face_seconds = [found[i][3] for i in kept]
        ages = self.read_ages([chips[i] for i in kept] if chips else [])
        return Analysis(
            [found[i][0] for i in kept], [found[i][2] for i in kept], [], vectors[kept],
            ages=ages if chips else [None] * len(kept),
            second_landmarks=[self._opinion_name()] * len(kept),
        )

    def _detect(self, decoded: Decoded) -> tuple[list[Detection], list[np.ndarray]]:
        """Faces in original-photo pixels, and their landmarks in working pixels."""
        found = find_faces(self.detector, decoded.image, check=self.face_check)
        if self.landmark_opinion is not None:
            found = second_landmarks(decoded.image, found, self.landmark_opinion)
        return in_original(found, decoded.scale), [d.landmarks for d in found]


def embed_crops(
    embedder: Embedder, crops: list[np.ndarray], turned: list[bool] | None = None
) -> np.ndarray:
    """Unit vectors of aligned crops, as the scan embeds every face: those
    ``turned`` marks (``turned_aside``) are averaged with their mirror image's."""
    if not crops:
        return np.zeros((0, embedder.dim), np.float32)
    vectors = _predict(embedder, crops)
    flip = [i for i, t in enumerate(turned or []) if t]
    if flip and not getattr(embedder, "flip_average", False):
        both = vectors[flip] + _predict(
            embedder, [np.ascontiguousarray(crops[i][:, ::-1]) for i in flip]
        )
        vectors[flip] = both / np.maximum(np.linalg.norm(both, axis=1, keepdims=True), 1e-12)
    return vectors


def _predict(embedder: Embedder, crops: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([
        embedder.predict(np.stack(crops[i : i + EMBED_BATCH]))
        for i in range(0, len(crops), EMBED_BATCH)
    ])


def turned_aside(landmarks: list[np.ndarray]) -> list[bool]:
    """Which faces are turned far enough to be embedded with their mirror too."""
    if not landmarks:
        return []
    yaw = face_quality.yaws(np.array(landmarks, dtype=np.float64).reshape(-1, 5, 2))
    return [bool(y >= FLIP_TURNED) for y in yaw]
