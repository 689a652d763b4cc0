"""Built-in evaluation: cluster a folder of identity folders and score the result.

``evaluate_folder`` takes a folder laid out as ``DIR/<identity>/<photo>``
(like LFW), links the chosen photos into a working folder, scans them into a
catalog of their own with the real pipeline, clusters every face of those
photos with the default parameters and scores the face nearest the centre of
each photo against its folder's name (other faces take part in the
clustering, as strangers in the background of an album do, but are not
scored). With an LFW pairs file it also scores verification accuracy the
LFW way (threshold chosen on k - 1 folds, tested on the last): on the
distance of each pair alone, the standard protocol, and on the context
distance (``engine.people.context``), which also weighs the faces around the
pair among all the faces scanned, as face search ranks them in a library.

It never touches the user's catalog and never writes into ``DIR``.
"""

import dataclasses
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.catalog import Catalog, FaceState, PhotoStatus
from engine.errors import FaceAlbumError
from engine.metrics import ClusterScores, cluster_scores, verification_accuracy
from engine.people.cluster import ClusterParams, Constraints, cluster
from engine.people.context import Context
from engine.people.update import load_vectors
from engine.progress import CancelToken, Progress
from engine.quality import face_quality


class EvaluationError(FaceAlbumError):
    """The folder or pairs file given to ``eval`` cannot be used."""


@dataclass
class EvalResult:
    scores: ClusterScores | None = None
    verification_accuracy: float | None = None
    verification_std: float | None = None
    # The same pairs judged in the context of every face scanned (face search).
    context_verification_accuracy: float | None = None
    context_verification_std: float | None = None
    pairs: int = 0
    photos: int = 0
    photos_without_face: int = 0
    params: dict[str, float | int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = dict(self.scores.to_json()) if self.scores else {}
        out["verification_accuracy"] = self.verification_accuracy
        out["verification_std"] = self.verification_std
        out["context_verification_accuracy"] = self.context_verification_accuracy
        out["context_verification_std"] = self.context_verification_std
        out["pairs"] = self.pairs
        out["photos"] = self.photos
        out["photos_without_face"] = self.photos_without_face
        out["params"] = self.params
        return out


def select_photos(
    folder: Path, min_images: int = 1, max_per_identity: int | None = None
) -> list[tuple[str, str]]:
    """(identity, file name) of the photos to score, in a stable order."""
    if not folder.is_dir():
        raise EvaluationError(
            f"{folder} is not a folder; expected a folder of identity folders "
            "(DIR/<person>/<photo>.jpg), like LFW's images folder"
        )
    chosen = []
    for identity in sorted(p.name for p in folder.iterdir() if p.is_dir()):
        files = sorted(
            p.name for p in (folder / identity).iterdir()
            if p.is_file() and not p.name.startswith(".")
        )
        if len(files) < min_images:
            continue
        chosen += [(identity, f) for f in files[:max_per_identity]]
    if not chosen:
        raise EvaluationError(
            f"no identity folder in {folder} has at least {min_images} photos; "
            "lower --min-images or check the layout (DIR/<person>/<photo>.jpg)"
        )
    return chosen


def read_pairs(path: Path) -> list[tuple[str, int, str, int, int]]:
    """LFW pairs: (name1, index1, name2, index2, fold); same person when names match."""
    try:
        lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    except OSError as exc:
        raise EvaluationError(f"cannot read the pairs file {path}: {exc}") from exc
    try:
        folds, per_fold = int(lines[0][0]), int(lines[0][1])
        pairs = []
        for i, parts in enumerate(lines[1:]):
            fold = i // (2 * per_fold)
            if len(parts) == 3:
                pairs.append((parts[0], int(parts[1]), parts[0], int(parts[2]), fold))
            else:
                pairs.append((parts[0], int(parts[1]), parts[2], int(parts[3]), fold))
    except (IndexError, ValueError) as exc:
        raise EvaluationError(
            f"{path} is not an LFW pairs file: expected a 'FOLDS N' header, then lines "
            f"'name i j' or 'name1 i name2 j' ({exc})"
        ) from exc
    if folds < 2 or fold + 1 != folds:
        raise EvaluationError(
            f"{path} announces {folds} folds of {per_fold} + {per_fold} pairs but holds "
            f"{len(pairs)} pairs; expected {2 * folds * per_fold}"
        )
    return pairs


def evaluate_folder(
    folder: Path,
    result: EvalResult,
    *,
    pairs_file: Path | None = None,
    min_images: int = 1,
    max_per_identity: int | None = None,
    params: ClusterParams | None = None,
    workdir: Path | None = None,
    scan_options: object | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Scan, cluster and score; fills ``result`` and yields ``Progress``.

    ``workdir`` keeps the links and the catalog between runs (a second run
    scans nothing); by default a temporary folder is used and removed.
    """
    from engine.scan import ScanOptions, scan_folder

    params = params or ClusterParams()
    folder = Path(folder)
    chosen = select_photos(folder, min_images, max_per_identity)
    pairs = read_pairs(pairs_file) if pairs_file else []
    wanted = set(chosen)
    for name1, i1, name2, i2, _ in pairs:
        wanted.add((name1, f"{name1}_{i1:04d}.jpg"))
        wanted.add((name2, f"{name2}_{i2:04d}.jpg"))

    with tempfile.TemporaryDirectory(prefix="facealbum-eval-") as tmp:
        work = Path(workdir) if workdir else Path(tmp)
        links = work / "photos"
        for identity, name in sorted(wanted):
            source = folder / identity / name
            link = links / identity / name
            if not link.exists() and source.exists():
                link.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(source.resolve(), link)
        with Catalog(work / "eval.sqlite") as cat:
            options = scan_options if isinstance(scan_options, ScanOptions) else ScanOptions()
            yield from scan_folder(cat, links, options, cancel=cancel)
            central = _central_faces(cat)
            ids, vectors = load_vectors(cat)
            row_of = {int(f): i for i, f in enumerate(ids)}
            records = {face.id: face for face in cat.faces()}
            photo_of = {face_id: face.photo_id for face_id, face in records.items()}

            scored = [
                (identity, name) for identity, name in chosen
                if central.get(f"{identity}/{name}") in row_of
            ]
            result.photos = len(chosen)
            result.photos_without_face = len(chosen) - len(scored)
            chosen_paths = {f"{i}/{n}" for i, n in chosen}
            photo_ids = {
                pid for pid, rel in _photo_paths(cat).items() if rel in chosen_paths
            }
            rows = np.array(
                [row_of[f] for f, p in photo_of.items() if p in photo_ids and f in row_of],
                dtype=np.int64,
            )
            rows.sort()
            yield Progress("clustering", 0, 1)
            photo = np.array([photo_of[int(ids[r])] for r in rows], dtype=np.int64)
            # Weighed as the app weighs them: quality, pose and apparent age.
            # Not capture dates: a data set's file times say when it was copied.
            chosen_faces = [records[int(ids[r])] for r in rows]
            quality = np.array([face.quality for face in chosen_faces], dtype=np.float64)
            poses = face_quality.yaws(np.array([
                np.full((5, 2), np.nan) if face.landmarks is None else face.landmarks
                for face in chosen_faces
            ]).reshape(-1, 5, 2))
            ages = np.array(
                [np.nan if face.age is None else face.age for face in chosen_faces],
                dtype=np.float64,
            )
            labels = cluster(
                vectors[rows], Constraints(photo=photo), params, quality=quality, poses=poses,
                ages=ages,
            )
            label_of = {int(ids[r]): int(lab) for r, lab in zip(rows, labels, strict=True)}
            predicted = [label_of[central[f"{i}/{n}"]] for i, n in scored]
            truth = [i for i, _ in scored]
            result.scores = cluster_scores(predicted, truth)
            result.params = dict(dataclasses.asdict(params))
            yield Progress("clustering", 1, 1)

            if pairs:
                _score_pairs(result, pairs, central, row_of, vectors)


def _score_pairs(
    result: EvalResult,
    pairs: list[tuple[str, int, str, int, int]],
    central: dict[str, int],
    row_of: dict[int, int],
    vectors: np.ndarray,
) -> None:
    """Verification accuracy of the pairs: each pair alone, and in the context of all faces."""
    first, second, same, folds = [], [], [], []
    for name1, i1, name2, i2, fold in pairs:
        f1 = central.get(f"{name1}/{name1}_{i1:04d}.jpg")
        f2 = central.get(f"{name2}/{name2}_{i2:04d}.jpg")
        same.append(name1 == name2)
        folds.append(fold)
        first.append(row_of.get(f1, -1) if f1 is not None else -1)
        second.append(row_of.get(f2, -1) if f2 is not None else -1)
    a, b = np.array(first, dtype=np.int64), np.array(second, dtype=np.int64)
    found = (a >= 0) & (b >= 0)
    # No face found: the pair counts as "different", as LFW practice does.
    plain = np.full(len(pairs), 4.0)
    diff = vectors[a[found]].astype(np.float64) - vectors[b[found]]
    plain[found] = np.einsum("ij,ij->i", diff, diff)
    result.verification_accuracy, result.verification_std = verification_accuracy(
        plain.tolist(), same, folds
    )
    in_context = np.full(len(pairs), 4.0)
    if found.any():
        in_context[found] = Context(vectors).distances(a[found], b[found])
    result.context_verification_accuracy, result.context_verification_std = (
        verification_accuracy(in_context.tolist(), same, folds)
    )
    result.pairs = len(pairs)


def _photo_paths(cat: Catalog) -> dict[int, str]:
    return {photo.id: os.fsdecode(photo.relpath) for photo in cat.photos(PhotoStatus.OK)}


def _central_faces(cat: Catalog) -> dict[str, int]:
    """Relative photo path -> the id of its face nearest the photo's centre."""
    photos = {photo.id: photo for photo in cat.photos(PhotoStatus.OK)}
    best: dict[str, tuple[float, int]] = {}
    for face in cat.faces():
        photo = photos.get(face.photo_id)
        if photo is None or face.state != FaceState.FACE:
            continue
        rel = os.fsdecode(photo.relpath)
        x, y, w, h = face.box
        width, height = photo.width or 0, photo.height or 0
        d = (x + w / 2 - width / 2) ** 2 + (y + h / 2 - height / 2) ** 2
        if rel not in best or d < best[rel][0]:
            best[rel] = (d, face.id)
    return {rel: face for rel, (_, face) in best.items()}
