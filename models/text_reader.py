"""Text in pictures (OCR): PP-OCRv6 small detection + recognition through rapidocr and ONNX Runtime.

The ONNX models ship inside the ``rapidocr`` wheel, so reading text works offline. Cost is bounded:
- the detector sees the picture with its longest side at ``max_side`` pixels (detection dominates the time and
  grows with the area); smaller pictures are enlarged up to 2×, which on 640-px COCO photos found text in
  57 of 160 photos instead of 39;
- the detector is the int8 copy setup builds (``models/text_detector_int8.py``): 2.6× faster than the wheel's
  fp32 model, keeping 86 % of its words; ``quantized=False`` uses the fp32 model;
- a picture more than 2:1 either way (a panorama, a tall screenshot; the ratio ``models.detectors.tiles`` uses)
  is seen with its short side where a 4:3 photo's is (``max_side`` × 3/4), up to 2048 pixels long: at 960 its
  text shrank away (31 panoramas of three coco-mini photos: 40 of the 188 words read in each photo alone read
  again, 122 this way, at 307 ms against 70; ``bench/panoramas.py``);
- the recogniser only sees the detected lines, cropped from the picture at up to ``MAX_SOURCE_SIDE`` so small
  text survives the detector's downscale;
- the direction classifier is skipped (it cost time and read no more on the measured photos).
Lines under ``min_confidence`` (0.7: below it the measured reads were mostly garbage) and lone characters or
punctuation are dropped.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from models.detectors.tiles import TILE_ABOVE, TILE_ASPECT
from models.encoders.base import ModelUnavailableError
from models.preprocess import to_rgb

MODEL_NAME = "PP-OCRv6-small"
MODEL_NAME_INT8 = "PP-OCRv6-small-int8"
DET_MODEL_FILE = "PP-OCRv6_det_small.onnx"
REC_MODEL_FILE = "PP-OCRv6_rec_small.onnx"
DEFAULT_MAX_SIDE = 960
DEFAULT_MIN_CONFIDENCE = 0.7
DEFAULT_THREADS = 2
DET_MEAN = DET_STD = (0.5, 0.5, 0.5)  # the detector's input normalisation (rapidocr's Det config)
# Recognition crops come from the picture at up to this size: enough for small text in large photos,
# while bounding the memory a huge upload costs.
MAX_SOURCE_SIDE = 2048
MAX_UPSCALE = 2.0

_WHITESPACE = re.compile(r"\s+")
_LOAD_LOCK = threading.Lock()
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


@dataclass(frozen=True)
class TextLine:
    """One line of text read in a picture; ``box`` is (x1, y1, x2, y2) in the original picture's pixels."""

    text: str
    confidence: float
    box: tuple[float, float, float, float]


def clean_text(text: str) -> str:
    """Strip, collapse runs of whitespace into one space, drop control and format characters."""
    text = "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] != "C")
    return _WHITESPACE.sub(" ", text).strip()


def is_noise(text: str) -> bool:
    """A single character or punctuation alone is what the recogniser reads into texture, not text."""
    return len(text.replace(" ", "")) < 2 or not any(ch.isalnum() for ch in text)


def reading_order(lines: list[TextLine]) -> list[TextLine]:
    """Top to bottom, left to right: a line joins the row above when its middle lies within that row's band."""
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda item: (item.box[1], item.box[0])):
        middle = (line.box[1] + line.box[3]) / 2
        if rows and rows[-1][0].box[1] <= middle <= rows[-1][0].box[3]:
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda item: item.box[0])]


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode → 8-bit RGB; transparency is flattened onto white, or onto black when the visible pixels
    are light: white lettering on a transparent background would vanish on white."""
    if image.mode not in _ALPHA_MODES and "transparency" not in image.info:
        return to_rgb(image)  # palette, greyscale, bilevel, 16-bit, CMYK
    rgba = (image.convert("LA") if image.mode == "La" else image).convert("RGBA")
    alpha = rgba.getchannel("A")
    visible = np.asarray(rgba.convert("L"))[np.asarray(alpha) > 0]
    background = (0, 0, 0) if visible.size and visible.mean() >= 128 else (255, 255, 255)
    flat = Image.new("RGB", rgba.size, background)
    flat.paste(rgba.convert("RGB"), mask=alpha)
    return flat


def _refuse_download(cls: type, params: Any) -> None:
    raise ModelUnavailableError(
        f"rapidocr tried to download {getattr(params, 'file_url', params)!r}: the OCR models must come from "
        "the rapidocr wheel (reinstall rapidocr==3.10.0); nothing is downloaded here"
    )


@contextmanager
def _no_downloads():
    """rapidocr downloads models or character lists it cannot find; here that would hang offline, so fail."""
    from rapidocr.utils.download_file import DownloadFile

    with _LOAD_LOCK:
        original = DownloadFile.__dict__["run"]
        DownloadFile.run = classmethod(_refuse_download)
        try:
            yield
        finally:
            DownloadFile.run = original


def packaged_model_dir() -> Path:
    """The rapidocr wheel's model folder, checked to hold the detection and recognition models."""
    spec = find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError("rapidocr is not installed: pip install rapidocr==3.10.0")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    missing = [name for name in (DET_MODEL_FILE, REC_MODEL_FILE) if not (folder / name).is_file()]
    if missing:
        raise ModelUnavailableError(f"the rapidocr wheel lacks {', '.join(missing)} in {folder}: reinstall rapidocr")
    return folder


def int8_detector() -> Path:
    """The quantised detector setup builds, or a clear error naming the command that builds it."""
    from models.text_detector_int8 import BUILT

    model = BUILT / "model.onnx"
    if not model.is_file():
        raise ModelUnavailableError(
            f"the int8 text detector is not built ({model} is missing): run make setup, or "
            "python -m models.text_detector_int8 (text_reader.quantized: false uses the fp32 model instead)"
        )
    return model


def detection_side(width: int, height: int, max_side: int = DEFAULT_MAX_SIDE) -> int:
    """The longest side the text detector sees: ``max_side``, or for a panorama enough that its short side is
    where a 4:3 photo's is, at most ``MAX_SOURCE_SIDE``."""
    long, short = max(width, height), max(1, min(width, height))
    if long <= TILE_ABOVE * short:
        return max_side
    return max(max_side, min(MAX_SOURCE_SIDE, round(max_side / TILE_ASPECT * long / short)))


def prepare(image: Image.Image, max_side: int = DEFAULT_MAX_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """RGB picture → BGR array for the engine, and the (x, y) scale back to the original's pixels.

    Large pictures shrink to MAX_SOURCE_SIDE (the detector then sees max_side, the recogniser crops from
    this); pictures smaller than max_side grow towards it, at most MAX_UPSCALE times.
    """
    width, height = image.size
    image = _to_rgb(image)
    longest = max(width, height)
    factor = min(MAX_SOURCE_SIDE / longest, max(1.0, min(MAX_UPSCALE, max_side / longest)))
    if factor != 1.0:
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        resample = Image.Resampling.BILINEAR if factor < 1 else Image.Resampling.BICUBIC
        image = image.resize(size, resample, reducing_gap=2.0 if factor < 1 else None)
    scale = np.array([width / image.width, height / image.height])
    return np.ascontiguousarray(np.asarray(image)[:, :, ::-1]), scale


class TextReader:
    """Reads the lines of text in a picture, in reading order, with confidences and boxes."""

    def __init__(
        self,
        max_side: int = DEFAULT_MAX_SIDE,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        threads: int = DEFAULT_THREADS,
        quantized: bool = True,
    ) -> None:
        self.spec = self.spec_for(max_side, min_confidence, threads, quantized)
        self.max_side = int(max_side)
        self.min_confidence = float(min_confidence)
        self.threads = int(threads)
        self.quantized = bool(quantized)
        self._lock = threading.Lock()
        self._engine = self._build_engine()

    @staticmethod
    def spec_for(
        max_side: int = DEFAULT_MAX_SIDE,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        threads: int = DEFAULT_THREADS,
        quantized: bool = True,
    ) -> str:
        """The spec a reader with these settings would have, checked, without loading any model."""
        if max_side < 32:
            raise ValueError(f"max_side must be at least 32 pixels, not {max_side}")
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must lie in 0…1, not {min_confidence}")
        if threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        return f"rapidocr:{MODEL_NAME_INT8 if quantized else MODEL_NAME}:{int(max_side)}"

    def _build_engine(self) -> Any:
        folder = packaged_model_dir()
        detector = int8_detector() if self.quantized else folder / DET_MODEL_FILE
        from rapidocr import RapidOCR

        params = {
            "Global.log_level": "error",  # an empty picture is not worth a warning per image
            "Global.use_cls": False,
            "Global.text_score": self.min_confidence,
            "Global.use_preprocess_img": False,  # prepare() bounds the size itself
            "Global.model_root_dir": str(folder),
            "Det.model_path": str(detector),
            "Det.limit_type": "max",  # the default ("min", 736) enlarges every photo before detection
            "Det.limit_side_len": self.max_side,
            "Rec.model_path": str(folder / REC_MODEL_FILE),
            "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        engine = RapidOCR(params=params)
        with _no_downloads():
            # rapidocr loads its models on first use; load them now so a missing file fails here, once.
            engine._load_det_model()
            engine._load_rec_model()
        return engine

    @classmethod
    def from_spec(cls, spec: str, **options: Any) -> TextReader:
        """``rapidocr:PP-OCRv6-small-int8:<max_side>`` or ``rapidocr:PP-OCRv6-small:<max_side>`` (fp32); the
        model and max_side parts are optional."""
        parts = spec.split(":")
        known = (MODEL_NAME, MODEL_NAME_INT8)
        if parts[0] != "rapidocr" or len(parts) > 3 or (len(parts) > 1 and parts[1] not in known):
            raise ValueError(
                f"unknown text reader spec {spec!r}: use 'rapidocr:{MODEL_NAME_INT8}:<max_side>' "
                f"or 'rapidocr:{MODEL_NAME}:<max_side>'"
            )
        if len(parts) > 1:
            options.setdefault("quantized", parts[1] == MODEL_NAME_INT8)
        if len(parts) == 3:
            options.setdefault("max_side", int(parts[2]))
        return cls(**options)

    def read(self, image: Image.Image) -> list[TextLine]:
        """The lines of text in ``image``, in reading order; empty when there is none worth trusting."""
        if min(image.size) < 2:
            return []
        side = detection_side(*image.size, self.max_side)
        pixels, scale = prepare(image, side)
        with self._lock:  # the detector's size limit is read at each call: set and used together
            self._engine.text_det.limit_side_len = side
            result = self._engine(pixels)
        boxes, texts, scores = (getattr(result, name, None) for name in ("boxes", "txts", "scores"))
        if boxes is None or texts is None or scores is None or len(texts) == 0:
            return []
        lines = []
        for polygon, raw, score in zip(np.asarray(boxes, dtype=np.float64), texts, scores, strict=True):
            text = clean_text(str(raw))
            if float(score) < self.min_confidence or is_noise(text):
                continue
            x1, y1 = (polygon.min(axis=0) * scale).tolist()
            x2, y2 = (polygon.max(axis=0) * scale).tolist()
            box = (
                min(max(x1, 0.0), image.width),
                min(max(y1, 0.0), image.height),
                min(max(x2, 0.0), image.width),
                min(max(y2, 0.0), image.height),
            )
            lines.append(TextLine(text=text, confidence=round(float(score), 4), box=box))
        return reading_order(lines)

    def read_many(self, images: Iterable[Image.Image]) -> list[list[TextLine]]:
        """One list of lines per picture (pictures differ in size, so they run one at a time)."""
        return [self.read(image) for image in images]


def open_text_reader(spec_or_params: str | Mapping[str, Any] | None = None) -> TextReader:
    """Build a reader from a spec string or pipeline parameters (``max_side``, ``min_confidence``, ``threads``,
    ``quantized``)."""
    if spec_or_params is None:
        return TextReader()
    if isinstance(spec_or_params, str):
        return TextReader.from_spec(spec_or_params)
    params = dict(spec_or_params)
    unknown = set(params) - {"spec", "max_side", "min_confidence", "threads", "quantized"}
    if unknown:
        raise ValueError(f"unknown text reader parameters: {', '.join(sorted(unknown))}")
    spec = params.pop("spec", None)
    return TextReader.from_spec(spec, **params) if spec else TextReader(**params)
