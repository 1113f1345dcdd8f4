"""The Faiss index wrapper: size-based type choice, recall recorded, atomic save, safe load."""

import json

import numpy as np
import pytest

from models.index import IndexPolicy, VectorIndex


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


IDS = [f"img{i:05d}" for i in range(3000)]


def test_flat_is_exact_and_maps_ids():
    vectors = unit_vectors(300)
    index = VectorIndex.build(vectors, IDS[:300], "v1")
    assert index.meta.kind == "flat" and index.meta.recall_at_10 == 1.0
    scores, positions = index.search(vectors[[5, 17]], 3)
    assert index.ids[positions[:, 0]].tolist() == ["img00005", "img00017"]
    np.testing.assert_allclose(scores[:, 0], 1.0, rtol=1e-5)
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first


def test_policy_switches_by_size_and_records_recall():
    policy = IndexPolicy(flat_max=1000, hnsw_max=100_000)
    index = VectorIndex.build(unit_vectors(3000), IDS, "v1", policy)
    assert index.meta.kind == "hnsw" and index.meta.factory == "HNSW32"
    assert 0.9 <= index.meta.recall_at_10 <= 1.0


def test_ivfpq_beyond_hnsw_max():
    policy = IndexPolicy(flat_max=100, hnsw_max=500, pq_bytes=8, ivf_nprobe=8)
    index = VectorIndex.build(unit_vectors(3000), IDS, "v1", policy)
    assert index.meta.kind == "ivfpq" and index.meta.factory.endswith("PQ8np")
    assert 0.0 < index.meta.recall_at_10 <= 1.0


@pytest.mark.parametrize(
    ("policy", "tolerance"),
    [
        (IndexPolicy(), 1e-6),  # flat
        (IndexPolicy(flat_max=100, hnsw_max=100_000), 1e-6),  # HNSW keeps the full vectors
        (IndexPolicy(flat_max=100, hnsw_max=500, pq_bytes=16, ivf_nprobe=8), 0.5),  # IVF-PQ decodes its codes
    ],
)
def test_stored_vectors_come_back_from_every_kind(tmp_path, policy, tolerance):
    vectors = unit_vectors(1000)
    built = VectorIndex.build(vectors, IDS[:1000], "v1", policy)
    built.save(tmp_path / "index")
    index = VectorIndex.load(tmp_path / "index")  # memory-mapped, read-only
    for position in (0, 537, 999):
        stored = index.vector(position)
        assert stored.shape == (32,) and np.abs(stored - vectors[position]).max() <= tolerance
    _, found = index.search(index.vector(537)[None], 1)
    assert policy.kind_for(1000) != "flat" or found[0, 0] == 537


def test_save_load_round_trip_is_atomic(tmp_path):
    vectors = unit_vectors(200)
    first = VectorIndex.build(vectors, IDS[:200], "v1")
    first.save(tmp_path / "index")
    second = VectorIndex.build(vectors[:50], IDS[:50], "v2")
    second.save(tmp_path / "index")  # replaces the first one in a rename
    assert [p.name for p in tmp_path.iterdir()] == ["index"]
    loaded = VectorIndex.load(tmp_path / "index")
    assert loaded.meta.model_version == "v2" and loaded.meta.count == 50
    _, positions = loaded.search(vectors[:1], 1)
    assert loaded.ids[positions[0, 0]] == "img00000"


def test_k_larger_than_collection_and_empty_index(tmp_path):
    index = VectorIndex.build(unit_vectors(3), IDS[:3], "v1")
    _, positions = index.search(unit_vectors(1, seed=9), 100)
    assert positions.shape == (1, 3)
    empty = VectorIndex.build(np.zeros((0, 32), np.float32), [], "v1")
    _, positions = empty.search(unit_vectors(1), 5)
    assert (positions == -1).all()


def test_wrong_dimension_and_mismatched_ids():
    index = VectorIndex.build(unit_vectors(10), IDS[:10], "v1")
    with pytest.raises(ValueError, match="dimensions"):
        index.search(np.zeros((1, 8), np.float32), 3)
    with pytest.raises(ValueError, match="one vector per id"):
        VectorIndex.build(unit_vectors(10), IDS[:9], "v1")


def test_incomplete_or_inconsistent_folder_is_refused(tmp_path):
    index = VectorIndex.build(unit_vectors(10), IDS[:10], "v1")
    index.save(tmp_path / "ok")
    (tmp_path / "ok" / "ids.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"ids\.npy missing"):
        VectorIndex.load(tmp_path / "ok")
    index.save(tmp_path / "bad")
    np.save(tmp_path / "bad" / "ids.npy", np.asarray(IDS[:4]))
    with pytest.raises(ValueError, match="inconsistent"):
        VectorIndex.load(tmp_path / "bad")
    meta = json.loads((tmp_path / "bad" / "meta.json").read_text())
    assert meta["count"] == 10


def test_ivfpq_reranked_from_stored_vectors_finds_what_exact_search_finds(tmp_path):
    """Re-scoring IVF-PQ's candidates from the float16 vectors removes PQ's ordering errors: with every list
    probed, the top 10 is the exact top 10; saved, memory-mapped and loaded back it answers the same."""
    vectors = unit_vectors(3000)
    queries = unit_vectors(50, seed=1)
    _, truth = VectorIndex.build(vectors, IDS, "v1").search(queries, 10)  # flat: exact
    coarse = IndexPolicy(flat_max=100, hnsw_max=500, pq_bytes=8, ivf_nprobe=1000, ivf_rerank=0)
    plain = VectorIndex.build(vectors, IDS, "v1", coarse)
    reranked = VectorIndex.build(vectors, IDS, "v1", IndexPolicy(**(coarse.__dict__ | {"ivf_rerank": 300})))
    assert reranked.meta.rerank == 300 and plain.meta.rerank == 0 and plain.exact is None

    def recall(index):
        found = index.search(queries, 10)[1]
        return np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])

    assert recall(plain) < 0.8 and recall(reranked) > 0.97
    assert reranked.meta.recall_at_10 > plain.meta.recall_at_10
    scores, positions = reranked.search(queries, 10)
    np.testing.assert_allclose(scores, np.einsum("qd,qkd->qk", queries, vectors[positions]), atol=2e-3)
    assert (np.diff(scores, axis=1) <= 0).all()

    reranked.save(tmp_path / "index")
    loaded = VectorIndex.load(tmp_path / "index")
    assert isinstance(loaded.exact, np.memmap) and loaded.exact.dtype == np.float16
    assert np.array_equal(loaded.search(queries, 10)[1], positions)
    assert np.abs(loaded.vector(42) - vectors[42]).max() < 1e-3  # the stored copy, not PQ's decoding
    (tmp_path / "index" / "vectors.f16.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"vectors\.f16\.npy missing"):
        VectorIndex.load(tmp_path / "index")
