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


# Tests that read LFW, or that load a real network, carry markers so that
# `pytest -m "not slow"` is a quick run of the logic alone. Fixtures that
# bring real data mark their users here; a test that loads real weights
# without the ``slow`` marker fails (see ``_real_weights_need_the_slow_marker``).
_SLOW_FIXTURES = {"lfw_dir", "scanned_demo", "scanned_demo_template"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "lfw_dir" in names:
            item.add_marker(pytest.mark.lfw)
        if names & _SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _real_weights_need_the_slow_marker(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if request.node.get_closest_marker("slow") is not None:
        return
    from engine.models import embedding, weights

    def refuse(*_: object, **__: object) -> None:
        pytest.fail(
            f"{request.node.nodeid} loads real model weights; mark it "
            "@pytest.mark.slow (pyproject.toml declares the markers)"
        )

    monkeypatch.setattr(weights.WeightSource, "verified_path", refuse)
    monkeypatch.setattr(embedding, "load_state_dict_cached", refuse)


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
        catalog.checkpoint()
    return path


@pytest.fixture
def scanned_demo(scanned_demo_template: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the scanned demo album's catalog."""
    target = tmp_path / "catalog.sqlite"
    shutil.copy(scanned_demo_template, target)
    yield target


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture
def private_model_cache(monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> None:
    """Converted weights in this session's own cache, one torch thread: a test
    of the converters neither reads nor writes the user's cache."""
    import torch

    from engine.models import weights

    torch.set_num_threads(1)
    monkeypatch.setenv(weights.CACHE_ENV, str(model_cache))
