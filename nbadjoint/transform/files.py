"""Where generated modules are written: the cache folder, and files that always hold their text."""

from __future__ import annotations

import linecache
import os
import re
import tempfile
import threading
from pathlib import Path


def cache_dir() -> Path:
    """Folder of the generated modules: $NBADJOINT_CACHE, else ~/.cache/nbadjoint; when that cannot be
    used, a folder of this user in the temp folder, else a fresh temporary folder for this process."""
    root = os.environ.get("NBADJOINT_CACHE")
    if root:
        path = Path(root)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "nbadjoint"
    if _usable_folder(path):
        return path
    user = os.getuid() if hasattr(os, "getuid") else "user"
    fallback = Path(tempfile.gettempdir()) / f"nbadjoint-{user}"
    if _usable_folder(fallback):
        return fallback
    global _PRIVATE_DIR
    if _PRIVATE_DIR is None or not _usable_folder(_PRIVATE_DIR):
        _PRIVATE_DIR = Path(tempfile.mkdtemp(prefix="nbadjoint-"))
    return _PRIVATE_DIR


_PRIVATE_DIR = None


def _usable_folder(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def file_stem(name: str) -> str:
    """A short file-name-safe stem for ``name`` (the file name adds a digest of the contents)."""
    return re.sub(r"[^0-9A-Za-z_]", "_", name)[:40] or "f"


def ensure_file(filename: str, text: str):
    """Write ``text`` to ``filename`` unless the file already holds exactly it (a corrupted or
    removed file is written again); linecache serves the text from memory in any case."""
    data = text.encode()
    try:
        with open(filename, "rb") as fh:
            if fh.read() == data:
                data = None
    except OSError:
        pass
    if data is not None:
        tmp = f"{filename}.tmp{os.getpid()}.{threading.get_ident()}"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, filename)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
