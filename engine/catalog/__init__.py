"""The catalog: one SQLite file holding photos, faces, people and facts.

This package is the only code that speaks SQL: every other module reads and
writes the catalog through the named operations offered here.
"""

# What any read or write raises when the file itself fails (locked for longer
# than the timeout, damaged, on a disk that went away); code that must outlive
# such a failure, as the app's background reads do, catches this name.
from sqlite3 import Error as DatabaseError

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
    "DatabaseError",
    "Face",
    "FaceSource",
    "FaceState",
    "Operation",
    "Person",
    "Photo",
    "PhotoStatus",
    "default_catalog_path",
]
