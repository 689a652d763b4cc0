"""Exception types of the engine.

Every error the engine raises on purpose is a ``FaceAlbumError`` whose message
says what was expected, what came, and how to fix it; clients (CLI, GUI) show
the message as it is.
"""


class FaceAlbumError(Exception):
    """Base of every error the engine raises on purpose."""


class CatalogError(FaceAlbumError):
    """The catalog cannot be opened or written: newer than this program, another
    program's file, damaged, read-only, on a full disk; the message names which."""


class FactsAtRiskError(FaceAlbumError):
    """A command would delete faces that carry a user's decisions; it needs ``--force``."""


class ScanError(FaceAlbumError):
    """A scan cannot run: its folder is gone or unreadable, or another scan is running."""


class NotFoundError(FaceAlbumError):
    """A person, face or photo id that the catalog does not hold."""


class ModelError(FaceAlbumError):
    """A model is unknown, or its weights are missing or do not verify."""


class PhotoError(FaceAlbumError):
    """A photo cannot be read; the message is the reason recorded for it."""


class Cancelled(FaceAlbumError):  # noqa: N818 - it is a state, not a failure
    """Long work was stopped on request between two items."""
