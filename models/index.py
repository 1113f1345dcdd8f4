"""Faiss inner-product index over L2-normalised vectors, with image ids beside it.

The index type follows the collection size (exact ``Flat`` up to ``flat_max`` vectors, then HNSW, then
IVF-PQ), and every built index records its measured Recall@10 against exact search. Files are written to
a temporary folder and renamed into place, so a reader never sees half an index.

Folder layout::

    index.faiss       the Faiss index (row i ↔ ids[i])
    ids.npy           image ids, unicode array
    meta.json         kind, dim, count, model version, recall@10 vs exact, build time
    vectors.f16.npy   IVF-PQ only: the full vectors in float16, memory-mapped by the server, to re-rank the
                      compressed index's candidates exactly (row i ↔ ids[i])
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import faiss
import numpy as np

from models.atomic import staged_folder


@dataclass(frozen=True)
class IndexPolicy:
    """Which index for how many vectors; thresholds come from bench/indexes.py (docs/search-api.md, "Large indexes")."""

    flat_max: int = 50_000  # exact: 384-d text index p99 ≈ 6.7 ms at 50k on one thread
    # Text queries lie off the image vectors, and HNSW finds fewer of their true neighbours as the collection
    # grows (Recall@10 at efSearch 512: 0.94 at 100k, 0.81 at 300k, 0.59 at 1M), while IVF-PQ128 re-ranked from
    # the float16 vectors keeps 0.99 / 0.99 / 0.98 at similar latency and less memory (bench/indexes.py): so no
    # HNSW by default. A hnsw_max above flat_max brings it back for that range.
    hnsw_max: int = 50_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    # efSearch 64 found 0.63 of the exact top-10 at 100k, 512 finds 0.93 at 1.6 ms p99; in-sample queries hit
    # ~1.0 at any value, so meta.json's recall cannot show this
    hnsw_ef_search: int = 512
    ivf_nprobe: int = 16
    pq_bytes: int = 128  # text Recall@10 at 100k: PQ64 0.69, PQ128 0.85, still ~10× smaller than HNSW
    # IVF-PQ's candidates re-scored exactly from float16 copies of the vectors (memory-mapped): PQ's ordering
    # errors go, what is left is the lists not probed. At 1M, nprobe 16: text Recall@10 0.797 → 0.980, p99 on one
    # thread 0.97 → 1.00 ms, whole process resident after searching 234 → 967 MB (bench/indexes.py). 0: off.
    ivf_rerank: int = 256

    def kind_for(self, count: int) -> str:
        if count <= self.flat_max:
            return "flat"
        if count <= self.hnsw_max:
            return "hnsw"
        return "ivfpq"


@dataclass(frozen=True)
class IndexMeta:
    kind: str
    dim: int
    count: int
    model_version: str
    recall_at_10: float
    build_seconds: float
    factory: str
    inputs: str = ""  # fingerprint of what else the vectors were built from (e.g. what was seen, blended in)
    rerank: int = 0  # candidates re-scored from vectors.f16.npy per query (0: the index's own scores)


RERANK_FILE = "vectors.f16.npy"


class VectorIndex:
    def __init__(self, index: faiss.Index, ids: np.ndarray, meta: IndexMeta, exact: np.ndarray | None = None) -> None:
        self.index = index
        self.ids = ids
        self.meta = meta
        self.exact = exact  # float16 (count, dim), usually memory-mapped: the re-ranking vectors

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        ids: list[str] | np.ndarray,
        model_version: str,
        policy: IndexPolicy | None = None,
        inputs: str = "",
    ) -> VectorIndex:
        policy = policy or IndexPolicy()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(ids):
            raise ValueError(f"need one vector per id: {vectors.shape} vs {len(ids)} ids")
        count, dim = vectors.shape
        kind = policy.kind_for(count)
        started = time.perf_counter()
        if kind == "flat":
            factory = "Flat"
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            factory = f"HNSW{policy.hnsw_m}"
            index = faiss.IndexHNSWFlat(dim, policy.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = policy.hnsw_ef_construction
            index.hnsw.efSearch = policy.hnsw_ef_search
        else:
            lists = max(1, min(65536, int(4 * np.sqrt(count))))
            # "np": no polysemous training (~3/4 of the build time at 100k, unused by our searches)
            factory = f"IVF{lists},PQ{policy.pq_bytes}np"
            index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
            sample = vectors[np.random.default_rng(0).choice(count, min(count, 256 * lists), replace=False)]
            index.train(sample)
            faiss.extract_index_ivf(index).nprobe = policy.ivf_nprobe
        if count:
            index.add(vectors)
        rerank = policy.ivf_rerank if kind == "ivfpq" else 0
        exact = vectors.astype(np.float16) if rerank else None
        seconds = time.perf_counter() - started
        meta = IndexMeta(kind, dim, count, model_version, 1.0, round(seconds, 3), factory, inputs, rerank)
        built = cls(index, np.asarray(list(ids), dtype=str), meta, exact)
        if kind != "flat":
            built.meta = replace(meta, recall_at_10=_recall_vs_exact(built, vectors))
        return built

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions) of the top ``k`` per query; positions index ``ids`` (−1 where fewer exist)."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if queries.shape[1] != self.meta.dim:
            raise ValueError(f"query has {queries.shape[1]} dimensions, the index {self.meta.dim}")
        k = max(1, min(k, max(self.meta.count, 1)))
        if self.exact is None:
            return self.index.search(queries, k)
        _, candidates = self.index.search(queries, max(k, min(self.meta.rerank, self.meta.count)))
        scores = np.full((len(queries), k), -np.inf, np.float32)
        positions = np.full((len(queries), k), -1, np.int64)
        for row, (query, found) in enumerate(zip(queries, candidates, strict=True)):
            found = np.sort(found[found >= 0])  # ascending rows: fewer page jumps in the mapped file
            exact = self.exact[found].astype(np.float32) @ query
            best = np.argsort(-exact, kind="stable")[:k]
            scores[row, : len(best)] = exact[best]
            positions[row, : len(best)] = found[best]
        return scores, positions

    def vector(self, position: int) -> np.ndarray | None:
        """The stored vector at ``position`` (decoded, for compressed kinds); ``None`` where the index type
        cannot give it back. IVF needs its id → list map, built on first use (8 bytes a vector, in memory)."""
        if self.exact is not None:
            return self.exact[int(position)].astype(np.float32)
        try:
            return self.index.reconstruct(int(position))
        except RuntimeError:
            pass
        try:
            ivf = faiss.extract_index_ivf(self.index)
            ivf.make_direct_map()
            return self.index.reconstruct(int(position))
        except RuntimeError:
            return None

    def save(self, folder: Path) -> None:
        """Write the index folder atomically: the previous one stays until this one is complete."""
        with staged_folder(Path(folder)) as staging:
            faiss.write_index(self.index, str(staging / "index.faiss"))
            np.save(staging / "ids.npy", self.ids)
            if self.exact is not None:
                np.save(staging / RERANK_FILE, self.exact)
            (staging / "meta.json").write_text(json.dumps(asdict(self.meta), indent=2))

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> VectorIndex:
        """Load an index; ``mmap`` maps flat/IVF data instead of reading it (fast start, shared pages)."""
        folder = Path(folder)
        for name in ("index.faiss", "ids.npy", "meta.json"):
            if not (folder / name).exists():
                raise FileNotFoundError(f"index at {folder} is incomplete: {name} missing")
        # IO_FLAG_MMAP_IFC maps Flat, HNSW and IVF-PQ files alike in faiss 1.15 (adding IO_FLAG_MMAP makes IVF
        # files refuse to map: measured by bench/indexes.py)
        flags = (faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY) if mmap else 0
        try:
            index = faiss.read_index(str(folder / "index.faiss"), flags)
        except RuntimeError:
            index = faiss.read_index(str(folder / "index.faiss"))  # types that cannot be mapped
        meta = IndexMeta(**json.loads((folder / "meta.json").read_text()))
        ids = np.load(folder / "ids.npy", allow_pickle=False)
        if index.ntotal != len(ids) or index.d != meta.dim:
            raise ValueError(f"index at {folder} is inconsistent: {index.ntotal} vectors, {len(ids)} ids")
        exact = None
        if meta.rerank:
            if not (folder / RERANK_FILE).exists():
                raise FileNotFoundError(f"index at {folder} is incomplete: {RERANK_FILE} missing")
            exact = np.load(folder / RERANK_FILE, mmap_mode="r" if mmap else None, allow_pickle=False)
            if exact.shape != (len(ids), meta.dim) or exact.dtype != np.float16:
                raise ValueError(f"index at {folder} is inconsistent: {RERANK_FILE} is {exact.dtype} {exact.shape}")
        return cls(index, ids, meta, exact)


def _recall_vs_exact(index: VectorIndex, vectors: np.ndarray, queries: int = 500, k: int = 10) -> float:
    """Recall@10 of ``index`` (as it searches, re-ranking included) against exact inner-product search, queries
    drawn from the data itself."""
    rng = np.random.default_rng(0)
    picked = vectors[rng.choice(len(vectors), min(queries, len(vectors)), replace=False)]
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(picked, k)
    _, found = index.search(picked, k)
    hits = sum(len(set(t) & set(f)) for t, f in zip(truth, found, strict=True))
    return round(hits / truth.size, 4)
