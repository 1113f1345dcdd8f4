"""Search benchmark: server-side text-query latency by stage, at the demo size and at 100k vectors; HTTP
throughput under concurrent load from a second process on loopback; and the simplest alternative (torch text
encoding + numpy brute force + reading parquet) measured in the same run.

Needs the demo artifacts (`make pipeline`). Run: .venv/bin/python bench/search.py [--seconds 20]
`--paths-only` measures only the HTTP paths (the API, the HTMX fragment, the whole page, "more like this").
Prints markdown tables. Every loop is bounded in count and time; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from models.evaluation import coco_root
from tools.processes import start_server

SHORT_QUERIES = [
    "a red car",
    "a cat sleeping",
    "mountains at sunset",
    "a cup of coffee on a table",
    "a dog",
    "flowers",
    "a boat on the water",
    "people on a beach",
    "a bird in a tree",
    "a city street at night",
    "fruit",
    "an old wooden house in the snow",
    "a child playing with a ball",
    "a rocket launch",
    "a bowl of soup",
]
COCO = coco_root()


def caption_queries(count: int = 200) -> list[str]:
    """Caption-length queries (10–15 words): coco-mini's own captions, what people type when they describe a
    photo; the short list where coco-mini is absent."""
    if not (COCO / "captions_train2017.json").is_file():
        print(f"note: {COCO} not found; short queries instead of captions")
        return SHORT_QUERIES
    from models.evaluation import load_coco_captions

    captions = load_coco_captions(COCO).captions
    return [c for c in captions if 10 <= len(c.split()) <= 15][:count]


QUERIES = caption_queries()


def percentiles(samples_ms: list[float]) -> str:
    p50, p99 = np.percentile(samples_ms, [50, 99])
    return f"{p50:.2f} / {p99:.2f}"


def stage_latency(rounds: int) -> list[tuple[str, str, str, str, str]]:
    """In-process timings of the server's own search function, per stage (p50 / p99 ms)."""
    from server.core.config import Settings
    from server.services.container import Services
    from server.services.search import search_text

    settings = Settings()
    services = Services(settings)
    features = services.features()
    pool = services.pool()
    if features is None or pool is None:
        sys.exit(f"demo artifacts missing: {services.features_problem or services.pool_problem}")
    model = pool.get(settings.default_model)
    for query in QUERIES:
        search_text(model, features, query, 10)
    stages: dict[str, list[float]] = {"spell": [], "encode": [], "search": [], "features": [], "total": []}
    for i in range(rounds):
        started = time.perf_counter()
        body = search_text(model, features, QUERIES[i % len(QUERIES)], 10)
        stages["total"].append((time.perf_counter() - started) * 1000)
        for key in ("spell", "encode", "search", "features"):
            stages[key].append(body.timings_ms[key])
    rows = [
        ("demo", str(model.text_index.meta.count), model.text_index.meta.factory, stage, percentiles(values))
        for stage, values in stages.items()
    ]

    # 100k synthetic vectors shaped like the real ones: real embeddings plus noise, re-normalised.
    from models.index import IndexPolicy, VectorIndex

    real = np.stack([model.text_index.index.reconstruct(i) for i in range(model.text_index.meta.count)])
    rng = np.random.default_rng(0)
    picks = real[rng.integers(0, len(real), 100_000)] + rng.normal(0, 0.05, (100_000, real.shape[1])).astype(np.float32)
    picks /= np.linalg.norm(picks, axis=1, keepdims=True)
    for policy, label in ((IndexPolicy(flat_max=200_000), "exact"), (IndexPolicy(flat_max=50_000), "policy")):
        big = VectorIndex.build(picks, np.arange(len(picks)).astype(str), "synthetic", policy)
        vectors = model.text.encode_queries(QUERIES)
        samples = []
        for i in range(rounds):
            started = time.perf_counter()
            big.search(vectors[i % len(vectors)][None], 10)
            samples.append((time.perf_counter() - started) * 1000)
        meta = big.meta
        name = f"{meta.factory} ({label}, recall@10 {meta.recall_at_10:.3f}, built in {meta.build_seconds:.0f} s)"
        rows.append(("100k synthetic", "100000", name, "search", percentiles(samples)))
    return rows


def baseline_latency(rounds: int) -> tuple[str, str]:
    """The simplest alternative: torch text encoder, numpy brute force over all embeddings, parquet read."""
    import pandas as pd

    from models.bundle import BundleManifest
    from models.encoders import load_encoder

    bundle = json.loads(Path("data/06_models/model_bundle.json").read_text())
    encoder = load_encoder(bundle["spec"])
    prompt = BundleManifest.load(Path(bundle["folder"])).text.query_prompt  # worded as the server words queries
    table = pd.read_parquet("data/04_feature/image_embeddings.parquet")
    matrix = np.stack(table["embedding"].to_numpy())
    ids = table["image_id"].to_numpy()
    samples = []
    for i in range(rounds + len(QUERIES)):
        started = time.perf_counter()
        vector = encoder.encode_texts([prompt.format(QUERIES[i % len(QUERIES)])])[0]
        top = np.argsort(-(matrix @ vector))[:10]
        images = pd.read_parquet("data/03_primary/images.parquet", filters=[("image_id", "in", list(ids[top]))])
        assert len(images) == 10
        if i >= len(QUERIES):
            samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples), f"{np.median(samples):.2f}"


LOAD_CLIENT = r"""
import asyncio, json, sys, time
import httpx
url, seconds, concurrency, max_requests = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
queries = json.loads(sys.argv[5])
latencies, errors = [], 0
async def worker(client, n):
    global errors
    deadline = time.monotonic() + seconds
    i = n
    while time.monotonic() < deadline and len(latencies) + errors < max_requests:
        started = time.perf_counter()
        try:
            r = await client.get(url, params={"q": queries[i % len(queries)], "k": 10})
            if r.status_code == 200: latencies.append((time.perf_counter() - started) * 1000)
            else: errors += 1
        except httpx.HTTPError:
            errors += 1
        i += concurrency
async def main():
    async with httpx.AsyncClient(timeout=10) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client, n) for n in range(concurrency)))
        print(json.dumps({"seconds": time.perf_counter() - started, "latencies": latencies, "errors": errors}))
asyncio.run(main())
"""


@contextlib.contextmanager
def served(workers: int = 1) -> Iterator[int]:
    """The server in its own process(es) on a free loopback port, until the block ends; yields the port."""
    env = {"GLIMPSE_ONNX_THREADS": "1", "MALLOC_ARENA_MAX": "2"}
    with tempfile.TemporaryDirectory(prefix="glimpse-bench-search-") as logs:
        server = start_server(Path(logs) / "server.log", env=env, workers=workers, ready_timeout_s=180, cwd=Path.cwd())
        try:
            yield server.port
        finally:
            server.stop(grace_s=30)


def path_latency(port: int, rounds: int) -> list[tuple[str, str]]:
    """One client, one request at a time: what a person waits for on each path the pages and the API use."""
    import httpx

    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=30) as client:
        first = client.get("/api/search", params={"q": QUERIES[0], "k": 10}).json()["results"][0]["image_id"]
        paths = [
            ("GET /api/search", "/api/search", {}),
            ("GET /search, HTMX fragment (HX-Request: true)", "/search", {"HX-Request": "true"}),
            ("GET /search, whole page", "/search", {}),
        ]
        rows = []
        for label, path, headers in paths:
            samples = []
            for i in range(rounds + len(QUERIES)):
                started = time.perf_counter()
                answer = client.get(path, params={"q": QUERIES[i % len(QUERIES)], "k": 10}, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                answer.raise_for_status()
                if i >= len(QUERIES):
                    samples.append(elapsed)
            rows.append((label, percentiles(samples)))
        import pandas as pd

        everyone = pd.read_parquet("data/03_primary/images.parquet", columns=["image_id"])["image_id"].tolist()
        for label, ask in (
            ("GET /search/similar, every image once", lambda i: client.get("/search/similar", params={"image_id": i})),
            (
                "POST /api/search/image by id, every image once",
                lambda i: client.post("/api/search/image", data={"image_id": i, "k": 10}),
            ),
        ):
            ask(first).raise_for_status()
            samples = []
            for image_id in everyone:
                started = time.perf_counter()
                ask(image_id).raise_for_status()
                samples.append((time.perf_counter() - started) * 1000)
            rows.append((f"{label} ({len(everyone)}, the largest included)", percentiles(samples)))
    return rows


def http_load(port: int, seconds: float, concurrency: int) -> tuple[str, str, str, str, str]:
    """``concurrency`` connections of caption-length text queries for ``seconds``: with Debian's wrk (one
    thread, a Lua script cycling through the queries; it takes ~6 % of one core here), else a Python client."""
    if shutil.which("wrk"):
        return wrk_load(port, seconds, concurrency)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            LOAD_CLIENT,
            f"http://127.0.0.1:{port}/api/search",
            str(seconds),
            str(concurrency),
            "100000",
            json.dumps(QUERIES),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    result = json.loads(out.stdout)
    done = len(result["latencies"])
    return (
        "Python (httpx) coroutines",
        f"{concurrency}",
        f"{done / result['seconds']:.0f}",
        percentiles(result["latencies"]),
        str(result["errors"]),
    )


WRK_SCRIPT = """local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%f %%f %%f %%d\\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def wrk_load(port: int, seconds: float, concurrency: int) -> tuple[str, str, str, str, str]:
    from urllib.parse import urlencode

    paths = ", ".join(json.dumps("/api/search?" + urlencode({"q": q, "k": 10})) for q in QUERIES)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % paths)
    try:
        command = ["wrk", "-t1", f"-c{concurrency}", "-s", script.name, f"http://127.0.0.1:{port}"]
        subprocess.run([*command[:1], "-d8s", *command[1:]], capture_output=True, timeout=60, check=True)  # warm
        out = subprocess.run(
            [*command[:1], f"-d{seconds:.0f}s", *command[1:]],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
    finally:
        os.unlink(script.name)
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    requests, duration, p50, p99, errors = line.split()[1:]
    return (
        "wrk, 1 thread",
        f"{concurrency}",
        f"{int(requests) / float(duration):.0f}",
        f"{float(p50):.2f} / {float(p99):.2f}",
        errors,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--load-rounds", type=int, default=3, help="throughput rounds per server-process count")
    parser.add_argument("--paths-only", action="store_true", help="only the one-client HTTP path latencies")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.paths_only:
        with served() as port:
            paths = path_latency(port, min(args.rounds, 200))
        print("| path | p50 / p99 ms |\n|---|---|")
        for row in paths:
            print("| " + " | ".join(row) + " |")
        return
    print(f"machine: {os.cpu_count()} cores")
    base, base_median = baseline_latency(min(args.rounds, 100))  # first: the server side keeps torch out
    rows = stage_latency(args.rounds)
    print("\n### Server-side text query latency, ms (p50 / p99)\n")
    print("| collection | vectors | index | stage | p50 / p99 |\n|---|---:|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    ours = next(r[4] for r in rows if r[0] == "demo" and r[3] == "total")
    ratio = float(base_median) / float(ours.split(" / ")[0])
    print("\n### Against the simplest alternative (same run, demo collection)\n")
    print("| path | p50 / p99 ms |\n|---|---|")
    print(f"| Glimpse: ONNX Runtime + Faiss + Feast online store | {ours} |")
    print(f"| torch encoder + numpy brute force + parquet read | {base} |")
    print(f"\nGlimpse is {ratio:.1f}× faster at the median.")
    with served() as port:
        paths = path_latency(port, min(args.rounds, 200))
    print("\n### Over HTTP, one client on loopback, ms (p50 / p99)\n")
    print("| path | p50 / p99 |\n|---|---|")
    for row in paths:
        print("| " + " | ".join(row) + " |")
    print(
        f"\n### HTTP throughput, {args.seconds:.0f} s of GET /api/search (caption-length queries) on loopback, "
        f"{args.load_rounds} rounds, 1 and 2 server processes interleaved\n"
    )
    print("| round | server processes | load generator | concurrency | requests/s | latency p50 / p99 ms | errors |")
    print("|---:|---:|---|---:|---:|---|---:|")
    rates: dict[int, list[float]] = {1: [], 2: []}
    for round_ in range(1, args.load_rounds + 1):
        for workers in rates:
            with served(workers) as port:
                row = http_load(port, args.seconds, args.concurrency)
            rates[workers].append(float(row[2]))
            print(f"| {round_} | {workers} | " + " | ".join(row) + " |", flush=True)
    for workers, values in rates.items():
        spread = f"min {min(values):.0f}, max {max(values):.0f}"
        print(f"\n{workers} process(es): median {np.median(values):.0f} requests/s ({spread})")


if __name__ == "__main__":
    main()
