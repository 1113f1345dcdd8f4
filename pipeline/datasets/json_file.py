"""A JSON document written atomically; with ``missing_ok``, one that is absent (or unreadable) loads as None, for
nodes that reuse their previous result."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from models.atomic import atomic_write

logger = logging.getLogger(__name__)


class JsonFile(AbstractDataset[Any, Any]):
    """Saves go to a temporary file renamed over the target (kedro's ``json.JSONDataset`` truncates the target
    first: a run killed while writing left a file no later run could parse)."""

    def __init__(self, filepath: str, missing_ok: bool = False) -> None:
        self._filepath = Path(filepath)
        self._missing_ok = missing_ok

    def load(self) -> Any:
        if self._missing_ok and not self._filepath.exists():
            return None
        try:
            return json.loads(self._filepath.read_text())
        except (OSError, ValueError) as exc:
            if not self._missing_ok:
                raise
            logger.warning("%s cannot be read (%s); ignoring it, it will be rebuilt", self._filepath, exc)
            return None

    def save(self, data: Any) -> None:
        text = json.dumps(data, indent=2, ensure_ascii=False)  # serialised first: a bad value writes nothing
        with atomic_write(self._filepath) as handle:
            handle.write(text.encode())

    def _exists(self) -> bool:
        return self._filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "missing_ok": self._missing_ok}
