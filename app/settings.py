"""The app's settings, declared once: names, types, defaults, schema version.

``Settings`` is a plain dataclass; ``SettingsStore`` reads and writes it with
QSettings as the storage backend. The engine receives plain values taken from
a ``Settings`` (a device name, a model name, a float), never this object, and
nothing outside ``app`` imports it.
"""

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QSettings

from app import APP_NAME
from engine import ray_scan
from engine.catalog import default_catalog_path
from engine.models import registry
from engine.people import DEFAULT_STRICTNESS

# Bump when a key changes meaning; ``SettingsStore.load`` drops values written
# under another version instead of misreading them.
SETTINGS_VERSION = 1

DEVICES = registry.DEVICES
EMBEDDER_LABELS = {
    "sface": "SFace (fast, 128 numbers per face)",
    "facenet": "FaceNet (slower, 512 numbers per face)",
    "fusion": "SFace + FaceNet (slower; better on profiles)",
}
# The orders the people grid offers ("photos": most photos first, the engine's own).
PEOPLE_SORTS = ("photos", "name", "recent")


def embedders() -> list[str]:
    """Built-in face models, then any trained with ``facealbum train``."""
    return registry.embedder_names()


@dataclass
class Settings:
    """Everything the app remembers between runs."""

    device: str = "auto"
    detector: str = registry.DEFAULT_DETECTOR
    embedder: str = registry.DEFAULT_EMBEDDER
    # 0 = lenient (fewer, larger people), 1 = strict (more, purer people).
    strictness: float = DEFAULT_STRICTNESS
    catalog_path: str = field(default_factory=lambda: str(default_catalog_path()))
    last_folder: str = ""
    people_sort: str = "photos"  # one of PEOPLE_SORTS
    # Where scans run: "" on this computer, else a Ray cluster (see ray_address_problem).
    ray_address: str = ""

    def validated(self) -> "Settings":
        """A copy with every out-of-range value replaced by its default."""
        default = Settings()
        return dataclasses.replace(
            self,
            device=self.device if self.device in DEVICES else default.device,
            detector=(self.detector if self.detector in registry.detector_names()
                      else default.detector),
            embedder=self.embedder if self.embedder in embedders() else default.embedder,
            strictness=min(max(self.strictness, 0.0), 1.0),
            catalog_path=self.catalog_path or default.catalog_path,
            people_sort=(self.people_sort if self.people_sort in PEOPLE_SORTS
                         else default.people_sort),
            ray_address=(self.ray_address.strip()
                         if not ray_address_problem(self.ray_address) else default.ray_address),
        )


def ray_address_problem(address: str) -> str:
    """Why ``address`` is not a Ray cluster's address ("" when it is, or when empty)."""
    address = address.strip()
    if not address:
        return ""
    if any(c.isspace() for c in address):
        return "an address has no spaces; write it as host:port, e.g. 127.0.0.1:6379"
    return ray_scan.address_problem(address)


class SettingsStore:
    """Loads and saves ``Settings``; an ini file when given a path (tests, portable
    installs), the platform's usual place otherwise."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            self._qsettings = QSettings(APP_NAME, APP_NAME)
        else:
            self._qsettings = QSettings(str(Path(path)), QSettings.Format.IniFormat)

    def load(self) -> Settings:
        q = self._qsettings
        if _to_int(q.value("settings_version"), 0) != SETTINGS_VERSION:
            return Settings()
        values: dict[str, object] = {}
        for f in dataclasses.fields(Settings):
            raw = q.value(f.name)
            if raw is None:
                continue
            if f.type in (float, "float"):
                values[f.name] = _to_float(raw, getattr(Settings(), f.name))
            else:
                values[f.name] = str(raw)
        return Settings(**values).validated()  # type: ignore[arg-type]

    def save(self, settings: Settings) -> None:
        q = self._qsettings
        q.setValue("settings_version", SETTINGS_VERSION)
        for name, value in dataclasses.asdict(settings.validated()).items():
            q.setValue(name, value)
        q.sync()


def _to_float(raw: object, default: float) -> float:
    try:
        return float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _to_int(raw: object, default: int) -> int:
    try:
        return int(raw)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return default
