"""A Faiss index folder (index.faiss + ids.npy + meta.json), saved atomically by models.index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from models.index import VectorIndex


class VectorIndexFolder(AbstractDataset[VectorIndex, VectorIndex]):
    def __init__(self, filepath: str, missing_ok: bool = False, mmap: bool = False) -> None:
        self._folder = Path(filepath)
        self._missing_ok = missing_ok
        self._mmap = mmap

    def load(self) -> VectorIndex | None:
        if self._missing_ok and not (self._folder / "meta.json").exists():
            return None
        return VectorIndex.load(self._folder, mmap=self._mmap)

    def save(self, data: VectorIndex) -> None:
        data.save(self._folder)

    def _exists(self) -> bool:
        return (self._folder / "meta.json").exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._folder), "missing_ok": self._missing_ok}
