"""A scan reads every odd but valid photo and records every bad one with its reason."""

import io
import os
from pathlib import Path

import numpy as np
import pytest
from catalogs import scan_into
from PIL import Image

from engine.catalog import Catalog, PhotoStatus
from engine.errors import PhotoError
from engine.imageio import decode, read_bytes
from engine.scan import ScanSummary

FACE = Path(__file__).resolve().parent.parent / "resources" / "demo" / "obama_1.jpg"


def _face_image(side: int = 400) -> Image.Image:
    with Image.open(FACE) as original:
        im = original.convert("RGB")
    im.thumbnail((side, side))
    return im


def _scan(folder: Path, catalog_path: Path) -> ScanSummary:
    return scan_into(catalog_path, folder)


def _problems(catalog_path: Path) -> dict[str, str]:
    with Catalog(catalog_path) as catalog:
        return {
            p.display_path: p.problem or "" for p in catalog.photos(status=PhotoStatus.PROBLEM)
        }


def _faces_per_photo(catalog_path: Path) -> dict[str, int]:
    with Catalog(catalog_path) as catalog:
        return {
            p.display_path: len(catalog.faces(photo_id=p.id))
            for p in catalog.photos(status=PhotoStatus.OK)
        }


@pytest.mark.slow
def test_bad_files_are_recorded_with_their_reason_and_the_scan_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "empty.jpg").write_bytes(b"")
    good = FACE.read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (folder / "notes.jpg").write_text("shopping list: milk, eggs\n")
    Image.new("1", (13000, 13000)).save(folder / "bomb.png")
    os.symlink(folder / "nowhere.jpg", folder / "dangling.jpg")
    _face_image().save(folder / "good.jpg")

    summary = _scan(folder, tmp_path / "c.sqlite")

    problems = _problems(tmp_path / "c.sqlite")
    assert set(problems) == {"empty.jpg", "truncated.jpg", "notes.jpg", "bomb.png", "dangling.jpg"}
    assert "empty" in problems["empty.jpg"]
    assert "truncated" in problems["truncated.jpg"] or "damaged" in problems["truncated.jpg"]
    assert "not an image" in problems["notes.jpg"]
    assert "decompression bomb" in problems["bomb.png"]
    assert "symbolic link" in problems["dangling.jpg"]
    assert summary.problems == 5
    assert _faces_per_photo(tmp_path / "c.sqlite") == {"good.jpg": 1}


def test_unreadable_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        _check_read_denied_as_unprivileged_child(tmp_path)
        return
    folder = tmp_path / "photos"
    folder.mkdir()
    _face_image().save(folder / "locked.jpg")
    (folder / "locked.jpg").chmod(0)
    _scan(folder, tmp_path / "c.sqlite")
    assert "permission denied" in _problems(tmp_path / "c.sqlite")["locked.jpg"]


def _check_read_denied_as_unprivileged_child(tmp_path: Path) -> None:
    """Root reads every file, so check the reason in a child that gave up root."""
    locked = tmp_path / "locked.jpg"
    _face_image().save(locked)
    locked.chmod(0)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop to 'nobody', try to read, report, exit
        os.close(read_end)
        message = b"read succeeded"
        try:
            os.setgid(65534)
            os.setuid(65534)
            read_bytes(locked)
        except PhotoError as exc:
            message = str(exc).encode()
        except BaseException as exc:
            message = repr(exc).encode()
        os.write(write_end, message)
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as pipe:
        assert "permission denied" in pipe.read().decode()


@pytest.mark.slow
def test_odd_but_valid_photos_are_read_and_their_faces_found(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    face = _face_image()
    face.save(folder / "really_a_jpeg.png", format="JPEG")
    face.convert("CMYK").save(folder / "cmyk.jpg")
    grey16 = Image.fromarray((np.asarray(face.convert("L"), np.uint16) * 257).astype("<u2"))
    assert grey16.mode == "I;16"
    grey16.save(folder / "grey16.png")
    face.convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "palette.png")
    face.convert("LA").save(folder / "grey_alpha.png")
    blank = Image.new("RGB", face.size, (30, 90, 30))
    face.save(folder / "animated.gif", save_all=True, append_images=[blank], duration=100)
    face.save(folder / "photo.webp")
    face.save(folder / "photo.tiff")
    face.save(folder / "photo.bmp")
    non_utf8 = os.path.join(os.fsencode(folder), b"caf\xe9.jpg")
    with open(non_utf8, "wb") as handle:
        face.save(handle, format="JPEG")

    summary = _scan(folder, tmp_path / "c.sqlite")

    assert summary.problems == 0, _problems(tmp_path / "c.sqlite")
    faces = _faces_per_photo(tmp_path / "c.sqlite")
    assert len(faces) == 10
    assert all(n == 1 for n in faces.values()), faces


@pytest.mark.slow
def test_heic_photos_are_read(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    folder = tmp_path / "photos"
    folder.mkdir()
    heif = pillow_heif.from_pillow(_face_image())
    heif.save(folder / "phone.heic")
    _scan(folder, tmp_path / "c.sqlite")
    assert _faces_per_photo(tmp_path / "c.sqlite") == {"phone.heic": 1}


@pytest.mark.slow
def test_symlink_loops_are_walked_once(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    _face_image().save(folder / "sub" / "a.jpg")
    os.symlink(folder, folder / "sub" / "loop")
    summary = _scan(folder, tmp_path / "c.sqlite")
    assert summary.photos == 1
    assert _faces_per_photo(tmp_path / "c.sqlite") == {"sub/a.jpg": 1}


def test_exif_orientation_turns_the_photo_upright() -> None:
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 10, 20))  # blue band on the left as stored
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    decoded = decode(buffer.getvalue())
    assert (decoded.width, decoded.height) == (20, 40)
    assert decoded.image[2, 10, 2] > 200  # the blue band is now on top
    assert decoded.image[37, 10, 0] > 200


def test_large_jpeg_is_decoded_straight_to_working_size() -> None:
    big = Image.new("RGB", (4000, 3000), (128, 128, 128))
    buffer = io.BytesIO()
    big.save(buffer, "JPEG")
    decoded = decode(buffer.getvalue(), min_side=960, max_side=1920)
    assert (decoded.width, decoded.height) == (4000, 3000)
    assert 960 <= max(decoded.image.shape[:2]) <= 1920
    assert decoded.scale == pytest.approx(decoded.image.shape[1] / 4000)
