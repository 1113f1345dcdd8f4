"""The residual query adapter: identity at rest, learns from up and down votes, deterministic, safe to load."""

from __future__ import annotations

import numpy as np
import pytest

from models.adapter import (
    ADAPTER_FILE,
    AdaptedTextEncoder,
    AdapterConfig,
    apply_adapter,
    load_adapter,
    save_adapter,
    train_adapter,
)
from models.encoders.base import l2_normalise
from models.evaluation import text_to_image_recall

DIM = 32


def world(seed: int = 0, images: int = 120, wordings: int = 4):
    """A gallery and, per image, several 'wordings' of a query that a hidden linear map has bent away from it."""
    rng = np.random.default_rng(seed)
    gallery = l2_normalise(rng.standard_normal((images, DIM)))
    bend = np.eye(DIM) + 3.0 * rng.standard_normal((DIM, DIM)) / np.sqrt(DIM)
    owner = np.repeat(np.arange(images), wordings)
    queries = l2_normalise(gallery[owner] @ bend.T + 0.5 * rng.standard_normal((len(owner), DIM)) / np.sqrt(DIM))
    return gallery, queries.astype(np.float32), owner


def test_no_adapter_and_a_zero_adapter_change_nothing():
    _, queries, _ = world()
    np.testing.assert_array_equal(apply_adapter(None, queries), queries)
    np.testing.assert_allclose(apply_adapter(np.zeros((DIM, DIM), np.float32), queries), queries, atol=1e-6)


def test_up_votes_teach_it_the_hidden_map_for_new_wordings_and_unseen_images():
    gallery, queries, owner = world()
    wording = np.tile(np.arange(4), len(gallery))
    seen = owner < 80
    train, new_wording, unseen = seen & (wording < 3), seen & (wording == 3), ~seen
    weights, losses = train_adapter(
        queries[train], owner[train], np.full(train.sum(), -1), gallery, AdapterConfig(steps=150, l2=0.1, lr=3e-3)
    )
    assert losses[-1] < 0.5 * losses[0]
    for held_out in (new_wording, unseen):
        before = text_to_image_recall(queries[held_out], gallery, list(owner[held_out]))
        after = text_to_image_recall(apply_adapter(weights, queries[held_out]), gallery, list(owner[held_out]))
        assert after["R@1"] > before["R@1"] + 0.3, (before, after)
        assert after["R@10"] >= before["R@10"]


def test_a_down_vote_pushes_the_pair_apart():
    gallery, queries, owner = world(images=40)
    wrong = (owner[:40] + 1) % len(gallery)
    before = np.sum(queries[:40] * gallery[wrong], axis=1)
    weights, _ = train_adapter(
        queries[:40], np.full(40, -1), wrong, gallery, AdapterConfig(steps=100, down_weight=1.0, down_margin=-1.0)
    )
    after = np.sum(apply_adapter(weights, queries[:40]) * gallery[wrong], axis=1)
    assert after.mean() < before.mean() - 0.05


def test_training_is_deterministic_also_when_the_gallery_is_sampled():
    gallery, queries, owner = world(images=60)
    voted = owner < 10  # 10 voted rows + 20 sampled from the other 50 at each step
    config = AdapterConfig(steps=20, max_negatives=30, seed=7)
    args = (queries[voted], owner[voted], np.full(voted.sum(), -1), gallery)
    first, _ = train_adapter(*args, config)
    second, _ = train_adapter(*args, config)
    np.testing.assert_array_equal(first, second)
    other, _ = train_adapter(*args, AdapterConfig(steps=20, max_negatives=30, seed=8))
    assert not np.array_equal(first, other)
    assert first.dtype == np.float32 and first.shape == (DIM, DIM)


@pytest.mark.parametrize(
    ("positive", "negative", "message"),
    [
        ([-1, -1], [-1, -1], "no votes"),
        ([0], [-1, -1], "one entry per query"),
        ([500, -1], [-1, -1], "outside the gallery"),
    ],
)
def test_bad_training_input_is_refused(positive, negative, message):
    gallery, queries, _ = world(images=10)
    with pytest.raises(ValueError, match=message):
        train_adapter(queries[:2], np.array(positive), np.array(negative), gallery)


def test_save_and_load(tmp_path):
    weights = np.random.default_rng(0).standard_normal((DIM, DIM)).astype(np.float32)
    assert load_adapter(tmp_path, DIM) is None  # no adapter: the base model
    save_adapter(tmp_path, weights, {"votes": 3})
    np.testing.assert_array_equal(load_adapter(tmp_path, DIM), weights)
    with pytest.raises(ValueError, match="float32"):
        load_adapter(tmp_path, DIM + 1)
    np.save(tmp_path / ADAPTER_FILE, np.full((DIM, DIM), np.nan, np.float32))
    with pytest.raises(ValueError, match="finite"):
        load_adapter(tmp_path, DIM)
    (tmp_path / ADAPTER_FILE).write_bytes(b"not a numpy file")
    with pytest.raises(ValueError, match="cannot be read"):
        load_adapter(tmp_path, DIM)


def test_the_adapted_encoder_is_the_inner_one_plus_the_adapter():
    class Inner:
        dim, version = DIM, "abc"

        def encode_texts(self, texts, batch_size=64):
            return l2_normalise(np.ones((len(texts), DIM), np.float32))

    weights = np.random.default_rng(1).standard_normal((DIM, DIM)).astype(np.float32) * 0.1
    encoder = AdaptedTextEncoder(Inner(), weights)
    assert encoder.dim == DIM and encoder.version == "abc"
    out = encoder.encode_texts(["a", "b"])
    np.testing.assert_allclose(out, apply_adapter(weights, Inner().encode_texts(["a", "b"])))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
