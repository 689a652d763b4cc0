"""``python -m app``: start the desktop app (see ``app.main``)."""

import sys

from app.main import main

sys.exit(main())
