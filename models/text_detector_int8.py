"""Build the int8 text detector at setup, offline: PP-OCRv6 small detection from the rapidocr wheel, quantised.

Text detection is nearly all of OCR's cost (0.5–1 s a photo at 960 px on 2 cores in fp32). Static int8
quantisation (ONNX Runtime, QDQ, weights per channel) made OCR 2.6× faster here (317 against 820 ms a coco-mini
photo, on a CPU with int8 dot products: AVX512-VNNI) and kept 86 % of the words the fp32 model read in 160
coco-mini and 60 demo photos (text found in 54 coco-mini photos instead of 57).
Activation ranges are calibrated on the photos the scikit-image wheel ships (a dependency already; none is
in coco-mini) and on pictures drawn here (colour fields, shapes, signs with words), prepared as the reader
prepares a photo, so the build needs nothing but installed packages and gives the same bytes every time::

    models/onnx/text-reader/PP-OCRv6-small-int8/model.onnx   the quantised detector
    models/onnx/text-reader/PP-OCRv6-small-int8/card.json    spec, source checksum, calibration recipe

CLI: ``python -m models.text_detector_int8 --out models/onnx/text-reader``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from models.atomic import staged_folder

NAME = "PP-OCRv6-small-int8"
BUILT = Path(__file__).resolve().parent / "onnx" / "text-reader" / NAME
DRAWN_PICTURES = 16
CALIBRATION_SEED = 0
PACKAGED_PHOTOS = (  # scikit-image/data: photos of things, scenes, a page and text on a sign
    "astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "color.png",
    "grass.png", "gravel.png", "hubble_deep_field.jpg", "logo.png", "motorcycle_left.png", "page.png",
    "retina.jpg", "rocket.jpg", "text.png",
)  # fmt: skip
WORDS = (
    "STOP", "OPEN", "EXIT", "CAFE", "HOTEL", "Main Street", "No Parking", "SALE 50%", "Welcome", "Bakery",
    "POLICE", "Bus 42", "Platform 3", "Fresh Bread", "Museum", "TAXI", "One Way", "Pharmacy", "12:45",
    "www.example.org", "Birthday", "Coffee & Tea", "Gate B12", "KEEP LEFT", "Tel. 555 0142", "Ice Cream",
)  # fmt: skip


class TextDetectorBuildError(RuntimeError):
    """The packaged detector is missing or could not be quantised; the message says what to do."""


def calibration_picture(rng: np.random.Generator) -> Image.Image:
    """A photo-like picture: a smooth colour field, noise, a few shapes, and (three times in four) words,
    some on signs, some tilted, from 12 to 90 px high."""
    width, height = (960, 720) if rng.random() < 0.6 else (720, 960)
    if rng.random() < 0.3:
        width, height = int(width * 0.6), int(height * 0.6)
    field = rng.integers(0, 256, size=(int(rng.integers(2, 7)), int(rng.integers(2, 7)), 3), dtype=np.uint8)
    picture = Image.fromarray(field).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(picture)
    for _ in range(int(rng.integers(2, 9))):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(20, width // 2)), int(rng.integers(20, height // 2))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x, y, x + w, y + h), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    picture = picture.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 3.0))))
    if rng.random() < 0.75:
        for _ in range(int(rng.integers(1, 6))):
            picture = _with_words(picture, rng)
    noise = rng.normal(0, rng.uniform(2, 12), size=(height, width, 3))
    return Image.fromarray(np.clip(np.asarray(picture, dtype=np.float64) + noise, 0, 255).astype(np.uint8))


def _with_words(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
    text = str(rng.choice(WORDS))
    font = ImageFont.load_default(size=int(rng.integers(12, 91)))
    left, top, right, bottom = font.getbbox(text)
    pad = int(rng.integers(4, 20))
    layer = Image.new("RGBA", (right - left + 2 * pad, bottom - top + 2 * pad), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    ink = tuple(int(v) for v in rng.integers(0, 256, 3))
    if rng.random() < 0.5:  # a sign: the words on a plate of a contrasting colour
        draw.rectangle((0, 0, *layer.size), fill=(*(255 - v for v in ink), 255))
    draw.text((pad - left, pad - top), text, font=font, fill=(*ink, 255))
    if rng.random() < 0.4:
        layer = layer.rotate(float(rng.uniform(-15, 15)), expand=True, resample=Image.Resampling.BICUBIC)
    x = int(rng.integers(0, max(1, picture.width - layer.width)))
    y = int(rng.integers(0, max(1, picture.height - layer.height)))
    picture.paste(layer, (x, y), layer)
    return picture


def packaged_photos() -> list[Image.Image]:
    """The calibration photos from the scikit-image wheel; an error when it ships none of them."""
    from importlib.util import find_spec

    spec = find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise TextDetectorBuildError("scikit-image is not installed: pip install -c constraints.txt scikit-image")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    photos = []
    for name in PACKAGED_PHOTOS:
        if (folder / name).is_file():
            with Image.open(folder / name) as photo:
                photo.load()
                photos.append(photo)
    if not photos:
        raise TextDetectorBuildError(f"no calibration photo found in {folder}: reinstall scikit-image")
    return photos


def calibration_inputs(drawn: int = DRAWN_PICTURES, seed: int = CALIBRATION_SEED) -> list[np.ndarray]:
    """The detector's inputs for the packaged photos and ``drawn`` drawn pictures, prepared as the reader
    prepares a photo (models/text_reader.py ``prepare``, then the engine's resize and normalisation)."""
    from rapidocr.ch_ppocr_det.utils import DetPreProcess

    from models.text_reader import DEFAULT_MAX_SIDE, DET_MEAN, DET_STD, prepare

    rng = np.random.default_rng(seed)
    pictures = packaged_photos() + [calibration_picture(rng) for _ in range(drawn)]
    engine_input = DetPreProcess(DEFAULT_MAX_SIDE, "max", DET_MEAN, DET_STD)
    return [engine_input(prepare(picture, DEFAULT_MAX_SIDE)[0]) for picture in pictures]


def build(out_root: Path, source: Path | None = None) -> Path:
    """Quantise ``source`` (default: the rapidocr wheel's PP-OCRv6 small detector) into ``out_root/NAME``."""
    import onnx
    import onnxruntime as ort
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from models.text_reader import DET_MODEL_FILE, packaged_model_dir

    started = time.perf_counter()
    source = Path(source) if source else packaged_model_dir() / DET_MODEL_FILE
    if not source.is_file():
        raise TextDetectorBuildError(f"{source} is missing: reinstall rapidocr==3.10.0")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    input_name = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Pictures(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(calibration_inputs())

        def get_next(self) -> dict[str, np.ndarray] | None:
            item = next(self.items, None)
            return None if item is None else {input_name: item}

    target = Path(out_root) / NAME
    with staged_folder(target) as staging:
        # Per-channel weights need DequantizeLinear's axis, which opset 13 added; the wheel's model is opset 11.
        onnx.save(version_converter.convert_version(onnx.load(str(source)), 13), staging / "opset13.onnx")
        quant_pre_process(str(staging / "opset13.onnx"), str(staging / "prepared.onnx"), skip_symbolic_shape=True)
        quantize_static(
            str(staging / "prepared.onnx"),
            str(staging / "model.onnx"),
            Pictures(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        for name in ("opset13.onnx", "prepared.onnx"):
            (staging / name).unlink()
        card = {
            "spec": NAME,
            "source": f"rapidocr 3.10.0 wheel: {source.name}",
            "sha256": {source.name: digest},
            "quantisation": "onnxruntime quantize_static, QDQ, weights int8 per channel, activations uint8, MinMax",
            "calibration": f"scikit-image photos {', '.join(PACKAGED_PHOTOS)}; {DRAWN_PICTURES} pictures drawn "
            f"by calibration_picture(), seed {CALIBRATION_SEED}",
        }
        (staging / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"text detector {NAME} → {target} in {time.perf_counter() - started:.1f} s")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=BUILT.parent)
    args = parser.parse_args()
    try:
        build(args.out)
    except TextDetectorBuildError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
