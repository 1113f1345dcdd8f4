"""Replace a file or a folder atomically: a process killed at any moment leaves the old one or the new one,
never half of one, and neither is lost if the machine stops right after the swap.

The new content is written beside the target under a hidden name (``.<name>.<random>``), flushed to disk, and
renamed over the target (``os.replace``; a folder: the old one is moved aside first and removed once the new
one is in place), then the folder holding them is flushed too. What a killed write can leave is that hidden
file or folder; the next write of the same target removes it (:func:`remove_leftovers`).

- :func:`atomic_write`: a file handle, for code that writes bytes or text itself;
- :func:`atomic_path`: a path, for libraries that write to a path (parquet, SQLite, Faiss);
- :func:`staged_folder`: a folder, for a model or an index made of several files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

_UMASK = os.umask(0o022)  # read once (umask can only be read by setting it), at import
os.umask(_UMASK)


def temp_prefix(target: Path) -> str:
    """Temporary files and staging folders of ``target`` are named ``.<name>.<random>`` beside it."""
    return f".{Path(target).name}."


def remove_leftovers(target: Path) -> None:
    """Delete what a killed write of ``target`` left beside it (``.<name>.*`` files and folders)."""
    target = Path(target)
    if not target.parent.is_dir():
        return
    for stale in target.parent.glob(f"{temp_prefix(target)}*"):
        logger.info("removing %s, left by an interrupted save", stale)
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    """Flush a file's or a folder's content to disk (any descriptor of it will do)."""
    with contextlib.suppress(OSError):  # not every file system lets a folder be opened and synced
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """``with atomic_path(path) as tmp: library.write(..., tmp)``: ``path`` is replaced by what was written to
    ``tmp`` (an empty file beside it) only if the block completes; otherwise ``tmp`` is removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)
    fd, name = tempfile.mkstemp(prefix=temp_prefix(target), dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # as open() would have made it (mkstemp makes 0600)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(target.parent)


@contextlib.contextmanager
def atomic_write(target: Path, mode: str = "wb", **open_args: Any) -> Iterator[IO]:
    """``with atomic_write(path) as f: f.write(...)``: ``path`` is replaced only if the block completes.
    ``mode`` and ``open_args`` (``encoding``, ``newline``) are :func:`open`'s."""
    with atomic_path(target) as tmp, open(tmp, mode, **open_args) as handle:
        yield handle


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """``with staged_folder(out / "model") as staging: write files into staging``; ``target`` is replaced by it
    when the block completes, and left as it was when the block raises. The old folder stays where it is until
    the new one is complete: a reader finds one or the other at every moment but the two renames'."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=temp_prefix(target), dir=target.parent))
    staging.chmod(0o755)  # readable by the services that load it (mkdtemp makes 0700)
    try:
        yield staging
        for path in sorted(staging.rglob("*"), reverse=True):  # files before the folders holding them
            if not path.is_symlink() and (path.is_file() or path.is_dir()):  # never a link's target or a pipe
                _fsync(path)
        _fsync(staging)
        old = target.with_name(f"{temp_prefix(target)}old") if target.exists() else None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        try:
            staging.rename(target)
        except BaseException:
            if old is not None:
                old.rename(target)
            raise
        _fsync(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already unless the block or the swap failed
