"""Safe file and folder names from untrusted text, such as person names.

A person may be called ``../../etc``, ``con``, ``a/b`` or carry control
characters; the name that comes out of here is one plain path component that
every common file system (ext4, APFS, NTFS, FAT) accepts and that can never
climb out of, or point into, another folder. This module only computes
names: it never touches the file system.

It also holds the one rule for when two spellings are the same person's name
(``name_key``): names typed in other tools arrive as "alice " or "ALICE" or
with a decomposed accent, and must still meet the person called "Alice".
"""

import re
import unicodedata
from pathlib import Path

from engine.export.errors import ExportError

# Room for a " (123)" collision suffix within the usual 255-byte limit.
MAX_NAME_BYTES = 200

_FORBIDDEN = re.compile(r'[/\\<>:"|?*]')
_SPACES = re.compile(r"\s+")
# Names Windows reserves for devices, with or without an extension.
_RESERVED = re.compile(
    r"(?i)^(?P<device>con|prn|aux|nul|conin\$|conout\$|(com|lpt)[0-9¹²³])(?P<rest>\..*)?$"
)


def safe_name(text: str, fallback: str = "Unnamed", max_bytes: int = MAX_NAME_BYTES) -> str:
    """One safe path component made from ``text`` (``fallback`` when nothing is left).

    Control and format characters are dropped, path separators and characters
    Windows forbids become ``_``, runs of spaces become one, leading and
    trailing dots and spaces go (so ``..`` and hidden names cannot appear),
    device names such as ``con`` get a ``_`` suffix, and the result is cut to
    ``max_bytes`` of UTF-8 without splitting a character.
    """
    name = unicodedata.normalize("NFC", text)
    name = "".join(" " if c in "\t\n\r" else c for c in name
                   if c in "\t\n\r" or not unicodedata.category(c).startswith("C"))
    name = _FORBIDDEN.sub("_", name)
    name = _SPACES.sub(" ", name).strip(" .")
    reserved = _RESERVED.match(name)
    if reserved:
        name = f"{reserved['device']}_{reserved['rest'] or ''}"
    name = _cut(name, max_bytes).rstrip(" .")
    return name or fallback


def tidy_name(text: str) -> str:
    """``text`` as a name to store: Unicode NFC, trimmed, each run of inner
    whitespace one space; its case and spelling otherwise as given."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def name_key(text: str) -> str:
    """What two spellings of one name have in common: ``tidy_name`` compared
    without case (``casefold``, then NFC again, as casefolding may decompose)."""
    return unicodedata.normalize("NFC", tidy_name(text).casefold())


def safe_file_name(text: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """A safe name for an exported photo that keeps its extension when it can."""
    path = Path(text.replace("\\", "/")).name or text
    stem, dot, ext = path.rpartition(".")
    if not dot or not stem or not ext.isalnum() or len(ext) > 10:
        return safe_name(path, "photo", max_bytes)
    clean_ext = safe_name(ext, "", 16)
    stem_budget = max_bytes - len(clean_ext.encode("utf-8")) - 1
    return f"{safe_name(stem, 'photo', stem_budget)}.{clean_ext}" if clean_ext else safe_name(
        stem, "photo", max_bytes
    )


def with_suffix_number(name: str, number: int) -> str:
    """``name (number)`` before the extension of a file name: ``a.jpg`` -> ``a (2).jpg``."""
    stem, dot, ext = name.rpartition(".")
    if dot and stem:
        return f"{stem} ({number}).{ext}"
    return f"{name} ({number})"


def inside(folder: Path, name: str) -> Path:
    """``folder / name``, checked to be a direct child of ``folder``.

    A guard behind ``safe_name``: raises ``ExportError`` for anything that
    would land elsewhere.
    """
    candidate = folder / name
    if name in ("", ".", "..") or candidate.parent != folder or Path(name).name != name:
        raise ExportError(
            f"expected a plain file or folder name inside {folder}, got {name!r}; "
            "this is a bug in the naming code, please report it with the person's name"
        )
    return candidate


def _cut(text: str, max_bytes: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", errors="ignore")
