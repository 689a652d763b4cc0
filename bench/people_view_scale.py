"""Does a catalog of 100k faces open on the people view within one second?

Generates catalogs through the engine's ``Catalog`` API (photos and faces;
people, names, hidden flags, confirmations and chosen covers written as the
facts they are), one per shape, then for each shape opens it the way the app
does: a ``Session`` on a ``ThreadRunner`` (the people read runs on the
query lane, thumbnails on the image lane), a real ``MainWindow`` shown at
1180x760, and measures on the clock of the GUI thread:

- ``open_ms``: from asking for the catalog until the window is made and
  shown (the people read has started on the query lane by then);
- ``rows_ms``: from asking for the catalog (the ``Session`` opens it) until
  the people model holds its rows;
- ``total_ms``: ... until the grid has been painted with those rows (the
  target: under 1000 ms);
- ``covers_ms``: ... until every cover visible at the top of the grid has
  its face crop painted (decoded from the photo: the thumbnail cache starts
  empty for each shape);
- ``decodes``: how many images the thumbnail cache was asked to make by
  then (it should be about the number of visible tiles, not of people);
- ``scroll_ms`` / ``search_ms``: scrolling to the bottom and painting, and
  filtering the grid by a name (GUI thread; should stay under 50 ms);
- ``fling_ms``: after scrolling from the top one screen at a time through
  100 screens (painting each: ~2,800 tiles passed), the time until the
  covers where it stopped are painted: tiles passed by must not keep those
  waiting;
- ``read_ms``: the people model's read alone (``app.models._read_people``,
  run off the GUI thread in the app), on a fresh connection, for reference.

Every photo row points at a link to one demo photo (``obama_1.jpg``) under
the work folder with its own SHA-256 and a slightly shifted face box, so
each cover is a separate decode of a real 820x1024 JPEG.

Shapes are ``PEOPLE`` or ``PEOPLE/ASSIGNED``: ``--faces`` faces, of which the
fraction ``ASSIGNED`` (default 1) belongs to ``PEOPLE`` people of uneven
sizes, the rest to nobody yet. Run headless:

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/people_view_scale.py
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/people_view_scale.py \\
        --faces 100000 --shapes 33334 2000 200/0.1 --workdir /tmp/pvs

``--workdir`` keeps the generated catalogs (they take a while to build) and
reuses them on the next run; the thumbnail cache is always fresh.
"""

import argparse
import gc
import hashlib
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QAbstractItemModel, QEventLoop, QModelIndex, QPoint, Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication, QListView

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.images import ImageCache  # noqa: E402
from app.main_window import MainWindow  # noqa: E402
from app.models import Role, _read_people  # noqa: E402
from app.session import Session  # noqa: E402
from app.settings import Settings, SettingsStore  # noqa: E402
from app.workers import ThreadRunner  # noqa: E402
from engine.catalog import Catalog, PhotoStatus  # noqa: E402

DEMO_PHOTO = REPO / "resources" / "demo" / "obama_1.jpg"
DEMO_SIZE = (820, 1024)
FACE_BOX = (300.0, 90.0, 170.0, 210.0)
FACES_PER_PHOTO = 2
FLING_SCREENS = 100
GENERATOR_VERSION = 2  # part of a kept catalog's name: change with the generator
COLUMNS = [("shape", 18, ""), ("rows", 6, ""), ("total_ms", 9, ".0f"), ("open_ms", 8, ".0f"),
           ("rows_ms", 8, ".0f"), ("covers_ms", 10, ".0f"), ("visible", 8, ""),
           ("decodes", 8, ""), ("scroll_ms", 10, ".1f"),
           ("fling_ms", 9, ".0f"), ("search_ms", 10, ".1f"),
           ("hits", 5, ""), ("read_ms", 8, ".0f")]


@dataclass(frozen=True)
class Shape:
    faces: int
    people: int
    assigned: float  # fraction of faces that belong to someone

    @property
    def label(self) -> str:
        tail = "" if self.assigned == 1 else f"/{self.assigned:g}"
        return f"{self.faces}f-{self.people}p{tail}"


def parse_shape(text: str, faces: int) -> Shape:
    people_text, _, assigned = text.partition("/")
    return Shape(faces, int(people_text), float(assigned) if assigned else 1.0)


def build_catalog(path: Path, photos_dir: Path, shape: Shape, seed: int = 7) -> None:
    """``shape.faces`` faces, two per photo; people of uneven sizes; some facts.

    Every third person is unnamed, one in 97 hidden, one in 50 has a chosen
    cover; 5 % of assigned faces are confirmed, 1 % of faces are not faces,
    one photo in 200 is missing.
    """
    rng = random.Random(seed)
    photos_dir.mkdir(parents=True, exist_ok=True)
    n_photos = (shape.faces + FACES_PER_PHOTO - 1) // FACES_PER_PHOTO
    n_assigned = round(shape.faces * shape.assigned)
    if n_assigned < shape.people:
        raise SystemExit(f"shape {shape.label}: fewer assigned faces than people")
    weights = [rng.lognormvariate(0, 1.2) for _ in range(shape.people)]
    owners = list(range(shape.people)) + rng.choices(
        range(shape.people), weights, k=n_assigned - shape.people)
    rng.shuffle(owners)
    owners += [-1] * (shape.faces - n_assigned)
    rng.shuffle(owners)
    now = time.time()
    with Catalog(path) as cat, cat.transaction() as conn:
        root = cat.root_id(photos_dir)
        person_ids = []
        for k in range(shape.people):
            cur = conn.execute(
                "INSERT INTO persons(name, hidden, created_at) VALUES (?, ?, ?)",
                (f"Person {k}" if k % 3 else None, int(k % 97 == 96), now))
            person_ids.append(int(cur.lastrowid or 0))
        faces_of: dict[int, list[int]] = {}
        face_no = 0
        for i in range(n_photos):
            name = f"p{i:06d}.jpg"
            link = photos_dir / name
            if not link.exists():
                os.symlink(DEMO_PHOTO, link)
            photo = cat.add_photo(
                root, name.encode(), size=1, mtime_ns=1,
                sha256=hashlib.sha256(b"%d" % i).hexdigest(),
                width=DEMO_SIZE[0], height=DEMO_SIZE[1],
                status=PhotoStatus.MISSING if i % 200 == 199 else PhotoStatus.OK,
                detector="yunet")
            for j in range(min(FACES_PER_PHOTO, shape.faces - face_no)):
                x, y, w, h = FACE_BOX
                box = (x + (i % 13) + 40 * j, y + (i // 13) % 11, w, h)
                face = cat.add_face(photo, box, None, score=0.9,
                                    quality=round(rng.random(), 3), sharpness=100.0,
                                    detector="yunet")
                owner = owners[face_no]
                face_no += 1
                if face_no % 100 == 0:
                    conn.execute("UPDATE faces SET state = 'not_face' WHERE id = ?", (face,))
                if owner < 0:
                    continue
                by = "user" if rng.random() < 0.05 else "auto"
                conn.execute("UPDATE faces SET person_id = ?, assigned_by = ? WHERE id = ?",
                             (person_ids[owner], by, face))
                faces_of.setdefault(owner, []).append(face)
        for owner, faces in faces_of.items():
            if owner % 50 == 49:
                conn.execute("UPDATE persons SET cover_face_id = ? WHERE id = ?",
                             (faces[-1], person_ids[owner]))


def timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return (time.perf_counter() - start) * 1000


def wait_until(done: object, timeout_s: float = 60.0) -> None:
    """Run the event loop (without spinning) until ``done()`` is true."""
    deadline = time.perf_counter() + timeout_s
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(2)
    timer.timeout.connect(lambda: loop.quit() if done() else None)  # type: ignore[operator]
    timer.start()
    while not done() and time.perf_counter() < deadline:  # type: ignore[operator]
        loop.exec()
    timer.stop()
    if not done():  # type: ignore[operator]
        raise SystemExit(f"gave up after {timeout_s} s")


def on_screen(grid: QListView, proxy: QAbstractItemModel) -> list[QModelIndex]:
    """The grid's items that intersect its viewport (it fills rows from the top)."""
    area = grid.viewport().rect()
    first = grid.indexAt(area.topLeft() + QPoint(8, 8)).row()
    found: list[QModelIndex] = []
    for row in range(max(first, 0), proxy.rowCount()):
        index = proxy.index(row, 0)
        rect = grid.visualRect(index)
        if rect.top() > area.bottom():
            break
        if rect.intersects(area):
            found.append(index)
    return found


def measure(catalog: Path, tmp: Path, label: str) -> dict[str, object]:
    gc.collect()
    runner = ThreadRunner()
    images = ImageCache(tmp / f"thumbs-{label}", runner)
    start = time.perf_counter()
    session = Session(catalog, Settings(catalog_path=str(catalog)), runner, images)
    window = MainWindow(session, SettingsStore(tmp / f"settings-{label}.ini"))
    window.resize(1180, 760)
    window.show()
    open_ms = (time.perf_counter() - start) * 1000
    model, page = window.people_model, window.people_page
    refreshed: list[float] = []
    model.refreshed.connect(lambda: refreshed.append(time.perf_counter()))
    wait_until(lambda: bool(refreshed))
    page.grid.viewport().repaint()  # the paint the event loop would do next
    total_ms = (time.perf_counter() - start) * 1000
    rows_ms = (refreshed[0] - start) * 1000
    grid = page.grid
    visible = on_screen(grid, page.proxy)

    def covers_ready() -> bool:
        return all(isinstance(i.data(Qt.ItemDataRole.DecorationRole), QPixmap)
                   or model.cover(int(i.data(Role.ID))) is None for i in visible)

    wait_until(covers_ready)
    grid.viewport().repaint()
    covers_ms = (time.perf_counter() - start) * 1000
    decodes = images.requested
    bar = grid.verticalScrollBar()

    def scroll_to_bottom() -> None:
        bar.setValue(bar.maximum())
        grid.viewport().repaint()

    scroll_ms = timed(scroll_to_bottom)
    visible = on_screen(grid, page.proxy)
    wait_until(covers_ready)  # no decoding left to share the search's clock
    search_ms = timed(lambda: page.search.setText("Person 12"))
    hits = page.proxy.rowCount()
    page.search.setText("")
    bar.setValue(0)
    for _ in range(FLING_SCREENS):  # a flick through the grid, painting every screen
        bar.setValue(bar.value() + grid.viewport().height())
        grid.viewport().repaint()
    flung = time.perf_counter()
    visible = on_screen(grid, page.proxy)
    wait_until(covers_ready)
    grid.viewport().repaint()
    fling_ms = (time.perf_counter() - flung) * 1000
    rows = model.rowCount()
    window.close()
    session.close()
    with Catalog(catalog) as cat:
        read_ms = timed(lambda: _read_people(cat))
    return {"shape": label, "rows": rows, "total_ms": total_ms, "open_ms": open_ms,
            "rows_ms": rows_ms,
            "covers_ms": covers_ms, "visible": len(visible), "decodes": decodes,
            "scroll_ms": scroll_ms, "fling_ms": fling_ms, "search_ms": search_ms, "hits": hits,
            "read_ms": read_ms}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--shapes", nargs="+", default=["33334", "2000", "200/0.1"],
                        help="PEOPLE or PEOPLE/ASSIGNED_FRACTION")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep generated catalogs here and reuse them")
    parser.add_argument("--repeat", type=int, default=1, help="open each catalog N times")
    args = parser.parse_args()
    QApplication(sys.argv[:1])
    shapes = [parse_shape(s, args.faces) for s in args.shapes]
    with tempfile.TemporaryDirectory() as scratch:
        work = args.workdir or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        print(" ".join(f"{name:>{width}}" for name, width, _ in COLUMNS), flush=True)
        for shape in shapes:
            catalog = work / f"people-v{GENERATOR_VERSION}-{shape.label.replace('/', '_')}.sqlite"
            if not catalog.exists():
                building = catalog.with_suffix(".building")
                for leftover in building.parent.glob(building.name + "*"):
                    leftover.unlink()
                build_catalog(building, work / "photos", shape)
                building.rename(catalog)
            with Catalog(catalog):  # a catalog kept from an older schema is migrated untimed
                pass
            for attempt in range(args.repeat):
                r = measure(catalog, Path(scratch), f"{shape.label.replace('/', '_')}-{attempt}")
                r["shape"] = shape.label
                print(" ".join(f"{r[name]:>{width}{fmt}}" for name, width, fmt in COLUMNS),
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
