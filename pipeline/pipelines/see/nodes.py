"""See: what the models find in each picture — objects and people with boxes, and text written in it.

Each image is decoded once for both the detector and the text reader. Incremental like describe: a row is
kept while its signature (detector spec, reader spec, thresholds) is unchanged, so a rerun only looks at new
images or at everything when a model changes. Partitions spread over Dask workers (pipeline/partitions.py).
"""

from __future__ import annotations

import hashlib
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

logger = logging.getLogger(__name__)

VERSION = "see-4"  # bump when how pictures are prepared or read changes: every image is looked at again
READ_SIDE = 2048  # longest side decoded: the detectors need 416-512, the text reader's line crops up to 2048
SEE_BATCH = 8  # pictures the detector takes at once; the next batch is decoded meanwhile
SIGHTING_COLUMNS = ["image_id", "signature", "objects", "text_lines", "text"]


def see_images(
    images: pd.DataFrame, previous: pd.DataFrame, params: dict[str, Any], ingest: dict[str, Any]
) -> pd.DataFrame:
    """One row per image: ``objects`` (JSON list of {label, score, box}), ``text_lines`` (JSON list of
    {text, confidence, box}) and ``text`` (the lines joined, for search), boxes in the original's pixels."""
    detector_spec, reader_spec = _specs(params)
    settings = {**_thresholds(params), **_reader_args(params.get("text_reader") or {})}
    signature = _signature(VERSION, detector_spec, reader_spec, json.dumps(settings, sort_keys=True))
    previous = previous if set(SIGHTING_COLUMNS) <= set(previous.columns) else pd.DataFrame(columns=SIGHTING_COLUMNS)
    done = previous[previous["image_id"].isin(images["image_id"]) & (previous["signature"] == signature)]
    todo = images.loc[~images["image_id"].isin(done["image_id"]), ["image_id", "path", "width", "height", "thumbnail"]]
    if todo.empty:
        logger.info("see: all %d images are up to date", len(done))
        return done[SIGHTING_COLUMNS].sort_values("image_id", ignore_index=True)
    started = time.perf_counter()
    parts = split(todo.reset_index(drop=True), int(params.get("partition_size") or 128))
    results = map_partitions(
        see_partition,
        parts,
        desc="see",
        sizes=[len(part) for part in parts],
        shared={"params": params, "signature": signature, "root": str(Path(ingest["root"]).resolve())},
    )
    rows = [row for part in results for row in part]
    elapsed = time.perf_counter() - started
    logger.info("see: %d images in %.1f s (%.1f img/s)", len(rows), elapsed, len(rows) / max(elapsed, 1e-9))
    fresh = pd.DataFrame(rows, columns=SIGHTING_COLUMNS)
    return pd.concat([done[SIGHTING_COLUMNS], fresh], ignore_index=True).sort_values("image_id", ignore_index=True)


def _specs(params: dict[str, Any]) -> tuple[str, str]:
    detector = params.get("detector") or {}
    reader = params.get("text_reader") or {}
    detector_spec = "none"
    if detector.get("enabled", True):
        from models.detectors import DEFAULT, model_card

        card = model_card(detector.get("name", DEFAULT), detector.get("folder"))
        detector_spec = card["spec"] + (f" said {json.dumps(card['said_scale'])}" if "said_scale" in card else "")
    reader_spec = "none"
    if reader.get("enabled", True):
        from models.text_reader import TextReader

        reader_spec = TextReader.spec_for(**_reader_args(reader))
    return detector_spec, reader_spec


def _thresholds(params: dict[str, Any]) -> dict[str, Any]:
    detector = params.get("detector") or {}
    return {"min_score": detector.get("min_score", 0.3), "nms_iou": detector.get("nms_iou", 0.45)}


def _reader_args(reader: dict[str, Any]) -> dict[str, Any]:
    return {k: reader[k] for k in ("max_side", "min_confidence", "quantized") if k in reader}


def _signature(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def open_detector(params: dict[str, Any], threads: int):
    """The object detector as ``params`` (the see parameters) configure it; ``None`` when disabled."""
    detector = params.get("detector") or {}
    if not detector.get("enabled", True):
        return None
    from models.detectors import DEFAULT, open_detector

    return open_detector(
        detector.get("name", DEFAULT),
        detector.get("folder"),
        threads=threads,
        min_score=_thresholds(params)["min_score"],
        nms_iou=_thresholds(params)["nms_iou"],
    )


def open_reader(params: dict[str, Any], threads: int):
    """The text reader as ``params`` configure it; ``None`` when disabled."""
    reader = params.get("text_reader") or {}
    if not reader.get("enabled", True):
        return None
    from models.text_reader import TextReader

    return TextReader(threads=threads, **_reader_args(reader))


def see_partition(todo: pd.DataFrame, *, params: dict[str, Any], signature: str, root: str) -> list[dict[str, Any]]:
    """Detect objects and read text in one partition of images; the models are loaded once per process."""
    from accessibility.describer import load_reduced

    threads = worker_threads() or int(params.get("threads") or 2)
    detector = per_process(("detector", signature), lambda: open_detector(params, threads))
    reader = per_process(("text_reader", signature), lambda: open_reader(params, threads))
    folder = Path(root)

    def read(row) -> Image.Image | None:
        try:  # the reader detects text at max_side but recognises lines from crops of up to 2048 pixels
            return load_reduced((folder / row.path).read_bytes(), side=READ_SIDE)
        except Exception as exc:  # noqa: BLE001 - a file gone or broken since ingest: nothing to see
            logger.warning("see: %s unreadable (%s); nothing detected", row.path, exc)
            return None

    rows: list[dict[str, Any]] = []
    records = list(todo.itertuples(index=False))
    batches = [records[start : start + SEE_BATCH] for start in range(0, len(records), SEE_BATCH)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        # Decoding (Pillow releases the GIL) of the next batch overlaps the models' work on this one.
        upcoming = [pool.submit(read, row) for row in batches[0]] if batches else []
        for number, batch in enumerate(batches):
            pictures = [future.result() for future in upcoming]
            following = batches[number + 1] if number + 1 < len(batches) else []
            upcoming = [pool.submit(read, row) for row in following]
            readable = [i for i, p in enumerate(pictures) if p is not None]
            found = (
                detector.detect(
                    [on_white(pictures[i]) for i in readable], whole=[cut_out(pictures[i]) for i in readable]
                )
                if detector and readable
                else []
            )
            objects = dict(zip(readable, found, strict=False))  # empty when there is no detector
            for i, (row, picture) in enumerate(zip(batch, pictures, strict=True)):
                scale = _scale(picture, row)
                lines = reader.read(picture) if reader and picture is not None else []
                rows.append(
                    {
                        "image_id": row.image_id,
                        "signature": signature,
                        "objects": json.dumps(
                            [
                                {"label": d.label, "score": d.score, "box": _scaled(d.box, scale)}
                                | ({} if d.raw is None else {"raw": d.raw})
                                for d in objects.get(i, [])
                            ]
                        ),
                        "text_lines": json.dumps(
                            [
                                {
                                    "text": line.text,
                                    "confidence": round(line.confidence, 4),
                                    "box": _scaled(line.box, scale),
                                }
                                for line in lines
                            ],
                            ensure_ascii=False,
                        ),
                        "text": " / ".join(line.text for line in lines),
                    }
                )
    return rows


def _has_alpha(picture: Image.Image) -> bool:
    return picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info


def cut_out(picture: Image.Image) -> bool:
    """Transparent around its subject as the describer tells a cut-out: one object, which the detector looks at
    whole even when it is long (a tile would see half a fire engine as a truck of its own)."""
    from accessibility.describer import CUT_OUT_SHARE

    if not _has_alpha(picture):
        return False
    alpha = np.asarray(picture.convert("RGBA").getchannel("A"))
    return bool(np.mean(alpha < 128) >= CUT_OUT_SHARE)


def on_white(picture: Image.Image) -> Image.Image:
    """A cut-out on white, as in a product photo: its transparent pixels' hidden colours (often black) made
    the detector see people in stamps of mushrooms and birds."""
    if not _has_alpha(picture):
        return picture.convert("RGB")
    rgba = picture.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
    return flat


def _scale(picture: Image.Image | None, row) -> tuple[float, float]:
    """From the reduced copy's pixels to the original's (ingest recorded the upright original size)."""
    if picture is None or not row.width or not row.height:
        return 1.0, 1.0
    return float(row.width) / picture.width, float(row.height) / picture.height


def _scaled(box, scale: tuple[float, float]) -> list[float]:
    sx, sy = scale
    x1, y1, x2, y2 = box
    return [round(x1 * sx, 1), round(y1 * sy, 1), round(x2 * sx, 1), round(y2 * sy, 1)]
