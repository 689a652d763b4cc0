"""Face detectors and embedders behind a small registry."""
