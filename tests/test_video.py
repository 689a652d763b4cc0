"""Videos are items like photos: faces from frames sampled through them, one per person.

The videos are made here with PyAV from demo photos: a few seconds of one
person, then a few seconds of another.
"""

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from engine import people
from engine.catalog import Catalog, PhotoStatus
from engine.catalog.records import MediaKind
from engine.errors import PhotoError
from engine.imageio import is_photo_name, is_video_name, load_oriented
from engine.scan import ScanOptions, ScanSummary, scan_folder
from engine.video import distinct_faces, sample_frames

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"


def write_video(path: Path, photos: list[str], seconds_each: float = 4.0, fps: int = 2) -> None:
    """An H.264 (or MPEG-4) video showing each demo photo for ``seconds_each``."""
    size = (480, 600)  # even sides, portrait like the demo portraits
    with av.open(str(path), mode="w") as container:
        try:
            stream = container.add_stream("libx264", rate=fps)
        except (av.error.FFmpegError, ValueError):
            stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        index = 0
        for name in photos:
            image = Image.open(DEMO / name).convert("RGB").resize(size)
            for _ in range(int(seconds_each * fps)):
                frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
                frame.pts = index
                index += 1
                container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _scan(folder: Path, catalog: Catalog) -> ScanSummary:
    summary = ScanSummary()
    for _ in scan_folder(catalog, folder, ScanOptions(device="cpu"), summary=summary):
        pass
    return summary


def test_the_common_video_formats_are_scanned() -> None:
    for name in ("a.mp4", "a.MOV", "a.m4v", "a.avi", "a.mkv", "a.webm"):
        assert is_photo_name(name) and is_video_name(name)


def test_frames_are_sampled_through_the_whole_video(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    write_video(path, ["obama_1.jpg", "chirac_1.jpg"])
    frames = sample_frames(str(path), every=2.0)
    seconds = [f.seconds for f in frames]
    assert len(frames) == 4 and seconds == sorted(seconds)
    assert seconds[0] < 4 <= seconds[-1]  # both halves seen
    assert frames[0].decoded.image.shape == (600, 480, 3)
    assert load_oriented(str(path), 100, at_seconds=seconds[-1]).size == (80, 100)


def test_a_corrupt_video_is_a_problem_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\0\0\0\x18ftypmp42" + b"not a video at all" * 50)
    with pytest.raises(PhotoError, match="video") as caught:
        sample_frames(str(path))
    # FFmpeg's own words, without its error number or the file handle it was given.
    assert str(caught.value) == (
        "not a video this program can read (Invalid data found when processing input)"
    )


def test_faces_nearer_than_the_clustering_threshold_are_one_person() -> None:
    a, b = np.eye(4, dtype=np.float32)[0], np.eye(4, dtype=np.float32)[1]
    near = np.array([0.99, 0.14, 0, 0], np.float32)
    near /= np.linalg.norm(near)
    kept = distinct_faces(np.stack([a, near, b]), [0.5, 0.9, 0.7], threshold=1.1)
    assert kept == [1, 2]  # the better of the two near faces, and the other person


@pytest.mark.slow
def test_a_video_keeps_one_face_per_person_and_joins_their_people(tmp_path: Path) -> None:
    folder = tmp_path / "library"
    folder.mkdir()
    write_video(folder / "clip.mp4", ["obama_1.jpg", "chirac_1.jpg"])
    (folder / "broken.mp4").write_bytes(b"\0\0\0\x18ftypmp42" + b"\x01" * 900)
    for name in ("obama_2.jpg", "obama_3.jpg", "chirac_2.jpg", "chirac_3.jpg"):
        if (DEMO / name).exists():
            shutil.copy(DEMO / name, folder / name)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        summary = _scan(folder, catalog)
        for _ in people.update_people(catalog):
            pass
        photos = {p.display_path: p for p in catalog.photos()}
        video, broken = photos["clip.mp4"], photos["broken.mp4"]
        assert video.kind is MediaKind.VIDEO and video.status is PhotoStatus.OK
        assert broken.status is PhotoStatus.PROBLEM and "video" in (broken.problem or "")
        assert any(path == "broken.mp4" for path, _ in summary.problem_list)
        faces = catalog.faces(photo_id=video.id)
        assert len(faces) == 2  # one for each person, however many frames showed them
        # Each kept face carries its apparent age, read from its own frame.
        assert all(f.age is not None and f.age > 20 for f in faces)
        assert video.poster_seconds is not None
        person_of = {
            name: catalog.faces(photo_id=photos[name].id)[0].person_id
            for name in ("obama_2.jpg", "chirac_2.jpg")
        }
        assert {f.person_id for f in faces} == set(person_of.values())
        assert None not in person_of.values()


def test_a_scan_of_photos_does_not_load_ffmpeg() -> None:
    """PyAV (FFmpeg, tens of MB of libraries) loads only when a video is read."""
    import subprocess
    import sys

    code = ("import sys, engine.scan, engine.analyse, engine.video; "
            "print('av' in sys.modules)")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=DEMO.parent.parent)
    assert shown.stdout.strip() == "False"
