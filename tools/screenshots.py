"""The screenshots in docs/: each of Glimpse's own views and the ecosystem's, taken in a real Chromium.

    .venv/bin/python tools/screenshots.py [--project .] [--out docs/images] [--only search,api-docs,...]

Needs the demo built (``make pipeline``). Starts what it photographs on free loopback ports and stops it again:
the server (search page, /docs, /metrics), the MLflow UI over the registry, kedro-viz, and a Dask scheduler
with two workers whose dashboard is photographed after the ``index`` pipeline ran on them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tools.browser import launch
from tools.processes import free_port, port_open, spawn, start_server

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
QUIET = {"KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
VIEWPORT = {"width": 1280, "height": 800}
# kedro-viz opens a feature tour ("1 of 6") over the graph on a first visit: remove its floating box.
HIDE_TOUR = """() => {
  const boxes = [...document.querySelectorAll("body *")].filter((e) =>
    e.textContent.length < 600 && /\\d+ of \\d+/.test(e.textContent) && e.textContent.includes("Next") &&
    ["fixed", "absolute"].includes(getComputedStyle(e).position));
  boxes.sort((a, b) => a.textContent.length - b.textContent.length);
  if (boxes.length) boxes[0].remove();
}"""


def _shoot(
    page, url: str, out: Path, *, ready: str, full_page: bool = False, wait_s: float = 0.0, tidy: str = ""
) -> None:
    page.goto(url, wait_until="load")
    page.wait_for_selector(ready, timeout=60_000)
    time.sleep(wait_s)  # charts and lists that fill in after the first render
    if tidy:  # take away a pop-up that would hide the view
        page.evaluate(tidy)
    page.screenshot(path=str(out), full_page=full_page)
    print(f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}  ←  {url}")


def server_views(page, project: Path, out: Path, logs: Path, only: set[str]) -> None:
    server = start_server(logs / "server.log", project=project, ready_timeout_s=120)
    try:
        if "search" in only:  # tall enough for the form and the first two rows of results
            page.set_viewport_size({"width": 1280, "height": 1500})
            _shoot(page, f"{server.base_url}/search?q=a+dog+on+the+grass&k=10", out / "search.png", ready="ol.results")
            page.set_viewport_size(VIEWPORT)
        if "api-docs" in only:
            _shoot(page, f"{server.base_url}/docs", out / "api-docs.png", ready=".opblock", wait_s=1)
        if "metrics" in only:
            page.goto(f"{server.base_url}/search?q=red+flowers")  # something to count
            _shoot(page, f"{server.base_url}/metrics", out / "metrics.png", ready="pre")
    finally:
        server.stop()


def mlflow_ui(page, project: Path, out: Path, logs: Path) -> None:
    port = free_port()
    db = project / "data" / "mlflow" / "mlflow.db"
    argv = [str(BIN / "mlflow"), "ui", "--backend-store-uri", f"sqlite:///{db}", "--port", str(port)]
    with spawn(argv, logs / "mlflow.log", name="mlflow ui", cwd=project) as ui:
        ui.wait_for_url(f"http://127.0.0.1:{port}/health", timeout_s=120)
        _shoot(page, f"http://127.0.0.1:{port}/#/models/glimpse", out / "mlflow.png", ready="body", wait_s=8)


def kedro_viz(page, project: Path, out: Path, logs: Path) -> None:
    port = next(p for p in range(4141, 4241) if not port_open(p))  # kedro-viz refuses ports above 49151
    argv = [str(BIN / "kedro"), "viz", "run", "--no-browser", "--host", "127.0.0.1", "--port", str(port)]
    with spawn(argv, logs / "kedro-viz.log", name="kedro viz", cwd=project, env=QUIET) as viz:
        url = f"http://127.0.0.1:{port}/"
        viz.wait_for_url(url, timeout_s=180)
        _shoot(page, url, out / "kedro-viz.png", ready=".pipeline-node", wait_s=3, tidy=HIDE_TOUR)


def dask_dashboard(page, project: Path, out: Path, logs: Path) -> None:
    port, dashboard = free_port(), free_port()
    address = f"tcp://127.0.0.1:{port}"
    argv = [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port)]
    scheduler = spawn(
        [*argv, "--dashboard-address", f"127.0.0.1:{dashboard}"],
        logs / "dask-scheduler.log",
        name="dask scheduler",
    )
    workers = None
    try:
        scheduler.wait_for_port(port)
        workers = spawn(
            [str(BIN / "dask"), "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
            logs / "dask-workers.log",
            name="dask workers",
            cwd=project,
        )
        run = [str(BIN / "kedro"), "run", "--pipelines", "index", "--runner", "pipeline.runners.DaskRunner"]
        subprocess.run(run, cwd=project, env={**os.environ, **QUIET, "GLIMPSE_DASK_SCHEDULER": address}, check=True)
        _shoot(page, f"http://127.0.0.1:{dashboard}/workers", out / "dask.png", ready="body", wait_s=3)
    finally:
        if workers is not None:
            workers.stop()
        scheduler.stop()


VIEWS: dict[str, Callable] = {"mlflow": mlflow_ui, "kedro-viz": kedro_viz, "dask": dask_dashboard}
SERVER_VIEWS = ("search", "api-docs", "metrics")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, default=ROOT, help="a project the pipeline ran in (default: .)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {', '.join([*SERVER_VIEWS, *VIEWS])}")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(","))) or {*SERVER_VIEWS, *VIEWS}
    unknown = only - {*SERVER_VIEWS, *VIEWS}
    if unknown:
        parser.error(f"unknown views: {', '.join(sorted(unknown))} (known: {', '.join([*SERVER_VIEWS, *VIEWS])})")
    project = args.project.resolve()
    if not (project / "data" / "mlflow" / "mlflow.db").exists():
        sys.exit(f"{project} has no registry yet: run `make pipeline` first")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="glimpse-screenshots-") as tmp, launch(Path(tmp)) as browser:
        page = browser.new_page(viewport=VIEWPORT)
        logs = Path(tmp)
        if only & set(SERVER_VIEWS):
            server_views(page, project, args.out, logs, only)
        for name, take in VIEWS.items():
            if name in only:
                take(page, project, args.out, logs)


if __name__ == "__main__":
    main()
