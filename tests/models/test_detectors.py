"""Both packaged detectors, converted at setup, on real photos; choosing one; detections as the see stage stores
them."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from models.detectors import NAMES, Detection, detections_from_json, model_card, open_detector, resolve_folder
from models.detectors.centernet import COCO_CLASSES
from models.evaluation import coco_root

COCO = coco_root()
LICENCE = {  # what each card must say about where its weights come from
    "nanodet": ("MIT", "RangiLyu/nanodet", "Apache-2.0", "does not name"),
    "centernet": ("MIT", "610265158/mobilenetv3_centernet", "no licence"),
}


def needs(name: str):
    built = (resolve_folder(name) / "model.onnx").exists()
    return pytest.mark.skipif(not built, reason=f"detector {name} not built (make setup)")


detectors = pytest.mark.parametrize("name", [pytest.param(n, marks=needs(n)) for n in NAMES])


@detectors
def test_the_card_records_source_licence_and_classes(name: str) -> None:
    card = json.loads((resolve_folder(name) / "card.json").read_text())
    assert card["spec"].startswith(f"{name}:coco80:") and card == model_card(name)
    assert all(part in card["licence"] for part in LICENCE[name])
    assert card["classes"] == list(COCO_CLASSES)


@detectors
@pytest.mark.skipif(not COCO.exists(), reason=f"no coco-mini at {COCO} (GLIMPSE_COCO)")
def test_the_packaged_model_finds_a_skier_and_his_dog(name: str) -> None:
    detector = open_detector(name, threads=2)
    photo = Image.open(COCO / "train2017/000000030752.jpg")  # "A man and his dog cross country skiing."
    blank = Image.new("RGB", (300, 200), (128, 128, 128))
    found, nothing = detector.detect([photo, blank])
    best = {d.label: d for d in reversed(found)}
    assert {"person", "dog"} <= set(best)
    person = best["person"]
    x1, y1, x2, y2 = person.box
    assert 0 <= x1 < x2 <= photo.width and 0 <= y1 < y2 <= photo.height
    assert person.area_share(photo.width, photo.height) > 0.01
    assert all(d.model_score >= 0.3 for d in found)  # the floor applies to the model's own scores
    assert nothing == []


@detectors
def test_odd_picture_modes_and_sizes_do_not_break_detection(name: str) -> None:
    detector = open_detector(name, threads=1)
    pictures = [Image.new("RGBA", (40, 30)), Image.new("L", (1, 1)), Image.new("P", (2000, 20)), Image.new("1", (7, 9))]
    assert [len(found) for found in detector.detect(pictures)] == [0, 0, 0, 0]


def test_an_unknown_or_missing_detector_says_what_to_do(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown detector 'yolo': choose one of nanodet, centernet"):
        open_detector("yolo")
    with pytest.raises(FileNotFoundError, match="make setup"):
        model_card("nanodet", tmp_path)


def test_stored_detections_keep_the_models_own_score_beside_the_said_one() -> None:
    text = json.dumps(
        [
            {"label": "dog", "score": 0.45, "box": [1, 2, 3, 4], "raw": 0.55},
            {"label": "cat", "score": 0.6, "box": [0, 0, 1, 1]},
        ]
    )
    dog, cat = detections_from_json(text)
    assert dog == Detection("dog", 0.45, (1, 2, 3, 4), raw=0.55) and dog.model_score == 0.55
    assert cat.raw is None and cat.model_score == 0.6  # stored before scores were rescaled
