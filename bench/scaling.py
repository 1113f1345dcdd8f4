"""Embedding throughput on 1 and 2 Dask workers, and where an image's time goes.

What it runs is the pipeline's own code: ``pipeline.partitions.map_partitions`` over
``pipeline.pipelines.embed.nodes.embed_partition``, called from a task on a ``LocalCluster`` the way the embed
node runs under the Dask runner (one worker process per core, one thread each, the encoder loaded once per
worker before timing). Also, in this process without Dask: the same partitions with ONNX Runtime on 1 and
2 threads, and a per-image breakdown on one thread: read the file, decode (JPEG at reduced scale where
possible), resize + normalise to the model's input, and the model itself (batches of 32).

Images: the 160 coco-mini photos (640 × 480 JPEG), repeated to ``--images``. The model: the default spec's
ONNX bundle under models/onnx (``make pipeline`` exports it).

Run: .venv/bin/python bench/scaling.py [--images 640] [--rounds 2]
Prints markdown tables. Numbers are only comparable within one run (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

from models.evaluation import coco_root

ROOT = Path(__file__).resolve().parents[1]
COCO = coco_root() / "train2017"

BATCH = 32
PARTITION = 64


def default_bundle() -> Path:
    import yaml

    from pipeline.pipelines.embed.nodes import bundle_folder

    params = yaml.safe_load((ROOT / "conf/base/parameters.yml").read_text())
    folder = bundle_folder(ROOT / params["model"]["bundle_root"], params["model"]["spec"])
    if not (folder / "manifest.json").exists():
        sys.exit(f"no ONNX bundle at {folder}: run `make pipeline` first")
    return folder


def photo_paths(count: int) -> list[str]:
    photos = sorted(str(p) for p in COCO.glob("*.jpg"))
    if not photos:
        sys.exit(f"no photos in {COCO} (coco-mini: set GLIMPSE_COCO)")
    return [photos[i % len(photos)] for i in range(count)]


def embed_job(paths: list[str], folder: str, threads: int) -> int:
    """What the embed node does with its images: partitions over the cluster (or in this process)."""
    from pipeline.partitions import map_partitions, split
    from pipeline.pipelines.embed.nodes import embed_partition

    parts = split(paths, PARTITION)
    results = map_partitions(
        embed_partition,
        parts,
        desc="embed",
        sizes=[len(p) for p in parts],
        shared={"folder": folder, "threads": threads, "batch_size": BATCH, "decode_workers": 2, "classes": 10},
    )
    return sum(len(r.ok) for r in results)


def on_cluster(workers: int, paths: list[str], folder: str, rounds: int) -> dict[str, float]:
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(workers)
        up = time.perf_counter() - started
        warm = time.perf_counter()
        # one partition per worker thread and more: every worker loads its encoder before the timed rounds
        client.submit(embed_job, paths[: PARTITION * workers * 2], folder, 0, pure=False).result()
        warm = time.perf_counter() - warm
        seconds = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            done = client.submit(embed_job, paths, folder, 0, pure=False).result()
            seconds.append(time.perf_counter() - t0)
            assert done == len(paths), f"{done} of {len(paths)} embedded"
    best = min(seconds)
    return {"workers": workers, "img_s": len(paths) / best, "seconds": best, "cluster_s": up, "warm_s": warm}


def in_process(threads: int, paths: list[str], folder: str, rounds: int) -> dict[str, float]:
    embed_job(paths[:PARTITION], folder, threads)  # load the encoder
    seconds = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        embed_job(paths, folder, threads)
        seconds.append(time.perf_counter() - t0)
    best = min(seconds)
    return {"threads": threads, "img_s": len(paths) / best, "seconds": best}


def breakdown(paths: list[str], folder: str, count: int = 160) -> dict[str, float]:
    """Milliseconds per image on one thread, stage by stage (the stages embed_files overlaps in threads)."""
    import numpy as np
    from PIL import Image, ImageOps

    from models.runtime import OnnxImageEncoder

    encoder = OnnxImageEncoder(folder, threads=1)
    prep = encoder.preprocess
    files = paths[:count]
    t = {"read": 0.0, "decode": 0.0, "resize": 0.0, "model": 0.0}
    pixels = []
    for path in files:
        t0 = time.perf_counter()
        data = Path(path).read_bytes()
        t1 = time.perf_counter()
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (prep.resize_to, prep.resize_to))
            image = ImageOps.exif_transpose(image)
            image.load()
        t2 = time.perf_counter()
        pixels.append(prep(image))
        t3 = time.perf_counter()
        t["read"] += t1 - t0
        t["decode"] += t2 - t1
        t["resize"] += t3 - t2
    batch = np.stack(pixels)
    encoder.run(batch[:BATCH])  # first run allocates
    runs = []
    for start in range(0, len(batch), BATCH):
        t0 = time.perf_counter()
        encoder.run(batch[start : start + BATCH])
        runs.append(time.perf_counter() - t0)
    t["model"] = sum(runs)
    return {stage: 1000 * seconds / len(files) for stage, seconds in t.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=640)
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds per setting; the best counts")
    args = parser.parse_args()
    folder = str(default_bundle())
    paths = photo_paths(args.images)
    print(f"Embedding {len(paths)} images with {Path(folder).name}, {os.cpu_count()} cores\n")

    cost = breakdown(paths, folder)
    local = [in_process(threads, paths, folder, args.rounds) for threads in (1, 2)]
    cluster = [on_cluster(workers, paths, folder, args.rounds) for workers in (1, 2)]

    print("| setting | images/s | seconds | speed-up vs 1 | efficiency |\n|---|---|---|---|---|")
    for rows, label, key in ((local, "this process, ONNX threads", "threads"), (cluster, "Dask workers", "workers")):
        base = rows[0]["img_s"]
        for row in rows:
            n = row[key]
            print(
                f"| {label} = {n} | {row['img_s']:.1f} | {row['seconds']:.2f} | {row['img_s'] / base:.2f}× "
                f"| {row['img_s'] / base / n:.0%} |"
            )
    setup = [f"{r['workers']} worker(s): cluster {r['cluster_s']:.1f} s, model {r['warm_s']:.1f} s" for r in cluster]
    print("\nDask set-up (not in the figures above): " + "; ".join(setup))
    total = sum(cost.values())
    print("\n| stage (one thread) | ms per image | share |\n|---|---|---|")
    for stage, ms in cost.items():
        print(f"| {stage} | {ms:.2f} | {ms / total:.0%} |")
    print(f"| total | {total:.2f} | = {1000 / total:.1f} images/s on one core without overlap |")
    print(f"\nBreakdown over {min(160, len(paths))} images; the model runs batches of {BATCH}.")


if __name__ == "__main__":
    main()
