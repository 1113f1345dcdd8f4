"""Reference Python transcriber for the Whisper tiny.en ONNX graphs (onnxruntime + numpy).

It does what the browser worker does: read ``speech-manifest.json``, run the encoder on up to 30 s of 16 kHz
mono audio, then greedy-decode with the tiny.en prompt ``<|startoftranscript|><|notimestamps|>`` (English-only
model: no language or task token) until ``<|endoftext|>`` or ``max_tokens``, and turn byte-level BPE tokens into
text with the tokenizer JSON written next to the graphs.

CLI: ``python -m accessibility.speech.transcribe --models client/static/models speech.wav``
"""

from __future__ import annotations

import argparse
import json
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

SAMPLE_RATE = 16_000


@dataclass
class Transcript:
    text: str
    tokens: list[int]
    timings: dict[str, float] = field(default_factory=dict)


class WhisperOnnx:
    """Greedy tiny.en transcription with the two graphs built by :mod:`accessibility.speech.whisper`."""

    def __init__(self, models_dir: Path, threads: int = 1) -> None:
        models_dir = Path(models_dir)
        manifest = json.loads((models_dir / "speech-manifest.json").read_text())
        files = manifest["files"]
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        self.encoder = ort.InferenceSession(str(models_dir / files["encoder"]["file"]), options, providers=providers)
        self.decoder = ort.InferenceSession(str(models_dir / files["decoder"]["file"]), options, providers=providers)
        tok = json.loads((models_dir / files["tokenizer"]["file"]).read_text(encoding="utf-8"))
        self.tokens: list[str] = tok["tokens"]
        self.byte_decoder: dict[str, int] = tok["byte_decoder"]
        self.special: dict[str, int] = tok["special"]
        self.prompt: list[int] = tok["prompt"]
        vocab = tok["vocab_size"]
        # Never emit the prompt/control tokens (ids above <|endoftext|>) or the config's suppressed tokens.
        self._suppress = np.zeros(vocab, dtype=bool)
        self._suppress[self.special["eot"] + 1 :] = True
        self._suppress[tok["suppress"]] = True
        self._suppress_begin = np.asarray(tok["suppress_at_begin"], dtype=np.int64)

    def decode_text(self, ids: list[int]) -> str:
        """Byte-level BPE ids -> text (special tokens dropped)."""
        eot = self.special["eot"]
        raw = bytes(self.byte_decoder[c] for i in ids if i < eot for c in self.tokens[i])
        return raw.decode("utf-8", errors="replace").strip()

    def encode_audio(self, audio: np.ndarray) -> np.ndarray:
        """The encoder's hidden states [1, 1500, 384] (for inspection; decoding uses :meth:`cross_kv`)."""
        audio = np.asarray(audio, dtype=np.float32).reshape(1, -1)
        return self.encoder.run(["encoder_output"], {"audio": audio})[0]

    def cross_kv(self, audio: np.ndarray) -> np.ndarray:
        """Every decoder layer's cross-attention keys and values for this audio [8, 1, 1500, 384]."""
        audio = np.asarray(audio, dtype=np.float32).reshape(1, -1)
        return self.encoder.run(["cross_kv"], {"audio": audio})[0]

    def transcribe(self, audio: np.ndarray, max_tokens: int = 64) -> Transcript:
        """Transcribe up to 30 s of mono float32 audio at 16 kHz (longer input is trimmed by the graph)."""
        start = time.perf_counter()
        cross_kv = self.cross_kv(audio)
        encoded_at = time.perf_counter()
        ids = list(self.prompt)
        generated: list[int] = []
        eot = self.special["eot"]
        for step in range(max_tokens):
            tokens = np.asarray([ids], dtype=np.int64)
            logits = self.decoder.run(["logits"], {"tokens": tokens, "cross_kv": cross_kv})[0][0]
            logits = np.where(self._suppress, -np.inf, logits)
            if step == 0:
                logits[self._suppress_begin] = -np.inf
            token = int(np.argmax(logits))
            if token == eot:
                break
            generated.append(token)
            ids.append(token)
        end = time.perf_counter()
        timings = {"encoder_s": encoded_at - start, "decoder_s": end - encoded_at, "total_s": end - start}
        return Transcript(self.decode_text(generated), generated, timings)


def load_wav(path: Path) -> np.ndarray:
    """A PCM16 WAV file as mono float32 at 16 kHz (polyphase resampling with scipy when needed)."""
    with wave.open(str(path), "rb") as wav:
        rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
        frames = wav.readframes(wav.getnframes())
    if width != 2:
        raise ValueError(f"{path}: only 16-bit PCM is supported (sample width {width})")
    audio = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    audio = audio.reshape(-1, channels).mean(axis=1)
    return resample(audio, rate, SAMPLE_RATE)


def resample(audio: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    if rate == target:
        return audio.astype(np.float32)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate, target)
    return resample_poly(audio, target // g, rate // g).astype(np.float32)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("wav", type=Path, nargs="+")
    parser.add_argument("--models", type=Path, default=Path("client/static/models"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    model = WhisperOnnx(args.models, threads=args.threads)
    for path in args.wav:
        result = model.transcribe(load_wav(path))
        t = result.timings
        print(f"{path}: {result.text!r}  (encoder {t['encoder_s']:.2f} s, decoder {t['decoder_s']:.2f} s)")


if __name__ == "__main__":
    main()
