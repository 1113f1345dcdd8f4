"""bench/api_recall.py end to end on three pictures the test draws, in the coco-mini layout, so the tool the
held-out check uses cannot rot: the collection is built, served and asked through the API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from bench.api_recall import photo_interval

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def draw_coco_folder(folder: Path) -> None:
    pictures = {
        "a red square on white": ("white", "red"),
        "a blue circle on black": ("black", "blue"),
        "a yellow square on green": ("green", "yellow"),
    }
    (folder / "train2017").mkdir(parents=True)
    images, notes = [], []
    for n, (caption, (ground, shape)) in enumerate(pictures.items(), start=1):
        picture = Image.new("RGB", (320, 240), ground)
        box = (100, 60, 220, 180)
        draw = ImageDraw.Draw(picture)
        if "circle" in caption:
            draw.ellipse(box, fill=shape)
        else:
            draw.rectangle(box, fill=shape)
        name = f"{n:012d}.jpg"
        picture.save(folder / "train2017" / name, quality=90)
        images.append({"id": n, "file_name": name})
        notes.append({"id": 10 + n, "image_id": n, "caption": caption})
    (folder / "captions_train2017.json").write_text(json.dumps({"images": images, "annotations": notes}))


def test_every_caption_is_asked_of_every_spec_served_side_by_side_and_finds_its_picture(tmp_path):
    """Two specs (the same one twice: only the default bundle is exported here) are built in folders of their own,
    served together and asked every caption; each prints its recall and what its answers cost."""
    coco = tmp_path / "coco"
    draw_coco_folder(coco)
    spec = ["--spec", "conse:lite1:T20"]
    done = subprocess.run(
        [sys.executable, "bench/api_recall.py", "--coco", str(coco), "--workdir", str(tmp_path / "project"), *spec * 2],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "coco (3 captions, 3 photos in the gallery)" in done.stdout
    assert sorted(p.name for p in (tmp_path / "project").iterdir()) == ["0-conse-lite1-T20", "1-conse-lite1-T20"]
    rows = [line.strip("| ").split(" | ") for line in done.stdout.splitlines() if line.startswith("| conse:")]
    assert len(rows) == 2
    assert rows[0][:4] == rows[1][:4]  # the same model over the same pictures answers alike
    name, r1, r5, r10, encode, server, http, _built = rows[0]
    assert name == "conse:lite1:T20"
    assert float(r10) == 1.0 and float(r5) == 1.0 and 0.0 <= float(r1) <= 1.0  # each is in its caption's top five
    encode_p50, server_p50, http_p50 = (float(cost.split(" / ")[0]) for cost in (encode, server, http))
    assert 0 < encode_p50 <= server_p50 <= http_p50  # the server's stages are part of what the client waits for
    assert "- conse:lite1:T20: R@1 " in done.stdout and "R@10 1.000–1.000" in done.stdout  # found by every caption


def test_the_interval_resamples_photos_with_all_their_captions():
    assert photo_interval([True] * 10, ["a"] * 5 + ["b"] * 5) == (1.0, 1.0)
    # One photo found by all five captions, one by none: by photo the share is 0, 0.5 or 1 in each draw.
    low, high = photo_interval([True] * 5 + [False] * 5, ["a"] * 5 + ["b"] * 5)
    assert (low, high) == (0.0, 1.0)
    # The same ten answers as ten photos of one caption each: a narrower interval around 0.5.
    low, high = photo_interval([True] * 5 + [False] * 5, [str(i) for i in range(10)])
    assert 0.0 < low < 0.5 < high < 1.0


def test_a_folder_without_captions_is_a_clear_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "bench/api_recall.py", "--coco", str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode != 0 and "has no captions_train2017.json" in done.stderr
