"""The see node with the real detector and text reader: objects and text per image, boxes in the original's
pixels, incremental reruns, unreadable files."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest
from PIL import Image, ImageDraw, ImageFont

from models.detectors import resolve_folder
from models.evaluation import coco_root
from pipeline.pipelines.see.nodes import cut_out, see_images
from tests.fixtures.images import encode, photo, write

COCO = coco_root() / "train2017"
SKIER = COCO / "000000030752.jpg"  # "A man and his dog cross country skiing."
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
PARAMS = {
    "detector": {"enabled": True, "folder": "", "min_score": 0.3, "nms_iou": 0.45},
    "text_reader": {"enabled": True, "max_side": 960, "min_confidence": 0.7},
    "threads": 2,
    "partition_size": 2,
}
BUILT = resolve_folder()
pytestmark = pytest.mark.skipif(not (BUILT / "model.onnx").exists(), reason="detector not built (make setup)")


def sign(width: int = 1800, height: int = 1200) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A big picture with one word painted at a known place; returns it and the word's box."""
    image = photo(width, height, seed=3)
    draw = ImageDraw.Draw(image)
    draw.rectangle((1100, 700, 1700, 950), fill=(200, 20, 20))
    font = ImageFont.truetype(FONT, 150)
    draw.text((1150, 740), "STOP", font=font, fill=(255, 255, 255))
    return image, draw.textbbox((1150, 740), "STOP", font=font)


@pytest.fixture
def collection(tmp_path):
    root = tmp_path / "photos"
    picture, box = sign()
    rows = [("sign.png", picture, encode(picture, "PNG"))]
    if SKIER.exists():
        skier = Image.open(SKIER)
        rows.append(("skier.jpg", skier, SKIER.read_bytes()))
    rows.append(("broken.jpg", photo(), b"not a picture at all"))
    records = []
    for i, (path, image, data) in enumerate(rows):
        write(root / path, data)
        records.append(
            {
                "image_id": f"{i:032x}",
                "path": path,
                "width": image.width,
                "height": image.height,
                "thumbnail": encode(image.convert("RGB").resize((32, 32)), "JPEG"),
            }
        )
    return pd.DataFrame(records), {"root": str(root)}, box


def run(collection, previous=None, params=None):
    images, ingest, _ = collection
    empty = pd.DataFrame(columns=["image_id", "signature", "objects", "text_lines", "text"])
    return see_images(images, empty if previous is None else previous, params or PARAMS, ingest)


def by_path(collection, out: pd.DataFrame) -> dict[str, dict]:
    images = collection[0].set_index("image_id")["path"]
    return {images[row.image_id]: row._asdict() for row in out.itertuples(index=False)}


def test_objects_and_text_are_found_and_boxed_in_the_originals_pixels(collection, caplog):
    with caplog.at_level(logging.WARNING):
        out = run(collection)
    rows = by_path(collection, out)
    assert len(out) == len(collection[0]) and out["image_id"].is_unique
    lines = json.loads(rows["sign.png"]["text_lines"])
    assert [line["text"].upper() for line in lines] == ["STOP"] and rows["sign.png"]["text"].upper() == "STOP"
    x1, y1, x2, y2 = lines[0]["box"]
    wx1, wy1, wx2, wy2 = collection[2]
    assert abs(x1 - wx1) < 60 and abs(y1 - wy1) < 60 and abs(x2 - wx2) < 60 and abs(y2 - wy2) < 60
    if SKIER.exists():
        labels = [o["label"] for o in json.loads(rows["skier.jpg"]["objects"])]
        assert {"person", "dog"} <= set(labels)
        for o in json.loads(rows["skier.jpg"]["objects"]):
            assert 0 <= o["box"][0] < o["box"][2] <= 640
            # min_score applies to the model's own score; the stored score is on the describer's scale
            assert 0.3 <= o.get("raw", o["score"]) <= 1 and 0 < o["score"] <= 1
    assert rows["broken.jpg"]["objects"] == "[]" and rows["broken.jpg"]["text"] == ""
    assert "broken.jpg unreadable" in caplog.text


@pytest.mark.slow
def test_a_rerun_redoes_nothing_and_a_new_threshold_redoes_everything(collection, caplog):
    first = run(collection)
    with caplog.at_level(logging.INFO):
        again = run(collection, previous=first)
    assert f"all {len(first)} images are up to date" in caplog.text
    pd.testing.assert_frame_equal(again, first)
    stricter = run(collection, previous=first, params=PARAMS | {"detector": PARAMS["detector"] | {"min_score": 0.9}})
    assert (stricter["signature"] != first["signature"]).all()
    assert all(o["score"] >= 0.9 for row in stricter["objects"] for o in json.loads(row))


def test_models_can_be_switched_off(collection):
    params = PARAMS | {"detector": {"enabled": False}, "text_reader": {"enabled": False}}
    out = run(collection, params=params)
    assert (out["objects"] == "[]").all() and (out["text_lines"] == "[]").all()


def test_a_missing_detector_says_how_to_build_it(collection, tmp_path):
    params = PARAMS | {"detector": PARAMS["detector"] | {"folder": str(tmp_path / "nowhere")}}
    with pytest.raises(FileNotFoundError, match="make setup"):
        run(collection, params=params)


@pytest.mark.slow
def test_results_stay_with_their_pictures_across_batches(tmp_path, caplog):
    """Pictures are decoded a batch ahead of the models: the sign in the second batch, an unreadable file in
    the third, and plain photos elsewhere must come back in order, each with its own findings."""
    from pipeline.pipelines.see.nodes import SEE_BATCH

    root = tmp_path / "photos"
    picture, _ = sign()
    count = 2 * SEE_BATCH + 3
    sign_at, broken_at = SEE_BATCH + 2, 2 * SEE_BATCH + 1
    records = []
    for i in range(count):
        image = picture if i == sign_at else photo(320, 240, seed=i)
        data = b"broken" if i == broken_at else encode(image, "PNG")
        write(root / f"{i:02d}.png", data)
        records.append(
            {
                "image_id": f"{i:032x}",
                "path": f"{i:02d}.png",
                "width": image.width,
                "height": image.height,
                "thumbnail": encode(image.resize((32, 32)), "JPEG"),
            }
        )
    empty = pd.DataFrame(columns=["image_id", "signature", "objects", "text_lines", "text"])
    with caplog.at_level(logging.WARNING):
        out = see_images(pd.DataFrame(records), empty, PARAMS | {"partition_size": 64}, {"root": str(root)})
    assert list(out["image_id"]) == [r["image_id"] for r in records]
    read = [text.upper() for text in out["text"]]
    assert read[sign_at] == "STOP"
    assert [i for i, text in enumerate(read) if text] == [sign_at]
    assert f"{broken_at:02d}.png unreadable" in caplog.text


def test_a_cut_out_is_told_by_its_transparency_not_its_mode() -> None:
    """A cut-out is looked at whole, however long: the see node passes ``cut_out`` to the detector."""
    stamp = Image.new("RGBA", (900, 300), (0, 0, 0, 0))
    ImageDraw.Draw(stamp).rectangle((50, 100, 850, 200), fill=(200, 30, 30, 255))  # a long red fire engine
    opaque = Image.new("RGBA", (900, 300), (90, 90, 90, 255))  # a panorama saved with an alpha channel
    keyed = Image.new("P", (900, 300), 0)
    keyed.info["transparency"] = 0  # a GIF-style transparent colour, every pixel of it
    assert cut_out(stamp) and cut_out(keyed)
    assert not cut_out(opaque) and not cut_out(opaque.convert("RGB")) and not cut_out(Image.new("L", (9, 3)))
