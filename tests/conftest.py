"""Shared fixtures: real photos from the demo album and scanned catalogs.

Scanning the demo album for real takes seconds, so it is done once per test
session into a template catalog that each test copies.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "resources" / "demo"
LFW = REPO.parent / "shared" / "data" / "lfw-dev"


def _limit_threads() -> None:
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return DEMO


@pytest.fixture(scope="session")
def lfw_dir() -> Path:
    if not (LFW / "images").is_dir():
        pytest.skip(f"LFW data not found at {LFW} (expected ../shared/data/lfw-dev)")
    return LFW


@pytest.fixture(scope="session")
def scanned_demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog of the demo album, scanned once for the whole session."""
    from engine.catalog import Catalog
    from engine.scan import ScanOptions, scan_folder

    _limit_threads()
    path = tmp_path_factory.mktemp("demo-catalog") / "catalog.sqlite"
    with Catalog(path) as catalog:
        for _ in scan_folder(catalog, DEMO, ScanOptions(device="cpu")):
            pass
        catalog.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def scanned_demo(scanned_demo_template: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the scanned demo album's catalog."""
    target = tmp_path / "catalog.sqlite"
    shutil.copy(scanned_demo_template, target)
    yield target
