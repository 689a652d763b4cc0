"""facealbum's desktop app: one PySide6 client of the engine.

The app shows and edits what the engine keeps: Qt item models adapt catalog
queries, long work runs the engine's progress generators on worker threads,
and every change a user makes goes through an engine operation (so it can be
undone from the GUI or the command line alike). It never holds domain state of
its own and never writes to the catalog except through the engine.
"""

from engine import __version__

APP_NAME = "facealbum"
APP_TITLE = "Face Album"

__all__ = ["APP_NAME", "APP_TITLE", "__version__"]
