"""Voice search's encoder window: transcription quality and cost of Whisper's 30 s window vs shorter ones.

Spoken queries (short image-search queries and short commands) are synthesised with espeak-ng voices and the
read-aloud Piper voice at several speeds, framed like a recording (a little silence before and after, a faint
noise floor), and transcribed with the Python reference of the browser worker
(:class:`accessibility.speech.transcribe.WhisperOnnx`, one thread by default) once per setting: the full 30 s
window and window policies ``min(30, max(MIN, ceil(seconds + MARGIN)))`` for candidate (MIN, MARGIN) pairs (for
these 1-5 s recordings a MIN of 6 s or more is a fixed window). The settings of one recording run back to back,
so machine noise hits them alike.

Printed as markdown: word error rate (words normalised: case, punctuation, numbers 0-20 as words), exact match,
agreement with the 30 s transcript, decodings that loop (:func:`looped`), window and times; with --fallback also
each policy with a 30 s redo of looping decodings, with --per-voice WER by voice and speed, with --show the
transcripts that differ from 30 s. --save keeps every transcription as JSON, --load reports on such a file.

Needs espeak-ng and the speech models (`make setup`, or `python -m accessibility.speech.whisper`).
Run: .venv/bin/python -m bench.voice_window [--policies 3:1,10:1] [--voices en-us,en-gb-x-rp,en+f3,piper]
     [--speeds 130,160,190] [--threads 1] [--fallback] [--per-voice] [--show 10] [--save runs.json]
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from accessibility.speech.synthesise import Synthesiser
from accessibility.speech.transcribe import (
    SAMPLE_RATE,
    WhisperOnnx,
    load_wav,
    repeats_at_end,
    resample,
    window_samples,
)

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "client" / "static" / "models"

QUERIES = [
    "a red car parked on the street",
    "two dogs playing in the snow",
    "show me pictures of a birthday cake",
    "a man riding a horse on the beach",
    "children playing football in the park",
    "a black cat sleeping on the sofa",
    "a plate of pasta with tomatoes",
    "people waiting at a train station",
    "a boat on a lake at sunset",
    "find photos of mountains with snow",
    "a woman holding an umbrella in the rain",
    "an airplane flying over the city",
    "a bowl of fruit on a kitchen table",
    "a bus driving down a busy road",
    "a giraffe standing next to a tree",
    "a man surfing a big wave",
    "pizza with cheese and mushrooms",
    "a little girl eating ice cream",
    "a laptop on a wooden desk",
    "a group of people skiing down a hill",
    "an elephant walking through tall grass",
    "a bicycle leaning against a wall",
    "a dog catching a frisbee",
    "a clock tower in the middle of town",
    "sheep grazing in a green field",
    "a teddy bear on a bed",
    "a traffic light at a crossing",
    "a baseball player swinging a bat",
    "a zebra drinking water",
    "a kite flying in a blue sky",
]
COMMANDS = ["next", "repeat", "stop", "more like this", "good", "not it", "search for a cat", "go back", "show more"]
LONG = [  # 4-8 s: where a window of a few seconds more than the speech is mostly speech
    "find pictures of the beach at sunset with children playing in the waves",
    "show me photos of a family having a picnic in the park on a sunny afternoon",
    "a man in a blue jacket walking his dog along a river in the early morning",
    "two women sitting at a cafe table drinking coffee and talking to each other",
    "a kitchen with white cabinets a wooden table and a bowl of green apples on the counter",
    "a train crossing a bridge over a river with mountains and snow in the background",
    "pictures of a birthday party with balloons a chocolate cake and lots of children",
    "an old red bus parked next to a tall building on a busy street in the city",
]
PHRASES = {"query": QUERIES, "command": COMMANDS, "long": LONG}
VOICES = ["en-us", "en-gb-x-rp", "en+f3", "piper"]
SPEEDS = [130, 160, 190]
# (MIN_S, MARGIN_S) candidates; "full" is always measured too.
POLICIES = [(1, 1.0), (2, 1.0), (3, 1.0), (3, 2.0), (5, 1.0), (8, 1.0), (10, 1.0), (15, 1.0), (20, 1.0)]
MAX_TOKENS = 64  # as the browser worker
LEAD_S, TAIL_S, NOISE_RMS = 0.3, 0.3, 1e-3  # a recording: press, speak, release; a quiet room's noise floor

_NUMBERS = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
]  # fmt: skip


def normalise(text: str) -> list[str]:
    """Lower case, punctuation and hyphens to spaces, numbers 0-20 spelled out."""
    words = re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()
    return [_NUMBERS[int(w)] if w.isdigit() and int(w) <= 20 else w for w in words]


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance over words: substitutions + deletions + insertions."""
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        prev, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ref != hyp))
    return row[-1]


@functools.cache
def _piper() -> Synthesiser:
    return Synthesiser.from_package()


def piper_speech(text: str, speed: int) -> np.ndarray:
    """``text`` in the read-aloud Piper voice at 16 kHz, its pace scaled so that ``speed`` 160 is its own."""
    return resample(_piper().synthesise(text, length_scale=160 / speed), _piper().sample_rate).astype(np.float32)


def synthesise(text: str, voice: str, speed: int, seed: int = 0) -> np.ndarray:
    """Speech at 16 kHz, framed like a recording: LEAD_S / TAIL_S of noise floor around it. ``voice`` is an
    espeak-ng voice, or ``piper``: the read-aloud Piper voice (neural, more natural), its pace scaled so that
    ``speed`` 160 is its own."""
    if voice == "piper":
        speech = piper_speech(text, speed)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "speech.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True)
            speech = load_wav(wav)
    audio = np.concatenate([np.zeros(int(LEAD_S * SAMPLE_RATE)), speech, np.zeros(int(TAIL_S * SAMPLE_RATE))])
    audio = audio + NOISE_RMS * np.random.default_rng(seed).standard_normal(audio.size)
    return audio.astype(np.float32)


@dataclass
class Run:
    """One transcription: its text and tokens, the window, and the encoder and decoder times."""

    text: str
    tokens: list[int]
    window_s: float
    encoder_ms: float
    decoder_ms: float
    redone: bool = False  # a looping short-window decoding redone in 30 s (:func:`with_fallback`)


def looped(tokens: list[int], max_tokens: int = MAX_TOKENS) -> bool:
    """A decoding that ran into a loop: it hit the token limit, or at some point :func:`repeats_at_end`."""
    return len(tokens) >= max_tokens or any(repeats_at_end(tokens[:end]) for end in range(3, len(tokens) + 1))


def settings_for(policies: list[tuple[float, float]]) -> dict[str, object]:
    return {"30 s (full)": "full"} | {f"min {lo:g} s, margin {margin:g} s": (lo, margin) for lo, margin in policies}


def run(args: argparse.Namespace) -> tuple[list[dict], dict[str, list[Run]]]:
    """Every recording in every setting, the settings of one recording back to back."""
    model = WhisperOnnx(args.models, threads=args.threads)
    settings = settings_for(args.policies)

    def window(setting: object, n: int) -> str | int:
        return "full" if setting == "full" else window_samples(n, *setting)

    phrases = [(p, kind) for kind in args.kinds for p in PHRASES[kind]]
    recordings = [
        {"phrase": p, "kind": kind, "voice": v, "speed": s}
        for p, kind in phrases
        for v in args.voices
        for s in args.speeds
    ]
    warm = synthesise(phrases[0][0], args.voices[0], args.speeds[0])
    for setting in settings.values():  # the first runs of a session and of an input shape are slower
        model.transcribe(warm, max_tokens=MAX_TOKENS, window=window(setting, warm.size))
    runs: dict[str, list[Run]] = {name: [] for name in settings}
    started = time.perf_counter()
    for i, rec in enumerate(recordings):
        audio = synthesise(rec["phrase"], rec["voice"], rec["speed"], seed=i)
        rec["seconds"] = audio.size / SAMPLE_RATE
        for name, setting in settings.items():
            result = model.transcribe(audio, max_tokens=MAX_TOKENS, window=window(setting, audio.size))
            t = result.timings
            runs[name].append(
                Run(result.text, result.tokens, result.window_s, t["encoder_s"] * 1000, t["decoder_s"] * 1000)
            )
        if args.progress and (i + 1) % 20 == 0:
            print(f"{i + 1}/{len(recordings)} recordings, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return recordings, runs


def with_fallback(short: list[Run], full: list[Run]) -> list[Run]:
    """A short window whose decoding :func:`looped` is redone in the full window (its time added). Measured
    after the fact: a live fallback would stop the looping decoding as soon as it repeats, so the decoder times
    here are an upper bound."""
    return [
        Run(f.text, f.tokens, f.window_s, s.encoder_ms + f.encoder_ms, s.decoder_ms + f.decoder_ms, True)
        if looped(s.tokens)
        else s
        for s, f in zip(short, full, strict=True)
    ]


def report(recordings: list[dict], runs: dict[str, list[Run]], args: argparse.Namespace) -> None:
    n = len(recordings)
    seconds = [r["seconds"] for r in recordings]
    full = runs["30 s (full)"]
    rows = dict(runs)
    if args.fallback:
        for name in list(runs)[1:]:
            rows[name + " + fallback"] = with_fallback(runs[name], full)
    refs = [normalise(r["phrase"]) for r in recordings]
    kinds = [k for k in PHRASES if any(r["kind"] == k for r in recordings)]
    counts = " + ".join(f"{len({r['phrase'] for r in recordings if r['kind'] == k})} {k}" for k in kinds)
    print(
        f"## Encoder window: {n} recordings ({counts} phrases × voices {', '.join(args.voices)} × speeds "
        f"{', '.join(map(str, args.speeds))} wpm), {statistics.mean(seconds):.1f} s on average "
        f"({min(seconds):.1f}–{max(seconds):.1f} s); onnxruntime CPU, {args.threads} thread(s)\n"
    )
    print(
        "| setting | window s (mean) | "
        + " | ".join(f"WER {k}" for k in kinds)
        + " | exact match | same as 30 s | loops | encoder ms p50 | decoder ms p50 | total ms p50 / mean |"
    )
    print("|---|---|" + "---|" * len(kinds) + "---|---|---|---|---|---|")
    for name, results in rows.items():
        hyps = [normalise(r.text) for r in results]
        cells = []
        for kind in kinds:
            idx = [i for i, r in enumerate(recordings) if r["kind"] == kind]
            errors = sum(word_errors(refs[i], hyps[i]) for i in idx)
            cells.append(f"{100 * errors / max(1, sum(len(refs[i]) for i in idx)):.1f} %")
        exact = sum(h == ref for h, ref in zip(hyps, refs, strict=True))
        same = sum(h == normalise(f.text) for h, f in zip(hyps, full, strict=True))
        loops = sum(looped(r.tokens) for r in results)
        total = [r.encoder_ms + r.decoder_ms for r in results]
        print(
            f"| {name} | {statistics.mean(r.window_s for r in results):.1f} | {' | '.join(cells)} "
            f"| {exact}/{n} | {same}/{n} | {loops} | {statistics.median(r.encoder_ms for r in results):.0f} "
            f"| {statistics.median(r.decoder_ms for r in results):.0f} "
            f"| {statistics.median(total):.0f} / {statistics.mean(total):.0f} |"
        )
    print("\nWER = word errors / reference words; loops: decodings that repeat themselves or hit the token limit.")
    summary(recordings, rows, refs)
    if args.per_voice:
        print("\n### WER by voice and speed (queries and commands together)\n")
        keys = [(v, sp) for v in args.voices for sp in args.speeds]
        print("| setting | " + " | ".join(f"{v} {sp}" for v, sp in keys) + " |")
        print("|---|" + "---|" * len(keys))
        for name, results in rows.items():
            cells = []
            for v, sp in keys:
                idx = [i for i, r in enumerate(recordings) if (r["voice"], r["speed"]) == (v, sp)]
                errors = sum(word_errors(refs[i], normalise(results[i].text)) for i in idx)
                cells.append(f"{100 * errors / sum(len(refs[i]) for i in idx):.1f} %")
            print(f"| {name} | " + " | ".join(cells) + " |")
    if args.show:
        print("\n### Transcripts that differ from the 30 s window\n")
        for name, results in list(rows.items())[1:]:
            diffs = [i for i in range(n) if normalise(results[i].text) != normalise(full[i].text)]
            print(f"- {name}: {len(diffs)}")
            for i in diffs[: args.show]:
                rec = recordings[i]
                print(
                    f"  - {rec['phrase']!r} ({rec['voice']}, {rec['speed']}): 30 s {full[i].text!r} → "
                    f"{results[i].text[:100]!r}"
                )


def summary(recordings: list[dict], rows: dict[str, list[Run]], refs: list[list[str]]) -> None:
    """All words together, and the Piper voice alone (natural speech, unlike espeak-ng's): WER and its change
    from 30 s with a 95 % paired bootstrap interval (recordings resampled), exact matches, decodings redone in
    30 s, and the total time's mean and 90th percentile."""
    words = np.array([len(r) for r in refs])
    errors = {name: np.array([word_errors(ref, normalise(r.text)) for ref, r in zip(refs, res, strict=True)])
              for name, res in rows.items()}  # fmt: skip
    groups = {"all": np.ones(len(recordings), bool), "piper": np.array([r["voice"] == "piper" for r in recordings])}
    groups = {k: v for k, v in groups.items() if v.any()}
    rng = np.random.default_rng(0)
    draws = {k: rng.choice(np.flatnonzero(v), (2000, int(v.sum()))) for k, v in groups.items()}
    print("\n### Summary: change in WER from the 30 s window, 95 % paired bootstrap interval\n")
    print(
        "| setting | "
        + " | ".join(f"WER {k} | Δ {k}" for k in groups)
        + " | exact match | redone in 30 s | total ms mean / p90 |"
    )
    print("|---|" + "---|---|" * len(groups) + "---|---|---|")
    base = errors[next(iter(rows))]
    for name, res in rows.items():
        cells = []
        for k, mask in groups.items():
            e = errors[name]
            delta = (e[draws[k]].sum(1) - base[draws[k]].sum(1)) / words[draws[k]].sum(1) * 100
            lo, hi = np.percentile(delta, [2.5, 97.5])
            change = 100 * (e[mask].sum() - base[mask].sum()) / words[mask].sum()
            cells.append(f"{100 * e[mask].sum() / words[mask].sum():.1f} % | {change:+.1f} [{lo:+.1f}, {hi:+.1f}]")
        exact = sum(normalise(r.text) == ref for r, ref in zip(res, refs, strict=True))
        redone = sum(r.redone for r in res)
        total = [r.encoder_ms + r.decoder_ms for r in res]
        print(
            f"| {name} | {' | '.join(cells)} | {exact}/{len(res)} | {redone} "
            f"| {statistics.mean(total):.0f} / {np.percentile(total, 90):.0f} |"
        )


def _policies(text: str) -> list[tuple[float, float]]:
    return [tuple(float(x) for x in item.split(":")) for item in text.split(",") if item]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=MODELS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--policies", type=_policies, default=POLICIES, help="MIN:MARGIN pairs, comma-separated")
    parser.add_argument("--voices", type=lambda t: t.split(","), default=VOICES)
    parser.add_argument("--kinds", type=lambda t: t.split(","), default=list(PHRASES), help="of " + ",".join(PHRASES))
    parser.add_argument("--speeds", type=lambda t: [int(x) for x in t.split(",")], default=SPEEDS)
    parser.add_argument("--show", type=int, default=0, help="list this many differing transcripts per setting")
    parser.add_argument("--per-voice", action="store_true", help="also a WER table by voice and speed")
    parser.add_argument("--fallback", action="store_true", help="also each policy with a 30 s redo after a loop")
    parser.add_argument("--save", type=Path, help="write every transcription to this JSON file")
    parser.add_argument("--load", type=Path, help="report on a --save file instead of transcribing")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    if args.load:
        data = json.loads(args.load.read_text())
        for key in ("voices", "speeds", "threads"):
            setattr(args, key, data["args"][key])
        runs = {name: [Run(**r) for r in results] for name, results in data["runs"].items()}
        report(data["recordings"], runs, args)
        return
    if not shutil.which("espeak-ng"):
        sys.exit("espeak-ng is missing: run make setup (as root)")
    if not (args.models / "speech-manifest.json").exists():
        sys.exit(f"{args.models}/speech-manifest.json is missing: run python -m accessibility.speech.whisper")
    recordings, runs = run(args)
    if args.save:
        saved = {"voices": args.voices, "speeds": args.speeds, "threads": args.threads}
        payload = {
            "args": saved,
            "recordings": recordings,
            "runs": {k: [asdict(r) for r in v] for k, v in runs.items()},
        }
        args.save.write_text(json.dumps(payload))
    report(recordings, runs, args)


if __name__ == "__main__":
    main()
