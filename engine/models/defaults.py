"""The models a scan uses unless told otherwise, by registered name.

Kept apart from ``registry`` so that code which only needs the names (the
people code, the command line's ``--help``) does not load torch.
"""

DEFAULT_DETECTOR = "yunet"
DEFAULT_EMBEDDER = "sface"
