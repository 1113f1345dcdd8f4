"""Atomic file replacement for the datasets: write a temporary file beside the target, flush it to disk, rename
it over the target, flush the folder. A run killed at any moment leaves either the old file or the new one,
never half of one; what it can leave is a temporary file, which the next save of the same target removes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

_UMASK = os.umask(0o022)  # read once (umask can only be read by setting it), at import
os.umask(_UMASK)


def temp_prefix(target: Path) -> str:
    """Temporary files and staging folders of ``target`` are named ``.<name>.<random>`` beside it."""
    return f".{Path(target).name}."


def remove_leftovers(target: Path) -> None:
    """Delete what a killed save of ``target`` left beside it (``.<name>.*`` files and folders)."""
    target = Path(target)
    if not target.parent.is_dir():
        return
    for stale in target.parent.glob(f"{temp_prefix(target)}*"):
        logger.info("removing %s, left by an interrupted save", stale)
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be opened and synced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_write(target: Path, mode: str = "wb") -> Iterator[IO]:
    """``with atomic_write(path) as f: f.write(...)``: ``path`` is replaced only if the block completes."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target), dir=target.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # as open() would have made it (mkstemp makes 0600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)
