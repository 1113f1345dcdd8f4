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
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from server.core.protocol import server_command

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search import QUERIES

ROOT = Path(__file__).resolve().parents[1]
COCO = ROOT.parent / "shared" / "data" / "coco-mini"
SPEC = "conse:lite1:T20"
PUBLICATION = Path("data/07_feature_store/publication.json")
CHILD_ENV = {"KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
WARM_UP_SHARE = 0.2  # "after warm-up" = the RSS from 20 % into a phase on
FLAT_PCT = 5.0
PHASES = ("steady", "alias", "republish")

try:
    _LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: no dlopen between fork and exec
except OSError:
    _LIBC = None


def _die_with_parent() -> None:
    """In a child (Linux): be killed when this bench dies without cleaning up (SIGKILL, crash)."""
    if _LIBC is not None:
        _LIBC.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


def stop_group(proc: subprocess.Popen, grace_s: float = 15.0) -> None:
    """SIGTERM the child's process group, SIGKILL it if it is still there after ``grace_s``."""
    if proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def spawn(cmd: list[str], cwd: Path, log_path: Path, env: dict[str, str]) -> subprocess.Popen:
    """A child in its own process group, output to ``log_path``. Linux ties the death signal to the thread that
    started the child: every caller here waits for (or stops) its child before that thread ends."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            cmd,
            cwd=cwd,
            env=os.environ | CHILD_ENV | env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


def kedro_cmd(params: dict[str, str], pipelines: str | None = None) -> list[str]:
    kedro = Path(sys.executable).parent / "kedro"
    cmd = [str(kedro if kedro.exists() else ROOT / ".venv" / "bin" / "kedro"), "run"]
    if params:
        cmd += ["--params", ",".join(f"{k}={v}" for k, v in params.items())]
    if pipelines:
        cmd += ["--pipelines", pipelines]
    return cmd


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------- the project
def build_project(project: Path, collection: Path, logs: Path, timeout_s: float = 1800.0) -> dict[str, str]:
    """A scratch project over ``collection`` with the default model, built by the real pipeline (`kedro run`).
    The repo's exported bundle is copied in, so nothing is exported (or written) into the repo."""
    from pipeline.pipelines.embed.nodes import bundle_folder

    if not any(collection.rglob("*.jpg")):
        sys.exit(f"{collection} has no photos: gather the demo collection first (make collect)")
    project.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    shutil.copytree(ROOT / "conf", project / "conf", dirs_exist_ok=True, ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir(exist_ok=True)
    bundles = project / "models" / "onnx"
    repo_bundle = bundle_folder(ROOT / "models" / "onnx", SPEC)
    if repo_bundle.is_dir() and not bundle_folder(bundles, SPEC).exists():
        shutil.copytree(repo_bundle, bundle_folder(bundles, SPEC))
    manifest = collection / "manifest.csv"
    params = {
        "ingest.root": str(collection),
        "model.spec": SPEC,
        "model.bundle_root": str(bundles),
        "evaluate.coco_root": str(COCO if COCO.exists() else project / "no-coco"),
        "evaluate.demo_manifest": str(manifest),
        "describe.source_manifest": str(manifest),
        "publish.demo_manifest": str(manifest),
    }
    log = logs / "kedro-build.log"
    proc = spawn(kedro_cmd(params), project, log, {})
    try:
        code = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        stop_group(proc)
    if code != 0:
        sys.exit(f"building the scratch project failed ({code}); {log}:\n{tail(log)}")
    (project / "soak_project.json").write_text(json.dumps({"collection": str(collection), "params": params}, indent=2))
    return params


def registry_for(project: Path):
    from models.registry import Registry

    return Registry(f"sqlite:///{project}/data/mlflow/mlflow.db", project / "data/mlflow/artifacts")


def second_version(project: Path, seed: int = 0, scale: float = 0.3) -> tuple[str, str]:
    """(base, other): base = the production version; other = base's bundle plus a fixed random query adapter,
    registered (once; found again on later runs) the way the tune pipeline's ``register_adapter`` does, without
    moving any alias. It is served from the base version's index; text answers differ, image answers do not."""
    from models.adapter import ADAPTER_FILE, ADAPTER_META, save_adapter
    from models.bundle import BundleManifest
    from models.registry import PRODUCTION

    registry = registry_for(project)
    base = registry.get(PRODUCTION)
    bundle = registry.bundle_path(base)
    dim = BundleManifest.load(bundle).dim
    weights = (np.random.default_rng(seed).standard_normal((dim, dim)) * (scale / np.sqrt(dim))).astype(np.float32)
    adapter_version = hashlib.sha256(weights.tobytes()).hexdigest()[:12]
    key = f"{base.bundle_version}+a{adapter_version}"
    found = registry.find(key)
    if found is not None:
        return base.version, found.version
    folder = project / "data/06_models/adapters" / key
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(bundle, folder, ignore=shutil.ignore_patterns(ADAPTER_FILE, ADAPTER_META))
    note = "bench/soak.py: a fixed random adapter (not learned from votes), only to have a second version to switch to"
    save_adapter(
        folder, weights, {"base_version": base.version, "base_bundle_version": base.bundle_version, "note": note}
    )
    entry = registry.register(folder, base.spec, key, dict(base.metrics))
    index_tags = {k: v for k, v in base.tags.items() if k.startswith("index_")}
    registry.tag(entry.version, index_tags | {"base_model_version": base.version, "adapter_version": adapter_version})
    return base.version, entry.version


def query_material(project: Path, collection: Path, uploads: int = 8, max_upload_bytes: int = 2 << 20):
    """(image ids, [(file name, JPEG bytes)]): every indexed image id, and ``uploads`` JPEG originals of the
    collection of up to ``max_upload_bytes``, spread over the sizes."""
    import pandas as pd

    images = pd.read_parquet(
        project / "data/03_primary/images.parquet", columns=["image_id", "path", "format", "bytes"]
    )
    ids = sorted(images["image_id"])
    jpeg = images["format"].str.lower().isin(["jpeg", "jpg"])
    jpegs = images[jpeg & (images["bytes"] <= max_upload_bytes)].sort_values("bytes")
    if jpegs.empty:
        raise RuntimeError(f"no JPEG of at most {max_upload_bytes} bytes in {collection}")
    picks = jpegs.iloc[np.unique(np.linspace(0, len(jpegs) - 1, uploads).round().astype(int))]
    files = [(Path(p).name, (collection / p).read_bytes()) for p in picks["path"]]
    return ids, files


# ---------------------------------------------------------------------------------------------- the server
@dataclass
class Server:
    proc: subprocess.Popen
    base_url: str
    log_path: Path


def start_server(
    project: Path, collection: Path, log_path: Path, env: dict[str, str], ready_timeout_s: float = 180.0
) -> Server:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [*server_command("127.0.0.1", port), "--log-level", "warning"]
    settings = {
        "GLIMPSE_PROJECT_ROOT": str(project),
        "GLIMPSE_COLLECTION_ROOT": str(collection),
        "GLIMPSE_FEEDBACK_DB": str(project / "data/feedback/feedback.db"),
    }
    server = Server(spawn(cmd, ROOT, log_path, settings | env), f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"the server exited ({server.proc.returncode}) before it was ready:\n{tail(log_path)}")
        try:
            if httpx.get(server.base_url + "/readyz", timeout=5).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop_group(server.proc)
    raise RuntimeError(f"the server was not ready within {ready_timeout_s:.0f} s:\n{tail(log_path)}")


def process_rss(pid: int) -> int | None:
    """Resident bytes of a process and all its descendants; None once it is gone."""
    try:
        proc = psutil.Process(pid)
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total
    except psutil.Error:
        return None


class RssSampler(threading.Thread):
    def __init__(self, pid: int, origin: float, every_s: float = 1.0) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.pid, self.origin, self.every_s = pid, origin, every_s
        self.samples: list[tuple[float, int]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            rss = process_rss(self.pid)
            if rss is not None:
                self.samples.append((time.monotonic() - self.origin, rss))
            self.halt.wait(self.every_s)


# ---------------------------------------------------------------------------------------------- the load
@dataclass
class Sample:
    at: float  # seconds since the soak began
    kind: str  # text | upload | image_id
    status: str  # "200", "503", "timeout", "connection: ReadError", …
    ms: float
    version: str | None


@dataclass
class Load:
    base_url: str
    ids: list[str]
    uploads: list[tuple[str, bytes]]
    origin: float
    text_share: float = 0.7
    timeout_s: float = 30.0
    seed: int = 0
    error_examples: list[dict] = field(default_factory=list)

    def worker(self, n: int, stop: threading.Event, budget: itertools.count, cap: int, out: list[Sample]) -> None:
        rng = random.Random(self.seed * 1000 + n)
        images = 0
        with httpx.Client(base_url=self.base_url, timeout=self.timeout_s) as client:
            while not stop.is_set() and next(budget) < cap:
                if rng.random() < self.text_share:
                    kind = "text"
                    request = client.build_request(
                        "GET", "/api/search", params={"q": rng.choice(QUERIES), "k": 10}, timeout=self.timeout_s
                    )
                else:
                    images += 1
                    if images % 2:
                        kind, name_bytes = "upload", rng.choice(self.uploads)
                        request = client.build_request(
                            "POST",
                            "/api/search/image",
                            files={"file": (name_bytes[0], name_bytes[1], "image/jpeg")},
                            data={"k": "10"},
                        )
                    else:
                        kind = "image_id"
                        request = client.build_request(
                            "POST", "/api/search/image", data={"image_id": rng.choice(self.ids), "k": "10"}
                        )
                at = time.monotonic() - self.origin
                started = time.perf_counter()
                version = None
                try:
                    response = client.send(request)
                    ms = (time.perf_counter() - started) * 1000
                    status = str(response.status_code)
                    if response.status_code == 200:
                        try:
                            version = response.json()["model"]["version"]
                        except (ValueError, KeyError, TypeError):
                            status = "200 with a bad body"
                    if status != "200":
                        self.note(at, kind, status, response.text[:300])
                except httpx.TimeoutException as exc:
                    ms, status = (time.perf_counter() - started) * 1000, "timeout"
                    self.note(at, kind, status, f"{type(exc).__name__}: {exc}")
                except httpx.HTTPError as exc:
                    ms, status = (time.perf_counter() - started) * 1000, f"connection: {type(exc).__name__}"
                    self.note(at, kind, status, str(exc))
                out.append(Sample(at, kind, status, ms, version))

    def note(self, at: float, kind: str, status: str, detail: str) -> None:
        if len(self.error_examples) < 50:
            self.error_examples.append({"at_s": round(at, 2), "kind": kind, "status": status, "detail": detail})


# ---------------------------------------------------------------------------------------------- background actions
class AliasSwitcher(threading.Thread):
    """Moves ``production`` between two versions every ``every_s`` seconds through the registry."""

    def __init__(self, project: Path, versions: tuple[str, str], every_s: float, origin: float) -> None:
        super().__init__(daemon=True, name="alias-switcher")
        self.project, self.versions, self.every_s, self.origin = project, versions, every_s, origin
        self.halt = threading.Event()
        self.switches: list[dict] = []

    def run(self) -> None:
        from models.registry import PRODUCTION

        registry = registry_for(self.project)
        for n in itertools.count(1):
            if self.halt.wait(self.every_s):
                return
            version = self.versions[n % 2]
            started = time.perf_counter()
            error = None
            try:
                registry.set_alias(PRODUCTION, version)
            except Exception as exc:  # noqa: BLE001 - a failed registry write is a finding: recorded, reported
                error = f"{type(exc).__name__}: {exc}"
            self.switches.append(
                {
                    "at_s": round(time.monotonic() - self.origin, 2),
                    "to": version,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "error": error,
                }
            )


class Republisher(threading.Thread):
    """Runs the publish pipeline in the project again and again until told to stop or a run fails; the run in
    flight when ``no_more`` is set is waited for (up to ``timeout_s``, then killed and counted as failed)."""

    def __init__(
        self, project: Path, params: dict[str, str], pipelines: str, logs: Path, origin: float, timeout_s: float
    ) -> None:
        super().__init__(daemon=True, name="republisher")
        self.project, self.params, self.pipelines, self.logs = project, params, pipelines, logs
        self.origin, self.timeout_s = origin, timeout_s
        self.no_more = threading.Event()
        self.runs: list[dict] = []
        self.proc: subprocess.Popen | None = None

    def published_at(self) -> str | None:
        with contextlib.suppress(OSError, ValueError):
            return json.loads((self.project / PUBLICATION).read_text()).get("published_at")
        return None

    def run(self) -> None:
        for n in itertools.count(1):
            if self.no_more.is_set():
                return
            # The publish node skips inputs it has published already; without the marker it does the whole job.
            (self.project / PUBLICATION).unlink(missing_ok=True)
            log = self.logs / f"kedro-republish-{n}.log"
            started_at, started = time.monotonic() - self.origin, time.perf_counter()
            self.proc = spawn(kedro_cmd(self.params, self.pipelines), self.project, log, {})
            try:
                code: int | None = self.proc.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                code = None
            stop_group(self.proc)
            record = {
                "run": n,
                "pid": self.proc.pid,
                "started_s": round(started_at, 1),
                "seconds": round(time.perf_counter() - started, 1),
                "exit": "timeout" if code is None else code,
                "published_at": self.published_at(),
                "log": str(log),
            }
            self.runs.append(record)
            if code != 0:  # reported with its log; running it again would only repeat the failure
                record["log_tail"] = tail(log)
                return

    def stop_now(self) -> None:
        self.no_more.set()
        if self.proc is not None:
            stop_group(self.proc)


# ---------------------------------------------------------------------------------------------- phases
def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50_ms": None, "p99_ms": None}
    p50, p99 = np.percentile(values, [50, 99])
    return {"n": len(values), "p50_ms": round(float(p50), 2), "p99_ms": round(float(p99), 2)}


def rss_stats(
    samples: list[tuple[float, int]], start: float, end: float, warm_up_share: float = WARM_UP_SHARE
) -> dict[str, Any]:
    """Start (first sample), after warm-up and end (medians over a short window: one upload's decoded pixels
    come and go within a second, a leak stays), max, the change end vs after warm-up, and the slope of a line
    fitted to every sample after warm-up."""
    inside = [(t, r) for t, r in samples if start <= t <= end + 1.0]
    if not inside:
        return {"samples": 0}
    window = max(3.0, min(10.0, 0.1 * (end - start)))
    warm_at = start + warm_up_share * (end - start)
    after = [(t, r) for t, r in inside if t >= warm_at] or inside[-1:]
    warm = float(np.median([r for t, r in after if t <= after[0][0] + window]))
    final = float(np.median([r for t, r in inside if t >= inside[-1][0] - window]))
    mb = 2**20
    slope = None
    if len(after) >= 3:
        t = np.array([s[0] for s in after]) / 60
        slope = round(float(np.polyfit(t - t[0], np.array([s[1] for s in after]) / mb, 1)[0]), 2)
    return {
        "samples": len(inside),
        "window_s": round(window, 1),
        "start_mb": round(inside[0][1] / mb, 1),
        "warm_mb": round(warm / mb, 1),
        "end_mb": round(final / mb, 1),
        "last_mb": round(inside[-1][1] / mb, 1),
        "max_mb": round(max(r for _, r in inside) / mb, 1),
        "change_pct": round((final - warm) / warm * 100, 2),
        "slope_mb_per_min": slope,
        "series": [(round(t, 1), round(r / mb, 1)) for t, r in inside],
    }


def summarise(
    name: str,
    samples: list[Sample],
    start: float,
    end: float,
    rss: list[tuple[float, int]],
    warm_up_share: float = WARM_UP_SHARE,
) -> dict:
    seconds = end - start
    ok = [s for s in samples if s.status == "200"]
    errors = Counter(s.status for s in samples if s.status != "200")
    return {
        "phase": name,
        "seconds": round(seconds, 1),
        "requests": len(samples),
        "ok": len(ok),
        "rps": round(len(samples) / seconds, 1) if seconds > 0 else 0.0,
        "text": percentiles([s.ms for s in ok if s.kind == "text"]),
        "image": percentiles([s.ms for s in ok if s.kind != "text"]),
        "image_upload": percentiles([s.ms for s in ok if s.kind == "upload"]),
        "image_id": percentiles([s.ms for s in ok if s.kind == "image_id"]),
        "errors": dict(errors),
        "error_count": sum(errors.values()),
        "versions": dict(Counter(s.version for s in ok if s.version is not None)),
        "rss": rss_stats(rss, start, end, warm_up_share),
    }


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


def wait_for_version(base_url: str, version: str, timeout_s: float = 60.0) -> float | None:
    """Seconds until a text search is answered by ``version`` (None: not within ``timeout_s``)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            answer = httpx.get(base_url + "/api/search", params={"q": "warm", "k": 1}, timeout=30).json()
            if answer["model"]["version"] == version:
                return round(time.monotonic() - started, 1)
        time.sleep(0.25)
    return None


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
    report["server_pid"] = server.proc.pid
    report["server_started_s"] = round(time.monotonic() - origin, 1)
    sampler = RssSampler(server.proc.pid, origin)
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
        stop_group(server.proc)
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
        report["server_log_tail"] = tail(server.log_path, 6000)
    return report


# ---------------------------------------------------------------------------------------------- report
def verdict(report: dict) -> dict[str, Any]:
    hard = {
        p["phase"]: sum(n for status, n in p["errors"].items() if not status.isdigit() or status.startswith("5"))
        for p in report["phases"]
    }
    steady = next((p for p in report["phases"] if p["phase"] == "steady"), None)
    change = steady["rss"].get("change_pct") if steady else None
    flat = None if steady is None else (change is not None and change <= FLAT_PCT)  # None: no steady phase run
    runs = [r for p in report["phases"] for r in p.get("republish_runs", [])]
    failed_runs = [r["run"] for r in runs if r["exit"] != 0]
    switch_errors = [s for p in report["phases"] for s in p.get("switches", []) if s["error"]]
    alias = next((p for p in report["phases"] if p["phase"] == "alias"), None)
    both_served = None if alias is None else len(alias["versions"]) >= 2  # None: no alias phase run
    republished = next((p for p in report["phases"] if p["phase"] == "republish"), None)
    ok = (
        not any(hard.values())
        and flat is not False
        and not failed_runs
        and not switch_errors
        and both_served is not False
        and (republished is None or len(runs) > 0)
    )
    return {
        "ok": ok,
        "hard_errors": hard,
        "other_errors": sum(p["error_count"] for p in report["phases"]) - sum(hard.values()),
        "rss_flat": flat,
        "steady_rss_change_pct": change,
        "republish_runs": len(runs),
        "republish_failed": failed_runs,
        "alias_switch_errors": len(switch_errors),
        "alias_both_versions_answered": both_served,
    }


def _lat(stats: dict) -> str:
    return "—" if not stats["n"] else f"{stats['p50_ms']:.1f} / {stats['p99_ms']:.1f}"


def render(report: dict) -> str:
    lines = [
        f"machine: {report['machine']['cores']} cores, load average {report['machine']['load_average_start']} at "
        f"start, {report['machine'].get('load_average_end')} at end; server "
        + " ".join(f"{k}={v}" for k, v in report["server_env"].items()),
        f"collection: {report['images']} images; {report['concurrency']} client threads, "
        f"{report['text_share']:.0%} text; uploads {len(report['uploads'])} JPEGs of "
        f"{min(u['bytes'] for u in report['uploads']) // 1024}–{max(u['bytes'] for u in report['uploads']) // 1024} KB",
        f"versions: {report['versions']['base']} (production) and {report['versions']['other']} "
        "(the same bundle + a query adapter)",
        "",
        "### Load",
        "",
        "| phase | s | requests | req/s | text n | text p50 / p99 ms | image n | image p50 / p99 ms "
        "| upload p50 / p99 | by id p50 / p99 | errors | answered by version |",
        "|---|---:|---:|---:|---:|---|---:|---|---|---|---|---|",
    ]
    for p in report["phases"]:
        errors = "; ".join(f"{k}: {v}" for k, v in sorted(p["errors"].items())) or "0"
        versions = ", ".join(f"v{k}: {v}" for k, v in sorted(p["versions"].items()))
        lines.append(
            f"| {p['phase']} | {p['seconds']:.0f} | {p['requests']} | {p['rps']:.1f} | {p['text']['n']} | "
            f"{_lat(p['text'])} | {p['image']['n']} | {_lat(p['image'])} | {_lat(p['image_upload'])} | "
            f"{_lat(p['image_id'])} | {errors} | {versions} |"
        )
    lines += [
        "",
        f"### Server RSS (MB, process and children, sampled every second; after warm-up and end are medians over "
        f"the window after {report.get('warm_up_share', WARM_UP_SHARE):.0%} of the phase and the last window)",
        "",
        "| phase | start | after warm-up | end | max | end vs warm-up | slope after warm-up MB/min "
        "| window s | samples |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in report["phases"]:
        r = p["rss"]
        if not r.get("samples"):
            lines.append(f"| {p['phase']} | — | — | — | — | — | — | — | 0 |")
            continue
        slope = "—" if r["slope_mb_per_min"] is None else f"{r['slope_mb_per_min']:+.2f}"
        lines.append(
            f"| {p['phase']} | {r['start_mb']:.0f} | {r['warm_mb']:.0f} | {r['end_mb']:.0f} | {r['max_mb']:.0f} | "
            f"{r['change_pct']:+.2f} % | {slope} | {r['window_s']:.0f} | {r['samples']} |"
        )
    steady = report["phases"][0]["rss"] if report["phases"] else {}
    last = report["phases"][-1]["rss"] if report["phases"] else {}
    if steady.get("samples") and last.get("samples"):
        whole = (last["end_mb"] - steady["warm_mb"]) / steady["warm_mb"] * 100
        lines.append(
            f"\nWhole soak: {steady['warm_mb']:.0f} MB after the first phase's warm-up → {last['end_mb']:.0f} MB "
            f"at the end ({whole:+.2f} %; a second loaded version is expected to add to it)."
        )
    for p in report["phases"]:
        if "switches" in p:
            s = p["switches"]
            ms = [x["ms"] for x in s]
            lines.append(
                f"\nAlias phase: {len(s)} moves of `production`"
                + (f" (set_alias p50 {np.median(ms):.0f} ms, max {max(ms):.0f} ms)" if ms else "")
                + f", {sum(1 for x in s if x['error'])} failed; pool at the end: "
                + json.dumps({k: p.get("pool", {}).get(k) for k in ("evictions",)})
                + ", loaded "
                + ", ".join(f"v{m['version']}" for m in p.get("pool", {}).get("loaded", []))
            )
            for x in s:
                if x["error"]:
                    lines.append(f"- move at {x['at_s']} s to v{x['to']} failed: {x['error']}")
        if "republish_runs" in p:
            lines += [
                "",
                f"Republish phase: {len(p['republish_runs'])} runs of `kedro run --pipelines "
                f"{report.get('republish_pipelines', 'publish')}` (publication.json removed before each)",
                "",
                "| run | started at s | seconds | exit | published_at |",
                "|---:|---:|---:|---|---|",
            ]
            for r in p["republish_runs"]:
                lines.append(f"| {r['run']} | {r['started_s']} | {r['seconds']} | {r['exit']} | {r['published_at']} |")
            for r in p["republish_runs"]:
                if r["exit"] != 0:
                    lines.append(f"\nrun {r['run']} failed; end of {r['log']}:\n```\n{r.get('log_tail', '')}\n```")
    if report.get("error_examples"):
        lines += ["", "First error answers:"]
        lines += [
            f"- {e['at_s']} s {e['kind']} {e['status']}: {e['detail'][:200]}" for e in report["error_examples"][:10]
        ]
    if report.get("server_log_problems"):
        lines += ["", "Server log lines with an error or warning:", "```"]
        lines += report["server_log_problems"][:40]
        lines += ["```"]
    v = report["verdict"]
    hard = sum(v["hard_errors"].values())
    lines += [
        "",
        f"5xx / connection errors / timeouts: {hard}"
        + (f" (by phase {v['hard_errors']})" if hard else "")
        + f"; other non-200 answers: {v['other_errors']}",
        f"RSS flat within {FLAT_PCT:.0f} % (steady phase, end vs after warm-up): "
        + {True: "yes", False: "no", None: "n/a (no steady phase)"}[v["rss_flat"]]
        + (f" ({v['steady_rss_change_pct']:+.2f} %)" if v["steady_rss_change_pct"] is not None else ""),
        f"alias moves failed: {v['alias_switch_errors']}; both versions answered during the alias phase: "
        + {True: "yes", False: "no", None: "n/a"}[v["alias_both_versions_answered"]],
        f"republish runs: {v['republish_runs']}, failed: {v['republish_failed'] or 'none'}",
        f"verdict: {'PASS' if v['ok'] else 'FAIL'} (total {report['total_seconds']:.0f} s; logs in {report['logs']})",
    ]
    return "\n".join(lines)


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
