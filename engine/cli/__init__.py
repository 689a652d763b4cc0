"""The ``facealbum`` command line: one client of the engine."""
