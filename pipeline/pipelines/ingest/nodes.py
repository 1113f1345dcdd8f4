"""Ingest: scan a folder of images and keep an incremental table of what is in it.

Three tables come out: ``files`` (one row per usable file: the scan state that makes reruns cheap),
``images`` (one row per distinct image content, with metadata and a thumbnail) and ``rejects``
(files that could not be used, with the reason). A rerun reads no file whose path, size and
modification time are unchanged; a changed file is re-read and its hash decides whether it is new.
Files to read are cut into partitions that run on every Dask worker when there is a cluster
(pipeline/partitions.py).
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.partitions import map_partitions, split, worker_threads

from .image_file import ImageRecord, Limits, RejectedImageError, read_image

logger = logging.getLogger(__name__)

LISTING_COLUMNS = ["path", "size", "mtime_ns"]
FILE_COLUMNS = ["path", "size", "mtime_ns", "image_id"]
REJECT_COLUMNS = ["path", "size", "mtime_ns", "reason", "detail"]
# Size and mtime in the listing of a file whose path is not UTF-8 (a name written under Latin-1, say): its path is
# listed with the odd bytes escaped ("caf\xe9.jpg") and the file is refused unread.
NAME_NOT_UTF8 = -2
IMAGE_COLUMNS = [
    "image_id",
    "path",
    "format",
    "width",
    "height",
    "bytes",
    "exif_datetime",
    "camera",
    "thumbnail",
    "thumbnail_width",
    "thumbnail_height",
    "ingested_at",
]


def scan_folder(params: dict[str, Any]) -> pd.DataFrame:
    """List candidate image files under ``params['root']`` (recursively) with size and mtime.

    Only ``stat`` is called here; no file is opened.
    """
    root = Path(params["root"])
    if not root.is_dir():
        raise FileNotFoundError(f"ingest root '{root}' is not a folder; set ingest.root in conf/base/parameters.yml")
    extensions = {ext.lower() for ext in params["extensions"]}
    rows = []
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith(".") or Path(name).suffix.lower() not in extensions:
                continue
            full = Path(folder, name)
            relative = full.relative_to(root).as_posix()
            if not _is_utf8(relative):  # bytes from another encoding: no table can store it as text
                escaped = os.fsencode(relative).decode("utf-8", "backslashreplace")
                rows.append((escaped, NAME_NOT_UTF8, NAME_NOT_UTF8))
                continue
            try:
                stat = full.stat()
            except OSError:  # a dangling link or a file gone since the walk: ingest will report it
                rows.append((relative, -1, -1))
                continue
            rows.append((relative, stat.st_size, stat.st_mtime_ns))
    listing = pd.DataFrame(rows, columns=LISTING_COLUMNS).astype({"size": "int64", "mtime_ns": "int64"})
    return listing.sort_values("path", ignore_index=True)


def ingest_images(
    listing: pd.DataFrame,
    previous_files: pd.DataFrame,
    previous_images: pd.DataFrame,
    previous_rejects: pd.DataFrame,
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Bring the files/images/rejects tables up to date with ``listing``, reading only what changed."""
    started = time.perf_counter()
    root = Path(params["root"])
    limits = Limits(
        max_bytes=int(params["max_bytes"]),
        max_pixels=int(params["max_pixels"]),
        thumbnail_size=int(params["thumbnail_size"]),
        thumbnail_quality=int(params["thumbnail_quality"]),
    )
    previous_files = _ensure(previous_files, FILE_COLUMNS)
    previous_rejects = _ensure(previous_rejects, REJECT_COLUMNS)
    previous_images = _ensure(previous_images, IMAGE_COLUMNS)

    # The node's three tables are saved one after the other, so a run killed between two saves leaves a files
    # table that knows files whose images row was never written. Only a file whose image is in the images table
    # is known; any other is read again.
    trusted = previous_files["image_id"].isin(previous_images["image_id"])
    if not trusted.all():
        logger.warning(
            "ingest: %d files of the previous scan have no row in the images table (a run stopped between saves); "
            "reading them again",
            int((~trusted).sum()),
        )
    known_files = _by_key(previous_files[trusted])
    known_rejects = _by_key(previous_rejects)
    file_rows: list[dict[str, Any]] = []
    reject_rows: list[dict[str, Any]] = []
    todo: list[tuple[str, int, int]] = []
    for path, size, mtime_ns in listing[LISTING_COLUMNS].itertuples(index=False, name=None):
        key = (path, int(size), int(mtime_ns))
        if key in known_files:
            file_rows.append(known_files[key])
        elif key in known_rejects:
            reject_rows.append(known_rejects[key])
        else:
            todo.append(key)

    known_ids = set(previous_images["image_id"])
    new_records: dict[str, ImageRecord] = {}
    parts = split(todo, int(params.get("partition_size") or 512))
    outcomes = map_partitions(
        ingest_partition,
        parts,
        desc="ingest",
        sizes=[len(part) for part in parts],
        shared={"root": str(root.resolve()), "limits": limits, "workers": int(params.get("workers") or 0)},
    )
    for key, outcome in zip(todo, (o for part in outcomes for o in part), strict=True):
        path, size, mtime_ns = key
        if isinstance(outcome, RejectedImageError):
            reject_rows.append(
                {"path": path, "size": size, "mtime_ns": mtime_ns, "reason": outcome.reason, "detail": str(outcome)}
            )
            continue
        image_id, record = outcome
        if record is not None and image_id not in known_ids:  # a copy of a known image keeps its row
            new_records.setdefault(image_id, record)
        file_rows.append({"path": path, "size": size, "mtime_ns": mtime_ns, "image_id": image_id})

    files = _frame(file_rows, FILE_COLUMNS).sort_values("path", ignore_index=True)
    rejects = _frame(reject_rows, REJECT_COLUMNS).sort_values("path", ignore_index=True)
    images = _images_table(files, previous_images, new_records)
    logger.info(
        "ingest: %d files listed, %d read (%d new images), %d unchanged, %d rejected; %d images in %.1f s",
        len(listing),
        len(todo),
        len(new_records),
        len(listing) - len(todo),
        len(rejects),
        len(images),
        time.perf_counter() - started,
    )
    _log_rejects(rejects)
    return files, images, rejects


def _log_rejects(rejects: pd.DataFrame, examples: int = 2) -> None:
    """One warning per reason, with a count, the detail and a path or two: a folder of iPhone pictures should say
    why they are missing, not only that some were rejected. Every reject is in the ``ingest_rejects`` table."""
    for reason, group in rejects.groupby("reason", sort=True):
        paths = ", ".join(group["path"].head(examples))
        more = f" and {len(group) - examples} more" if len(group) > examples else ""
        logger.warning("ingest: %d rejected as %s (%s): %s%s", len(group), reason, group["detail"].iloc[0], paths, more)


def _is_utf8(path: str) -> bool:
    """False for a path with bytes that are not UTF-8 (Python holds them as lone surrogates)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def ingest_partition(
    keys: list[tuple[str, int, int]], *, root: str, limits: Limits, workers: int
) -> list[tuple[str, ImageRecord] | RejectedImageError]:
    """Read one partition of files in threads (decoding releases the GIL); one outcome per key, in order.
    On a Dask worker the threads follow the worker's thread count; elsewhere ``workers`` (0 = one per core)."""
    threads = worker_threads() or workers or os.cpu_count() or 1
    folder = Path(root)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda key: _process(folder, key, limits), keys))


def _process(root: Path, key: tuple[str, int, int], limits: Limits) -> tuple[str, ImageRecord] | RejectedImageError:
    """Read and check one file. (A copy of an image already in the collection is decoded too: partitions do
    not carry the collection's ids, which for a large collection would cost more than the rare duplicate.)"""
    path, size, _ = key
    try:
        if size == NAME_NOT_UTF8:
            raise RejectedImageError(
                "name_not_utf8", "the file's name is not UTF-8 text; rename it (for example with convmv) and run again"
            )
        if size > limits.max_bytes:  # refuse before reading a single byte
            raise RejectedImageError("too_large", f"{size} bytes is over the {limits.max_bytes}-byte limit")
        data = _read_inside(root, path, limits.max_bytes)
        record = read_image(data, limits)
        return record.image_id, record
    except RejectedImageError as exc:
        return exc
    except OSError as exc:
        return RejectedImageError("unreadable", f"cannot read the file: {exc.strerror or exc}")


def _read_inside(root: Path, relative: str, max_bytes: int) -> bytes:
    """Read a file that must resolve inside ``root`` (no symlink escape), at most ``max_bytes + 1`` bytes."""
    base = root.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise RejectedImageError("outside_root", "the path resolves outside the collection folder")
    with open(target, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise RejectedImageError("too_large", f"over the {max_bytes}-byte limit")
    return data


def _images_table(files: pd.DataFrame, previous: pd.DataFrame, new: dict[str, ImageRecord]) -> pd.DataFrame:
    """One row per image id still referenced by a file; the first path (sorted) names it."""
    if files.empty:
        return _frame([], IMAGE_COLUMNS)
    first = files.groupby("image_id", sort=True).agg(path=("path", "min"), bytes=("size", "first"))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rows = []
    old = previous.set_index("image_id") if not previous.empty else None
    for image_id, (path, size) in first.iterrows():
        if image_id in new:
            row = asdict(new[image_id]) | {"ingested_at": now}
        else:
            row = old.loc[image_id].to_dict() | {"image_id": image_id}
        rows.append(row | {"path": path, "bytes": int(size)})
    return _frame(rows, IMAGE_COLUMNS)


def _by_key(table: pd.DataFrame) -> dict[tuple[str, int, int], dict[str, Any]]:
    return {(row["path"], int(row["size"]), int(row["mtime_ns"])): row for row in table.to_dict("records")}


def _ensure(table: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    """An empty table with the right columns when there is no previous run."""
    if table is None or table.empty:
        return pd.DataFrame(columns=columns)
    missing = set(columns) - set(table.columns)
    if missing:
        raise ValueError(f"previous ingest table lacks columns {sorted(missing)}; delete it to rebuild")
    return table[columns]


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("size", "mtime_ns", "width", "height", "bytes", "thumbnail_width", "thumbnail_height"):
        if column in frame:
            frame[column] = frame[column].astype("int64")
    return frame
