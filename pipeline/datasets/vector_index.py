"""Faiss indexes per model version: ``<root>/<model_version>/{text,image}/`` plus a ``current`` pointer.

Several model versions can be served side by side, so each version's indexes keep their own folder; the
pointer names the version the pipeline built last (what the next incremental run starts from).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from models.index import VectorIndex

POINTER = "current.json"


class VectorIndexes(AbstractDataset[dict, dict]):
    def __init__(self, filepath: str, missing_ok: bool = False) -> None:
        self._root = Path(filepath)
        self._missing_ok = missing_ok

    def load(self) -> dict[str, VectorIndex] | None:
        pointer = self._root / POINTER
        if self._missing_ok and not pointer.exists():
            return None
        version = json.loads(pointer.read_text())["model_version"]
        return {name: VectorIndex.load(self._root / version / name, mmap=False) for name in ("text", "image")}

    def save(self, data: dict[str, VectorIndex]) -> None:
        versions = {index.meta.model_version for index in data.values()}
        if len(versions) != 1:
            raise ValueError(f"indexes of one set must share a model version, got {sorted(versions)}")
        version = versions.pop()
        for name, index in data.items():
            index.save(self._root / version / name)
        fd, tmp = tempfile.mkstemp(dir=self._root, prefix=".current.")
        with os.fdopen(fd, "w") as handle:
            json.dump({"model_version": version}, handle)
        os.replace(tmp, self._root / POINTER)

    def _exists(self) -> bool:
        return (self._root / POINTER).exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._root), "missing_ok": self._missing_ok}
