"""facealbum's engine: photos in, people out.

A plain Python + torch library (it never imports Qt) that scans photo folders,
finds, aligns and embeds faces, groups them into people and remembers every
decision a user makes. The GUI in ``app`` and the ``facealbum`` command line
are two clients of it.
"""

import os
from importlib.metadata import PackageNotFoundError, version

# OpenMP threads that spin while waiting steal the cores from the photo
# decoding threads (and from the GUI): on a loaded 2-core machine a scan of
# 200 LFW photos took 48.8 s with spinning threads and 12.2 s without. It
# must be set before torch is first imported to take effect.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    __version__ = version("facealbum")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
