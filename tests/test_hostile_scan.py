"""Scans never lose a user's facts to another scan, an unreadable or missing
folder, a purge, a path too long, or a folder reached twice by another path.

The scans here run the real pipeline with stand-in networks (no weights), so
they show the scan's bookkeeping, not detection quality. Tests of what an
ordinary user meets with permissions give up root in a forked child, since
root reads every file.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image
from standins import FaceAt, MeanColourEmbedder

from engine import people
from engine.catalog import Catalog, PhotoStatus
from engine.catalog.scans import folder_problems
from engine.cli.main import main
from engine.errors import FaceAlbumError
from engine.scan import ScanOptions, ScanSummary, scan_folder

SIZE = (320, 240)  # below the detection size: no resizing, which keeps forked children simple


def make_photos(folder: Path, names: list[str]) -> Path:
    """One small photo per name, each of its own colour (so of its own content)."""
    for i, name in enumerate(names):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", SIZE, (20 + 23 * i, 200 - 17 * i, 90)).save(path, "JPEG")
    return folder


def scanning(
    catalog: Catalog, folder: Path | str, summary: ScanSummary | None = None, **options: object
) -> Iterator[object]:
    """The scan as a generator, with the stand-in models and one decode thread."""
    return scan_folder(
        catalog, folder, ScanOptions(device="cpu", workers=1, **options),  # type: ignore[arg-type]
        summary=summary, detector=FaceAt((0.4, 0.3, 0.2, 0.3)), embedder=MeanColourEmbedder(),
    )


def scan(catalog_path: Path, folder: Path | str, **options: object) -> ScanSummary:
    summary = ScanSummary()
    with Catalog(catalog_path) as catalog:
        for _ in scanning(catalog, folder, summary, **options):
            pass
    return summary


def name_face_of(catalog: Catalog, relpath: str, name: str) -> int:
    """Split the face of the photo at ``relpath`` into a person called ``name``."""
    photo = next(p for p in catalog.photos() if p.display_path == relpath)
    (face,) = catalog.faces(photo_id=photo.id)
    people.name_person(catalog, people.split_faces(catalog, [face.id]), name)
    return face.id


def names(catalog: Catalog) -> dict[str, str]:
    """Photo (relative path) -> name of the person of its face, for named faces."""
    out = {}
    for face in catalog.faces():
        if face.person_id is not None and catalog.person(face.person_id).name:
            out[catalog.photo(face.photo_id).display_path] = str(
                catalog.person(face.person_id).name
            )
    return out


def as_unprivileged(check: Callable[[], None]) -> None:
    """Run ``check`` as an ordinary user: in a child that gave up root, if we are root."""
    if os.geteuid() != 0:
        check()
        return
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop to 'nobody', run the check, report, exit
        os.close(read_end)
        message = b"ok"
        try:
            os.setgid(65534)
            os.setuid(65534)
            check()
        except BaseException:
            message = traceback.format_exc().encode()
        os.write(write_end, message)
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as pipe:
        report = pipe.read().decode()
    assert report == "ok", report


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder an unprivileged child may write (pytest's own is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="facealbum-hostile-"))
    path.chmod(0o777)
    yield path
    for folder, _, _ in os.walk(path):
        os.chmod(folder, 0o777)
    shutil.rmtree(path)


def _open_to_all(folder: Path) -> None:
    folder.chmod(0o777)
    for item in folder.iterdir():
        if item.is_file():
            item.chmod(0o666)


# -- two scans of one catalog -------------------------------------------------


def test_a_second_scan_waits_for_the_first_and_keeps_the_facts_made_meanwhile(
    tmp_path: Path,
) -> None:
    folder = make_photos(tmp_path / "photos", ["a.jpg", "b.jpg", "c.jpg"])
    path = tmp_path / "c.sqlite"
    with Catalog(path) as first_cat, Catalog(path) as second_cat, Catalog(path) as user:
        first = scanning(first_cat, folder)
        second = scanning(second_cat, folder, wait_for_other_scan=600)
        next(first)  # the first scan holds the catalog
        assert next(second).stage == "waiting for another scan"  # type: ignore[attr-defined]
        for _ in first:
            pass
        face = name_face_of(user, "a.jpg", "Ann")  # between the two scans
        for _ in second:
            pass
        assert names(user) == {"a.jpg": "Ann"}
        assert len(user.faces()) == 3
        assert user.face(face).confirmed


def test_a_second_scan_that_cannot_wait_names_the_process_running_the_first(
    tmp_path: Path,
) -> None:
    folder = make_photos(tmp_path / "photos", ["a.jpg"])
    path = tmp_path / "c.sqlite"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from engine.catalog import Catalog\n"
         f"lock = Catalog({str(path)!r}).scan_lock(); assert lock.try_acquire()\n"
         "print('holding', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(FaceAlbumError, match=rf"another scan .* running \(pid {holder.pid}\)"):
            scan(path, folder, wait_for_other_scan=0)
        with Catalog(path) as catalog:
            assert catalog.photos() == []  # nothing was written
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The system released the killed process's lock: no stale lock to clear.
    assert scan(path, folder, wait_for_other_scan=0).scanned == 1


def test_the_cli_says_another_scan_is_running_in_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_photos(tmp_path / "photos", ["a.jpg"])
    path = tmp_path / "c.sqlite"
    with Catalog(path) as catalog:
        running = scanning(catalog, folder)
        next(running)
        code = main(["--catalog", str(path), "scan", str(folder), "--wait", "0"])
        running.close()
    err = capsys.readouterr().err
    assert code == 2
    assert f"another scan of this catalog is running (pid {os.getpid()})" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_storing_a_photo_again_never_deletes_the_faces_that_carry_facts(tmp_path: Path) -> None:
    folder = make_photos(tmp_path / "photos", ["a.jpg"])
    scan(tmp_path / "c.sqlite", folder)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        face = name_face_of(catalog, "a.jpg", "Ann")
        photo = catalog.photos()[0]
        # What a scan that listed the folder before the first one stored it does.
        again = catalog.add_photo(
            photo_root_id(catalog), b"a.jpg", size=photo.size, mtime_ns=photo.mtime_ns,
            sha256=photo.sha256, width=photo.width, height=photo.height, status=PhotoStatus.OK,
        )
        assert again == photo.id
        assert catalog.face(face).confirmed
        assert names(catalog) == {"a.jpg": "Ann"}


def photo_root_id(catalog: Catalog) -> int:
    ((root_id, _),) = catalog.roots()
    return root_id


# -- folders that turn unreadable or go away ---------------------------------------


def test_a_folder_that_turns_unreadable_keeps_its_photos_and_is_reported(
    shared_dir: Path,
) -> None:
    folder = make_photos(shared_dir / "photos", ["a.jpg", "sub/b.jpg", "sub/c.jpg"])
    path = shared_dir / "catalog" / "c.sqlite"
    scan(path, folder)
    with Catalog(path) as catalog:
        name_face_of(catalog, "sub/b.jpg", "Bo")
    (folder / "sub").chmod(0)
    _open_to_all(path.parent)

    def check() -> None:
        summary = scan(path, folder)
        assert summary.missing == 0
        assert any(
            name == "sub/" and "permission denied" in why and "2 photos" in why
            for name, why in summary.problem_list
        ), summary.problem_list
        with Catalog(path) as catalog:
            assert {p.display_path: p.status for p in catalog.photos()} == {
                "a.jpg": PhotoStatus.OK, "sub/b.jpg": PhotoStatus.OK,
                "sub/c.jpg": PhotoStatus.OK,
            }
            assert names(catalog) == {"sub/b.jpg": "Bo"}
            assert folder_problems(catalog) == [(f"{folder}/sub", "permission denied")]

    as_unprivileged(check)


def test_a_scanned_folder_that_is_gone_is_an_error_that_changes_nothing(tmp_path: Path) -> None:
    folder = make_photos(tmp_path / "disk" / "photos", ["a.jpg", "b.jpg"])
    scan(tmp_path / "c.sqlite", folder)
    (tmp_path / "disk").rename(tmp_path / "unplugged")
    with pytest.raises(FaceAlbumError, match=r"not there.* 2 photos.*is its disk mounted"):
        scan(tmp_path / "c.sqlite", folder)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert {p.status for p in catalog.photos()} == {PhotoStatus.OK}


def test_an_empty_mount_point_is_an_error_unless_the_folder_was_emptied_on_purpose(
    tmp_path: Path,
) -> None:
    folder = make_photos(tmp_path / "photos", ["a.jpg", "b.jpg"])
    scan(tmp_path / "c.sqlite", folder)
    for photo in folder.iterdir():
        photo.rename(tmp_path / photo.name)  # the disk behind the folder is not mounted
    with pytest.raises(FaceAlbumError, match=r"is empty.* 2 photos.*is its disk mounted"):
        scan(tmp_path / "c.sqlite", folder)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert {p.status for p in catalog.photos()} == {PhotoStatus.OK}
    assert scan(tmp_path / "c.sqlite", folder, folder_emptied=True).missing == 2


def test_purge_keeps_faces_that_carry_facts_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_photos(tmp_path / "photos", ["a.jpg", "b.jpg", "c.jpg"])
    path = tmp_path / "c.sqlite"
    scan(path, folder)
    with Catalog(path) as catalog:
        name_face_of(catalog, "a.jpg", "Ann")
    (folder / "a.jpg").unlink()
    (folder / "b.jpg").unlink()
    assert scan(path, folder).missing == 2
    capsys.readouterr()

    assert main(["--catalog", str(path), "purge"]) == 2
    err = capsys.readouterr().err
    assert "1 faces that carry your decisions (1 in a named person, 1 confirmed" in err
    assert "--force" in err and "nothing was purged" in err
    with Catalog(path) as catalog:
        assert len(catalog.photos(status=PhotoStatus.MISSING)) == 2
        assert names(catalog) == {"a.jpg": "Ann"}

    assert main(["--catalog", str(path), "purge", "--force"]) == 0
    assert "Forgot 2 missing photos" in capsys.readouterr().out
    with Catalog(path) as catalog:
        assert [p.display_path for p in catalog.photos()] == ["c.jpg"]


def test_purge_of_photos_without_facts_needs_no_force(tmp_path: Path) -> None:
    folder = make_photos(tmp_path / "photos", ["a.jpg", "b.jpg"])
    scan(tmp_path / "c.sqlite", folder)
    (folder / "a.jpg").unlink()
    scan(tmp_path / "c.sqlite", folder)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert catalog.purge_missing() == 1


# -- paths ------------------------------------------------------------------------


def test_photos_beyond_the_path_length_limit_are_recorded_as_a_problem(tmp_path: Path) -> None:
    folder = make_photos(tmp_path / "photos", ["a.jpg"])
    # Folders of 200-byte names, deeper than the system's limit on a path.
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    depth = 0
    try:
        while depth * 201 < os.pathconf(folder, "PC_PATH_MAX") + 400:
            name = f"{depth:03d}" + "d" * 197
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
            depth += 1
        photo = os.open("deep.jpg", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        with os.fdopen(photo, "wb") as handle:
            handle.write((folder / "a.jpg").read_bytes())
    finally:
        os.close(fd)

    summary = scan(tmp_path / "c.sqlite", folder)

    too_long = [why for _, why in summary.problem_list if "longer than this system allows" in why]
    assert too_long, summary.problem_list
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert any(
            "longer than this system allows" in why for _, why in folder_problems(catalog)
        )


def test_a_sub_folder_of_a_scanned_folder_is_scanned_as_part_of_it(tmp_path: Path) -> None:
    folder = make_photos(tmp_path / "photos", ["a.jpg", "2023/b.jpg", "2023/c.jpg"])
    path = tmp_path / "c.sqlite"
    scan(path, folder)
    with Catalog(path) as catalog:
        name_face_of(catalog, "2023/b.jpg", "Bo")
    Image.new("RGB", SIZE, (1, 2, 3)).save(folder / "2023" / "new.jpg", "JPEG")

    summary = scan(path, folder / "2023")

    assert (summary.photos, summary.scanned, summary.unchanged, summary.missing) == (3, 1, 2, 0)
    with Catalog(path) as catalog:
        assert len(catalog.roots()) == 1
        assert sorted(p.display_path for p in catalog.photos()) == [
            "2023/b.jpg", "2023/c.jpg", "2023/new.jpg", "a.jpg",
        ]
        assert {p.status for p in catalog.photos()} == {PhotoStatus.OK}
        assert names(catalog) == {"2023/b.jpg": "Bo"}


def test_a_link_to_a_scanned_folder_is_that_folder(tmp_path: Path) -> None:
    folder = make_photos(tmp_path / "photos", ["a.jpg", "b.jpg"])
    (tmp_path / "link").symlink_to(folder, target_is_directory=True)
    path = tmp_path / "c.sqlite"
    scan(path, folder)
    summary = scan(path, tmp_path / "link")
    assert (summary.scanned, summary.unchanged) == (0, 2)
    with Catalog(path) as catalog:
        assert len(catalog.photos()) == 2
        assert len(catalog.faces()) == 2


def test_a_scanned_folder_inside_a_newly_scanned_one_keeps_its_photos_once(
    tmp_path: Path,
) -> None:
    outer = make_photos(tmp_path / "all", ["x.jpg"])
    inner = make_photos(outer / "trip", ["a.jpg", "b.jpg"])
    path = tmp_path / "c.sqlite"
    scan(path, inner)
    summary = scan(path, outer)
    assert summary.scanned == 1  # x.jpg alone: the trip's photos are already held
    with Catalog(path) as catalog:
        assert sorted(os.fsdecode(p.relpath) for p in catalog.photos()) == [
            "a.jpg", "b.jpg", "x.jpg",
        ]
        assert {p.status for p in catalog.photos()} == {PhotoStatus.OK}



def test_a_scanned_folder_that_cannot_be_read_is_an_error_that_changes_nothing(
    shared_dir: Path,
) -> None:
    folder = make_photos(shared_dir / "photos", ["a.jpg", "b.jpg"])
    path = shared_dir / "catalog" / "c.sqlite"
    scan(path, folder)
    folder.chmod(0o300)  # may enter, may not list
    _open_to_all(path.parent)

    def check() -> None:
        with pytest.raises(FaceAlbumError, match=r"cannot read the folder .*permission denied"):
            scan(path, folder)
        with Catalog(path) as catalog:
            assert {p.status for p in catalog.photos()} == {PhotoStatus.OK}

    as_unprivileged(check)
