"""Describe: alt text, a long description and the evidence behind them for every ingested image.

Incremental: a row is kept while its signature (describer version, model version, captioner, source text)
is unchanged, so a rerun only describes new images or what a new model or captioner changes.
Images to describe are cut into partitions that run on every Dask worker when there is a cluster
(pipeline/partitions.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from pipeline.partitions import map_partitions, per_process, split, worker_threads
from pipeline.source_notes import read_source_notes

logger = logging.getLogger(__name__)

DESCRIPTION_COLUMNS = ["image_id", "signature", "alt", "long", "evidence"]


def describe_images(
    images: pd.DataFrame,
    embeddings: pd.DataFrame,
    sightings: pd.DataFrame,
    previous: pd.DataFrame,
    bundle: dict[str, Any],
    params: dict[str, Any],
    ingest: dict[str, Any],
) -> pd.DataFrame:
    """One description per image in ``images``; images without labels (not embedded) are described from
    their pixels and metadata alone, so none is left without alt text."""
    from accessibility import describer

    notes = read_source_notes(params["source_manifest"])
    labels = _labels_by_image(embeddings, bundle)
    seen = _sightings_by_image(sightings)
    spec = str(params.get("captioner") or "none").strip()
    previous = previous if set(DESCRIPTION_COLUMNS) <= set(previous.columns) else pd.DataFrame()

    def signatures(captioner_name: str) -> pd.Series:
        return pd.Series(
            [
                _signature(
                    describer.VERSION,
                    bundle["version"] if image_id in labels else "-",
                    captioner_name,
                    notes.get(path, {}).get("description", ""),
                    seen.get(image_id, {}).get("signature", "-"),
                )
                for image_id, path in zip(images["image_id"], images["path"], strict=True)
            ],
            index=images.index,
        )

    wanted = signatures(spec)
    done = _still_valid(previous, images["image_id"], wanted)
    todo = images[~images["image_id"].isin(done["image_id"])]
    if todo.empty:
        logger.info("describe: all %d descriptions are up to date", len(done))
        return done.reset_index(drop=True)
    captioner = per_process(("captioner", spec), lambda: _open_captioner(spec))  # the partitions reuse it
    if captioner is None and spec.lower() != "none":
        wanted = signatures("none")
        done = _still_valid(previous, images["image_id"], wanted)
        todo = images[~images["image_id"].isin(done["image_id"])]
    columns = ["image_id", "path", "width", "height", "exif_datetime", "camera", "thumbnail"]
    todo = todo[columns].assign(signature=wanted[todo.index].to_numpy()).reset_index(drop=True)
    parts = [  # each partition carries its own labels and source notes, not the whole collection's
        (
            part,
            {i: labels[i] for i in part["image_id"] if i in labels},
            {p: notes[p] for p in part["path"] if p in notes},
            {i: seen[i] for i in part["image_id"] if i in seen},
        )
        for part in split(todo, int(params.get("partition_size") or 256))
    ]
    started = time.perf_counter()
    results = map_partitions(
        describe_partition,
        parts,
        desc="describe",
        sizes=[len(part) for part, *_ in parts],
        shared={
            "captioner_spec": spec if captioner is not None else "none",
            "batch_size": int(params.get("batch_size", 32)),
            "workers": int(params.get("workers") or 2),
            "root": str(Path(ingest["root"]).resolve()),
        },
    )
    rows = [row for part in results for row in part]
    elapsed = time.perf_counter() - started
    logger.info("describe: %d images in %.1f s (%.0f img/s)", len(rows), elapsed, len(rows) / max(elapsed, 1e-9))
    fresh = pd.DataFrame(rows, columns=DESCRIPTION_COLUMNS)
    return pd.concat([done, fresh], ignore_index=True).sort_values("image_id", ignore_index=True)


def _signature(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _still_valid(previous: pd.DataFrame, ids: pd.Series, wanted: pd.Series) -> pd.DataFrame:
    if previous.empty:
        return pd.DataFrame(columns=DESCRIPTION_COLUMNS)
    expected = dict(zip(ids, wanted, strict=True))
    keep = [expected.get(i) == s for i, s in zip(previous["image_id"], previous["signature"], strict=True)]
    return previous.loc[keep, DESCRIPTION_COLUMNS]


def _labels_by_image(embeddings: pd.DataFrame, bundle: dict[str, Any]) -> dict[str, list]:
    """Top classes of each image under the current bundle, as describer labels."""
    from accessibility.labels import Label
    from models.bundle import BundleManifest

    folder = Path(bundle["folder"])
    ids, names = BundleManifest.load(folder).classes(folder)
    if not ids or embeddings.empty or "classes" not in embeddings.columns:
        return {}
    current = embeddings[embeddings["model_version"] == bundle["version"]]
    return {
        image_id: [Label(ids[c], names[c], float(p)) for c, p in zip(classes, probabilities, strict=True)]
        for image_id, classes, probabilities in zip(
            current["image_id"], current["classes"], current["class_probabilities"], strict=True
        )
    }


def _sightings_by_image(sightings: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """What the see stage found per image: its objects and text lines (JSON) and a signature of their content,
    so a description is redone when what was seen changes."""
    if sightings is None or sightings.empty:
        return {}
    return {
        image_id: {"objects": objects, "text_lines": lines, "signature": _signature(objects, lines)}
        for image_id, objects, lines in zip(
            sightings["image_id"], sightings["objects"], sightings["text_lines"], strict=True
        )
    }


def _open_captioner(spec: str):
    """The configured captioner, or ``None`` — said once, with the reason, when it cannot be loaded."""
    if spec.lower() in ("", "none"):
        return None
    from accessibility.captioner import CaptionerUnavailableError, load_captioner

    try:
        return load_captioner(spec)
    except CaptionerUnavailableError as exc:
        logger.warning("describe: captioner %s unavailable, using composed descriptions only: %s", spec, exc)
        return None


def describe_partition(
    partition: tuple[pd.DataFrame, dict[str, list], dict[str, dict[str, str]], dict[str, dict[str, Any]]],
    *,
    captioner_spec: str,
    batch_size: int,
    workers: int,
    root: str,
) -> list[dict[str, Any]]:
    """Describe one partition (images with their signatures, their labels, source notes and what the see stage
    found); the describer, WordNet and the captioner are loaded once per process."""
    from accessibility.describer import Caption, Describer, Facts, TextRead, load_reduced
    from accessibility.wordnet import default_wordnet
    from models.detectors import detections_from_json

    todo, labels, notes, seen = partition
    describer = per_process(("describer",), lambda: Describer(default_wordnet()))
    captioner = per_process(("captioner", captioner_spec), lambda: _open_captioner(captioner_spec))
    folder = Path(root)

    def read(row) -> Image.Image | None:
        try:
            return load_reduced((folder / row.path).read_bytes())
        except Exception as exc:  # noqa: BLE001 - a file gone or broken since ingest: fall back to the thumbnail
            logger.warning("describe: %s unreadable (%s); using its thumbnail", row.path, exc)
        try:
            return Image.open(io.BytesIO(row.thumbnail)) if row.thumbnail is not None else None
        except Exception:  # noqa: BLE001
            return None

    rows: list[dict[str, Any]] = []
    records = list(todo.itertuples(index=False))
    with ThreadPoolExecutor(max_workers=worker_threads() or workers) as pool:
        for start in range(0, len(records), batch_size):
            batch = records[start : start + batch_size]
            pictures = list(pool.map(read, batch))
            captions = _captions(captioner, pictures)
            for row, picture, caption in zip(batch, pictures, captions, strict=True):
                facts = Facts(
                    width=int(row.width),
                    height=int(row.height),
                    exif_datetime=row.exif_datetime if isinstance(row.exif_datetime, str) else None,
                    camera=row.camera if isinstance(row.camera, str) else None,
                    source_description=notes.get(row.path, {}).get("description") or None,
                )
                found = seen.get(row.image_id, {})
                objects = detections_from_json(found.get("objects"))
                text = [
                    TextRead(t["text"], float(t["confidence"])) for t in json.loads(found.get("text_lines") or "[]")
                ]
                said = describer.describe(
                    picture,
                    labels.get(row.image_id, []),
                    facts,
                    Caption(caption, captioner.name) if caption else None,
                    objects=objects,
                    text=text,
                )
                rows.append(
                    {
                        "image_id": row.image_id,
                        "signature": row.signature,
                        "alt": said.alt,
                        "long": said.long,
                        "evidence": json.dumps(said.evidence, ensure_ascii=False, default=_plain),
                    }
                )
    return rows


def _captions(captioner, pictures: list[Image.Image | None]) -> list[str]:
    if captioner is None:
        return [""] * len(pictures)
    readable = [i for i, p in enumerate(pictures) if p is not None]
    try:
        texts = captioner.caption([pictures[i] for i in readable]) if readable else []
    except Exception as exc:  # noqa: BLE001 - a captioner failure costs the caption, not the description
        logger.warning("describe: captioner %s failed on a batch (%s); composed descriptions only", captioner.name, exc)
        return [""] * len(pictures)
    out = [""] * len(pictures)
    for i, text in zip(readable, texts, strict=True):
        out[i] = text
    return out


def _plain(value: Any) -> Any:
    """JSON for numpy scalars that slip into the evidence."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
