"""Large-index benchmark: Flat, HNSW and IVF-PQ over 100k and 1M vectors, through the pipeline's and the
server's own code (``VectorIndex.build`` with an ``IndexPolicy`` forcing each kind, ``save``, ``load``).

Per index: build time, resident memory the build leaves in the process (anonymous RSS: the input vectors are
memory-mapped and excluded), size on disk, and for ``load(mmap=True)`` (the server) and ``load(mmap=False)``
(the pipeline) the load time with the file dropped from the page cache, the anonymous RSS it adds and the
first query's time. A third load with faiss's ``IO_FLAG_MMAP_IFC`` alone shows which types faiss can map.
Per search setting (efSearch, nprobe) on the index as the server loads it: single-query latency p50 / p99, one
query at a time as the server asks, with faiss's default OpenMP threads (one per core) and with one thread
(the server's setting), and Recall@10 against exact inner-product search. Each build and each load runs in a
fresh process, so memory freed by the previous step does not hide in RSS.

Vectors: the demo collection's real image embeddings (``data/04_feature/image_embeddings.parquet``, text/image
space), resampled with Gaussian noise shaped by their own covariance and shrunk toward their mean (a smoothed
bootstrap that keeps the real mean and covariance), then L2-normalised. Isotropic noise would spread the
strongly anisotropic real vectors (effective dimension ≈ 40 of 384) toward a sphere (σ 0.05, as in search.py:
pairwise cosine 0.33 instead of 0.65), and a single Gaussian fit drops their clusters (a caption's top-1 to
top-10 score gap halves); either would skew the recall that depends on that structure. Bandwidth 0.5
makes a synthetic set of the real set's size match its median nearest-neighbour and mean pairwise cosine
(printed at start).

Queries: text→image is the production query, so Recall@10 is measured for the coco-mini captions encoded by
the default bundle's ONNX text encoder (400, topped up with noisy copies if more are asked for). Text
embeddings lie off the image vectors' distribution, which is exactly what graph and cluster indexes find
harder than in-sample queries, so a second column gives Recall@10 for fresh samples of the image-vector
distribution (not in the index), and the index's own ``meta.json`` figure (queries taken from the index) is
shown beside them.

Run (needs ``make pipeline``): .venv/bin/python bench/indexes.py --sizes 100000,1000000
Progress goes to stderr, markdown tables to stdout (after each size). Every loop is bounded.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from models.evaluation import coco_root
from models.index import IndexPolicy, VectorIndex

ROOT = Path(__file__).resolve().parents[1]
COCO = coco_root()
K = 10
BANDWIDTH = 0.5
KINDS = ("flat", "hnsw", "ivfpq")
MAX_QUERIES = 10_000
STARTED = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:7.1f} s] {message}", file=sys.stderr, flush=True)


def memory_mb() -> dict[str, float]:
    """Anonymous and file-backed resident memory and the peak RSS of this process, MB (zeros off Linux)."""
    found = dict.fromkeys(("RssAnon", "RssFile", "VmHWM"), 0.0)
    try:
        with open("/proc/self/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in found:
                    found[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return found


def reset_peak() -> bool:
    """Reset VmHWM so that the peak of one step can be read (Linux ≥ 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def drop_from_page_cache(path: Path) -> None:
    """Ask the kernel to forget a file's cached pages, so a load reads the disk as after a reboot."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def normalised(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


# --- vectors and queries ---------------------------------------------------------------------------------


def real_vectors(path: Path = ROOT / "data/04_feature/image_embeddings.parquet") -> np.ndarray:
    import pandas as pd

    if not path.exists():
        sys.exit(f"{path} is missing: run `make pipeline` first")
    return np.stack(pd.read_parquet(path, columns=["embedding"])["embedding"].to_numpy()).astype(np.float32)


def synthesize(
    real: np.ndarray, count: int, seed: int, out: Path | None = None, bandwidth: float = BANDWIDTH
) -> np.ndarray:
    """``count`` vectors from a smoothed bootstrap of ``real`` (see the module docstring), written in chunks to
    ``out`` (a .npy, returned memory-mapped) so that 1M vectors never sit twice in memory."""
    rng = np.random.default_rng(seed)
    mean = real.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(real, rowvar=False))
    root = (vectors * np.sqrt(np.clip(values, 0, None))).astype(np.float32)  # root @ root.T == covariance
    shrink = 1 / np.sqrt(1 + bandwidth**2)
    dim = real.shape[1]
    target = (
        np.empty((count, dim), np.float32)
        if out is None
        else np.lib.format.open_memmap(out, "w+", np.float32, (count, dim))
    )
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        picks = real[rng.integers(0, len(real), n)] - mean
        noise = rng.standard_normal((n, dim), dtype=np.float32) @ root.T
        target[start : start + n] = normalised(mean + (picks + bandwidth * noise) * shrink)
    if out is None:
        return target
    target.flush()
    del target
    return np.load(out, mmap_mode="r")


def shape_check(real: np.ndarray, seed: int = 0) -> str:
    """Real vs synthetic at the real size: median nearest-neighbour cosine, mean pairwise cosine."""

    def stats(x: np.ndarray) -> tuple[float, float]:
        sims = x @ x.T
        np.fill_diagonal(sims, np.nan)
        return float(np.median(np.nanmax(sims, axis=1))), float(np.nanmean(sims))

    (real_nn, real_pair), (syn_nn, syn_pair) = stats(real), stats(synthesize(real, len(real), seed))
    return (
        f"shape check at {len(real)} vectors: nearest-neighbour cosine {real_nn:.3f} real / {syn_nn:.3f} synthetic,"
        f" pairwise {real_pair:.3f} / {syn_pair:.3f}"
    )


def caption_queries(count: int, coco: Path = COCO, seed: int = 1) -> np.ndarray | None:
    """coco-mini captions through the default bundle's ONNX text encoder; None if captions or bundle are absent.
    Beyond the 400 captions, noisy copies (cosine ≈ 0.93 to their caption) fill up to ``count``."""
    from models.runtime import OnnxTextEncoder

    bundle_file = ROOT / "data/06_models/model_bundle.json"
    captions_file = coco / "captions_train2017.json"
    if not (bundle_file.exists() and captions_file.exists()):
        return None
    folder = ROOT / json.loads(bundle_file.read_text())["folder"]
    captions = [a["caption"] for a in json.loads(captions_file.read_text())["annotations"]]
    queries = OnnxTextEncoder(folder, threads=2).encode_queries(captions[:count])
    if count > len(queries):
        rng = np.random.default_rng(seed)
        extra = queries[rng.integers(0, len(queries), count - len(queries))]
        queries = np.concatenate([queries, normalised(extra + rng.normal(0, 0.02, extra.shape))])
    return queries.astype(np.float32)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Exact top-k ids by brute-force inner product (what IndexFlatIP.search runs, without copying the
    vectors into an index)."""
    return faiss.knn(np.ascontiguousarray(queries), vectors, k, metric=faiss.METRIC_INNER_PRODUCT)[1]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f[f >= 0]) & set(t)) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


# --- index variants and the measured steps ----------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    label: str
    policy: IndexPolicy
    knob: str | None  # "efSearch", "nprobe" or None (Flat)
    values: tuple[int, ...]
    default: int = 0  # the policy's value of the knob


def variants(
    count: int, kinds: list[str], ef_search: list[int], nprobe: list[int], pq: list[int], rerank: tuple[int, ...] = (0,)
) -> list[Variant]:
    """Policies that force each kind at ``count`` vectors; the other parameters are the policy's defaults.
    ``rerank``: IVF-PQ candidates re-scored from the stored float16 vectors (0: none)."""
    found = []
    if "flat" in kinds:
        found.append(Variant("Flat", IndexPolicy(flat_max=count), None, (0,)))
    if "hnsw" in kinds:
        policy = IndexPolicy(flat_max=0, hnsw_max=count)
        found.append(Variant(f"HNSW{policy.hnsw_m}", policy, "efSearch", tuple(ef_search), policy.hnsw_ef_search))
    if "ivfpq" in kinds:
        for pq_bytes in pq:
            for depth in rerank:
                policy = IndexPolicy(flat_max=0, hnsw_max=0, pq_bytes=pq_bytes, ivf_rerank=depth)
                ours = (pq_bytes, depth) == (IndexPolicy().pq_bytes, IndexPolicy().ivf_rerank)
                default = policy.ivf_nprobe if ours else 0  # "(policy)" only for the policy's own settings
                label = f"IVF-PQ{pq_bytes}" + (f" re-rank {depth}" if depth else "")
                found.append(Variant(label, policy, "nprobe", tuple(nprobe), default))
    return found


def build_and_save(vectors_file: str, policy: IndexPolicy, folder: str) -> dict[str, Any]:
    """Build through VectorIndex.build (its recall self-check included) and save; memory of this process."""
    vectors = np.load(vectors_file, mmap_mode="r")
    peak_known = reset_peak()
    before = memory_mb()
    index = VectorIndex.build(vectors, np.arange(len(vectors)).astype(str), "bench", policy)
    after = memory_mb()
    index.save(Path(folder))
    return {
        "meta": asdict(index.meta),
        "build_s": index.meta.build_seconds,
        "rss_mb": after["RssAnon"] - before["RssAnon"],
        "peak_mb": after["VmHWM"] - before["RssAnon"] - before["RssFile"] if peak_known else float("nan"),
        "index_mb": sum(f.stat().st_size for f in Path(folder).glob("*.np[y]") if f.name != "ids.npy") / 2**20
        + (Path(folder) / "index.faiss").stat().st_size / 2**20,
    }


def _set_knob(index: faiss.Index, knob: str | None, value: int) -> None:
    if knob == "efSearch":
        faiss.downcast_index(index).hnsw.efSearch = value
    elif knob == "nprobe":
        faiss.extract_index_ivf(index).nprobe = value


def load_and_search(
    folder: str, mode: str, variant: Variant, text: np.ndarray | None, samples: np.ndarray, warmup: int = 20
) -> dict[str, Any]:
    """Load cold in ``mode`` ("mmap", "read": VectorIndex.load; "ifc": faiss.read_index with IO_FLAG_MMAP_IFC
    alone), time the first query and take the top-k of all queries with the saved settings. The server's mode,
    "mmap", then times single queries per knob value with faiss's default threads and with 1 (the server's)."""
    path = Path(folder) / "index.faiss"
    drop_from_page_cache(path)
    before = memory_mb()
    started = time.perf_counter()
    if mode == "ifc":
        loaded = None
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    else:
        loaded = VectorIndex.load(Path(folder), mmap=mode == "mmap")
        index = loaded.index
    load_s = time.perf_counter() - started
    anon_mb = memory_mb()["RssAnon"] - before["RssAnon"]
    queries = text if text is not None else samples
    started = time.perf_counter()
    index.search(queries[:1], K)  # a mapped index reads its pages here
    first_ms = (time.perf_counter() - started) * 1000
    result: dict[str, Any] = {
        "load_s": load_s,
        "anon_mb": anon_mb,
        "first_ms": first_ms,
        "top": index.search(queries, K)[1],
        "settings": {},
    }
    if mode != "mmap" or loaded is None:
        return result
    default_threads = faiss.omp_get_max_threads()
    for value in variant.values:
        _set_knob(index, variant.knob, value)
        timed: dict[int, list[float]] = {}
        for threads in dict.fromkeys((default_threads, 1)):  # bounded: at most two thread counts
            faiss.omp_set_num_threads(threads)
            for query in queries[:warmup]:
                loaded.search(query[None], K)
            timed[threads], found = [], []
            for query in queries:
                started = time.perf_counter()
                _, positions = loaded.search(query[None], K)
                timed[threads].append((time.perf_counter() - started) * 1000)
                found.append(positions[0])
        faiss.omp_set_num_threads(default_threads)
        result["resident_mb"] = max(result.get("resident_mb", 0.0), sum(memory_mb()[k] for k in ("RssAnon", "RssFile")))
        result["settings"][value] = {
            "ms": timed[default_threads],
            "ms_1": timed[1],
            "found": np.array(found),
            "samples": loaded.search(samples, K)[1],
        }
    result["threads"] = default_threads
    return result


def _child(connection: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        connection.send((True, fn(*args)))
    except BaseException as exc:  # noqa: BLE001 - report any failure to the parent
        connection.send((False, repr(exc)))
    finally:
        connection.close()


def isolated(fn: Callable[..., Any], *args: Any, timeout: float = 3600.0) -> Any:
    """``fn(*args)`` in a fresh process (spawned: nothing inherited), killed after ``timeout`` seconds."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, fn, args), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            raise TimeoutError(f"{fn.__name__} took more than {timeout:.0f} s")
        ok, value = receiver.recv()
    finally:
        process.kill()
        process.join()
    if not ok:
        raise RuntimeError(f"{fn.__name__} failed: {value}")
    return value


@dataclass
class SizeResult:
    count: int
    threads: int = 0  # faiss's default OpenMP threads in the search processes
    indexes: list[tuple[dict[str, Any], dict[str, dict[str, Any]]]] = field(default_factory=list)  # (build, loads)
    search_rows: list[tuple[str, ...]] = field(default_factory=list)


def measure_size(
    count: int,
    real: np.ndarray,
    text: np.ndarray | None,
    n_queries: int,
    chosen: Callable[[int], list[Variant]],
    workdir: Path,
    isolate: bool = True,
    timeout: float = 3600.0,
) -> SizeResult:
    """Every variant at ``count`` vectors: build, save, three loads, searches; indexes deleted afterwards."""

    def call(fn: Callable[..., Any], *args: Any) -> Any:
        return isolated(fn, *args, timeout=timeout) if isolate else fn(*args)

    vectors_file = workdir / f"vectors-{count}.npy"
    log(f"{count:,} vectors: synthesising")
    vectors = synthesize(real, count, seed=count, out=vectors_file)
    samples = synthesize(real, n_queries, seed=count + 1)  # same distribution, not in the index
    log(f"{count:,} vectors: exact top-{K} for {len(samples)} samples and {0 if text is None else len(text)} texts")
    truth_samples = exact_top(vectors, samples)
    truth_text = exact_top(vectors, text) if text is not None else truth_samples
    del vectors
    result = SizeResult(count)
    for variant in chosen(count):
        folder = workdir / f"{variant.label}-{count}"
        log(f"{count:,} vectors: building {variant.label}")
        built = call(build_and_save, str(vectors_file), variant.policy, str(folder))
        log(f"{count:,} vectors: {built['meta']['factory']} built in {built['build_s']:.1f} s, saved")
        loads = {}
        for mode in ("mmap", "read", "ifc"):
            loads[mode] = call(load_and_search, str(folder), mode, variant, text, samples)
            log(f"{count:,} vectors: {variant.label} loaded ({mode}) in {loads[mode]['load_s']:.2f} s, searched")
        loads["ifc"]["same"] = bool(np.array_equal(loads["ifc"]["top"], loads["read"]["top"]))
        result.threads = loads["mmap"]["threads"]
        result.indexes.append((built, loads))
        for value in variant.values:
            mapped = loads["mmap"]["settings"][value]
            setting = "exact" if variant.knob is None else f"{variant.knob} {value}"
            if variant.knob is not None and value == variant.default:
                setting += " (policy)"
            result.search_rows.append(
                (
                    f"{count:,}",
                    built["meta"]["factory"] + _reranked(built),
                    setting,
                    _percentiles(mapped["ms"]),
                    _percentiles(mapped["ms_1"]),
                    f"{recall(mapped['found'], truth_text):.3f}" if text is not None else "–",
                    f"{recall(mapped['samples'], truth_samples):.3f}",
                    f"{built['meta']['recall_at_10']:.3f}",
                )
            )
        shutil.rmtree(folder, ignore_errors=True)
    vectors_file.unlink(missing_ok=True)
    return result


def _percentiles(samples_ms: list[float]) -> str:
    p50, p99 = np.percentile(samples_ms, [50, 99])
    return f"{p50:.2f} / {p99:.2f}"


def _reranked(built: dict[str, Any]) -> str:
    depth = built["meta"].get("rerank", 0)
    return f" + re-rank {depth} (float16, mapped)" if depth else ""


def _mapped(load: dict[str, Any], built: dict[str, Any]) -> str:
    """A mapped index adds (almost) no anonymous memory at load: its pages stay in the page cache."""
    return "yes" if load["anon_mb"] < 0.5 * built["index_mb"] else "no"


def tables(result: SizeResult) -> str:
    """The two markdown tables for one size."""
    n = f"{result.count:,}"
    lines = [
        f"\n### {n} vectors: build, memory, load\n",
        "| vectors | index | build s | RSS after build MB | build peak MB | on disk MB "
        "| load s mmap / read | RSS after load MB mmap / read | first query ms mmap / read (cold) "
        "| mapped by `load(mmap=True)` | mapped by faiss `IO_FLAG_MMAP_IFC` "
        "| whole process resident after every search MB (mmap, anon + file) |",
        "|---:|---|---:|---:|---:|---:|---|---|---|---|---|---:|",
    ]
    for built, loads in result.indexes:
        mapped, read, ifc = loads["mmap"], loads["read"], loads["ifc"]
        ifc_note = _mapped(ifc, built) + ("" if ifc["same"] else " (results differ!)")
        lines.append(
            f"| {n} | {built['meta']['factory']}{_reranked(built)} | {built['build_s']:.1f} | {built['rss_mb']:.0f} "
            f"| {built['peak_mb']:.0f} | {built['index_mb']:.1f} | {mapped['load_s']:.2f} / {read['load_s']:.2f} "
            f"| {mapped['anon_mb']:.0f} / {read['anon_mb']:.0f} | {mapped['first_ms']:.1f} / {read['first_ms']:.1f} "
            f"| {_mapped(mapped, built)} | {ifc_note} | {mapped.get('resident_mb', float('nan')):.0f} |"
        )
    lines += [
        f"\n### {n} vectors: single-query search, k = {K}\n",
        f"| vectors | index | setting | p50 / p99 ms, {result.threads} threads | p50 / p99 ms, 1 thread (server) "
        "| Recall@10 text queries | Recall@10 image-like samples | Recall@10 in `meta.json` |",
        "|---:|---|---|---|---|---:|---:|---:|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in result.search_rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000", help="comma-separated vector counts, e.g. 100000,1000000")
    parser.add_argument(
        "--queries", type=int, default=400, help="text queries and image-like samples each (docs/search-api.md: 400)"
    )
    parser.add_argument("--skip-kinds", default="", help=f"comma-separated, from {','.join(KINDS)}")
    parser.add_argument("--ef-search", default="64,256,512,1024")
    parser.add_argument("--nprobe", default="16,32,64")
    parser.add_argument("--pq-bytes", default="128,64")
    parser.add_argument("--rerank", default="0,256", help="IVF-PQ candidates re-scored exactly (0: none)")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="room for vectors and one index at a time (1M: ~3.5 GB)"
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed per build or load step")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    skip = {s for s in args.skip_kinds.split(",") if s}
    if skip - set(KINDS) or not 1 <= args.queries <= MAX_QUERIES:
        parser.error(f"--skip-kinds takes {','.join(KINDS)}; --queries 1..{MAX_QUERIES}")
    kinds = [k for k in KINDS if k not in skip]

    def ints(text: str) -> list[int]:
        return [int(v) for v in text.split(",") if v]

    def chosen(count: int) -> list[Variant]:
        return variants(
            count, kinds, ints(args.ef_search), ints(args.nprobe), ints(args.pq_bytes), tuple(ints(args.rerank))
        )

    real = real_vectors()
    log(shape_check(real))
    text = caption_queries(args.queries)
    log(f"queries: {'coco-mini captions (text→image)' if text is not None else 'image-like samples only'}")
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; faiss {faiss.__version__},"
        f" {faiss.omp_get_max_threads()} OpenMP threads by default (the server uses 1); {real.shape[1]}-d vectors"
    )
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="glimpse-bench-indexes-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        for count in sizes:
            result = measure_size(count, real, text, args.queries, chosen, workdir, timeout=args.timeout)
            print(tables(result), flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end; whole run {time.perf_counter() - STARTED:.0f} s")


if __name__ == "__main__":
    main()
