"""The describe node: every image gets alt and long text, incrementally, with or without a captioner."""

import json
import logging

import numpy as np
import pandas as pd
import pytest

from models.bundle import BundleManifest, ImageSpec, TextSpec
from pipeline.pipelines.describe.nodes import describe_images
from tests.fixtures.images import encode, photo, write

CAT_IDS = ["n02123045", "n02123159", "n02124075", "n04442312"]
CAT_NAMES = ["tabby cat", "tiger cat", "Egyptian Mau", "toaster"]


@pytest.fixture
def collection(tmp_path):
    """Three images on disk, an images table as ingest writes it, a bundle with four classes, embeddings."""
    root = tmp_path / "photos"
    paths = ["cats/a.jpg", "b.png", "c.jpg"]
    rows = []
    for i, path in enumerate(paths):
        image = photo(90 + i, 60, seed=i)
        data = encode(image, "PNG" if path.endswith("png") else "JPEG")
        write(root / path, data)
        rows.append(
            {
                "image_id": f"{i:032x}",
                "path": path,
                "width": image.width,
                "height": image.height,
                "exif_datetime": "2011-05-04T21:30:00" if i == 0 else None,
                "camera": "Acme Cam" if i == 0 else None,
                "thumbnail": encode(image.resize((45, 30)), "JPEG"),
            }
        )
    images = pd.DataFrame(rows)
    bundle_folder = tmp_path / "bundle"
    bundle_folder.mkdir()
    (bundle_folder / "classes.json").write_text(json.dumps({"ids": CAT_IDS, "names": CAT_NAMES}))
    BundleManifest("test", 4, "v1", TextSpec(), ImageSpec(classes="classes.json"), format=2).save(bundle_folder)
    embeddings = pd.DataFrame(
        {  # the third image failed to embed: it has no labels but must still be described
            "image_id": images["image_id"][:2],
            "model_version": "v1",
            "classes": [np.array([0, 1, 2, 3], np.int16), np.array([3, 0, 1, 2], np.int16)],
            "class_probabilities": [
                np.array([0.3, 0.28, 0.25, 0.1], np.float32),
                np.array([0.9, 0.05, 0.03, 0.02], np.float32),
            ],
        }
    )
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,collection,description\ncats/a.jpg,pets,Three cats on IMG_0001.JPG\n")
    params = {"source_manifest": str(manifest), "captioner": "none", "batch_size": 2, "workers": 2}
    return images, embeddings, {"version": "v1", "folder": str(bundle_folder)}, params, {"root": str(root)}


NO_SIGHTINGS = pd.DataFrame(columns=["image_id", "signature", "objects", "text_lines", "text"])


def sightings(rows: dict[str, tuple[list[dict], list[dict]]]) -> pd.DataFrame:
    """A see-stage table: {image_id: (objects, text lines)}."""
    return pd.DataFrame(
        [
            {"image_id": i, "signature": "s", "objects": json.dumps(o), "text_lines": json.dumps(t), "text": ""}
            for i, (o, t) in rows.items()
        ]
    )


def run(collection, previous=None, seen=None, **overrides):
    images, embeddings, bundle, params, ingest = collection
    return describe_images(
        images,
        embeddings,
        NO_SIGHTINGS if seen is None else seen,
        pd.DataFrame() if previous is None else previous,
        bundle,
        params | overrides,
        ingest,
    )


def test_every_image_is_described(collection):
    out = run(collection).set_index("image_id")
    assert len(out) == 3 and (out["alt"].str.len() > 0).all() and (out["long"].str.len() > 0).all()
    first, second, third = (out.loc[f"{i:032x}"] for i in range(3))
    assert first["alt"].startswith("Three cats on")  # the collection's own words lead
    assert "It is probably a cat" in first["long"]
    assert "Taken on 4 May 2011 with an Acme Cam" in first["long"] and "Three cats on" in first["long"]
    assert ".JPG" not in first["long"]
    assert second["alt"].startswith("A toaster")
    assert third["alt"].startswith("Unidentified subject")
    evidence = json.loads(first["evidence"])
    assert [label["name"] for label in evidence["labels"]][:2] == ["tabby cat", "tiger cat"]
    assert evidence["subject"]["name"] == "cat" and evidence["pixels_read"]


def test_a_rerun_keeps_rows_and_only_redoes_what_changed(collection, caplog):
    first = run(collection)
    with caplog.at_level(logging.INFO):
        again = run(collection, previous=first)
    assert "all 3 descriptions are up to date" in caplog.text
    pd.testing.assert_frame_equal(again, first)
    images, embeddings, bundle, params, ingest = collection
    new_model = embeddings.assign(model_version="v2")
    redone = describe_images(images, new_model, NO_SIGHTINGS, first, bundle | {"version": "v2"}, params, ingest)
    assert (redone["signature"] != first["signature"]).sum() == 2  # the unembedded image keeps its row


def test_what_the_see_stage_found_leads_and_a_change_redoes_only_that_image(collection):
    person = {"label": "person", "score": 0.9, "box": [1, 1, 20, 40]}
    dog = {"label": "dog", "score": 0.7, "box": [30, 20, 60, 50]}
    stop = {"text": "STOP", "confidence": 0.97, "box": [5, 5, 30, 15]}
    seen = sightings({f"{1:032x}": ([person, dict(person, box=[40, 1, 60, 40]), dog], [stop])})
    first = run(collection, seen=seen)
    row = first.set_index("image_id").loc[f"{1:032x}"]
    assert row["alt"].startswith('Two people and a dog, with the words "STOP"')
    assert (
        'Text in the picture reads: "STOP".' in row["long"] and "As a whole, it is most likely a toaster" in row["long"]
    )
    evidence = json.loads(row["evidence"])
    assert [o["label"] for o in evidence["objects"]] == ["person", "person", "dog"]
    assert evidence["text"] == [{"text": "STOP", "confidence": 0.97}]
    fewer = sightings({f"{1:032x}": ([person, dog], [stop])})
    again = run(collection, previous=first, seen=fewer)
    changed = again["signature"] != first["signature"]
    assert again.loc[changed, "image_id"].tolist() == [f"{1:032x}"]
    assert again.set_index("image_id").loc[f"{1:032x}", "alt"].startswith("A person and a dog")


def test_a_file_gone_since_ingest_is_described_from_its_thumbnail(collection, tmp_path, caplog):
    (tmp_path / "photos" / "b.png").unlink()
    with caplog.at_level(logging.WARNING):
        out = run(collection).set_index("image_id")
    assert "b.png unreadable" in caplog.text
    evidence = json.loads(out.loc[f"{1:032x}", "evidence"])
    assert evidence["pixels_read"] and evidence["colours"]


def test_an_unavailable_captioner_is_reported_once_and_composed_text_used(collection, caplog):
    with caplog.at_level(logging.WARNING):
        out = run(collection, captioner="hf:/no/such/captioner")
    warnings = [r for r in caplog.records if "captioner" in r.getMessage()]
    assert len(warnings) == 1 and "/no/such/captioner" in warnings[0].getMessage()
    assert len(out) == 3 and all(json.loads(e)["caption"] is None for e in out["evidence"])
    assert out["signature"].tolist() == run(collection)["signature"].tolist()  # same as no captioner


def test_a_captioner_leads_the_long_description(collection, tmp_path_factory):
    from tests.fixtures.tiny_captioner import build_tiny_captioner

    folder = build_tiny_captioner(tmp_path_factory.mktemp("captioner"))
    out = run(collection, captioner=f"hf:{folder}")
    for long, evidence in zip(out["long"], out["evidence"], strict=True):
        caption = json.loads(evidence)["caption"]
        if caption:  # a random tiny model may generate nothing for an image
            assert long.startswith(f"A captioning model ({caption['model']}) says:")
    assert any(json.loads(e)["caption"] for e in out["evidence"])
    assert out["signature"].tolist() != run(collection)["signature"].tolist()
