"""Reference Python transcriber for the Whisper tiny.en ONNX graphs (onnxruntime + numpy).

It does what the browser worker does: read ``speech-manifest.json``, zero-pad up to 30 s of 16 kHz mono audio
to its encoder window (:func:`window_samples`), run the encoder on it, then greedy-decode with the tiny.en
prompt ``<|startoftranscript|><|notimestamps|>`` (English-only model: no language or task token) until
``<|endoftext|>`` or ``max_tokens``, and turn byte-level BPE tokens into text with the tokenizer JSON written
next to the graphs.

CLI: ``python -m accessibility.speech.transcribe --models client/static/models speech.wav``
"""

from __future__ import annotations

import argparse
import json
import math
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

SAMPLE_RATE = 16_000
FULL_WINDOW_S = 30  # Whisper's own window: what the model was trained on
# The window policy, the same in client/static/js/workers/stt-worker.js (a test runs its functions with node): the
# audio is padded to whole seconds, at least WINDOW_MIN_S and at least WINDOW_MARGIN_S past its end, at most 30 s;
# a decoding in a shorter window that loops (repeats_at_end) is redone in 30 s. Chosen with bench/voice_window.py
# (docs/voice.md has the tables): below 8 s Whisper tiny.en loops on 21-29 % of short queries, from 8 s
# on a few percent, and the word error rate stays within the 30 s window's (better on espeak-ng voices, 1.6
# points worse on the natural Piper voice, an interval that includes no change).
WINDOW_MIN_S = 8
WINDOW_MARGIN_S = 1.0


def window_samples(n_samples: int, min_s: float = WINDOW_MIN_S, margin_s: float = WINDOW_MARGIN_S) -> int:
    """The encoder window for ``n_samples`` of audio, in samples: ``min(30, max(min_s, ceil(seconds + margin_s)))``
    seconds, where ``seconds`` is the audio's length (trimmed to 30 s).

    Whole seconds are whole encoder positions (50 per second), so the graph adds no padding of its own. The
    encoder costs roughly in proportion to the window (a little more: attention is quadratic), and so does the
    decoder's cross-attention. The minimum is what keeps tiny.en from looping on short speech in a short window
    (measured: see the comment above); the margin keeps at least a second of silence after longer speech.
    """
    seconds = min(max(int(n_samples), 0), FULL_WINDOW_S * SAMPLE_RATE) / SAMPLE_RATE
    return int(min(FULL_WINDOW_S, max(min_s, math.ceil(seconds + margin_s))) * SAMPLE_RATE)


def repeats_at_end(tokens: list[int]) -> bool:
    """Whether a decoding has just started to loop: its last token three times in a row, or its last 2-8 tokens
    twice ("Repeat. Repeat. Repeat.", "the next, the next,"). Spoken search queries and commands practically
    never repeat a phrase, while Whisper in a window too short for it does exactly that; and a false alarm only
    costs time, since the redo in 30 s gives Whisper's own transcript."""
    if len(tokens) >= 3 and tokens[-1] == tokens[-2] == tokens[-3]:
        return True
    return any(tokens[-n:] == tokens[-2 * n : -n] for n in range(2, min(8, len(tokens) // 2) + 1))


def pad_to_window(audio: np.ndarray, window: str | int = "auto") -> np.ndarray:
    """``audio`` trimmed to 30 s and zero-padded to its window: ``"auto"`` (:func:`window_samples`), ``"full"``
    (30 s, what Whisper does), or a number of samples (not shorter than the trimmed audio)."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)[: FULL_WINDOW_S * SAMPLE_RATE]
    if window == "auto":
        size = window_samples(audio.size)
    elif window == "full":
        size = FULL_WINDOW_S * SAMPLE_RATE
    elif isinstance(window, int) and audio.size <= window <= FULL_WINDOW_S * SAMPLE_RATE:
        size = window
    else:
        raise ValueError(f"window must be 'auto', 'full' or {audio.size}..{FULL_WINDOW_S * SAMPLE_RATE} samples")
    return np.pad(audio, (0, size - audio.size))


@dataclass
class Transcript:
    text: str
    tokens: list[int]
    timings: dict[str, float] = field(default_factory=dict)
    window_s: float = FULL_WINDOW_S  # the encoder window of the transcript
    redone: bool = False  # a short window's decoding looped and was redone in 30 s (timings cover both)


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
        """The encoder's hidden states [1, frames, 384] for ``audio`` as given: its length is the window (1500
        frames for 30 s; pad with :func:`pad_to_window` first). For inspection; decoding uses :meth:`cross_kv`."""
        audio = np.asarray(audio, dtype=np.float32).reshape(1, -1)
        return self.encoder.run(["encoder_output"], {"audio": audio})[0]

    def cross_kv(self, audio: np.ndarray) -> np.ndarray:
        """Every decoder layer's cross-attention keys and values for this audio [8, 1, frames, 384] (the audio's
        length is the window, as in :meth:`encode_audio`)."""
        audio = np.asarray(audio, dtype=np.float32).reshape(1, -1)
        return self.encoder.run(["cross_kv"], {"audio": audio})[0]

    def _decode(self, cross_kv: np.ndarray, max_tokens: int, stop_on_loop: bool) -> tuple[list[int], bool]:
        """Greedy decoding: the generated ids, and whether it looped (:func:`repeats_at_end`, or ``max_tokens``
        without ``<|endoftext|>``); with ``stop_on_loop`` it stops as soon as it repeats."""
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
                return generated, False
            generated.append(token)
            ids.append(token)
            if stop_on_loop and repeats_at_end(generated):
                return generated, True
        return generated, True

    def transcribe(self, audio: np.ndarray, max_tokens: int = 64, window: str | int = "auto") -> Transcript:
        """Transcribe up to 30 s of mono float32 audio at 16 kHz (longer input is trimmed) in the encoder window
        ``window``: ``"auto"`` (the policy, :func:`window_samples`, with its fallback: a decoding in a short
        window that loops is redone in 30 s), ``"full"`` (30 s) or a number of samples (no fallback)."""
        padded = pad_to_window(audio, window)
        fallback = window == "auto" and padded.size < FULL_WINDOW_S * SAMPLE_RATE
        redone = False
        start = time.perf_counter()
        encoder_s = 0.0
        while True:
            began = time.perf_counter()
            cross_kv = self.cross_kv(padded)
            encoder_s += time.perf_counter() - began
            generated, looped = self._decode(cross_kv, max_tokens, stop_on_loop=fallback)
            if not (fallback and looped):
                break
            padded, fallback, redone = pad_to_window(audio, "full"), False, True
        total = time.perf_counter() - start
        timings = {"encoder_s": encoder_s, "decoder_s": total - encoder_s, "total_s": total}
        return Transcript(self.decode_text(generated), generated, timings, padded.size / SAMPLE_RATE, redone)


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
    parser.add_argument("--full-window", action="store_true", help="always use Whisper's 30 s encoder window")
    args = parser.parse_args(argv)
    model = WhisperOnnx(args.models, threads=args.threads)
    for path in args.wav:
        result = model.transcribe(load_wav(path), window="full" if args.full_window else "auto")
        t = result.timings
        print(
            f"{path}: {result.text!r}  ({result.window_s:.0f} s window: encoder {t['encoder_s']:.2f} s, "
            f"decoder {t['decoder_s']:.2f} s)"
        )


if __name__ == "__main__":
    main()
