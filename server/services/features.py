"""Image metadata, thumbnails and descriptions, read only from the Feast online store."""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feature_repo import schema as views
from feature_repo.schema import DESCRIPTION_FEATURES, METADATA_FEATURES

METADATA = list(METADATA_FEATURES)
DESCRIPTION = list(DESCRIPTION_FEATURES)


def _keep_torch_out() -> None:
    """Feast 0.67 imports torch at import time when it is installed (feast/torch_wrapper.py), only for optional
    transformations we do not use. That would cost the server ~5 s and ~500 MB and break the rule that the
    query path never touches torch; marking torch absent makes Feast take its no-torch branch."""
    if "torch" not in sys.modules:
        sys.modules["torch"] = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ImageRecord:
    image_id: str
    metadata: dict[str, Any]
    description: dict[str, Any]


class FeatureReader:
    def __init__(self, root: Path) -> None:
        if not (Path(root) / "registry.db").exists():
            raise FileNotFoundError(f"no feature store at {root}: run the pipeline (make pipeline)")
        _keep_torch_out()
        from feature_repo.store import open_store

        self._store = open_store(root)
        self._lock = threading.Lock()

    def _read(self, features: list[str], ids: list[str]) -> dict[str, list]:
        with self._lock:  # the SQLite online store connection is not shared across threads safely
            return self._store.get_online_features(
                features=features, entity_rows=[{"image_id": i} for i in ids]
            ).to_dict()

    def records(self, ids: list[str]) -> list[ImageRecord | None]:
        """Metadata and description per id, ``None`` for ids the store does not know."""
        if not ids:
            return []
        rows = self._read(
            [f"{views.METADATA}:{f}" for f in METADATA] + [f"{views.DESCRIPTION}:{f}" for f in DESCRIPTION], ids
        )
        out: list[ImageRecord | None] = []
        for i, image_id in enumerate(ids):
            if rows["path"][i] is None:
                out.append(None)
                continue
            out.append(
                ImageRecord(
                    image_id=image_id,
                    metadata={f: rows[f][i] for f in METADATA},
                    description=_description({f: rows[f][i] for f in DESCRIPTION}),
                )
            )
        return out

    def thumbnail(self, image_id: str) -> bytes | None:
        return self._read([f"{views.THUMBNAIL}:thumbnail"], [image_id])["thumbnail"][0]


def _description(raw: dict[str, Any]) -> dict[str, Any]:
    """The stored evidence is a JSON string; the API returns it as an object (``{}`` if unreadable)."""
    evidence = raw.get("evidence")
    try:
        parsed = json.loads(evidence) if evidence else {}
    except ValueError:
        parsed = {}
    return {"alt": raw.get("alt"), "long": raw.get("long"), "evidence": parsed if isinstance(parsed, dict) else {}}
