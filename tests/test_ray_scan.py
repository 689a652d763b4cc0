"""Scanning on a Ray cluster (``facealbum scan --ray``) gives what a local scan gives.

The cluster is a head started here on 127.0.0.1 alone, with two worker CPUs,
and stopped after the module; its processes are found by its own temporary
folder, so nothing else on the machine is touched.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine import people
from engine.catalog import Catalog, Face
from engine.errors import ScanError
from engine.scan import ScanOptions, ScanSummary, scan_folder

RAY = shutil.which("ray", path=str(Path(sys.executable).parent))
# A cluster of this machine alone: Ray keeps to the loopback address.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Head:
    address: str
    marker: str  # in the environment of every process of this head

    def workers(self, title: str = "ray::ScanWorker") -> list[int]:
        ours = set(_processes_with(self.marker, "environ"))
        return [pid for pid in _processes_with(title) if pid in ours]


@pytest.fixture(scope="module")
def ray_head() -> Iterator[Head]:
    if RAY is None:
        pytest.skip("Ray is not installed (pip install -e '.[cluster]'); make test installs it")
    temp = tempfile.mkdtemp(prefix="fa-ray-", dir="/tmp")  # short: Ray's socket paths
    port = _free_port()
    # Every process of this head inherits the marker, whatever it renames itself.
    env = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", FACEALBUM_TEST_RAY_HEAD=temp)
    started = subprocess.run(
        [RAY, "start", "--head", "--num-cpus", "2", "--node-ip-address", "127.0.0.1",
         "--port", str(port), "--include-dashboard=false", "--disable-usage-stats",
         "--temp-dir", temp],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert started.returncode == 0, started.stdout + started.stderr
    head = Head(f"127.0.0.1:{port}", f"FACEALBUM_TEST_RAY_HEAD={temp}")
    try:
        yield head
    finally:
        for pid in _processes_with(head.marker, "environ"):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


def _processes_with(text: str, where: str = "cmdline") -> list[int]:
    """Processes whose command line (or environment) holds ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                data = (entry / where).read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if text.encode() in data:
                found.append(int(entry.name))
    return found


def _faces_by_photo(path: Path) -> dict[str, list[tuple[Face, np.ndarray]]]:
    with Catalog(path) as cat:
        ids, matrix = cat.embeddings("sface")
        vectors = dict(zip(ids.tolist(), matrix, strict=True))
        out: dict[str, list[tuple[Face, np.ndarray]]] = {}
        for photo in cat.photos():
            faces = sorted(cat.faces(photo_id=photo.id), key=lambda f: f.box)
            out[os.fsdecode(photo.relpath)] = [(f, vectors[f.id]) for f in faces]
        return out


def _assert_same_faces(scanned: Path, reference: Path) -> None:
    """Same photos, same faces (boxes, scores) and embeddings within float tolerance."""
    got, want = _faces_by_photo(scanned), _faces_by_photo(reference)
    assert sorted(got) == sorted(want)
    for name, faces in want.items():
        assert len(got[name]) == len(faces), name
        for (f, v), (g, w) in zip(faces, got[name], strict=True):
            assert np.allclose(f.box, g.box, atol=0.5), name
            assert abs(f.score - g.score) < 1e-3, name
            assert float(np.dot(v, w)) > 0.999, name  # unit vectors: cosine


def _people(path: Path) -> set[frozenset[tuple[str, tuple[float, ...]]]]:
    """Who is with whom, by photo and rounded box: comparable across catalogs."""
    with Catalog(path) as cat:
        for _ in people.update_people(cat):
            pass
        groups: dict[int, set[tuple[str, tuple[float, ...]]]] = {}
        for face in cat.faces():
            if face.person_id is not None:
                where = os.fsdecode(cat.photo(face.photo_id).relpath)
                groups.setdefault(face.person_id, set()).add(
                    (where, tuple(round(x) for x in face.box))
                )
        return {frozenset(g) for g in groups.values()}


def _scan(catalog: Path, folder: Path, address: str, summary: ScanSummary) -> None:
    with Catalog(catalog) as cat:
        for _ in scan_folder(cat, folder, ScanOptions(ray_address=address), summary=summary):
            pass


@pytest.mark.slow
def test_a_scan_on_the_cluster_finds_the_faces_and_people_of_a_local_scan(
    ray_head: Head, demo_dir: Path, scanned_demo_template: Path, tmp_path: Path
) -> None:
    catalog = tmp_path / "cluster.sqlite"
    summary = ScanSummary()
    _scan(catalog, demo_dir, ray_head.address, summary)
    assert summary.workers == 2 and summary.scanned == 48 and summary.problems == 0
    assert summary.device.startswith(f"ray {ray_head.address}, 2 workers")
    _assert_same_faces(catalog, scanned_demo_template)
    local = tmp_path / "local.sqlite"
    shutil.copy(scanned_demo_template, local)
    assert _people(catalog) == _people(local)

    again = ScanSummary()  # incremental as a local scan: nothing changed, nothing read
    _scan(catalog, demo_dir, ray_head.address, again)
    assert (again.scanned, again.unchanged, again.workers) == (0, 48, 0)


@pytest.mark.slow
def test_a_photo_moved_while_the_catalog_slept_is_a_move_on_the_cluster_too(
    ray_head: Head, demo_dir: Path, scanned_demo: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    shutil.copytree(demo_dir, folder)
    with Catalog(scanned_demo) as cat:
        for _ in scan_folder(cat, folder, ScanOptions(ray_address=ray_head.address)):
            pass
        before = {os.fsdecode(p.relpath): p.id for p in cat.photos(root_id=cat.roots()[-1][0])}
    (folder / "obama_1.jpg").rename(folder / "renamed.jpg")
    shutil.copy(folder / "chirac_1.jpg", folder / "copy_of_chirac.jpg")
    summary = ScanSummary()
    options = ScanOptions(ray_address=ray_head.address)
    with Catalog(scanned_demo) as cat:
        for _ in scan_folder(cat, folder, options, summary=summary):
            pass
        after = {os.fsdecode(p.relpath): p.id for p in cat.photos(root_id=cat.roots()[-1][0])}
    assert (summary.moved, summary.scanned) == (1, 1)  # the copy is a new photo
    assert after["renamed.jpg"] == before["obama_1.jpg"]


@pytest.mark.slow
def test_a_worker_killed_during_a_scan_is_replaced_and_nothing_is_lost_or_doubled(
    ray_head: Head, demo_dir: Path, scanned_demo_template: Path, tmp_path: Path
) -> None:
    catalog = tmp_path / "cluster.sqlite"
    summary = ScanSummary()
    killed = 0
    with Catalog(catalog) as cat:
        for progress in scan_folder(
            cat, demo_dir, ScanOptions(ray_address=ray_head.address), summary=summary
        ):
            if not killed and progress.done >= 1:
                busy = ray_head.workers("ray::ScanWorker.analyse") or ray_head.workers()
                assert busy, "no worker process found"
                os.kill(busy[0], signal.SIGKILL)
                killed = busy[0]
    assert killed
    assert summary.retried >= 1  # the lost batch went out again
    assert (summary.scanned, summary.problems) == (48, 0)
    _assert_same_faces(catalog, scanned_demo_template)


# `facealbum scan` whose driver waits half a second after each photo the
# cluster hands back, before it is committed.
_SLOW_DRIVER = """
import sys, time
from engine import ray_scan
from engine.cli.main import main

stream = ray_scan.Cluster._stream

def slowly(self, *args, **kwargs):
    for item in stream(self, *args, **kwargs):
        time.sleep(0.5)
        yield item

ray_scan.Cluster._stream = slowly
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_a_cluster_scan_killed_with_sigkill_resumes_where_it_stopped(
    ray_head: Head, demo_dir: Path, scanned_demo_template: Path, tmp_path: Path
) -> None:
    catalog = tmp_path / "cluster.sqlite"
    arguments = ["--catalog", str(catalog), "scan", str(demo_dir), "--ray", ray_head.address,
                 "--no-people", "--json"]
    # The first scan takes in the cluster's results slowly, so that it is still
    # running when it is killed however fast the cluster analyses the demo.
    first = subprocess.Popen(
        [sys.executable, "-c", _SLOW_DRIVER, *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    committed = 0
    while committed < 8 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.2)
        if catalog.exists():
            with Catalog(catalog) as cat:
                committed = len(cat.photos())
    assert first.poll() is None, "the scan ended before it could be killed"
    first.kill()
    first.wait()
    with Catalog(catalog) as cat:
        committed = len(cat.photos())
    assert 8 <= committed < 48

    command = [sys.executable, "-m", "engine.cli.main", *arguments]
    second = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert second.returncode == 0, second.stderr
    assert f'"scanned": {48 - committed}' in second.stdout
    _assert_same_faces(catalog, scanned_demo_template)


def test_without_ray_a_cluster_scan_says_how_to_install_it(
    tmp_path: Path, demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails
    with Catalog(tmp_path / "c.sqlite") as cat:
        with pytest.raises(ScanError, match=r"pip install 'facealbum\[cluster\]'"):
            for _ in scan_folder(cat, demo_dir, ScanOptions(ray_address="127.0.0.1:6379")):
                pass
        assert cat.roots() == []  # nothing was changed


@pytest.mark.parametrize("address", ["", "  ", "http://head:6379", "head:port", "a b:1"])
def test_an_address_that_is_not_one_is_refused_before_anything_changes(
    tmp_path: Path, demo_dir: Path, address: str
) -> None:
    from engine.ray_scan import connect

    with pytest.raises(ScanError, match="not the address of a Ray cluster"):
        connect(address)


def test_a_cluster_that_does_not_answer_is_a_clear_error_at_once(
    tmp_path: Path, demo_dir: Path
) -> None:
    pytest.importorskip("ray", reason="Ray is not installed; make test installs it")
    started = time.monotonic()
    with Catalog(tmp_path / "c.sqlite") as cat:
        with pytest.raises(ScanError, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:"):
            for _ in scan_folder(
                cat, demo_dir, ScanOptions(ray_address=f"127.0.0.1:{_free_port()}")
            ):
                pass
        assert cat.roots() == []
    assert time.monotonic() - started < 30


@pytest.mark.slow
def test_videos_and_broken_files_come_back_from_the_cluster_as_from_a_local_scan(
    ray_head: Head, demo_dir: Path, tmp_path: Path
) -> None:
    from tests.test_video import write_video

    folder = tmp_path / "library"
    folder.mkdir()
    write_video(folder / "clip.mp4", ["obama_1.jpg", "chirac_1.jpg"])
    (folder / "broken.mp4").write_bytes(b"\0\0\0\x18ftypmp42" + b"\x01" * 900)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a photo")
    shutil.copy(demo_dir / "obama_2.jpg", folder / "obama_2.jpg")
    local, cluster = tmp_path / "local.sqlite", tmp_path / "cluster.sqlite"
    summaries = []
    for catalog, options in ((local, ScanOptions(device="cpu")),
                             (cluster, ScanOptions(ray_address=ray_head.address))):
        summary = ScanSummary()
        with Catalog(catalog) as cat:
            for _ in scan_folder(cat, folder, options, summary=summary):
                pass
        summaries.append(summary)
    assert sorted(summaries[0].problem_list) == sorted(summaries[1].problem_list)
    assert [s.faces for s in summaries] == [3, 3]  # two in the video, one in the photo
    _assert_same_faces(cluster, local)
    with Catalog(cluster) as cat:
        clip = next(p for p in cat.photos() if p.relpath == b"clip.mp4")
        assert clip.poster_seconds is not None
