"""The catalog: one SQLite file holding photos, faces, people and facts."""

from engine.catalog.records import Face, Operation, Person, Photo, PhotoStatus
from engine.catalog.store import Catalog, default_catalog_path

__all__ = ["Catalog", "Face", "Operation", "Person", "Photo", "PhotoStatus", "default_catalog_path"]
