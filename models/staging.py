"""Build a model folder beside its target and swap it in only when complete, so a failed or killed build never
leaves a half-written model where the code looks for one (a killed build can leave a ``.<name>-*`` folder)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """``with staged_folder(out / "model") as staging: write files into staging``; ``target`` is replaced by
    it when the block completes, and left as it was when the block raises."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    staging.chmod(0o755)
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
