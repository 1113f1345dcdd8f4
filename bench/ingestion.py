"""Ingestion speed against what its models alone can do (#18 item 6), on coco-mini photos (640 px JPEGs).

Per stage of the pipeline that looks at pixels:
- embed (models/batch.py ``embed_files``: decoding threads overlapped with the image tower): images/s end to
  end, against the image tower alone on pixels prepared beforehand (batch 32) — the stage's compute bound;
- see (pipeline/pipelines/see ``see_partition``: the object detector, then the text reader, with the next batch
  decoded meanwhile): images/s end to end, against the detector and the text reader alone on pictures decoded
  beforehand (their ms per image added: they run one after the other);
- decoding: a JPEG at full size vs at the model's size (Pillow's ``draft`` scales in the DCT), ms per image.
Every model runs with the pipeline's thread count (2). All rows come from one run.

Compute bounds: each graph's Conv and MatMul multiply-accumulates for one image (ONNX shape inference at the
input size the pipeline gives it), over this machine's float32 matrix-multiply rate (numpy, best of 5). The
text detector's input follows the photo (longest side 960), so its count is taken at 960 × 736 and scaled by
each photo's area; the text recogniser runs once per line found and is left out of the bound. The int8 text
detector may beat a float32 bound.

Run (needs `make setup` and the demo bundle from `make pipeline`): .venv/bin/python bench/ingestion.py [--images 96]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageOps

from accessibility.describer import load_reduced
from models.batch import embed_files
from models.detectors import DEFAULT, model_card, resolve_folder
from models.evaluation import coco_root, load_coco_captions
from models.runtime import OnnxImageEncoder
from models.text_reader import DET_MODEL_FILE, int8_detector, packaged_model_dir
from pipeline.pipelines.see.nodes import READ_SIDE, open_detector, open_reader, see_partition

ROOT = Path(__file__).resolve().parents[1]

THREADS = 2


def per_image_ms(fn, items: list) -> float:
    started = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - started) * 1000 / len(items)


def macs(path: Path, shape: list[int]) -> int:
    """Multiply-accumulates of the Conv and MatMul nodes of the graph at ``path`` for one input of ``shape``."""
    import onnx

    model = onnx.load(str(path))
    for value, size in zip(model.graph.input[0].type.tensor_type.shape.dim, shape, strict=True):
        value.ClearField("dim_param")
        value.dim_value = size
    model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    shapes = {init.name: list(init.dims) for init in model.graph.initializer}
    for value in [*model.graph.value_info, *model.graph.input, *model.graph.output]:
        shapes[value.name] = [d.dim_value if d.HasField("dim_value") else 0 for d in value.type.tensor_type.shape.dim]
    total = 0
    for node in model.graph.node:
        out = shapes.get(node.output[0]) or [0]
        if node.op_type in ("Conv", "ConvInteger"):
            total += int(np.prod(out)) * int(np.prod(shapes.get(node.input[1], [0])[1:]))
        elif node.op_type in ("MatMul", "MatMulInteger", "Gemm"):
            total += int(np.prod(out)) * (shapes.get(node.input[0]) or [0])[-1]
    return total


def matmul_gflops() -> float:
    """Sustained float32 GEMM rate of numpy on this machine (best of 5), GFLOP/s."""
    a, b = np.ones((2048, 2048), np.float32), np.ones((2048, 2048), np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(5))
    return 2 * 2048**3 / best / 1e9


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--coco", type=Path, default=coco_root(), help="default: $GLIMPSE_COCO or ../shared")
    parser.add_argument("--images", type=int, default=96)
    args = parser.parse_args()
    params = _see_params()
    bundle = ROOT / json.loads((ROOT / "data/06_models/model_bundle.json").read_text())["folder"]
    coco = load_coco_captions(args.coco)
    paths = (coco.image_paths + coco.distractor_paths)[: args.images]
    data = [p.read_bytes() for p in paths]
    encoder = OnnxImageEncoder(bundle, threads=THREADS)
    rows: list[tuple[str, str, str]] = []

    full = per_image_ms(lambda b: encoder.preprocess(ImageOps.exif_transpose(Image.open(io.BytesIO(b)))), data)
    drafted = per_image_ms(encoder.preprocess.load, data)
    rows.append(("decode at full size + preprocess (one thread)", f"{full:.2f} ms/img", f"{1000 / full:.0f} img/s"))
    rows.append(
        (
            f"decode at {encoder.preprocess.resize_to} px (draft) + preprocess (one thread)",
            f"{drafted:.2f} ms/img",
            f"{1000 / drafted:.0f} img/s",
        )
    )

    pixels = np.stack([encoder.preprocess.load(b) for b in data])
    encoder.run(pixels[:32])  # warm
    started = time.perf_counter()
    for start in range(0, len(pixels), 32):
        encoder.run(pixels[start : start + 32])
    tower = len(pixels) / (time.perf_counter() - started)
    started = time.perf_counter()
    result = embed_files(lambda i: data[i], len(data), encoder, decode_workers=THREADS)
    embed = len(result.ok) / (time.perf_counter() - started)
    rows.append(("embed: image tower alone, batch 32 (the bound)", f"{1000 / tower:.2f} ms/img", f"{tower:.0f} img/s"))
    rows.append(("embed stage end to end (decode threads + tower)", f"{1000 / embed:.2f} ms/img", f"{embed:.0f} img/s"))

    pictures = [load_reduced(b, side=READ_SIDE) for b in data]
    detector, reader = open_detector(params, THREADS), open_reader(params, THREADS)  # as the pipeline opens them
    detector.detect(pictures[:4])
    reader.read(pictures[0])
    started = time.perf_counter()
    detector.detect(pictures)
    detect_ms = (time.perf_counter() - started) * 1000 / len(pictures)
    read_ms = per_image_ms(reader.read, pictures)
    bound = 1000 / (detect_ms + read_ms)
    root = Path(os.path.commonpath(paths))
    todo = pd.DataFrame(
        {
            "image_id": [p.stem for p in paths],
            "path": [str(p.relative_to(root)) for p in paths],
            "width": [pic.width for pic in pictures],
            "height": [pic.height for pic in pictures],
            "thumbnail": [b"" for _ in paths],
        }
    )
    see_partition(todo[:1], params=params, signature="bench", root=str(root))  # loads its models
    started = time.perf_counter()
    see_partition(todo, params=params, signature="bench", root=str(root))
    see = len(paths) / (time.perf_counter() - started)
    rows.append(("see: object detector alone, batch 4", f"{detect_ms:.1f} ms/img", f"{1000 / detect_ms:.1f} img/s"))
    rows.append(("see: text reader alone", f"{read_ms:.1f} ms/img", f"{1000 / read_ms:.1f} img/s"))
    both = "see: both models, one after the other (the bound)"
    rows.append((both, f"{1000 / bound:.1f} ms/img", f"{bound:.1f} img/s"))
    rows.append(("see stage end to end (decode overlapped)", f"{1000 / see:.1f} ms/img", f"{see:.1f} img/s"))

    gflops = matmul_gflops()
    size = encoder.preprocess.size
    tower_flops = 2 * macs(bundle / encoder.manifest.image.file, [1, 3, size, size])
    detector_name, detector_folder = params["detector"].get("name", DEFAULT), params["detector"].get("folder")
    card = model_card(detector_name, detector_folder)["input"]
    side = card["side"]
    detector_flops = 2 * macs(
        resolve_folder(detector_name, detector_folder) / "model.onnx",
        [1, 3, side, side] if card["layout"].startswith("NCHW") else [1, side, side, 3],
    )
    text_detector = int8_detector() if reader.quantized else packaged_model_dir() / DET_MODEL_FILE
    reference = 2 * macs(text_detector, [1, 3, 736, 960])
    areas = [960 * 960 * min(p.width, p.height) / max(p.width, p.height) for p in pictures]
    reader_flops = reference * float(np.mean(areas)) / (960 * 736)
    bounds = [
        ("image tower", tower_flops, 1000 / tower),
        (f"object detector ({side} × {side})", detector_flops, detect_ms),
        ("text reader (its detector at longest side 960; recogniser not counted)", reader_flops, read_ms),
        ("see models: detector + text reader", detector_flops + reader_flops, detect_ms + read_ms),
        ("embed stage end to end", tower_flops, 1000 / embed),
        ("see stage end to end", detector_flops + reader_flops, 1000 / see),
    ]
    print(f"{len(paths)} coco-mini photos, {os.cpu_count()} cores, {THREADS} threads per model; bundle {bundle.name}\n")
    print("| step | time | rate |\n|---|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nembed stage at {embed / tower:.0%} of its tower's rate; see stage at {see / bound:.0%} of its models'")
    print(f"\nCompute bounds at {gflops:.0f} GFLOP/s (float32 matrix multiply, numpy, {os.cpu_count()} cores):\n")
    print("| model or stage | GFLOP per image | compute bound img/s | measured img/s | share of the bound |")
    print("|---|---:|---:|---:|---:|")
    for name, flops, ms in bounds:
        limit = gflops * 1e9 / flops
        print(f"| {name} | {flops / 1e9:.2f} | {limit:.0f} | {1000 / ms:.1f} | {1000 / ms / limit:.0%} |")


def _see_params() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "conf/base/parameters.yml").read_text())["see"]


if __name__ == "__main__":
    main()
