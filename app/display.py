"""Can the app open a window here? Answered before Qt is loaded.

``make run`` asks (``facealbum-app --check-display``) and runs the headless
scan instead when the answer is no, so a machine without a display, or a
Linux machine missing the X11 libraries Qt's xcb plugin needs, gets a
sentence saying what to install instead of Qt's own abort (status 134). The
check reads the plugin's library list with ``ldd`` and, when nothing is
missing, opens a connection to the display in a child process, since Qt
aborts the whole process when its platform plugin fails. It never imports Qt
into this process and never changes the system.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Debian / Ubuntu packages of the libraries Qt 6's xcb plugin loads (Qt's own
# list of X11 requirements, runtime packages).
QT_XCB_PACKAGES = (
    "libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0",
    "libxcb-render-util0", "libxcb-randr0", "libxcb-shape0", "libxcb-shm0",
    "libxcb-sync1", "libxcb-xfixes0", "libxcb-xinerama0", "libxcb-xkb1", "libxcb-util1",
    "libxcb-glx0", "libxcb-render0", "libxcb1", "libx11-xcb1", "libxkbcommon-x11-0",
    "libxkbcommon0", "libfontconfig1", "libfreetype6", "libegl1", "libdbus-1-3",
)
# Library file names whose package name does not follow Debian's usual rule.
_PACKAGE_OF = {
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-util.so.1": "libxcb-util1",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libfreetype.so.6": "libfreetype6",
}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.MULTILINE)
_CONNECT = (
    "import sys\n"
    "from PySide6.QtGui import QGuiApplication\n"
    "app = QGuiApplication([sys.argv[0], '-platform', 'xcb'])\n"
)


def display_problem() -> str | None:
    """Why no window can open here, with what to do; None when one can."""
    if sys.platform in ("darwin", "win32"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith(("xcb", "wayland")):
        return None  # offscreen, vnc...: the caller chose a platform that needs no display
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return "No display found (DISPLAY and WAYLAND_DISPLAY are unset)."
    if os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("DISPLAY"):
        return None  # Qt's Wayland plugin; the xcb libraries do not matter
    missing = missing_libraries(xcb_plugin())
    if missing:
        return missing_libraries_message(missing)
    return _try_connecting()


def xcb_plugin() -> Path | None:
    """Qt's xcb platform plugin as installed with PySide6 (None if not found)."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    plugin = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / \
        "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def missing_libraries(plugin: Path | None) -> list[str]:
    """The shared libraries ``plugin`` needs that the system cannot find."""
    ldd = shutil.which("ldd")
    if plugin is None or ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=30,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(set(_NOT_FOUND.findall(out)))


def package_of(library: str) -> str:
    """The Debian package that ships a library: libxcb-icccm.so.4 -> libxcb-icccm4."""
    if library in _PACKAGE_OF:
        return _PACKAGE_OF[library]
    stem, _, version = library.partition(".so.")
    version = version.split(".")[0]
    if not version:
        return stem.lower()
    return f"{stem}-{version}".lower() if stem[-1].isdigit() else f"{stem}{version}".lower()


def missing_libraries_message(missing: list[str]) -> str:
    packages = sorted({package_of(lib) for lib in missing})
    return (
        f"Qt cannot open a window: its X11 plugin (xcb) needs {', '.join(missing)}, "
        "which this system does not have. On Debian or Ubuntu install them with:\n"
        f"  sudo apt-get install {' '.join(packages)}\n"
        "or all the libraries Qt 6 needs for X11 at once:\n"
        f"  sudo apt-get install {' '.join(QT_XCB_PACKAGES)}"
    )


def _try_connecting() -> str | None:
    """Open the display in a child process (Qt aborts a process it cannot serve)."""
    try:
        done = subprocess.run([sys.executable, "-c", _CONNECT], capture_output=True, text=True,
                              timeout=60, check=False,
                              env={**os.environ, "QT_QPA_PLATFORM": "xcb"})
    except (OSError, subprocess.SubprocessError) as exc:
        return f"Could not check the display ({exc})."
    if done.returncode == 0:
        return None
    said = [line for line in done.stderr.splitlines() if line.strip()][-3:]
    return ("Qt cannot open a window on this display"
            f"{': ' + ' '.join(said) if said else ''}. Install the libraries Qt 6 needs for "
            f"X11 (on Debian or Ubuntu: sudo apt-get install {' '.join(QT_XCB_PACKAGES)}), "
            "or check that DISPLAY names a running X server.")
