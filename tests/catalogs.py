"""Catalogs for tests: a folder scanned into one (``scan_into``), and one as
an older version of the program left it (``older_catalog``)."""

import sqlite3
from pathlib import Path

from engine.catalog import Catalog
from engine.models.age import AgeEstimator
from engine.models.base import Detector, Embedder
from engine.scan import ScanOptions, ScanSummary, scan_folder


def scan_into(
    catalog: Path,
    folder: Path,
    options: ScanOptions | None = None,
    *,
    detector: Detector | None = None,
    embedder: Embedder | None = None,
    ages: AgeEstimator | None = None,
) -> ScanSummary:
    """One scan of ``folder`` into the catalog at ``catalog`` (on the CPU
    unless ``options`` say otherwise); the models override the registry's
    as ``scan_folder``'s do."""
    summary = ScanSummary()
    with Catalog(catalog) as cat:
        for _ in scan_folder(cat, folder, options or ScanOptions(device="cpu"), summary=summary,
                             detector=detector, embedder=embedder, ages=ages):
            pass
    return summary


def older_catalog(path: Path, version: int) -> sqlite3.Connection:
    """A new catalog at ``path`` as version ``version`` of the program wrote
    it (its first ``version`` migrations), open in autocommit for a test to
    fill with rows; the caller closes it."""
    from engine.catalog.schema import MIGRATIONS

    conn = sqlite3.connect(path, isolation_level=None)
    for step in MIGRATIONS[:version]:
        step(conn)
    conn.execute(f"PRAGMA user_version = {version}")
    return conn
