"""``python -m app``: start the desktop app (see ``app.main``).

Nothing else happens here.
"""

import sys

from app.main import main

sys.exit(main())
