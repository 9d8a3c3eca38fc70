"""Writing user files safely: atomically (temporary file in the same folder, then rename), and
never over an existing file unless the caller says so."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import VivitError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# what a plain open() would give a new file; mkstemp's temporaries are private (0600), and the
# rename would otherwise hand that to the user's exports. Read once, at import (single-threaded).
NEW_FILE_MODE = 0o666 & ~_umask()


class FileExistsRefusal(FileExistsError, VivitError):
    """Refused to overwrite an existing file."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} already exists; choose another name or pass --force to overwrite it")
        self.path = path


def check_writable(path: str | Path, overwrite: bool = False) -> Path:
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsRefusal(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder; give a file name")
    if not path.parent.exists():
        raise FileNotFoundError(f"cannot write {path}: the folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: the folder {path.parent} is not writable; choose another "
                              "output folder")
    return path


# Temporaries are named .NAME.vivit-PID-RANDOM.partSUFFIX beside their target: a run that was
# killed (SIGKILL, power loss) leaves one behind, and the next run in that folder removes those
# whose process is gone (`sweep_stale_temporaries`).
_TEMP = re.compile(r"^\..+\.vivit-(\d+)-[A-Za-z0-9_]+\.part(\.[^.]*)?$")


def _temporary_beside(path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.vivit-{os.getpid()}-", suffix=f".part{path.suffix}",
                               dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def sweep_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporaries our own runs left in `folder` when they were killed (their process
    is gone); returns what was removed. Files of any other naming are never touched."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP.match(entry.name)
        if m and not _alive(int(m.group(1))) and entry.is_file():
            try:
                entry.unlink()
                removed.append(entry)
            except OSError:
                pass
    return removed


@contextlib.contextmanager
def atomic_paths(paths, overwrite: bool = False, check=None) -> Iterator[list[Path]]:
    """Temporary paths beside each of `paths` (same suffix: writers that pick the format by the
    name need it). When the block ends without error, `check(tmp, path)` (if given) vets each
    written file, then all replace their targets together; on any error nothing is replaced and
    every temporary is removed. Refuses existing targets unless `overwrite`."""
    paths = [check_writable(p, overwrite) for p in paths]
    temps: list[Path] = []
    try:
        for path in paths:
            temps.append(_temporary_beside(path))
        yield temps
        for tmp, path in zip(temps, paths):
            if not overwrite and path.exists():  # appeared while we were writing
                raise FileExistsRefusal(path)
            if check is not None:
                check(tmp, path)
        for tmp in temps:
            os.chmod(tmp, NEW_FILE_MODE)
        for tmp, path in zip(temps, paths):
            os.replace(tmp, path)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | Path, overwrite: bool = False, check=None) -> Iterator[Path]:
    """Yield a temporary path beside `path`, ending in the same suffix; on success (and after
    `check(tmp, path)`, if given, passes) it replaces `path` in one rename, on failure it is
    removed and `path` is untouched."""
    with atomic_paths([path], overwrite, check) as (tmp,):
        yield tmp


def atomic_write_texts(texts: dict, overwrite: bool = False) -> list[Path]:
    """Several text files written as one set: all replaced, or (on any failure, e.g. a full
    disk) none."""
    targets = [Path(p) for p in texts]
    with atomic_paths(targets, overwrite) as temps:
        for tmp, text in zip(temps, texts.values()):
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
    return targets


def atomic_write_text(path: str | Path, text: str, overwrite: bool = False) -> Path:
    return atomic_write_texts({Path(path): text}, overwrite)[0]


def sha256_digest(path: str | Path, chunk: int = 1 << 20):
    """The running SHA-256 of a file's bytes (a hashlib object: more bytes may be added, as a
    resumed download does)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    return sha256_digest(path, chunk).hexdigest()
