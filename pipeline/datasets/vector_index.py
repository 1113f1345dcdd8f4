"""Faiss indexes per model version: ``<root>/<model_version>/{text,image}/`` and the word index
``<root>/<model_version>/words.sqlite`` (models/lexical.py), plus a ``current`` pointer.

Several model versions can be served side by side, so each version's indexes keep their own folder; the
pointer names the version the pipeline built last (what the next incremental run starts from). Each index folder
is written to a staging folder and renamed into place (models/index.py) and the pointer is replaced atomically;
with ``missing_ok`` a previous index that is missing or cannot be read (a run stopped mid-save, a damaged file)
loads as None, so the node rebuilds it instead of failing every run.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from models.atomic import atomic_write, remove_leftovers
from models.index import VectorIndex

logger = logging.getLogger(__name__)

POINTER = "current.json"
NAMES = ("text", "image")


class VectorIndexes(AbstractDataset[dict, dict]):
    def __init__(self, filepath: str, missing_ok: bool = False) -> None:
        self._root = Path(filepath)
        self._missing_ok = missing_ok

    def load(self) -> dict[str, VectorIndex] | None:
        pointer = self._root / POINTER
        if self._missing_ok and not pointer.exists():
            return None
        try:
            version = json.loads(pointer.read_text())["model_version"]
            return {name: VectorIndex.load(self._root / version / name, mmap=False) for name in NAMES}
        except Exception as exc:
            if not self._missing_ok:
                raise
            logger.warning("the indexes under %s cannot be read (%s); they will be rebuilt", self._root, exc)
            return None

    def save(self, data: dict) -> None:
        """``data``: the VectorIndex per name, plus optionally ``words`` (a table of word documents) and
        ``words_weights`` (its fusion weights: ``weight``, ``exact_weight``)."""
        import pandas as pd

        from models.lexical import WORDS_FILE, LexicalIndex

        words, weights = data.get("words"), data.get("words_weights") or {}
        data = {name: data[name] for name in NAMES if name in data}
        versions = {index.meta.model_version for index in data.values()}
        if len(versions) != 1:
            raise ValueError(f"indexes of one set must share a model version, got {sorted(versions)}")
        version = versions.pop()
        for name, index in data.items():
            folder = self._root / version / name
            remove_leftovers(folder)  # staging (.<name>.*) and .<name>.old folders of an interrupted save
            index.save(folder)
        if isinstance(words, pd.DataFrame):
            LexicalIndex.build(words.to_dict("records"), self._root / version / WORDS_FILE, **weights)
        with atomic_write(self._root / POINTER) as handle:
            handle.write(json.dumps({"model_version": version}).encode())

    def _exists(self) -> bool:
        return (self._root / POINTER).exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._root), "missing_ok": self._missing_ok}
