"""OCR on pictures drawn here: the words, where they are, in what order, and nothing read into noise."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

import models.text_reader as text_reader
from models.encoders.base import ModelUnavailableError
from models.text_reader import TextLine, TextReader, clean_text, is_noise, open_text_reader, reading_order
from tests.fixtures.images import photo

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")  # Debian fonts-dejavu-core

pytestmark = pytest.mark.skipif(not FONT.is_file(), reason="needs Debian fonts-dejavu-core")

Box = tuple[float, float, float, float]


def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT), size)


def draw_text(image: Image.Image, xy: tuple[int, int], text: str, size: int, fill) -> Box:
    """Draw ``text`` and return the box its ink covers."""
    draw = ImageDraw.Draw(image)
    draw.text(xy, text, font=font(size), fill=fill)
    return draw.textbbox(xy, text, font=font(size))


def words(lines: list[TextLine]) -> list[str]:
    return [word.lower() for line in lines for word in line.text.split()]


def assert_box_around(found: Box, drawn: Box, tolerance: float) -> None:
    """``found`` covers the drawn ink and is not more than ``tolerance`` pixels larger on any side."""
    fx1, fy1, fx2, fy2 = found
    dx1, dy1, dx2, dy2 = drawn
    assert dx1 - tolerance <= fx1 <= dx1 + tolerance / 4, (found, drawn)
    assert dy1 - tolerance <= fy1 <= dy1 + tolerance / 4, (found, drawn)
    assert dx2 - tolerance / 4 <= fx2 <= dx2 + tolerance, (found, drawn)
    assert dy2 - tolerance / 4 <= fy2 <= dy2 + tolerance, (found, drawn)


@pytest.fixture(scope="module")
def reader() -> TextReader:
    return TextReader()


def stop_sign() -> tuple[Image.Image, Box]:
    image = photo(480, 360, seed=5)
    centre, radius = (240, 180), 150
    octagon = [
        (centre[0] + radius * np.cos(np.pi / 8 + k * np.pi / 4), centre[1] + radius * np.sin(np.pi / 8 + k * np.pi / 4))
        for k in range(8)
    ]
    ImageDraw.Draw(image).polygon(octagon, fill=(200, 16, 32), outline="white", width=6)
    return image, draw_text(image, (115, 140), "STOP", 72, "white")


def test_reads_a_stop_sign_where_it_is_drawn(reader):
    image, drawn = stop_sign()
    lines = reader.read(image)
    assert words(lines) == ["stop"]
    assert lines[0].confidence >= reader.min_confidence
    assert_box_around(lines[0].box, drawn, tolerance=20)


def test_two_line_sign_in_reading_order(reader):
    image = Image.new("RGB", (520, 320), (250, 245, 230))
    top = draw_text(image, (40, 50), "OPEN DAILY", 56, (20, 40, 120))
    bottom = draw_text(image, (150, 180), "9 TO 5", 56, (20, 40, 120))
    lines = reader.read(image)
    assert [line.text.lower().split() for line in lines] == [["open", "daily"], ["9", "to", "5"]]
    assert_box_around(lines[0].box, top, tolerance=20)
    assert_box_around(lines[1].box, bottom, tolerance=20)


def test_words_side_by_side_read_left_to_right(reader):
    image = Image.new("RGB", (900, 300), "white")
    draw_text(image, (600, 40), "EXIT", 60, "black")  # drawn first, read second: it is on the right
    draw_text(image, (40, 52), "NORTH", 60, "black")  # a little lower, still on the same line
    draw_text(image, (300, 190), "LIBRARY", 60, "black")
    assert words(reader.read(image)) == ["north", "exit", "library"]


def test_small_text_in_a_large_photo_survives_the_downscale(reader):
    image = photo(3000, 2000, seed=11)
    ImageDraw.Draw(image).rectangle((1700, 1450, 2750, 1620), fill=(245, 245, 245))
    drawn = draw_text(image, (1740, 1490), "HARBOUR CAFE", 90, (10, 10, 10))
    started = time.perf_counter()
    lines = reader.read(image)
    elapsed = time.perf_counter() - started
    assert words(lines) == ["harbour", "cafe"]
    assert_box_around(lines[0].box, drawn, tolerance=40)  # original pixels, not the detector's
    assert elapsed < 5.0  # bounded by max_side, not by the 6-megapixel original


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (640, 480), (128, 128, 128)),
        photo(640, 480, seed=2),
        Image.fromarray(np.random.default_rng(4).integers(0, 256, (480, 640, 3), dtype=np.uint8)),
    ],
    ids=["blank", "gradient-noise", "white-noise"],
)
def test_no_text_reads_as_nothing(reader, image):
    assert reader.read(image) == []


def test_odd_modes_and_shapes_do_not_crash(reader):
    cut_out = Image.new("RGBA", (400, 160), (0, 0, 0, 0))  # white letters on transparency
    draw_text(cut_out, (30, 40), "GLIMPSE", 64, (255, 255, 255, 255))
    grey = Image.new("L", (400, 160), 235)
    draw_text(grey, (30, 40), "MUSEUM", 64, 20)
    palette = Image.new("RGB", (400, 160), "yellow")
    draw_text(palette, (30, 40), "TAXI", 64, "black")
    banner = Image.new("RGB", (6000, 90), "white")
    sale = draw_text(banner, (2600, 10), "SALE", 60, "black")
    assert words(reader.read(cut_out)) == ["glimpse"]
    assert words(reader.read(grey)) == ["museum"]
    assert words(reader.read(palette.convert("P", palette=Image.Palette.ADAPTIVE, colors=8))) == ["taxi"]
    (line,) = reader.read(banner)  # 66:1, shrunk to 2048 px wide and padded by rapidocr
    assert line.text == "SALE" and sale[0] - 40 <= line.box[0] <= sale[0] + 10 and line.box[2] >= sale[2] - 10
    for odd in (
        Image.new("RGB", (1, 1)),
        Image.new("1", (64, 64), 1),
        Image.new("I;16", (64, 64), 40000),
        Image.new("LA", (3, 300)),
        Image.new("RGB", (5000, 4), "white"),
    ):
        assert reader.read(odd) == []


def test_small_text_in_a_panorama_is_read(reader):
    """Small white letters on a 4:1 panorama: shrunk to 960 pixels long for the text detector (as before), they
    were not found (sizes 10-14 measured); seen with the short side a 4:3 photo gets, they are."""
    image = photo(2048, 512, seed=12)
    draw_text(image, (1510, 305), "BAKERY", 12, (255, 255, 255))
    assert words(reader.read(image)) == ["bakery"]


@pytest.mark.parametrize(
    ("size", "side"),
    [((640, 480), 960), ((1920, 1080), 960), ((2000, 1000), 960), ((1600, 400), 2048), ((1500, 600), 1800)],
)
def test_a_panorama_is_seen_with_the_short_side_of_a_photo(size, side):
    reader = TextReader(max_side=960)
    reader._engine = engine = fake_engine(["BIG"], [0.99])
    reader.read(Image.new("RGB", size))
    assert engine.seen[0][1] == text_reader.detection_side(*size, 960) == side


def test_read_many_keeps_one_result_per_picture(reader):
    image, _ = stop_sign()
    results = reader.read_many([image, Image.new("RGB", (200, 100), "white")])
    assert [words(lines) for lines in results] == [["stop"], []]


class FakeEngine:
    """Stands in for rapidocr so the filtering can be checked line by line; records what it was given."""

    def __init__(self, texts: list[str], scores: list[float]) -> None:
        self.boxes = np.array(
            [[[10, 10 + 40 * i], [200, 10 + 40 * i], [200, 40 + 40 * i], [10, 40 + 40 * i]] for i in range(len(texts))]
        ).astype(np.float32)
        self.texts, self.scores = tuple(texts), tuple(scores)
        self.text_det = SimpleNamespace(limit_side_len=None)  # the detector's size limit, set per picture
        self.seen: list[tuple[tuple[int, ...], int]] = []

    def __call__(self, pixels: np.ndarray) -> SimpleNamespace:
        self.seen.append((pixels.shape, self.text_det.limit_side_len))
        return SimpleNamespace(boxes=self.boxes, txts=self.texts, scores=self.scores)


def fake_engine(texts: list[str], scores: list[float]) -> FakeEngine:
    return FakeEngine(texts, scores)


def test_low_confidence_and_noise_lines_are_dropped():
    reader = TextReader(min_confidence=0.7)
    reader._engine = fake_engine(
        ["  Main\tStreet\x07 ", "blurred guess", "~~ -- ..", "x", "OK", "Café 24"],
        [0.95, 0.55, 0.99, 0.99, 0.9, 0.8],
    )
    lines = reader.read(Image.new("RGB", (960, 960)))  # max_side already: the engine sees it unscaled
    assert [(line.text, line.confidence) for line in lines] == [("Main Street", 0.95), ("OK", 0.9), ("Café 24", 0.8)]
    assert lines[0].box == (10.0, 10.0, 200.0, 40.0)


@pytest.mark.parametrize(
    ("size", "factor"),
    [((4096, 1024), 2.0), ((480, 240), 0.5), ((200, 100), 0.5)],
    ids=["halved-to-the-source-cap", "doubled-towards-max-side", "upscale-capped-at-2x"],
)
def test_boxes_map_back_to_original_pixels(size, factor):
    reader = TextReader(max_side=960)
    reader._engine = engine = fake_engine(["BIG"], [0.99])
    (line,) = reader.read(Image.new("RGB", size))
    assert [shape for shape, _ in engine.seen] == [(round(size[1] / factor), round(size[0] / factor), 3)]
    assert line.box == pytest.approx((10 * factor, 10 * factor, 200 * factor, 40 * factor))


def test_clean_text_and_noise():
    assert clean_text("\u200b OPEN\n\n  24\u00a0h \x00") == "OPEN 24 h"
    assert is_noise("") and is_noise("!") and is_noise("a") and is_noise("-- ..")
    assert not is_noise("A1") and not is_noise("9 5")


def test_reading_order_groups_rows_by_overlap():
    def line(text: str, x: float, y: float) -> TextLine:
        return TextLine(text, 1.0, (x, y, x + 50, y + 20))

    shuffled = [line("d", 10, 60), line("b", 100, 4), line("c", 200, 0), line("a", 10, 8)]
    assert [item.text for item in reading_order(shuffled)] == ["a", "b", "c", "d"]


def test_specs_and_params():
    reader = open_text_reader({"max_side": 640, "min_confidence": 0.5, "threads": 1})
    assert (reader.spec, reader.min_confidence, reader.threads) == ("rapidocr:PP-OCRv6-small-int8:640", 0.5, 1)
    fp32 = open_text_reader("rapidocr:PP-OCRv6-small:480")
    assert (fp32.max_side, fp32.quantized, fp32.spec) == (480, False, "rapidocr:PP-OCRv6-small:480")
    assert open_text_reader({"quantized": False}).spec == f"rapidocr:PP-OCRv6-small:{text_reader.DEFAULT_MAX_SIDE}"
    assert TextReader.from_spec("rapidocr").spec == f"rapidocr:PP-OCRv6-small-int8:{text_reader.DEFAULT_MAX_SIDE}"
    for bad in ("tesseract:5", "rapidocr:PP-OCRv4:640", "rapidocr:PP-OCRv6-small:640:x"):
        with pytest.raises(ValueError, match="unknown text reader spec"):
            open_text_reader(bad)
    with pytest.raises(ValueError, match="unknown text reader parameters"):
        open_text_reader({"max_sid": 640})
    assert TextReader.spec_for(max_side=800, min_confidence=0.6) == "rapidocr:PP-OCRv6-small-int8:800"
    assert TextReader.spec_for(max_side=800, quantized=False) == "rapidocr:PP-OCRv6-small:800"
    with pytest.raises(ValueError, match="max_side"):
        TextReader(max_side=8)
    with pytest.raises(ValueError, match="min_confidence"):
        TextReader.spec_for(min_confidence=1.5)


def test_missing_models_fail_fast_instead_of_downloading(monkeypatch):
    monkeypatch.setattr(text_reader, "DET_MODEL_FILE", "no-such-model.onnx")
    with pytest.raises(ModelUnavailableError, match=r"no-such-model\.onnx"):
        TextReader()


def test_an_unbuilt_int8_detector_names_the_command_that_builds_it(monkeypatch, tmp_path):
    import models.text_detector_int8 as int8

    monkeypatch.setattr(int8, "BUILT", tmp_path / "absent")
    with pytest.raises(ModelUnavailableError, match=r"python -m models\.text_detector_int8"):
        TextReader()
    assert TextReader(quantized=False).spec.startswith("rapidocr:PP-OCRv6-small:")  # fp32 needs no build


def test_the_int8_and_fp32_detectors_find_the_same_sign(reader):
    image, drawn = stop_sign()
    (fp32,) = TextReader(quantized=False).read(image)
    (int8,) = reader.read(image)
    assert fp32.text == int8.text == "STOP"
    assert_box_around(int8.box, drawn, tolerance=20)
    assert np.abs(np.subtract(int8.box, fp32.box)).max() <= 6


def test_a_download_attempt_fails_at_once_while_models_load(tmp_path):
    from rapidocr.utils.download_file import DownloadFile, DownloadFileInput

    request = DownloadFileInput(file_url="models/missing.onnx", save_path=tmp_path / "m.onnx", logger=None)
    with text_reader._no_downloads(), pytest.raises(ModelUnavailableError, match="nothing is downloaded"):
        DownloadFile.run(request)
    assert DownloadFile.__dict__["run"].__func__ is not text_reader._refuse_download  # the guard is lifted
    assert not (tmp_path / "m.onnx").exists()
