"""Data parallelism inside a node: split the work into partitions and spread them over the Dask cluster.

A heavy node (ingest, embed, describe) cuts its list of images into partitions and calls
:func:`map_partitions`. When the node itself runs on a Dask worker (``pipeline.runners.DaskRunner``), the
partitions become tasks on the whole cluster: the node's task leaves its worker slot while it waits
(``worker_client``), so every worker thread, including the one the node ran on, processes partitions. Anywhere
else the same partitions run one after the other in this process. Both paths call the same function on the
same partitions, which is what makes a cluster run give the same tables as a sequential one.

Models are loaded once per worker process, not once per partition: partition functions get them from
:func:`per_process`, a small cache that lives as long as the worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def split(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """Consecutive partitions of at most ``size`` items (order kept)."""
    size = max(1, int(size))
    return [items[start : start + size] for start in range(0, len(items), size)]


def on_dask_worker() -> bool:
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


def worker_threads() -> int | None:
    """Threads of the Dask worker running this code (None outside Dask): how many threads a model may use."""
    if not on_dask_worker():
        return None
    from distributed import get_worker

    return int(get_worker().state.nthreads)


def map_partitions(
    function: Callable[..., R],
    partitions: Sequence[Any],
    *,
    desc: str,
    sizes: Sequence[int] | None = None,
    shared: dict[str, Any] | None = None,
) -> list[R]:
    """``[function(p, **shared) for p in partitions]``, on the cluster when there is one; results in order.

    ``shared`` holds small values every partition needs (they travel with each task: put anything large and
    per-item into the partitions themselves); ``sizes`` are the partitions' item counts for the progress bar.
    """
    shared = shared or {}
    sizes = list(sizes) if sizes is not None else [1] * len(partitions)
    if not partitions:
        return []
    with tqdm(total=sum(sizes), desc=desc, unit="img", disable=None, mininterval=0.5) as bar:
        if not on_dask_worker():
            results = []
            for partition, size in zip(partitions, sizes, strict=True):
                results.append(function(partition, **shared))
                bar.update(size)
            return results
        from distributed import as_completed, worker_client

        with worker_client() as client:
            # Tasks without dependencies: the scheduler hands them to whichever worker has a free thread.
            # (Scattered shared values made them depend on data first held by this worker, which then got
            # most partitions.)
            futures = client.map(_apply, list(partitions), function=function, shared=shared, pure=False)
            position = {future.key: i for i, future in enumerate(futures)}
            results: list[Any] = [None] * len(futures)
            where: dict[str, int] = {}  # which worker computed each partition: the log shows the spread
            for future in as_completed(futures):
                i = position[future.key]
                address, results[i] = future.result()
                where[address] = where.get(address, 0) + 1
                bar.update(sizes[i])
        logger.info("%s: %d partitions on %d worker(s): %s", desc, len(futures), len(where), where)
        return results


def _apply(partition: Any, function: Callable[..., R], shared: dict[str, Any]) -> tuple[str, R]:
    """One partition's task, returning where it ran with its result (the shared values arrive as a dict, so
    their names never clash with ``Client.map``'s own keyword arguments such as ``workers``)."""
    from distributed import get_worker

    return get_worker().address, function(partition, **shared)


_cache: dict[tuple, Any] = {}
_cache_lock = threading.Lock()


def per_process(key: tuple, make: Callable[[], T], keep: int = 2) -> T:
    """The object ``make()`` builds for ``key``, built once per process and reused (at most ``keep`` kept)."""
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    value = make()
    with _cache_lock:
        if key not in _cache:
            while len(_cache) >= keep:
                _cache.pop(next(iter(_cache)))
            _cache[key] = value
        return _cache[key]
