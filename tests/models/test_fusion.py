"""models/fusion.py: the word score added to the dense one, and what was seen blended into the image side."""

from __future__ import annotations

import numpy as np

from models.fusion import blend, fuse, seen_vectors
from models.runtime import OnnxTextEncoder


def test_fusion_adds_the_normalised_word_score_and_blend_stays_unit_length() -> None:
    dense = np.array([[0.5, 0.45, 0.1]])
    lexical = np.array([[0.0, 4.0, 2.0]])
    assert np.allclose(fuse(dense, lexical, 0.1), [[0.5, 0.55, 0.15]])
    assert np.allclose(fuse(dense, np.zeros_like(dense), 0.1), dense)  # no word matched: dense unchanged
    rng = np.random.default_rng(0)
    images, seen = rng.normal(size=(5, 8)), rng.normal(size=(5, 8))
    mixed = blend(images, seen, 0.3)
    assert np.allclose(np.linalg.norm(mixed, axis=1), 1)
    assert np.allclose(blend(images, seen, 0.0), images / np.linalg.norm(images, axis=1, keepdims=True))


def test_nothing_seen_leaves_the_picture_as_it_was(tiny_bundle) -> None:
    encoder = OnnxTextEncoder(tiny_bundle, threads=1)
    sentences = ["a photo of two people and a dog", "", 'a photo with the words "STOP"']
    vectors = seen_vectors(encoder, sentences)
    assert vectors.shape == (3, encoder.dim) and vectors.dtype == np.float32
    assert np.allclose(vectors[[0, 2]], encoder.encode_texts([sentences[0], sentences[2]]), atol=1e-6)
    assert not vectors[1].any()
    images = np.random.default_rng(1).normal(size=(3, encoder.dim)).astype(np.float32)
    images /= np.linalg.norm(images, axis=1, keepdims=True)
    mixed = blend(images, vectors, 0.3)
    assert np.allclose(mixed[1], images[1], atol=1e-6)  # nothing seen: not pulled anywhere
    assert not np.allclose(mixed[0], images[0], atol=1e-3)
    assert seen_vectors(encoder, ["", ""]).shape == (2, encoder.dim)  # no sentence at all: no encoding
