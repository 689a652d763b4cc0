"""The error raised when training cannot start or go on.

Kept apart so the CLI and the GUI can catch it without importing torch-heavy
training modules. It never carries partial results.
"""

from engine.errors import FaceAlbumError


class TrainingError(FaceAlbumError):
    """Training data, options or a checkpoint are not what training needs."""
