"""Load and soak: sustained concurrent text and image queries against the real server, steady, while the
`production` alias moves back and forth, and while the pipeline republishes the feature store.

Why: the seed warns of memory leaks (Faiss, Dask); a short benchmark (bench/search.py) shows neither a slow
leak nor what a request sees while the registry or the feature store changes under a running server. This
bench shows throughput, latency, errors and the server's resident memory over minutes of load.

How: in a scratch project outside the repo (built with `kedro run` over the demo collection with the offline
default model `conse:lite1:T20`, reusing the repo's exported ONNX bundle; the repo's own data/ and registry are
only read) it registers a second model version — the production bundle plus a fixed, small random query adapter,
registered the way the `tune` pipeline registers a tuned version — starts `uvicorn server.main:create_app
--factory` on 127.0.0.1 as a child process and drives it from this process with ``--concurrency`` client
threads, ~70 % `GET /api/search?q=…&k=10` and ~30 % `POST /api/search/image` (half an uploaded JPEG of the
collection, half an `image_id`). Three phases, each bounded by ``--seconds`` and ``--max-requests``:

1. steady: only the load;
2. alias: `production` is moved between the two versions every ``--switch-every`` seconds through
   `models.registry.Registry.set_alias` (what the promotion does); the server re-reads aliases every
   `GLIMPSE_ALIAS_REFRESH_S` (2 s by default), and is left on the first version afterwards;
3. republish: `kedro run --pipelines publish` in the project, looped in a subprocess until the phase ends
   (the run in flight at the deadline is waited for, under load). The publish node skips unchanged inputs,
   so `data/07_feature_store/publication.json` is removed before each run: every run really re-writes the
   offline parquet, re-applies the Feast definitions and re-materialises every row into the SQLite online
   store the server reads for each result.

The server's RSS (its process and any children, psutil) is sampled every second. Per phase it prints requests,
requests/s, p50 / p99 ms for text and image queries, errors by status (any non-200, connection errors and
timeouts too), RSS at the start, after warm-up (from ``--warm-up``, 20 % of the phase, on) and at the end (both
medians over a few seconds: decoding an upload adds tens of MB for a moment), the maximum, the change end vs
after warm-up and the slope after warm-up. Exit status 1 when any 5xx, connection error or timeout occurred, a
registry move or republish run failed, the alias phase never saw the second version answer, or the RSS grew more
than 5 % after warm-up in the steady phase. Environment variables reach the server (e.g. MALLOC_ARENA_MAX=2
to tell the C allocator's per-thread arenas filling up from a leak).

Run: .venv/bin/python bench/soak.py [--seconds 180] [--concurrency 4] [--project DIR] [--keep] [--out report.json]
Takes 1–3 min to build the scratch project (skip it with --project DIR, a project kept with --keep), then
3 × --seconds plus the last republish run (and ~10 s of start-up). ``--phases steady --text-share 1`` and the
like isolate one effect. Traffic goes to 127.0.0.1 only; every child process is stopped on exit (and dies with
this process on Linux). Server and kedro logs are kept in a folder printed at the end.

This file is the command line and the phases; the parts: bench/soak_project.py (the scratch project and the
second version), soak_load.py (client threads, RSS sampling), soak_disturb.py (alias moves, republish runs),
soak_stats.py (figures and verdict), soak_report.py (the markdown); child processes: tools/processes.py.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.soak_disturb import AliasSwitcher, Republisher
from bench.soak_load import Load, RssSampler, Sample, wait_for_version
from bench.soak_project import CHILD_ENV, build_project, query_material, registry_for, second_version
from bench.soak_report import render
from bench.soak_stats import WARM_UP_SHARE, summarise, verdict
from tools import processes
from tools.processes import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("steady", "alias", "republish")


def start_server(
    project: Path, collection: Path, log_path: Path, env: dict[str, str], ready_timeout_s: float = 180.0
) -> ServerProcess:
    """The app serving the scratch project and its photos, once /readyz answers 200."""
    settings = CHILD_ENV | {"GLIMPSE_COLLECTION_ROOT": str(collection)} | env
    return processes.start_server(log_path, project=project, env=settings, ready_timeout_s=ready_timeout_s)


@dataclass
class Config:
    project: Path
    collection: Path
    logs: Path
    seconds: float = 180.0
    concurrency: int = 4
    max_requests: int = 100_000
    switch_every_s: float = 3.0
    republish_pipelines: str = "publish"
    republish_params: dict[str, str] = field(default_factory=dict)
    republish_timeout_s: float = 600.0
    server_env: dict[str, str] = field(default_factory=lambda: {"GLIMPSE_ONNX_THREADS": "1"})
    text_share: float = 0.7
    seed: int = 0
    phases: tuple[str, ...] = PHASES
    warm_up_share: float = WARM_UP_SHARE


def run_soak(config: Config) -> dict[str, Any]:
    """Register the second version, start the server, run the three phases, stop everything; the report."""
    from models.registry import PRODUCTION

    config.logs.mkdir(parents=True, exist_ok=True)
    base, other = second_version(config.project)
    registry = registry_for(config.project)
    registry.set_alias(PRODUCTION, base)
    ids, uploads = query_material(config.project, config.collection)
    origin = time.monotonic()
    report: dict[str, Any] = {
        "machine": {"cores": os.cpu_count(), "load_average_start": [round(x, 2) for x in os.getloadavg()]},
        "project": str(config.project),
        "collection": str(config.collection),
        "images": len(ids),
        "uploads": [{"name": n, "bytes": len(b)} for n, b in uploads],
        "versions": {"base": base, "other": other},
        "concurrency": config.concurrency,
        "text_share": config.text_share,
        "server_env": config.server_env,
        "republish_pipelines": config.republish_pipelines,
        "warm_up_share": config.warm_up_share,
        "logs": str(config.logs),
        "phases": [],
    }
    server = start_server(config.project, config.collection, config.logs / "server.log", config.server_env)
    report["server_pid"] = server.pid
    report["server_started_s"] = round(time.monotonic() - origin, 1)
    sampler = RssSampler(server.pid, origin)
    sampler.start()
    load = Load(server.base_url, ids, uploads, origin, text_share=config.text_share, seed=config.seed)
    switcher: AliasSwitcher | None = None
    republisher: Republisher | None = None
    try:
        for name in config.phases:
            samples: list[list[Sample]] = [[] for _ in range(config.concurrency)]
            stop, budget = threading.Event(), itertools.count()
            start = time.monotonic() - origin
            workers = [
                threading.Thread(
                    target=load.worker, args=(n, stop, budget, config.max_requests, samples[n]), daemon=True
                )
                for n in range(config.concurrency)
            ]
            for worker in workers:
                worker.start()
            if name == "alias":
                switcher = AliasSwitcher(config.project, (base, other), config.switch_every_s, origin)
                switcher.start()
            if name == "republish":
                republisher = Republisher(
                    config.project,
                    config.republish_params,
                    config.republish_pipelines,
                    config.logs,
                    origin,
                    config.republish_timeout_s,
                )
                republisher.start()
            deadline = time.monotonic() + config.seconds
            while time.monotonic() < deadline and any(w.is_alive() for w in workers):
                time.sleep(0.2)
            if republisher is not None:  # the run in flight finishes under load
                republisher.no_more.set()
                republisher.join(timeout=config.republish_timeout_s + 30)
            stop.set()
            for worker in workers:
                worker.join(timeout=load.timeout_s + 5)
            end = time.monotonic() - origin
            if switcher is not None:
                switcher.halt.set()
                switcher.join(timeout=30)
            phase = summarise(name, [s for w in samples for s in w], start, end, sampler.samples, config.warm_up_share)
            with contextlib.suppress(httpx.HTTPError, ValueError):
                phase["pool"] = httpx.get(server.base_url + "/api/models", timeout=30).json()["pool"]
            if switcher is not None:
                phase["switches"] = switcher.switches
                registry.set_alias(PRODUCTION, base)
                switcher = None
                # The server re-reads aliases every GLIMPSE_ALIAS_REFRESH_S: the next phase starts once it has.
                phase["back_on_base_after_s"] = wait_for_version(server.base_url, base)
            if republisher is not None:
                republisher.stop_now()  # a no-op unless the join above gave up
                phase["republish_runs"] = republisher.runs
                republisher = None
            report["phases"].append(phase)
    finally:
        if switcher is not None:
            switcher.halt.set()
        if republisher is not None:
            republisher.stop_now()
        server.stop(grace_s=15)
        sampler.halt.set()
        sampler.join(timeout=5)
        with contextlib.suppress(Exception):  # leave the registry as it was found, if possible
            registry.set_alias(PRODUCTION, base)
    report["server_exit"] = server.proc.returncode
    report["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report["error_examples"] = load.error_examples
    log_lines = server.log_path.read_text(errors="replace").splitlines() if server.log_path.exists() else []
    report["server_log_problems"] = [
        line for line in log_lines if any(w in line for w in ("ERROR", "Traceback", "Error", "WARNING", "Exception"))
    ][:80]
    report["total_seconds"] = round(time.monotonic() - origin, 1)
    report["verdict"] = verdict(report)
    if not report["verdict"]["ok"]:
        report["server_log_tail"] = server.log_tail(6000)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="length of each of the three phases")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--max-requests", type=int, default=100_000, help="cap per phase")
    parser.add_argument("--switch-every", type=float, default=3.0, help="seconds between moves of production")
    parser.add_argument("--project", type=Path, default=None, help="reuse a built project (never the repo itself)")
    parser.add_argument("--collection", type=Path, default=None, help="its photo folder (default: as built)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to build the scratch project")
    parser.add_argument("--keep", action="store_true", help="keep the scratch project (reuse it with --project)")
    parser.add_argument("--onnx-threads", type=int, default=1, help="GLIMPSE_ONNX_THREADS of the server")
    parser.add_argument("--alias-refresh", type=float, default=None, help="GLIMPSE_ALIAS_REFRESH_S (default: 2)")
    parser.add_argument("--warm-up", type=float, default=WARM_UP_SHARE, help="share of a phase that is warm-up")
    parser.add_argument("--text-share", type=float, default=0.7, help="share of text queries (rest: image)")
    parser.add_argument("--phases", default=",".join(PHASES), help="which phases, in order (for diagnosis)")
    parser.add_argument("--out", type=Path, default=None, help="write the whole report as JSON")
    args = parser.parse_args()
    phases = tuple(p.strip() for p in args.phases.split(",") if p.strip())
    if unknown := set(phases) - set(PHASES):
        sys.exit(f"unknown phases {sorted(unknown)}; known: {', '.join(PHASES)}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup on `kill`, too
    for key, value in CHILD_ENV.items():
        os.environ.setdefault(key, value)
    logs = Path(tempfile.mkdtemp(prefix="glimpse-soak-logs-"))
    built = args.project is None
    if args.project is not None:
        project = args.project.resolve()
        if project == ROOT or ROOT in project.parents:
            sys.exit("--project must be a scratch project outside the repo: the soak moves aliases and republishes")
        saved = project / "soak_project.json"
        info = json.loads(saved.read_text()) if saved.exists() else {}
        collection = args.collection or Path(info.get("collection", project / "data/01_raw/demo"))
        params = info.get("params", {})
    else:
        project = (args.workdir or Path(tempfile.mkdtemp(prefix="glimpse-soak-"))).resolve()
        if project == ROOT or ROOT in project.parents:
            sys.exit("--workdir must be outside the repo")
        collection = (args.collection or ROOT / "data/01_raw/demo").resolve()
        started = time.perf_counter()
        print(f"building the scratch project in {project} (kedro run over {collection}) …", flush=True)
        params = build_project(project, collection, logs)
        print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    # As deployed (Dockerfile, Makefile): two malloc arenas. glibc alone allows 8 per core: MALLOC_ARENA_MAX=16 here.
    env = {"GLIMPSE_ONNX_THREADS": str(args.onnx_threads), "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2")}
    if args.alias_refresh is not None:
        env["GLIMPSE_ALIAS_REFRESH_S"] = str(args.alias_refresh)
    republish = {k: v for k, v in params.items() if k.startswith("publish.")}
    config = Config(
        project=project,
        collection=collection,
        logs=logs,
        seconds=args.seconds,
        concurrency=args.concurrency,
        max_requests=args.max_requests,
        switch_every_s=args.switch_every,
        republish_params=republish,
        server_env=env,
        text_share=args.text_share,
        phases=phases,
        warm_up_share=args.warm_up,
    )
    try:
        report = run_soak(config)
    finally:
        if built and not args.keep:
            shutil.rmtree(project, ignore_errors=True)
        elif built:
            print(f"scratch project kept in {project} (reuse: --project {project})")
    print(render(report))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    sys.exit(0 if report["verdict"]["ok"] else 1)


if __name__ == "__main__":
    main()
