"""The catalog: one SQLite file holding photos, faces, people and facts.

This package is the only code that speaks SQL: every other module reads and
writes the catalog through the named operations offered here.
"""

from engine.catalog.records import (
    AssignedBy,
    Face,
    FaceSource,
    FaceState,
    Operation,
    Person,
    Photo,
    PhotoStatus,
)
from engine.catalog.store import Catalog, default_catalog_path

__all__ = [
    "AssignedBy",
    "Catalog",
    "Face",
    "FaceSource",
    "FaceState",
    "Operation",
    "Person",
    "Photo",
    "PhotoStatus",
    "default_catalog_path",
]
