"""What the server knows about the ingested collection (read from the pipeline's images table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq


@dataclass(frozen=True)
class CollectionSummary:
    images: int
    total_bytes: int
    by_source: dict[str, int] = field(default_factory=dict)
    ready: bool = True
    problem: str = ""


def summarise(images_table: Path) -> CollectionSummary:
    """Count images per top-level folder; a missing or unreadable table is reported, never raised."""
    if not images_table.exists():
        return CollectionSummary(0, 0, ready=False, problem="No collection yet: run the pipeline (make pipeline).")
    try:
        table = pq.read_table(images_table, columns=["path", "bytes"])
    except Exception as exc:  # noqa: BLE001 - a broken file must not stop the server
        return CollectionSummary(0, 0, ready=False, problem=f"The images table cannot be read: {exc}")
    paths = table.column("path").to_pylist()
    by_source: dict[str, int] = {}
    for path in paths:
        source = path.split("/", 1)[0] if "/" in path else "(top level)"
        by_source[source] = by_source.get(source, 0) + 1
    total = sum(table.column("bytes").to_pylist())
    return CollectionSummary(len(paths), int(total), dict(sorted(by_source.items())))
