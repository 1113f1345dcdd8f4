"""What a text query's encoding costs, and what each option buys (#18 item 3).

For caption-length queries (coco-mini captions of 10-15 words, one at a time as the server gets them):
- the tokenizer alone;
- the full-precision text graph and the int8 query graph (``text.int8.onnx``), each with 1 and 2 intra-op
  threads and with ONNX Runtime's "basic" vs "all" graph optimisations;
- coco-mini text→image Recall@1/5/10 of both graphs with the same image vectors (the int8 graph is kept only
  while R@10 drops by less than 0.5 points).
All rows are measured in one run, interleaved round-robin so machine noise hits every row alike.

Run: .venv/bin/python bench/text_encoding.py [--bundle models/onnx/<spec>] [--rounds 400]
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from models.bundle import BundleManifest
from models.evaluation import coco_root, load_coco_captions, text_to_image_recall
from models.runtime import OnnxImageEncoder, OnnxTextEncoder, make_session

COCO = coco_root()


def default_bundle() -> Path:
    """The bundle the pipeline last exported (data/06_models/model_bundle.json)."""
    return Path(json.loads(Path("data/06_models/model_bundle.json").read_text())["folder"])


def session(path: Path, threads: int, level: ort.GraphOptimizationLevel) -> ort.InferenceSession:
    if level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL:
        return make_session(path, threads)  # what the server uses
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def p50_p99(samples: list[float]) -> str:
    ordered = sorted(samples)
    return f"{statistics.median(ordered):.2f} / {ordered[int(0.99 * (len(ordered) - 1))]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=400)
    args = parser.parse_args()
    folder = args.bundle or default_bundle()
    spec = BundleManifest.load(folder).text
    if not spec.query_file:
        raise SystemExit(f"{folder} has no int8 query graph: re-export it (kedro run --pipelines export)")
    data = load_coco_captions(COCO)
    queries = [c for c in data.captions if 10 <= len(c.split()) <= 15]
    tokenizer = OnnxTextEncoder(folder).tokenizer

    rows: dict[str, tuple] = {"tokenizer only": (None, None)}
    levels = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC, "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
    for name, file in (("fp32", spec.file), ("int8", spec.query_file)):
        for threads in (1, 2):
            for level_name, level in levels.items():
                s = session(folder / file, threads, level)
                inputs = {i.name for i in s.get_inputs()}
                rows[f"{name} graph, {threads} thread(s), {level_name} optimisations"] = (s, inputs)
    samples: dict[str, list[float]] = {label: [] for label in rows}
    for i in range(args.rounds + 20):
        text = [queries[i % len(queries)]]
        for label, (s, inputs) in rows.items():
            started = time.perf_counter()
            ids, mask = tokenizer(text)
            if s is not None:
                feeds = {"input_ids": ids, "attention_mask": mask}
                s.run(None, {k: v for k, v in feeds.items() if k in inputs})
            if i >= 20:  # warm-up rounds left out
                samples[label].append((time.perf_counter() - started) * 1000)

    image = OnnxImageEncoder(folder)
    paths = data.image_paths + data.distractor_paths
    views = np.stack([image.preprocess.load_views(p.read_bytes()) for p in paths])
    gallery = np.concatenate([image.run_views(views[i : i + 32]).embeddings for i in range(0, len(views), 32)])
    recall = {}
    for name, queries_flag in (("fp32", False), ("int8", True)):
        texts = OnnxTextEncoder(folder, queries=queries_flag).encode_queries(data.captions)
        recall[name] = text_to_image_recall(texts, gallery, data.caption_image)

    print(f"bundle: {folder} ({len(queries)} caption-length queries, {args.rounds} rounds, one query at a time)\n")
    print("| path (tokenising included) | p50 / p99 ms |\n|---|---|")
    for label in rows:
        print(f"| {label} | {p50_p99(samples[label])} |")
    print(f"\ncoco-mini text→image, {len(data.captions)} captions over {len(paths)} images (same image vectors):\n")
    print("| text graph | R@1 | R@5 | R@10 |\n|---|---:|---:|---:|")
    for name, values in recall.items():
        print(f"| {name} | {values['R@1']:.3f} | {values['R@5']:.3f} | {values['R@10']:.3f} |")
    drop = (recall["fp32"]["R@10"] - recall["int8"]["R@10"]) * 100
    print(f"\nint8 R@10 drop: {drop:+.2f} points ({'kept' if drop < 0.5 else 'over the 0.5-point budget'})")


if __name__ == "__main__":
    main()
