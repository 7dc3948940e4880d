"""Safe file names for documents that arrive by upload (browser, chat) rather than from disk."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

# Bytes, not characters: most file systems limit a name to 255 bytes.
MAX_NAME_BYTES = 255
_UNSAFE = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)


class UploadNameError(ValueError):
    """An uploaded file name with nothing usable left in it; the message is for the user."""


def safe_upload_name(name: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """The last path component of ``name``, cleaned so it is safe to create in a folder.

    Directory parts (``../``, absolute paths, Windows drive and backslash paths), NUL and
    other control or format characters, and leading dots are removed; an over-long name is
    shortened, keeping its extension. Raises :class:`UploadNameError` if nothing is left.
    """
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch) not in {"Cc", "Cf", "Cs"})
    base = _UNSAFE.sub("_", unicodedata.normalize("NFC", base))
    base = " ".join(base.split()).lstrip(". ").rstrip(". ")
    if not base:
        raise UploadNameError(f"the file name {name[:80]!r} has no usable characters")
    if _WINDOWS_RESERVED.match(base):
        base = f"_{base}"
    stem, dot, suffix = base.rpartition(".")
    if not dot or len(suffix.encode()) > 16:
        stem, suffix = base, ""
    ext = f".{suffix}" if suffix else ""
    room = max_bytes - len(ext.encode())
    stem = stem.encode()[:room].decode("utf-8", errors="ignore").rstrip(". ")
    if not stem:
        raise UploadNameError(f"the file name {name[:80]!r} has no usable characters")
    return stem + ext


def upload_path(folder: Path, name: str) -> Path:
    """Where an upload called ``name`` goes inside ``folder``; never outside it."""
    target = (folder / safe_upload_name(name)).resolve()
    if target.parent != folder.resolve():
        raise UploadNameError(f"the file name {name[:80]!r} does not name a file in the folder")
    return target
