"""``python -m app``: start the desktop app (see ``app.main``).

Nothing else happens here. ``freeze_support`` comes first: in a bundled
program a worker process starts as this same program, and must become the
worker before the app's modules load.
"""

import multiprocessing
import sys

multiprocessing.freeze_support()

from app.main import main  # noqa: E402

sys.exit(main())
