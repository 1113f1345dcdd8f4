"""The held-out set of bench/held_out.py: its captions file, and the coco-mini layout written from it."""

from __future__ import annotations

import json

import pytest

from bench.held_out import CAPTIONS, SIGN_WORDS, held_out_set, sign_words_set, write_coco_layout
from models.evaluation import coco_root, load_coco_captions


def test_every_photo_has_five_distinct_captions_in_plain_sentences():
    captions = json.loads(CAPTIONS.read_text())["captions"]
    assert len(captions) == 80
    for texts in captions.values():
        assert len(texts) == 5 and len(set(texts)) == 5
        assert all(4 <= len(text.split()) <= 25 and text[0].isupper() for text in texts)


@pytest.fixture
def coco():
    folder = coco_root()
    if not (folder / "distractors").is_dir():
        pytest.skip(f"no coco-mini at {folder}")
    return folder


def test_the_distractors_are_the_captioned_photos_and_the_captioned_ones_the_gallery_rest(coco):
    held_out = held_out_set(coco)
    assert [p.name for p in held_out.image_paths] == sorted(p.name for p in (coco / "distractors").glob("*.jpg"))
    assert len(held_out.captions) == 400 and sorted(set(held_out.caption_image)) == list(range(80))
    assert [p.name for p in held_out.distractor_paths] == sorted(p.name for p in (coco / "train2017").glob("*.jpg"))
    first = json.loads(CAPTIONS.read_text())["captions"][held_out.image_paths[0].name]
    assert held_out.captions[:5] == first and held_out.caption_image[:5] == [0] * 5


def test_the_written_layout_reads_back_as_the_same_set(coco, tmp_path):
    folder = write_coco_layout(coco, tmp_path / "held-out")
    read = load_coco_captions(folder)
    held_out = held_out_set(coco)
    assert read.captions == held_out.captions and read.caption_image == held_out.caption_image
    assert [p.name for p in read.image_paths] == [p.name for p in held_out.image_paths]
    assert [p.name for p in read.distractor_paths] == [p.name for p in held_out.distractor_paths]
    assert not any(p.is_symlink() for p in folder.rglob("*.jpg"))  # ingestion follows no links out of its root
    assert (folder / "train2017" / read.image_paths[0].name).read_bytes() == held_out.image_paths[0].read_bytes()


def test_the_sign_words_ask_for_photos_with_text_among_all_the_others(coco, tmp_path):
    signs = sign_words_set(coco)
    labels = json.loads(SIGN_WORDS.read_text())
    assert sorted(str(p.relative_to(coco)) for p in signs.image_paths) == sorted(labels["queries"])
    assert set(labels["misread"]) <= set(signs.captions)  # every misread word is asked for
    assert len(signs.image_paths) + len(signs.distractor_paths) == 160
    assert not set(signs.image_paths) & set(signs.distractor_paths)
    read = load_coco_captions(write_coco_layout(coco, tmp_path / "signs", signs))
    assert read.captions == signs.captions and read.caption_image == signs.caption_image
    assert len(read.distractor_paths) == 160 - len(signs.image_paths)
