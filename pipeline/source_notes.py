"""What a collection's manifest says about its files (source, licence, the package's own description).

The demo collection writes ``manifest.csv`` beside its images; a user's own folder has none, and then every
reader gets an empty mapping.
"""

from __future__ import annotations

import csv
from pathlib import Path


def read_source_notes(manifest: Path | str) -> dict[str, dict[str, str]]:
    """Manifest rows by file path relative to the collection root; ``{}`` when there is no manifest."""
    manifest = Path(manifest)
    if not manifest.exists():
        return {}
    with open(manifest, newline="", encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle) if row.get("file")}
