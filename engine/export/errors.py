"""Errors raised by export and by reading and writing XMP face metadata.

Each is a ``FaceAlbumError`` whose message says what was expected, what came
and how to fix it. This module holds types only and must never import
anything heavier than ``engine.errors``.
"""

from engine.errors import FaceAlbumError


class ExportError(FaceAlbumError):
    """Albums cannot be exported as asked (bad destination, person, or mode)."""


class XmpError(FaceAlbumError):
    """An XMP packet or sidecar cannot be parsed, so it is left as it is."""
