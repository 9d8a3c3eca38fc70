"""Writing user files safely: atomically (temporary file in the same folder, then rename), and
never over an existing file unless the caller says so."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# what a plain open() would give a new file; mkstemp's temporaries are private (0600), and the
# rename would otherwise hand that to the user's exports. Read once, at import (single-threaded).
NEW_FILE_MODE = 0o666 & ~_umask()


class FileExistsRefusal(FileExistsError):
    """Refused to overwrite an existing file."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} already exists; choose another name or pass --force to overwrite it")
        self.path = path


def check_writable(path: str | Path, overwrite: bool = False) -> Path:
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsRefusal(path)
    if not path.parent.exists():
        raise FileNotFoundError(f"cannot write {path}: the folder {path.parent} does not exist")
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`, ending in the same suffix (writers that pick the
    format by the name need it); on success it replaces `path` in one rename, on failure it is
    removed and `path` is untouched."""
    path = check_writable(path, overwrite)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".part{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if not overwrite and path.exists():  # appeared while we were writing
            raise FileExistsRefusal(path)
        os.chmod(tmp_path, NEW_FILE_MODE)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str, overwrite: bool = False) -> Path:
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
