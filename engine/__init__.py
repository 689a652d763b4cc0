"""facealbum's engine: photos in, people out.

A plain Python + torch library (it never imports Qt) that scans photo folders,
finds, aligns and embeds faces, groups them into people and remembers every
decision a user makes. The GUI in ``app`` and the ``facealbum`` command line
are two clients of it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("facealbum")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
