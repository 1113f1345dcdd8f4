"""A parquet table that is written atomically and may be absent on the first run."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset

from models.atomic import atomic_write

logger = logging.getLogger(__name__)


class ParquetTable(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Parquet file on the local disk.

    ``missing_ok`` makes ``load`` return an empty frame when the file does not exist yet, so a node can
    read its own previous output (declared under a second name) and work incrementally. Such a previous output
    is only a cache: one that cannot be read (damaged on disk) is ignored with a warning, and the node rebuilds
    it, rather than trusting part of it or failing every run. Saves go to a temporary file that replaces the
    target in one rename: a reader never sees half a table, and a run killed mid-write leaves the previous
    table intact (its temporary file is removed by the next save).
    """

    def __init__(self, filepath: str, missing_ok: bool = False, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self._missing_ok = missing_ok
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        if self._missing_ok and not self._filepath.exists():
            return pd.DataFrame()
        try:
            return pd.read_parquet(self._filepath)
        except Exception as exc:
            if not self._missing_ok:
                raise
            logger.warning("%s cannot be read (%s); ignoring it, it will be rebuilt", self._filepath, exc)
            return pd.DataFrame()

    def save(self, data: pd.DataFrame) -> None:
        with atomic_write(self._filepath) as handle:
            data.to_parquet(handle, index=False)

    def _exists(self) -> bool:
        return self._filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "missing_ok": self._missing_ok}
