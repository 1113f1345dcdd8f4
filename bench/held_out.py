"""coco-mini's 80 distractors as a held-out captioned set.

The distractors are COCO val2017 photos: the detector was trained on train2017, which coco-mini's captioned
photos are, and no weight of the served search was fitted on them. Their captions
(bench/labels/coco_mini_distractor_captions.json, five a photo in COCO's style) were written for Glimpse by
looking at each photo, without any output of the system in view; their people are labelled by eye in
coco_mini_distractor_people.json. In the held-out set coco-mini's 80 captioned photos become the distractors, so
the gallery is the same 160 photos.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from models.evaluation import CaptionedSet

LABELS = Path(__file__).resolve().parent / "labels"
CAPTIONS = LABELS / "coco_mini_distractor_captions.json"
PEOPLE = LABELS / "coco_mini_distractor_people.json"
SIGN_WORDS = LABELS / "sign_words.json"


def _asked(by_file: dict[str, list[str]], files: list[str]) -> tuple[list[str], list[int]]:
    """Every text asked for a photo, and the position in ``files`` of the photo each asks for."""
    captions, owners = [], []
    for i, name in enumerate(files):
        captions += by_file[name]
        owners += [i] * len(by_file[name])
    return captions, owners


def held_out_set(coco: Path) -> CaptionedSet:
    """The distractors with their captions, coco-mini's captioned photos as the gallery's other half."""
    by_file: dict[str, list[str]] = json.loads(CAPTIONS.read_text())["captions"]
    files = sorted(by_file)
    captions, owners = _asked(by_file, files)
    return CaptionedSet(
        image_paths=[coco / "distractors" / name for name in files],
        captions=captions,
        caption_image=owners,
        distractor_paths=sorted((coco / "train2017").glob("*.jpg")),
    )


def sign_words_set(coco: Path) -> CaptionedSet:
    """Photos with text in them, each asked for by the words a person would type to find it (SIGN_WORDS; some
    of them misread by the text reader), every other coco-mini photo as a distractor."""
    by_file: dict[str, list[str]] = json.loads(SIGN_WORDS.read_text())["queries"]
    files = sorted(by_file, key=lambda name: Path(name).name)  # the order the written layout reads back in
    captions, owners = _asked(by_file, files)
    signs = {coco / name for name in files}
    others = sorted(p for sub in ("train2017", "distractors") for p in (coco / sub).glob("*.jpg") if p not in signs)
    return CaptionedSet(
        image_paths=[coco / name for name in files], captions=captions, caption_image=owners, distractor_paths=others
    )


def write_coco_layout(coco: Path, folder: Path, captioned: CaptionedSet | None = None) -> Path:
    """A captioned set (the held-out one unless given) in the coco-mini layout under ``folder`` (for
    bench/api_recall.py). The photos are copied, not linked: ingestion follows no symlink out of its root."""
    held_out = captioned or held_out_set(coco)
    for sub, paths in (("train2017", held_out.image_paths), ("distractors", held_out.distractor_paths)):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for path in paths:
            shutil.copyfile(path, folder / sub / path.name)
    images = [{"id": int(path.stem), "file_name": path.name, "license": 0} for path in held_out.image_paths]
    notes = [
        {"image_id": images[owner]["id"], "id": n, "caption": caption}
        for n, (caption, owner) in enumerate(zip(held_out.captions, held_out.caption_image, strict=True))
    ]
    data = {"info": {"description": "Glimpse held-out captions"}, "images": images, "annotations": notes}
    (folder / "captions_train2017.json").write_text(json.dumps(data | {"licenses": []}))
    return folder
