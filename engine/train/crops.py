"""A folder-per-identity training set, detected and aligned once, cached as crops.

``DATA_DIR/<person>/<photo>`` is read photo by photo; in each photo the face
nearest the photo's centre (the convention of LFW and of most identity
datasets, whose subject is centred) is detected with the scan's detector and
aligned to the embedder's template. The crops go into one uint8 array on
disk, keyed by the photos' names, sizes and times and by the detector,
template and crop size, so a second run with the same data starts at once.
Each crop keeps how far its face is turned (``face_quality.yaw`` of its
landmarks), which lets training mix profiles and frontal faces of a person.
Photos without a face, or that cannot be read, are listed with the reason.

This module never trains and never writes outside its cache folder.
"""

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

from engine.align import align_faces
from engine.detect import second_landmarks
from engine.errors import Cancelled, PhotoError
from engine.imageio import decode, is_photo_name, is_raw_name, is_video_name, read_bytes
from engine.models.base import Detector, Embedder
from engine.models.mtcnn import MtcnnCheck
from engine.progress import CancelToken, Progress
from engine.quality import face_quality
from engine.train.errors import TrainingError
from engine.train.pairs import Pair
from engine.train.trainer import PairSet

CACHE_ENV = "FACEALBUM_CACHE_DIR"
DETECT_SIDE = 960  # the detector misses faces much wider than this, as in the scan
STAGE = "crops"
PROFILE_YAW = 35.0  # degrees: CFP's frontal photos read under 20, its profiles over 40


@dataclass(frozen=True)
class CropSet:
    crops: np.ndarray  # (N, S, S, 3) uint8, memory-mapped
    labels: np.ndarray  # (N,) int64 index into identities
    identities: list[str]
    paths: list[str]  # "person/photo.jpg", relative to the data folder
    skipped: list[tuple[str, str]]  # (path, why)
    yaw: np.ndarray | None = None  # (N,) degrees; None in a cache written before yaw was kept

    def index(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.paths)}

    def pose_groups(self) -> np.ndarray:
        """0 for a frontal face, 1 for a profile (turned over ``PROFILE_YAW``)."""
        if self.yaw is None:
            raise TrainingError(
                "this crop cache was written before poses were kept; delete it (or pass "
                "another --crops-cache) so the photos are aligned again"
            )
        return (self.yaw > PROFILE_YAW).astype(np.int64)


def list_photos(data_dir: Path) -> list[tuple[str, list[str]]]:
    """(person, photo names) for each sub-folder of ``data_dir`` holding photos, sorted."""
    if not data_dir.is_dir():
        raise TrainingError(
            f"expected a folder with one sub-folder of photos per person, got {data_dir}, "
            "which is not a folder"
        )
    people = []
    for person in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        photos = sorted(f.name for f in person.iterdir() if f.is_file() and _is_still(f.name))
        if photos:
            people.append((person.name, photos))
    if len(people) < 2:
        raise TrainingError(
            f"expected sub-folders of photos for at least two people in {data_dir}, found "
            f"{len(people)}; lay the data out as DATA_DIR/<person>/<photo>.jpg"
        )
    return people


def cache_folder(data_dir: Path, embedder: Embedder, detector: Detector,
                 cache_root: Path | None = None) -> Path:
    """Where the crops of ``data_dir`` for this embedder and detector are kept."""
    digest = hashlib.sha256()
    digest.update(json.dumps([detector.name, embedder.input_size,
                              np.asarray(embedder.template).round(3).tolist(),
                              "landmarks: mean with mtcnn-onet"
                              if detector.wants_second_landmarks else "landmarks: detector's"]
                             ).encode())
    for person, photos in list_photos(data_dir):
        for photo in photos:
            st = (data_dir / person / photo).stat()
            digest.update(f"{person}/{photo}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    root = cache_root or _default_cache_root()
    return root / f"{data_dir.name}-{embedder.input_size}-{digest.hexdigest()[:16]}"


def prepare_crops(
    data_dir: Path, embedder: Embedder, detector: Detector, *,
    cache_root: Path | None = None, cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Detect and align every photo once; yields nothing when the cache is there."""
    target = cache_folder(data_dir, embedder, detector, cache_root)
    if (target / "index.json").is_file():
        return
    people = list_photos(data_dir)
    total = sum(len(p) for _, p in people)
    size = embedder.input_size
    check = MtcnnCheck()  # loaded only if the detector asks for its landmarks
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=target.name, dir=target.parent))
    try:
        crops = np.lib.format.open_memmap(work / "crops.npy", mode="w+", dtype=np.uint8,
                                          shape=(total, size, size, 3))
        labels: list[int] = []
        yaws: list[float] = []
        paths: list[str] = []
        skipped: list[tuple[str, str]] = []
        done = 0
        for label, (person, photos) in enumerate(people):
            for photo in photos:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled(f"crop preparation stopped after {done} of {total} photos")
                rel = f"{person}/{photo}"
                try:
                    found = _central_face(data_dir / person / photo, embedder, detector, check)
                except PhotoError as exc:
                    skipped.append((rel, str(exc)))
                else:
                    if found is None:
                        skipped.append((rel, "no face found"))
                    else:
                        crops[len(paths)] = found[0]
                        yaws.append(found[1])
                        labels.append(label)
                        paths.append(rel)
                done += 1
                yield Progress(STAGE, done, total, {"faces": len(paths), "skipped": len(skipped)})
        crops.flush()
        del crops
        _truncate(work / "crops.npy", len(paths), size)
        index = {"identities": [p for p, _ in people], "labels": labels, "paths": paths,
                 "yaw": yaws, "skipped": skipped, "detector": detector.name, "size": size}
        (work / "index.json").write_text(json.dumps(index), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        work.replace(target)
    finally:
        if work.exists():
            shutil.rmtree(work)


def load_crops(data_dir: Path, embedder: Embedder, detector: Detector,
               cache_root: Path | None = None) -> CropSet:
    """The crops ``prepare_crops`` cached for ``data_dir``."""
    folder = cache_folder(data_dir, embedder, detector, cache_root)
    try:
        index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
        crops = np.load(folder / "crops.npy", mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise TrainingError(
            f"the crop cache {folder} is missing or damaged ({exc}); run prepare_crops "
            "first, or delete the folder to rebuild it"
        ) from exc
    yaw = np.asarray(index["yaw"], dtype=np.float64) if "yaw" in index else None
    return CropSet(crops, np.asarray(index["labels"], dtype=np.int64), index["identities"],
                   index["paths"], [tuple(s) for s in index["skipped"]], yaw)


def pair_set(crops: CropSet, pairs: list[Pair], folds: int) -> tuple[PairSet, int]:
    """Pairs as crop indices, and how many pairs had a photo without a crop."""
    index = crops.index()
    kept = [p for p in pairs if p.first in index and p.second in index]
    if not kept:
        raise TrainingError(
            f"none of the {len(pairs)} pairs names two photos that have a face in the data "
            f"folder (e.g. {pairs[0].first}); give --pairs-images the folder the pairs refer to"
        )
    return PairSet(
        np.array([index[p.first] for p in kept], dtype=np.int64),
        np.array([index[p.second] for p in kept], dtype=np.int64),
        np.array([p.same for p in kept], dtype=bool),
        folds,
    ), len(pairs) - len(kept)


def _central_face(
    path: Path, embedder: Embedder, detector: Detector, check: MtcnnCheck
) -> tuple[np.ndarray, float] | None:
    """The aligned crop of the face nearest the photo's centre, and its yaw."""
    decoded = decode(read_bytes(os.fspath(path)), min_side=DETECT_SIDE, max_side=DETECT_SIDE,
                     raw=is_raw_name(path.name))
    image = decoded.image
    found = detector.predict(image)
    if not found:
        return None
    h, w = image.shape[:2]

    def off_centre(box: tuple[float, float, float, float]) -> float:
        x, y, bw, bh = box
        return float((x + bw / 2 - w / 2) ** 2 + (y + bh / 2 - h / 2) ** 2)

    best = min(found, key=lambda d: off_centre(d.box))
    if detector.wants_second_landmarks:
        # Aligned as the scan aligns the faces it embeds (engine.analyse).
        (best,) = second_landmarks(image, [best], check)
    return align_faces(image, [best.landmarks], embedder)[0], face_quality.yaw(best.landmarks)


def _truncate(path: Path, rows: int, size: int) -> None:
    """Rewrite the .npy header for the rows actually filled (skipped photos leave a tail)."""
    full = np.load(path, mmap_mode="r")
    kept = np.lib.format.open_memmap(path.with_suffix(".tmp.npy"), mode="w+", dtype=np.uint8,
                                     shape=(rows, size, size, 3))
    kept[:] = full[:rows]
    kept.flush()
    del kept, full
    path.with_suffix(".tmp.npy").replace(path)


def _default_cache_root() -> Path:
    env = os.environ.get(CACHE_ENV)
    base = Path(env) if env else Path(platformdirs.user_cache_dir("facealbum"))
    return base / "train-crops"


def _is_still(name: str) -> bool:
    """Photos and camera raw files: training learns from stills, not videos."""
    return is_photo_name(name) and not is_video_name(name)
