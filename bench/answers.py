"""What sending a search answer costs, three ways, in one process, interleaved: the typed route (FastAPI
serialises the returned SearchAnswer), a plain JSONResponse of a dict (before #20), and a pre-serialised
``model_dump_json``. Needs the demo built (`make pipeline`).

    .venv/bin/python bench/answers.py [--project .] [--requests 1500] [--k 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from fastapi.testclient import TestClient

from server.core.config import Settings
from server.main import create_app
from server.schemas import SearchAnswer
from server.services.search import search_text

ROOT = Path(__file__).resolve().parents[1]


def real_answer(project: Path, k: int) -> SearchAnswer:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(project_root=project, feedback_db=Path(tmp) / "feedback.db"))
        with TestClient(app):
            services = app.state.services
            return search_text(services.pool().get("production"), services.features(), "a dog on the grass", k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, default=ROOT)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--k", type=int, default=20)
    args = parser.parse_args()
    answer = real_answer(args.project, args.k)
    as_dict = answer.model_dump(mode="json")
    app = FastAPI()
    app.get("/typed", response_model=SearchAnswer)(lambda: answer)
    app.get("/dict", response_model=None)(lambda: JSONResponse(as_dict))
    app.get("/dumped", response_model=None)(lambda: Response(answer.model_dump_json(), media_type="application/json"))
    client = TestClient(app)
    times: dict[str, list[float]] = {"/typed": [], "/dict": [], "/dumped": []}
    for _ in range(args.requests):
        for path, spent in times.items():
            started = time.perf_counter()
            client.get(path)
            spent.append((time.perf_counter() - started) * 1000)
    bodies = [client.get(path).json() for path in times]
    assert all(body == bodies[0] for body in bodies), "the three ways must send the same JSON"
    print(f"| how ({len(answer.results)} results, {args.requests} requests each, interleaved) | p50 ms |\n|---|---|")
    for path, spent in times.items():
        print(f"| {path[1:]} | {statistics.median(spent):.3f} |")


if __name__ == "__main__":
    main()
