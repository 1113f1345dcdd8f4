"""The large-index benchmark at a tiny size, in-process, so that the script cannot rot."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from bench import indexes
from models.index import IndexPolicy


@pytest.fixture
def real() -> np.ndarray:
    """Anisotropic, clustered unit vectors, a stand-in for the demo collection's embeddings."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((12, 64)) * np.linspace(3, 0.2, 64) + 2
    return indexes.normalised(centres[rng.integers(0, 12, 120)] + rng.standard_normal((120, 64)) * 0.3)


@pytest.fixture
def fast_faiss():
    """One OpenMP thread: two spin-waiting threads on a busy 2-core machine are several times slower at this size
    (the IVF-PQ factory already skips polysemous training: "np")."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(threads)


def test_synthetic_vectors_are_unit_length_and_keep_the_real_mean(real, tmp_path):
    vectors = indexes.synthesize(real, 5000, seed=1, out=tmp_path / "v.npy")
    assert isinstance(vectors, np.memmap) and vectors.shape == (5000, 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert np.linalg.norm(vectors.mean(axis=0) - real.mean(axis=0)) < 0.05
    assert "shape check at 120 vectors" in indexes.shape_check(real)


def test_every_index_kind_is_built_loaded_and_measured(real, tmp_path, fast_faiss):
    text = indexes.normalised(np.random.default_rng(2).standard_normal((50, 64)) + real.mean(axis=0))

    ef, nprobe = IndexPolicy().hnsw_ef_search, IndexPolicy().ivf_nprobe

    def chosen(count: int) -> list[indexes.Variant]:
        return indexes.variants(count, list(indexes.KINDS), ef_search=[16, ef], nprobe=[4, nprobe], pq=[8])

    result = indexes.measure_size(3000, real, text, 50, chosen, tmp_path, isolate=False)
    assert [built["meta"]["kind"] for built, _ in result.indexes] == ["flat", "hnsw", "ivfpq"]
    for built, loads in result.indexes:
        assert built["index_mb"] > 0 and built["build_s"] >= 0
        assert np.array_equal(loads["mmap"]["top"], loads["read"]["top"]) and loads["ifc"]["same"]
    flat = result.search_rows[0]
    assert flat[1:3] == ("Flat", "exact") and flat[5:7] == ("1.000", "1.000")
    assert [row[2] for row in result.search_rows[1:]] == [
        "efSearch 16",
        f"efSearch {ef} (policy)",
        "nprobe 4",
        f"nprobe {nprobe}",  # PQ8 is not the policy's code size
    ]
    assert all(0 <= float(row[5]) <= 1 for row in result.search_rows)
    table = indexes.tables(result)
    assert "| 3,000 | IVF219,PQ8np |" in table and table.count("\n| 3,000 |") == 8
    assert not list(tmp_path.iterdir())  # vectors and indexes are removed


def test_reranked_ivfpq_is_measured_beside_the_plain_one(real, tmp_path, fast_faiss):
    text = indexes.normalised(np.random.default_rng(2).standard_normal((50, 64)) + real.mean(axis=0))

    def chosen(count: int) -> list[indexes.Variant]:
        return indexes.variants(count, ["ivfpq"], ef_search=[], nprobe=[219], pq=[8], rerank=(0, 64))

    result = indexes.measure_size(3000, real, text, 50, chosen, tmp_path, isolate=False)
    plain, reranked = result.search_rows
    assert plain[1] == "IVF219,PQ8np" and reranked[1] == "IVF219,PQ8np + re-rank 64 (float16, mapped)"
    assert float(reranked[5]) > float(plain[5]) and float(reranked[5]) >= 0.95  # every list probed: PQ's errors go
    (plain_built, _), (built, loads) = result.indexes
    assert built["index_mb"] > plain_built["index_mb"]  # the float16 vectors are on disk too
    assert loads["mmap"]["resident_mb"] > 0 and "re-rank 64" in indexes.tables(result)


def test_isolated_steps_run_in_a_fresh_process_and_report_failures():
    assert indexes.isolated(indexes.memory_mb, timeout=60)["RssAnon"] > 0
    with pytest.raises(RuntimeError, match="FileNotFoundError"):
        indexes.isolated(indexes.drop_from_page_cache, Path("/nonexistent/index.faiss"), timeout=60)
