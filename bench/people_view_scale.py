"""Does the people view stay quick with thousands of people?

Builds catalogs of N people (3 faces each, in N photos made from one demo
photo, so thumbnails cost one decode) and measures, for each N:

- ``read_ms``: the people query the model runs off the GUI thread;
- ``apply_ms``: putting that result into the model (GUI thread);
- ``search_ms``: filtering the grid by a name (GUI thread);
- ``paint_ms`` / ``scroll_ms``: drawing the visible grid at the top and after
  scrolling to the bottom (GUI thread).

GUI-thread figures should stay under 50 ms. Run headless:

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/people_view_scale.py [--sizes 1000 10000]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.images import ImageCache  # noqa: E402
from app.main_window import MainWindow  # noqa: E402
from app.models import _People, _read_people  # noqa: E402
from app.session import Session  # noqa: E402
from app.settings import Settings, SettingsStore  # noqa: E402
from app.workers import SyncRunner  # noqa: E402
from engine.catalog import Catalog, PhotoStatus  # noqa: E402

DEMO_PHOTO = REPO / "resources" / "demo" / "obama_1.jpg"
FACE_BOX = (380.0, 90.0, 170.0, 210.0)


def build_catalog(path: Path, n_people: int) -> None:
    """N named people, 3 faces each, one photo per person (all the same file)."""
    with Catalog(path) as cat, cat.transaction():
        root = cat.root_id(DEMO_PHOTO.parent)
        now = time.time()
        for i in range(n_people):
            photo = cat.add_photo(root, DEMO_PHOTO.name.encode() if i == 0 else
                                  f"copy-{i}/{DEMO_PHOTO.name}".encode(),
                                  size=1, mtime_ns=1, sha256="cd" * 32, width=1024, height=1024,
                                  status=PhotoStatus.OK, detector="yunet")
            person = cat.conn.execute(
                "INSERT INTO persons(name, created_at) VALUES (?, ?)",
                (f"Person {i}" if i % 3 else None, now),
            ).lastrowid
            for _ in range(3):
                face = cat.add_face(photo, FACE_BOX, None, score=0.9, quality=0.8,
                                    sharpness=100.0, detector="yunet")
                cat.conn.execute("UPDATE faces SET person_id = ?, assigned_by = 'auto' "
                                 "WHERE id = ?", (person, face))


def timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return (time.perf_counter() - start) * 1000


def measure(n_people: int, tmp: Path) -> dict[str, float]:
    catalog = tmp / f"people-{n_people}.sqlite"
    build_catalog(catalog, n_people)
    runner = SyncRunner()
    session = Session(catalog, Settings(catalog_path=str(catalog)), runner,
                      ImageCache(tmp / "thumbs", runner))
    window = MainWindow(session, SettingsStore(tmp / "settings.ini"))
    window.resize(1180, 760)
    window.show()
    QApplication.processEvents()
    model, page = window.people_model, window.people_page
    with Catalog(catalog) as cat:
        data: list[object] = []
        read_ms = timed(lambda: data.append(_read_people(cat)))
    model._apply(_People([], [], {}, {}, {}, 0))  # empty, to time a fill
    apply_ms = timed(lambda: model._apply(data[0]))
    paint_ms = timed(page.grid.grab)
    bar = page.grid.verticalScrollBar()
    scroll_ms = timed(lambda: (bar.setValue(bar.maximum()), page.grid.grab()))
    search_ms = timed(lambda: page.search.setText("Person 12"))
    shown = page.proxy.rowCount()
    window.close()
    return {"people": n_people, "read_ms": read_ms, "apply_ms": apply_ms,
            "paint_ms": paint_ms, "scroll_ms": scroll_ms, "search_ms": search_ms,
            "search_hits": shown}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'people':>8} {'read_ms':>8} {'apply_ms':>9} {'paint_ms':>9} {'scroll_ms':>10} "
              f"{'search_ms':>10} {'hits':>6}")
        for n in args.sizes:
            r = measure(n, Path(tmp))
            print(f"{r['people']:>8} {r['read_ms']:>8.1f} {r['apply_ms']:>9.1f} "
                  f"{r['paint_ms']:>9.1f} {r['scroll_ms']:>10.1f} {r['search_ms']:>10.1f} "
                  f"{r['search_hits']:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
