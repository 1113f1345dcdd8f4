"""Run the Kedro pipeline on a Dask cluster: ``kedro run --runner=pipeline.runners.DaskRunner``.

Every node becomes one task on a ``distributed`` cluster as soon as the nodes it depends on are done, so
independent nodes run side by side. The scheduler's address comes from ``GLIMPSE_DASK_SCHEDULER`` (or
``--runner-params address=tcp://host:8786``); without one a ``LocalCluster`` of worker processes is started on
this machine for the run and stopped after it.

Nodes hand data to each other only through files: every dataset a node writes must be declared in the catalog
with a file behind it (a ``MemoryDataset`` written on one worker would be empty on the next), and the runner
refuses to start otherwise. Workers must see the project folder at the same path (a shared volume in the
compose file) and run the project's code; each task works from the project folder, so relative paths in the
parameters mean the same thing on every worker. Heavy nodes split their own work further
(``pipeline/partitions.py``) so that adding workers speeds them up.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro.runner import AbstractRunner

SCHEDULER_ENV = "GLIMPSE_DASK_SCHEDULER"

logger = logging.getLogger(__name__)


class DaskRunner(AbstractRunner):
    def __init__(
        self,
        is_async: bool = False,
        address: str | None = None,
        n_workers: int | None = None,
        threads_per_worker: int = 1,
    ) -> None:
        """``address`` (or $GLIMPSE_DASK_SCHEDULER): an existing scheduler; otherwise a LocalCluster of
        ``n_workers`` processes (default: one per core) with ``threads_per_worker`` threads each."""
        super().__init__(is_async=is_async)
        self.address = (address or os.environ.get(SCHEDULER_ENV) or "").strip() or None
        self.n_workers = int(n_workers) if n_workers else None
        self.threads_per_worker = int(threads_per_worker)

    def _get_executor(self, max_workers: int) -> None:
        return None  # tasks go to the Dask client, see _run

    def _run(
        self,
        pipeline: Pipeline,
        catalog: DataCatalog,
        hook_manager: Any = None,
        run_id: str | None = None,
    ) -> None:
        from distributed import wait

        check_file_backed(pipeline, catalog)
        project = Path.cwd()
        client, cluster = self._connect()
        try:
            workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
            logger.info("dask: %d node(s), %d worker(s) at %s", len(pipeline.nodes), len(workers), client.scheduler)
            dependencies = pipeline.node_dependencies
            todo, done, running = set(dependencies), set(), {}
            while todo or running:
                for node in sorted((n for n in todo if dependencies[n] <= done), key=lambda n: n.name):
                    todo.discard(node)
                    future = client.submit(
                        run_node,
                        node,
                        _catalog_for(node, catalog),
                        str(project),
                        run_id,
                        self._is_async,
                        key=f"node-{node.name}-{run_id or os.getpid()}",
                        pure=False,
                    )
                    running[future] = node
                if not running:
                    raise RuntimeError(f"nodes that can never run (a dependency cycle?): {sorted(map(str, todo))}")
                finished = wait(list(running), return_when="FIRST_COMPLETED").done
                for future in finished:
                    node = running.pop(future)
                    try:
                        where, records = future.result()
                    except Exception:
                        logger.error("dask: node %s failed; %d node(s) did not run", node.name, len(todo) + 1)
                        for other in running:
                            other.cancel()
                        raise
                    # The node's own log lines, as a sequential run shows them (a LocalCluster's workers
                    # already print to this terminal).
                    for name, level, message in records if cluster is None else ():
                        logging.getLogger(name).log(level, "%s [on %s]", message, where)
                    done.add(node)
                    logger.info("dask: %s done on %s (%d/%d)", node.name, where, len(done), len(dependencies))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    def _connect(self):
        from distributed import Client, LocalCluster

        if self.address:
            try:
                return Client(self.address, timeout="20s"), None
            except OSError as exc:
                raise RuntimeError(
                    f"cannot reach the Dask scheduler at {self.address} ({SCHEDULER_ENV}): {exc}"
                ) from None
        cluster = LocalCluster(
            n_workers=self.n_workers or os.cpu_count() or 1,
            threads_per_worker=self.threads_per_worker,
            processes=True,
            dashboard_address=None,
        )
        return Client(cluster), cluster


def check_file_backed(pipeline: Pipeline, catalog: DataCatalog) -> None:
    """Refuse a pipeline whose nodes would pass data in memory: it would vanish between worker processes."""
    written = sorted({name for node in pipeline.nodes for name in node.outputs})
    in_memory = [name for name in written if name not in catalog or isinstance(catalog.get(name), MemoryDataset)]
    if in_memory:
        raise ValueError(
            "the Dask runner needs every node output saved to a file; declare these in conf/base/catalog.yml: "
            + ", ".join(in_memory)
        )


def _catalog_for(node: Node, catalog: DataCatalog) -> DataCatalog:
    """Only the datasets this node touches travel to the worker (parameters included as values)."""
    return DataCatalog(datasets={name: catalog.get(name) for name in (*node.inputs, *node.outputs)})


_chdir_lock = threading.Lock()


def run_node(
    node: Node, catalog: DataCatalog, project: str, run_id: str | None, is_async: bool
) -> tuple[str, list[tuple[str, int, str]]]:
    """Run one node on a worker, from the project folder; returns the worker's address and the node's log
    lines (INFO and up from the project's own loggers), which the runner repeats where the run was started."""
    from kedro.framework.hooks.manager import _create_hook_manager
    from kedro.runner.task import Task

    folder = Path(project)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"this worker cannot see the project folder {folder}: workers need it at the same path (shared volume)"
        )
    with _chdir_lock:
        if Path.cwd() != folder:
            os.chdir(folder)
    with _NodeLog() as lines:
        task = Task(node=node, catalog=catalog, hook_manager=_create_hook_manager(), is_async=is_async, run_id=run_id)
        task.execute()
    return _worker_address(), lines


class _NodeLog(logging.Handler):
    """Collects what this thread logs through the project's loggers while a node runs."""

    LOGGERS = ("pipeline", "models", "accessibility")

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.thread = threading.get_ident()
        self.lines: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.lines.append((record.name, record.levelno, record.getMessage()))

    def __enter__(self) -> list[tuple[str, int, str]]:
        for name in self.LOGGERS:
            named = logging.getLogger(name)
            if named.level == logging.NOTSET:  # a worker's root logger is at WARNING
                named.setLevel(logging.INFO)
            named.addHandler(self)
        return self.lines

    def __exit__(self, *exc: object) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)


def _worker_address() -> str:
    from distributed import get_worker

    try:
        return get_worker().address
    except ValueError:
        return "this process"
