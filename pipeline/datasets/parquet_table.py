"""A parquet table that is written atomically and may be absent on the first run."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset


class ParquetTable(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Parquet file on the local disk.

    ``missing_ok`` makes ``load`` return an empty frame when the file does not exist yet, so a node can
    read its own previous output (declared under a second name) and work incrementally. Saves go to a
    temporary file that replaces the target in one rename: a reader never sees half a table, and a run
    killed mid-write leaves the previous table intact.
    """

    def __init__(self, filepath: str, missing_ok: bool = False, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self._missing_ok = missing_ok
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        if self._missing_ok and not self._filepath.exists():
            return pd.DataFrame()
        return pd.read_parquet(self._filepath)

    def save(self, data: pd.DataFrame) -> None:
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self._filepath.name}.", dir=self._filepath.parent)
        os.close(fd)
        try:
            data.to_parquet(tmp, index=False)
            os.replace(tmp, self._filepath)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _exists(self) -> bool:
        return self._filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "missing_ok": self._missing_ok}
