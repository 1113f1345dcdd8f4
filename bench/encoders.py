"""Encoder benchmark: torch vs ONNX Runtime, images and text, against a measured compute bound.

Prints one table per model spec:
- model load time and resident memory (torch encoder; ONNX text and image sessions);
- image encoding, images/s, batch 1 and 32, on preprocessed pixels (torch vs ONNX);
- end-to-end ingestion (read + decode + preprocess in threads, ONNX encode), images/s, on coco-mini;
- text query latency, ms (median of 50), short and long queries (torch vs ONNX, tokenisation included);
- the compute bound: the image tower's FLOPs per image over this machine's measured float32 matmul rate.

Run: .venv/bin/python bench/encoders.py [--spec conse:lite1:T20 --spec conse:lite0:T20] [--threads 2]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from pathlib import Path

import numpy as np
import psutil

from models.evaluation import coco_root

SHORT = "a red car"
LONG = (
    "an old wooden fishing boat pulled up on a pebble beach beside a harbour wall, with gulls overhead, "
    "nets piled in the stern and a lighthouse in the distance under a grey sky"
)


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def timed(fn, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def median_ms(fn, runs: int = 50) -> float:
    fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def matmul_gflops(threads: int) -> float:
    """Sustained float32 GEMM rate with ``threads`` threads (best of 5), in GFLOP/s."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    best = min(timed(lambda: a @ b) for _ in range(5))
    return 2 * 2048**3 / best / 1e9


def image_flops(module, size: int) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        module(torch.zeros(1, 3, size, size))
    return float(counter.get_total_flops())


def bench_spec(spec: str, bundle_root: Path, coco: Path, threads: int) -> list[tuple[str, str, str]]:
    import torch

    from models.batch import embed_files
    from models.bundle import BundleManifest
    from models.encoders import load_encoder
    from models.onnx_export import export_bundle
    from models.runtime import OnnxImageEncoder, OnnxTextEncoder
    from pipeline.pipelines.embed.nodes import bundle_folder

    torch.set_num_threads(threads)
    rows: list[tuple[str, str, str]] = []
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    encoder = load_encoder(spec)
    rows.append(("load", f"torch encoder: {time.perf_counter() - started:.1f} s", f"+{rss_mb() - before:.0f} MB RSS"))
    folder = bundle_folder(bundle_root, spec)
    if not (folder / "manifest.json").exists() or BundleManifest.load(folder).spec != spec:
        export_bundle(encoder, folder)
    before = rss_mb()
    load_text = timed(lambda: OnnxTextEncoder(folder, threads=threads))
    text = OnnxTextEncoder(folder, threads=threads)
    load_image = timed(lambda: OnnxImageEncoder(folder, threads=threads))
    image = OnnxImageEncoder(folder, threads=threads)
    rows.append(
        ("load", f"ONNX text {load_text:.2f} s, image {load_image:.2f} s", f"+{rss_mb() - before:.0f} MB RSS (both)")
    )

    size = image.preprocess.size
    pixels = np.random.default_rng(0).normal(size=(64, 3, size, size)).astype(np.float32)
    for batch in (1, 32):
        chunks = [pixels[i : i + batch] for i in range(0, 64, batch)]
        torch_rate = 64 / timed(lambda chunks=chunks: [encoder.encode_pixels(c) for c in chunks])
        onnx_rate = 64 / timed(lambda chunks=chunks: [image.encode_pixels(c) for c in chunks])
        rows.append((f"image encode, batch {batch}", f"torch {torch_rate:.0f} img/s", f"ONNX {onnx_rate:.0f} img/s"))

    flops = image_flops(encoder.image_export(), size)
    gflops = matmul_gflops(threads)
    bound = gflops * 1e9 / flops
    onnx32 = 64 / timed(lambda: [image.encode_pixels(pixels[i : i + 32]) for i in range(0, 64, 32)])
    rows.append(
        (
            "compute bound",
            f"{flops / 1e9:.2f} GFLOP/img at {gflops:.0f} GFLOP/s → {bound:.0f} img/s",
            f"ONNX batch 32 reaches {onnx32 / bound:.0%} of it",
        )
    )

    paths = sorted(coco.glob("*/*.jpg"))
    if paths:
        data = [p.read_bytes() for p in paths]
        embed_files(lambda i: data[i], 32, image)
        for workers in (1, 2):
            seconds = timed(
                lambda workers=workers: embed_files(lambda i: data[i], len(data), image, decode_workers=workers)
            )
            rows.append(
                (
                    f"ingestion end to end ({len(data)} coco-mini JPEGs)",
                    f"{workers} decode thread(s) + ONNX",
                    f"{len(data) / seconds:.0f} img/s",
                )
            )
        decode = timed(lambda: [image.preprocess.load(d) for d in data]) / len(data)
        rows.append(("decode + preprocess, one thread", f"{decode * 1000:.1f} ms/img", f"{1 / decode:.0f} img/s"))

    for label, query in (("short", SHORT), ("long", LONG)):
        torch_ms = median_ms(lambda q=query: encoder.encode_texts([q]))
        onnx_ms = median_ms(lambda q=query: text.encode_texts([q]))
        tokens = int(text.tokenizer([query])[1].sum())
        rows.append(
            (
                f"text query, {label} ({tokens} tokens)",
                f"torch {torch_ms:.2f} ms",
                f"ONNX {onnx_ms:.2f} ms ({torch_ms / onnx_ms:.1f}×)",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", action="append", help="encoder spec (repeatable); default: the offline default")
    parser.add_argument("--bundle-root", type=Path, default=Path("models/onnx"))
    parser.add_argument("--coco", type=Path, default=coco_root(), help="default: $GLIMPSE_COCO or ../shared")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    from models.encoders import DEFAULT_SPEC

    print(f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; threads {args.threads}")
    for spec in args.spec or [DEFAULT_SPEC]:
        rows = bench_spec(spec, args.bundle_root, args.coco, args.threads)
        print(f"\n### {spec}\n")
        print("| measurement | | |\n|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
