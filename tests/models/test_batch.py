"""Batch embedding of files: top-k classes, failures reported per file, empty input."""

import io

import numpy as np

from models.batch import embed_files, top_k
from tests.fixtures.images import photo


def test_top_k_orders_most_probable_first_and_handles_small_widths():
    probabilities = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]], np.float32)
    indices, values = top_k(probabilities, 2)
    assert indices.tolist() == [[1, 2], [0, 2]]
    np.testing.assert_allclose(values, [[0.6, 0.3], [0.5, 0.3]])
    assert top_k(probabilities, 10)[0].shape == (2, 3)
    assert top_k(np.zeros((2, 0), np.float32), 5)[0].shape == (2, 0)


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_embed_files_keeps_top_classes_and_reports_broken_files(tiny_bundle):
    from models.runtime import OnnxImageEncoder

    encoder = OnnxImageEncoder(tiny_bundle)
    files = [_png(photo(40, 30, seed=1)), b"not an image", _png(photo(30, 40, seed=2))]
    result = embed_files(lambda i: files[i], len(files), encoder, batch_size=2, classes=5)
    assert result.ok == [0, 2] and list(result.failed) == [1]
    assert result.embeddings.shape == (2, encoder.dim) and result.top_classes.shape == (2, 5)
    full = encoder.run(np.stack([encoder.preprocess.load(files[0])])).probabilities[0]
    assert result.top_classes[0, 0] == full.argmax()
    assert np.all(np.diff(result.top_probabilities, axis=1) <= 0)


def test_embed_files_with_nothing_to_do_returns_empty_arrays(tiny_bundle):
    from models.runtime import OnnxImageEncoder

    result = embed_files(lambda i: b"", 0, OnnxImageEncoder(tiny_bundle), classes=5)
    assert result.embeddings.shape[0] == 0 and result.top_classes.shape == (0, 5) and result.ok == []


def test_embed_files_embeds_every_view_the_preprocessing_asks_for(tiny_bundle):
    from dataclasses import replace

    from models.runtime import OnnxImageEncoder

    encoder = OnnxImageEncoder(tiny_bundle)
    encoder.preprocess = replace(encoder.preprocess, corner_crop=0.8)
    files = [_png(photo(60, 40, seed=5)), _png(photo(40, 60, seed=6))]
    result = embed_files(lambda i: files[i], len(files), encoder, batch_size=1, classes=3)
    views = np.stack([encoder.preprocess.load_views(data) for data in files])
    assert views.shape[1] == 5
    np.testing.assert_allclose(result.embeddings, encoder.run_views(views).embeddings, atol=1e-5)
    centre = encoder.run(views[:, 0])
    np.testing.assert_allclose(result.features, centre.features, atol=1e-5)  # image→image: the centre view
    assert not np.allclose(result.embeddings, centre.embeddings, atol=1e-3)  # the corners count
