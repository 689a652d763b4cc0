"""Each face's landmarks are the mean of YuNet's and MTCNN ONet's
(``engine.detect.second_landmarks``); the catalog records which second
network they were averaged with, and a catalog from before that gets its
faces placed again, and embedded on the new landmarks, by its next scan,
keeping every fact about them."""

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from catalogs import older_catalog, scan_into

from engine.catalog import Catalog, FaceSource
from engine.cli.main import main
from engine.detect import find_faces
from engine.imageio import decode, read_bytes
from engine.models.mtcnn import MtcnnCheck
from engine.models.yunet import YuNetDetector
from engine.people.facts import name_faces


def test_a_version_7_catalog_opens_with_its_faces_landmarks_the_detector_s_own(
    tmp_path: Path,
) -> None:
    from engine.catalog.schema import SCHEMA_VERSION

    path = tmp_path / "c.sqlite"
    conn = older_catalog(path, 7)
    conn.execute("INSERT INTO roots(id, path) VALUES (1, x'2f70')")
    conn.execute(
        "INSERT INTO photos(id, root_id, relpath, size, mtime_ns, sha256, width, height, status,"
        " detector, scanned_at) VALUES (1, 1, x'612e6a7067', 1, 1, 'x', 10, 10, 'ok', 'yunet', 0)"
    )
    landmarks = np.arange(10, dtype=np.float32).tobytes()
    conn.execute(
        "INSERT INTO faces(id, photo_id, x, y, w, h, landmarks, score, quality, sharpness,"
        " detector, source, created_at) VALUES (1, 1, 0, 0, 5, 5, ?, 0.9, 0.5, 1, 'yunet',"
        " 'detected', 0)",
        (landmarks,),
    )
    conn.close()

    with Catalog(path) as cat:
        (face,) = cat.faces()
    assert face.second_landmarks is None
    assert face.landmarks is not None and face.landmarks.tobytes() == landmarks
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 8
    conn.close()


@pytest.mark.slow
def test_the_scan_records_onet_beside_every_face_yunet_found(scanned_demo: Path) -> None:
    with Catalog(scanned_demo) as cat:
        faces = cat.faces()
    assert faces and {f.second_landmarks for f in faces} == {"mtcnn-onet"}


@pytest.mark.slow
def test_an_older_catalog_s_faces_end_where_a_fresh_scan_puts_them_keeping_their_facts(
    scanned_demo: Path, demo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    yunet, check = YuNetDetector(), MtcnnCheck()
    with Catalog(scanned_demo) as cat:
        faces = cat.faces()
        ids, fresh_vectors = cat.embeddings("sface")
        fresh = {f.id: f.landmarks for f in faces}
        obama = [f.id for f in faces
                 if os.fsdecode(cat.photo(f.photo_id).relpath).startswith("obama_")]
        named = name_faces(cat, obama, "Barack Obama")
        # As the version before left them: YuNet's own landmarks, embedded on them.
        conn = cat._conn
        for photo_id in sorted({f.photo_id for f in faces}):
            photo = cat.photo(photo_id)
            decoded = decode(read_bytes(str(demo_dir / os.fsdecode(photo.relpath))))
            own = find_faces(yunet, decoded.image, check=check)
            for face in (f for f in faces if f.photo_id == photo_id):
                box = np.array(face.box) * decoded.scale
                det = min(own, key=lambda d: float(np.abs(np.array(d.box) - box).sum()))
                conn.execute(
                    "UPDATE faces SET landmarks = ?, second_landmarks = NULL WHERE id = ?",
                    ((det.landmarks / decoded.scale).astype(np.float32).tobytes(), face.id),
                )
                conn.execute("UPDATE embeddings SET vector = ? WHERE face_id = ?",
                             (np.zeros(128, np.float32).tobytes(), face.id))
        cat.checkpoint()
        older = {f.id: f.landmarks for f in cat.faces()}
    assert any(not np.allclose(older[i], fresh[i], atol=0.5) for i in fresh)

    capsys.readouterr()
    assert main(["--catalog", str(scanned_demo), "scan", str(demo_dir)]) == 0

    photos = len({f.photo_id for f in faces})
    out = capsys.readouterr().out
    assert f"{photos} photos scanned before had their faces read again" in out
    assert "landmarks placed by two networks" in out
    with Catalog(scanned_demo) as cat:
        after = {f.id: f for f in cat.faces()}
        after_ids, after_vectors = cat.embeddings("sface")
        assert cat.person(named).name == "Barack Obama"
        assert all(after[i].person_id == named for i in obama)
    assert set(after) == set(fresh)  # the same faces, ids and all
    for i, face in after.items():
        assert face.second_landmarks == "mtcnn-onet"
        assert face.source is FaceSource.DETECTED
        assert face.landmarks == pytest.approx(fresh[i], abs=0.05)
    assert list(after_ids) == list(ids)
    assert np.allclose(after_vectors, fresh_vectors, atol=1e-3)

    again = scan_into(scanned_demo, demo_dir)
    assert (again.reembedded, again.scanned) == (0, 0)


@pytest.mark.slow
def test_an_older_catalog_s_video_is_read_again_on_both_networks_keeping_its_names(
    tmp_path: Path,
) -> None:
    from tests.test_video import write_video

    folder = tmp_path / "library"
    folder.mkdir()
    write_video(folder / "clip.mp4", ["obama_1.jpg", "chirac_1.jpg"])
    catalog = tmp_path / "c.sqlite"
    scan_into(catalog, folder)
    with Catalog(catalog) as cat:
        (video,) = cat.photos()
        faces = cat.faces(photo_id=video.id)
        fresh = {f.id: f.landmarks for f in faces}
        named = name_faces(cat, [faces[0].id], "Someone")
        # As the version before left them: no second network's landmarks.
        for face in faces:
            assert face.landmarks is not None
            cat._conn.execute(
                "UPDATE faces SET landmarks = ?, second_landmarks = NULL WHERE id = ?",
                ((face.landmarks + 3.0).astype(np.float32).tobytes(), face.id),
            )
        cat.checkpoint()

    summary = scan_into(catalog, folder)

    assert summary.scanned == 1  # a video is analysed whole: its faces come from many frames
    with Catalog(catalog) as cat:
        after = {f.id: f for f in cat.faces()}
        assert cat.person(named).name == "Someone"
        assert after[faces[0].id].person_id == named
    assert set(after) == set(fresh)
    for i, face in after.items():
        assert face.second_landmarks == "mtcnn-onet"
        assert face.landmarks == pytest.approx(fresh[i], abs=0.05)
    again = scan_into(catalog, folder)
    assert (again.reembedded, again.scanned) == (0, 0)


@pytest.mark.slow
def test_an_older_catalog_s_drawn_face_is_placed_again_as_drawing_it_now_would(
    scanned_demo: Path,
) -> None:
    from engine.detect import find_in_box
    from engine.models.registry import get_embedder
    from engine.people.tagging import draw_face

    yunet = YuNetDetector()
    with Catalog(scanned_demo) as cat:
        face = next(f for f in cat.faces()
                    if os.fsdecode(cat.photo(f.photo_id).relpath).startswith("obama_"))
        photo = cat.photo(face.photo_id)
        # The scan missed this face and the user drew it: the detector finds
        # it in the drawn box, so the drawn face has the detector's landmarks.
        cat._conn.execute("DELETE FROM faces WHERE id = ?", (face.id,))
        drawn_id = draw_face(cat, photo, face.box, name="Barack Obama", detector=yunet,
                             embedder=get_embedder("sface"))
        fresh = cat.face(drawn_id)
        ids, vectors = cat.embeddings("sface")
        fresh_vector = vectors[list(ids).index(drawn_id)]
        assert fresh.source is FaceSource.MANUAL and fresh.detector == "yunet"
        assert fresh.second_landmarks == "mtcnn-onet" and fresh.landmarks is not None
        # As the version before drew it: YuNet's own landmarks, embedded on them.
        decoded = decode(read_bytes(photo.path), min_side=4096, max_side=4096)
        own = find_in_box(decoded.image, tuple(v * decoded.scale for v in face.box), yunet)
        assert own is not None
        older = (own.landmarks / decoded.scale).astype(np.float32)
        assert not np.allclose(older, fresh.landmarks, atol=0.5)
        cat._conn.execute(
            "UPDATE faces SET landmarks = ?, second_landmarks = NULL WHERE id = ?",
            (older.tobytes(), drawn_id),
        )
        cat._conn.execute("UPDATE embeddings SET vector = ? WHERE face_id = ?",
                          (np.zeros(128, np.float32).tobytes(), drawn_id))
        cat.checkpoint()

    summary = scan_into(scanned_demo, Path(os.fsdecode(photo.root)))

    assert summary.reembedded == 1
    with Catalog(scanned_demo) as cat:
        after = cat.face(drawn_id)
        ids, vectors = cat.embeddings("sface")
        assert cat.person(after.person_id).name == "Barack Obama"
    assert after.source is FaceSource.MANUAL and after.box == fresh.box
    assert after.second_landmarks == "mtcnn-onet"
    assert after.landmarks == pytest.approx(fresh.landmarks, abs=0.05)
    assert np.allclose(vectors[list(ids).index(drawn_id)], fresh_vector, atol=1e-3)
    again = scan_into(scanned_demo, Path(os.fsdecode(photo.root)))
    assert (again.reembedded, again.scanned) == (0, 0)
