"""The Dask runner: the whole pipeline on a LocalCluster and on a real scheduler + two worker processes on
loopback, each giving the same tables as a sequential run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline

from pipeline.runners import DaskRunner, check_file_backed
from tests.fixtures.project import copy_inputs, prepare_project, run_pipeline
from tools.processes import Child, free_port, spawn

BIN = Path(sys.executable).parent
# Small partitions, so that ingest, embed and describe each cut the 10 photos into several pieces.
SPLIT = {
    "ingest": {"partition_size": 3},
    "embed": {"partition_size": 4, "batch_size": 2},
    "describe": {"partition_size": 3},
}


def _identity(x):
    return x


def test_outputs_kept_in_memory_are_refused():
    pipeline = Pipeline([Node(_identity, "a", "b", name="one"), Node(_identity, "b", "c", name="two")])
    catalog = DataCatalog(datasets={"a": MemoryDataset(1)})
    with pytest.raises(ValueError, match=r"declare these in conf/base/catalog.yml: b, c"):
        check_file_backed(pipeline, catalog)


@pytest.mark.slow
def test_an_unreachable_scheduler_fails_fast_and_says_where(tmp_path):
    from kedro_datasets.json import JSONDataset

    address = f"tcp://127.0.0.1:{free_port()}"
    pipeline = Pipeline([Node(_identity, "params:x", "out", name="one")])
    catalog = DataCatalog(
        datasets={"params:x": MemoryDataset(1), "out": JSONDataset(filepath=str(tmp_path / "out.json"))}
    )
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=f"cannot reach the Dask scheduler at {address}"):
        DaskRunner(address=address).run(pipeline, catalog)
    assert time.monotonic() - started < 60
    assert not (tmp_path / "out.json").exists()


@pytest.mark.slow
def test_a_local_cluster_runs_a_small_pipeline(tmp_path):
    from kedro_datasets.json import JSONDataset

    pipeline = Pipeline([Node(_identity, "params:x", "a", name="one"), Node(_identity, "a", "b", name="two")])
    catalog = DataCatalog(
        datasets={
            "params:x": MemoryDataset({"n": 1}),
            "a": JSONDataset(filepath=str(tmp_path / "a.json")),
            "b": JSONDataset(filepath=str(tmp_path / "b.json")),
        }
    )
    DaskRunner(n_workers=1).run(pipeline, catalog)
    assert json.loads((tmp_path / "b.json").read_text()) == {"n": 1}


def tables(folder: Path) -> dict[str, pd.DataFrame]:
    read = lambda relative: pd.read_parquet(folder / relative)  # noqa: E731
    return {
        "images": read("data/03_primary/images.parquet").drop(columns=["ingested_at"]),
        "rejects": read("data/02_intermediate/ingest_rejects.parquet"),
        "embeddings": read("data/04_feature/image_embeddings.parquet"),
        "descriptions": read("data/04_feature/image_descriptions.parquet"),
    }


def assert_same_tables(expected: dict[str, pd.DataFrame], got: dict[str, pd.DataFrame]) -> None:
    for name in ("images", "rejects", "descriptions"):
        pd.testing.assert_frame_equal(got[name], expected[name], check_dtype=False, obj=name)
    a, b = expected["embeddings"], got["embeddings"]
    assert list(a["image_id"]) == list(b["image_id"]) and list(a["model_version"]) == list(b["model_version"])
    for column in ("embedding", "features", "class_probabilities"):
        np.testing.assert_array_equal(np.stack(b[column]), np.stack(a[column]), err_msg=column)
    np.testing.assert_array_equal(np.stack(b["classes"]), np.stack(a["classes"]))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The sequential run every other runner must match, and its parameters."""
    folder = tmp_path_factory.mktemp("sequential")
    params = prepare_project(folder, images=10) | SPLIT
    (folder / "data/01_raw/demo/set0/broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    run_pipeline(folder, params)
    return folder, params, tables(folder)


@pytest.mark.slow
def test_a_local_cluster_run_gives_the_sequential_tables(reference, tmp_path):
    source, params, expected = reference
    copy_inputs(source, tmp_path)
    run_pipeline(tmp_path, params, runner=DaskRunner(n_workers=2))
    got = tables(tmp_path)
    assert len(got["images"]) == 10 and len(got["rejects"]) == 1
    assert_same_tables(expected, got)
    assert (tmp_path / "data/06_models/registration.json").exists()


def _where_am_i(partition: list[int]) -> list[str]:
    import time

    from distributed import get_worker

    time.sleep(0.2)  # long enough that a free worker thread is offered the next partition
    return [get_worker().address] * len(partition)


def _node_with_partitions(count: int) -> list[str]:
    from pipeline.partitions import map_partitions, split

    parts = split(list(range(count)), 1)
    return [address for result in map_partitions(_where_am_i, parts, desc="test") for address in result]


@pytest.mark.slow
def test_partitions_spread_over_the_workers():
    """A node's partitions go to every worker, the node's own included (it gives its slot back while waiting)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        addresses = client.submit(_node_with_partitions, 8, pure=False).result()
        workers = set(client.scheduler_info(n_workers=-1)["workers"])
    assert len(addresses) == 8 and set(addresses) == workers


def _params_arg(params: dict) -> str:
    flat = []
    for section, values in params.items():
        for key, value in values.items():
            flat.append(f"{section}.{key}={value}")
    return ",".join(flat)


@pytest.mark.slow
def test_a_scheduler_and_two_worker_processes_on_loopback_run_the_pipeline(reference, tmp_path):
    source, params, expected = reference
    project = tmp_path / "project"
    copy_inputs(source, project)
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = os.environ | {"KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    logs = tmp_path / "logs"
    logs.mkdir()
    processes: list[Child] = []

    def start(name: str, *args: str, cwd: Path = tmp_path) -> Child:
        process = spawn(args, logs / f"{name}.log", name=name, cwd=cwd, env=env)
        processes.append(process)
        return process

    try:
        start("scheduler", str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
              "--no-dashboard")  # fmt: skip
        for n in (1, 2):
            # Workers start elsewhere on purpose: the runner must take each task to the project folder.
            start(f"worker{n}", str(BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                  "--name", f"w{n}", "--no-dashboard", "--local-directory", str(tmp_path / f"w{n}"))  # fmt: skip
        workers = wait_for_workers(address, 2, timeout_s=90)
        (tmp_path / "logging.yml").write_text(PLAIN_LOGGING)  # one line per record, for the checks below
        run = subprocess.run(
            [str(BIN / "kedro"), "run", "--runner=pipeline.runners.DaskRunner", "--params", _params_arg(params)],
            cwd=project,
            env=env | {"GLIMPSE_DASK_SCHEDULER": address, "KEDRO_LOGGING_CONFIG": str(tmp_path / "logging.yml")},
            capture_output=True,
            text=True,
            timeout=900,
        )
        log = run.stdout + run.stderr
        assert run.returncode == 0, log[-4000:]
        assert_same_tables(expected, tables(project))
        # The runner names the worker each node ran on, and repeats the nodes' own log lines: both worker
        # processes ran nodes, and the heavy nodes cut their work into partitions. (Which worker computes which
        # partition depends on what else runs at that moment: tiny partitions may all land on one worker while
        # the other builds an index; test_partitions_spread_over_the_workers checks the spreading itself.)
        assert set(re.findall(r"dask: \w+ done on (tcp://[\d.:]+)", log)) == workers, log[-4000:]
        counts = dict(re.findall(r"(ingest|embed|describe): (\d+) partitions on \d worker", log))
        assert counts == {"ingest": "4", "embed": "3", "describe": "4"}, log[-4000:]
    finally:
        for process in reversed(processes):  # the workers, then their scheduler
            process.stop(grace_s=20)


def wait_for_workers(address: str, count: int, timeout_s: float) -> set[str]:
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(count, timeout=timeout_s)
        return set(client.scheduler_info(n_workers=-1)["workers"])


PLAIN_LOGGING = """
version: 1
disable_existing_loggers: false
formatters: {plain: {format: "%(levelname)s %(name)s %(message)s"}}
handlers: {console: {class: logging.StreamHandler, formatter: plain, stream: ext://sys.stdout}}
root: {level: INFO, handlers: [console]}
"""
