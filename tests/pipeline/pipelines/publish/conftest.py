"""The publish stage's inputs: two images with embeddings, descriptions, sightings and a manifest."""

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def tables(tmp_path):
    images = pd.DataFrame(
        {
            "image_id": ["a1", "b2"],
            "path": ["pets/cat.jpg", "top.png"],
            "format": ["jpeg", "png"],
            "width": [10, 20],
            "height": [5, 6],
            "bytes": [100, 200],
            "exif_datetime": ["2020-01-01T00:00:00", None],
            "camera": ["Acme", None],
            "thumbnail": [b"jpeg-a", b"jpeg-b"],
            "ingested_at": ["2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00"],
        }
    )
    embeddings = pd.DataFrame(
        {"image_id": ["a1", "b2"], "model_version": "v1", "embedding": list(np.eye(2, 4, dtype=np.float32))}
    )
    descriptions = pd.DataFrame(
        {
            "image_id": ["a1", "b2", "gone"],
            "signature": ["s1", "s2", "s3"],
            "alt": ["Probably a tabby cat, in grey", "Unidentified subject", "stale"],
            "long": ["It is probably a tabby cat.", "A picture.", "stale"],
            "evidence": ['{"labels": []}', "{}", "{}"],
        }
    )
    sightings = pd.DataFrame(
        {
            "image_id": ["a1", "b2"],
            "signature": ["t", "t"],
            "objects": [
                '[{"label": "cat", "score": 0.9, "box": [1, 1, 9, 4]}, '
                '{"label": "cat", "score": 0.4, "box": [0, 0, 2, 2]}]',
                "[]",
            ],
            "text_lines": ['[{"text": "MEOW", "confidence": 0.9, "box": [0, 0, 5, 2]}]', "[]"],
            "text": ["MEOW", ""],
        }
    )
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,collection,licence,description\npets/cat.jpg,pets,CC0-1.0,A cat.\n")
    return images, embeddings, descriptions, sightings, manifest
