"""The held-out people figures of bench/description_quality.py, on alts written here, and its labels file."""

from __future__ import annotations

import json

import pytest

from bench.description_quality import held_out_people
from bench.held_out import PEOPLE as PEOPLE_LABELS
from models.evaluation import coco_root


def said(alt: str, people: int = 0) -> dict:
    return {"alt": alt, "said_objects": [{"name": "person", "count": people, "score": 0.9, "unsure": 0}]}


def test_people_named_counted_and_more_people_checked_against_the_labels():
    described = [
        said("A person, possibly more", 1),  # three visible: "more" right, count wrong
        said("Two people", 2),  # two visible: count right
        said("A dog"),  # people in the background, not named
        said("Possibly a person"),  # nobody there
        said("Three people and a dog, possibly more people", 3),  # exactly three visible: "more" wrong
    ]
    labels = [
        {"people": "notable", "visible": 3},
        {"people": "notable", "visible": 2},
        {"people": "background", "visible": 1},
        {"people": "none", "visible": 0},
        {"people": "notable", "visible": 3},
    ]
    figures = held_out_people(described, labels)
    assert (figures["named_notable"], figures["people_notable"]) == (3, 3)
    assert (figures["named_background"], figures["people_background"]) == (0, 1)
    assert (figures["named_none"], figures["people_none"]) == (1, 1)
    assert (figures["more_people_said"], figures["more_people_right"]) == (2, 1)
    assert (figures["people_count_exact"], figures["people_counted"]) == (2, 3)


def test_the_labels_cover_every_distractor_once():
    photos = json.loads(PEOPLE_LABELS.read_text())["photos"]
    assert all(p["people"] in {"notable", "background", "none"} for p in photos.values())
    assert all((p["visible"] > 0) == (p["people"] != "none") for p in photos.values())
    folder = coco_root() / "distractors"
    if not folder.is_dir():
        pytest.skip(f"no distractors at {folder}")
    assert sorted(photos) == sorted(p.name for p in folder.glob("*.jpg"))
