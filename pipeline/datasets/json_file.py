"""A JSON document that may be absent (loads as None), for nodes that reuse their previous result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset


class JsonFile(AbstractDataset[Any, Any]):
    def __init__(self, filepath: str, missing_ok: bool = False) -> None:
        self._filepath = Path(filepath)
        self._missing_ok = missing_ok

    def load(self) -> Any:
        if self._missing_ok and not self._filepath.exists():
            return None
        return json.loads(self._filepath.read_text())

    def save(self, data: Any) -> None:
        raise NotImplementedError("JsonFile is read-only; declare the output as json.JSONDataset")

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "missing_ok": self._missing_ok}
