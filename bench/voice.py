"""Voice benchmark: speech-to-text and read-aloud in headless Chromium (onnxruntime-web, wasm), on this machine.

For 1 and 2 wasm threads (the page is cross-origin isolated, so ORT may use threads) it measures, each in a fresh
browser context: model fetch + session creation, transcription of ~2 s and ~5 s of espeak-ng speech in the
worker's encoder window (its policy, reported as ``window_s``) and in Whisper's full 30 s window (a second
stt-worker in the page, asked with ``window: "full"``), a spoken query to rendered results
(``glimpseVoice.transcribeAndSearch``: the code that runs once recording stops — transcription in the policy's
window, the "You said" announcement pause, the HTMX search, results focused), and time to first audio for a
2-sentence description with the voice loaded. Timed figures are medians of --rounds runs; models are loaded
before timing except in the "load" row. Prints markdown tables.

Needs `make setup` (speech models, Chromium) and the demo collection (`make demo` or `make pipeline`).
Run: .venv/bin/python bench/voice.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.browser import CHROMIUM, launch
from tools.processes import start_server

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "client" / "static" / "models"
ORT_DIST = ROOT / "client" / "node_modules" / "onnxruntime-web" / "dist"
PHONEMIZER = ROOT / "client" / "node_modules" / "phonemizer" / "dist" / "phonemizer.js"
SPEECH = {
    "2 s": "a black cat sleeping on the sofa",
    "5 s": "find pictures of the beach at sunset with children playing in the waves",
}
DESCRIPTION = "A red car is parked on the street. The sky is blue."
TARGET_VOICE_TO_RESULTS_MS = 2500
TARGET_FIRST_AUDIO_MS = 1000


def speech(text: str) -> list[float]:
    from accessibility.speech.transcribe import load_wav

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), text], check=True, capture_output=True)
        return load_wav(wav).tolist()


def download_bytes() -> list[tuple[str, int]]:
    stt = json.loads((MODELS / "speech-manifest.json").read_text())["files"]
    tts = json.loads((MODELS / "piper-voice.manifest.json").read_text())["files"]
    wasm = ORT_DIST / "ort-wasm-simd-threaded.wasm"
    return [
        ("speech-to-text: Whisper encoder + decoder + tokenizer", sum(f["bytes"] for f in stt.values())),
        ("read aloud: Piper voice + config", sum((MODELS / f["path"]).stat().st_size for f in tts.values())),
        (
            "onnxruntime-web wasm + loader (shared)",
            wasm.stat().st_size + (ORT_DIST / "ort.wasm.min.mjs").stat().st_size,
        ),
        ("phonemizer (espeak-ng in wasm)", PHONEMIZER.stat().st_size),
    ]


VOICE_TO_RESULTS = """async (samples) => {
  const started = performance.now();
  const heading = document.getElementById('results-heading');
  if (heading) heading.remove();  // the previous results' heading must not count
  const text = await window.glimpseVoice.transcribeAndSearch(new Float32Array(samples));
  await new Promise((resolve) => {
    const check = () => (document.activeElement && document.activeElement.id === 'results-heading')
      ? resolve() : requestAnimationFrame(check);
    check();
  });
  return {text, ms: performance.now() - started};
}"""

# A second stt-worker in the page, spoken to directly: voice-search.js's transcribe() passes no window option.
STT_WORKER = """async (threads) => {
  const worker = new Worker('/static/js/workers/stt-worker.js', {type: 'module', name: 'bench-stt'});
  const pending = new Map();
  let next = 0;
  worker.onmessage = (event) => {
    const msg = event.data;
    const waiting = pending.get(msg.id);
    if (!waiting || msg.type === 'progress') return;
    pending.delete(msg.id);
    if (msg.type === 'error') waiting.reject(new Error(msg.stage + ': ' + msg.message));
    else waiting.resolve(msg);
  };
  const ask = (msg) => new Promise((resolve, reject) => {
    const id = ++next;
    pending.set(id, {resolve, reject});
    worker.postMessage({...msg, id});
  });
  worker.postMessage({type: 'config', threads});
  await ask({type: 'load'});
  window.benchTranscribe = (samples, win) => ask({type: 'transcribe', audio: new Float32Array(samples), window: win});
}"""
WINDOWS = {"policy": None, "full": "full"}

FIRST_AUDIO = """async (text) => {
  const r = await window.glimpseSpeech.synthesise(text, {});
  return {first: r.firstAudioMs, total: r.totalMs, seconds: r.pcm.length / r.sampleRate, threads: r.threads};
}"""


def measure(browser, base: str, threads: int, rounds: int, audio: dict[str, list[float]]) -> dict:
    context = browser.new_context()
    # Hands-free reading would read every spoken query's results aloud and load the CPU meanwhile (its own
    # figures are bench/voice_loop.py's).
    context.add_init_script("localStorage.setItem('glimpse.handsFree', 'off');")
    page = context.new_page()
    page.goto(base + "/")
    page.wait_for_function("() => window.glimpseVoice && window.glimpseSpeech")
    out: dict = {"isolated": page.evaluate("() => window.crossOriginIsolated")}

    page.evaluate("t => window.glimpseVoice.configure({threads: t})", threads)
    started = time.perf_counter()
    loaded = page.evaluate("() => window.glimpseVoice.load()")
    out["stt_load"] = {**loaded["ms"], "wall": (time.perf_counter() - started) * 1000, "threads": loaded["threads"]}

    page.evaluate("s => window.glimpseVoice.transcribe(new Float32Array(s))", audio["2 s"])  # warm-up
    page.evaluate(STT_WORKER, threads)
    transcribe = "([s, w]) => window.benchTranscribe(s, w)"
    out["transcribe"] = {}
    for name, samples in audio.items():
        for window, option in WINDOWS.items():
            page.evaluate(transcribe, [samples, option])  # warm-up: the first run of an input shape is slower
            runs = [page.evaluate(transcribe, [samples, option]) for _ in range(rounds)]
            out["transcribe"][name, window] = {
                "seconds": len(samples) / 16000,
                "window_s": runs[0]["window_s"],
                "ms": statistics.median(r["ms"]["total"] for r in runs),
                "encoder": statistics.median(r["ms"]["encoder"] for r in runs),
                "tokens": len(runs[0]["tokens"]),
                "text": runs[0]["text"],
            }
    runs = [page.evaluate(VOICE_TO_RESULTS, audio["2 s"]) for _ in range(rounds)]
    out["voice_to_results"] = {"ms": statistics.median(r["ms"] for r in runs), "text": runs[0]["text"]}

    started = time.perf_counter()
    info = page.evaluate("t => window.glimpseSpeech.load({threads: t})", threads)
    out["tts_load"] = {"ms": info["loadMs"], "wall": (time.perf_counter() - started) * 1000, "threads": info["threads"]}
    page.evaluate("t => window.glimpseSpeech.synthesise('Warming up.', {threads: t})", threads)
    runs = [page.evaluate(FIRST_AUDIO.replace("{}", f"{{threads: {threads}}}"), DESCRIPTION) for _ in range(rounds)]
    out["first_audio"] = {
        "first": statistics.median(r["first"] for r in runs),
        "total": statistics.median(r["total"] for r in runs),
        "seconds": runs[0]["seconds"],
    }
    # A later visit: the models come from Cache Storage instead of the network.
    later = context.new_page()
    later.goto(base + "/")
    later.wait_for_function("() => window.glimpseVoice && window.glimpseSpeech")
    later.evaluate("t => window.glimpseVoice.configure({threads: t})", threads)
    again = later.evaluate("() => window.glimpseVoice.load()")
    out["stt_reload"] = {**again["ms"], "fromCache": again["fromCache"]}
    context.close()
    return out


def check_setup() -> None:
    """Exit with what to run when the speech models, Chromium or espeak-ng are missing."""
    for need, hint in ((MODELS / "speech-manifest.json", "make setup"), (CHROMIUM, "make setup (as root)")):
        if not need.exists():
            sys.exit(f"{need} is missing: run {hint}")
    if not shutil.which("espeak-ng"):
        sys.exit("espeak-ng is missing: run make setup (as root)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    check_setup()

    audio = {name: speech(text) for name, text in SPEECH.items()}
    print("## Download (bytes, fetched once, then cached by the browser)\n")
    print("| file | MB |\n|---|---|")
    for name, size in download_bytes():
        print(f"| {name} | {size / 1e6:.1f} |")

    logs = Path(tempfile.mkdtemp(prefix="glimpse-bench-voice-"))
    server = start_server(logs / "server.log", ready_timeout_s=120)
    base = server.base_url
    results = {}
    try:
        with launch(logs) as browser:
            for threads in (1, 2):
                results[threads] = measure(browser, base, threads, args.rounds, audio)
    finally:
        server.stop(grace_s=30)
        shutil.rmtree(logs, ignore_errors=True)

    one, two = results[1], results[2]
    print(
        f"\n## Headless Chromium, {os.cpu_count()} cores, cross-origin isolated: {one['isolated']}; "
        f"median of {args.rounds}\n"
    )
    print("| measure | 1 thread | 2 threads | target |\n|---|---|---|---|")

    def row(name: str, a: float, b: float, target: str = "") -> None:
        print(f"| {name} | {a:.0f} ms | {b:.0f} ms | {target} |")

    row("STT model fetch (loopback)", one["stt_load"]["fetch"], two["stt_load"]["fetch"])
    row("STT session creation (encoder + decoder)", one["stt_load"]["session"], two["stt_load"]["session"])
    cached = one["stt_reload"]["fromCache"] and two["stt_reload"]["fromCache"]
    row(
        f"STT model read on a later visit ({'Cache Storage' if cached else 'NOT from cache'})",
        one["stt_reload"]["fetch"],
        two["stt_reload"]["fetch"],
    )
    for name in SPEECH:
        for window in WINDOWS:
            a, b = one["transcribe"][name, window], two["transcribe"][name, window]
            label = f"{a['window_s']:.0f} s window ({window})"
            row(f"transcribe {a['seconds']:.1f} s of speech, {label}, {a['tokens']} tokens", a["ms"], b["ms"])
            row(f"  of which encoder ({name}, {window})", a["encoder"], b["encoder"])
    target = f"≤ {TARGET_VOICE_TO_RESULTS_MS} ms"
    row("spoken query (2 s) to results focused", one["voice_to_results"]["ms"], two["voice_to_results"]["ms"], target)
    row("voice load (fetch + session + phonemizer)", one["tts_load"]["ms"], two["tts_load"]["ms"])
    row(
        f"time to first audio, 2 sentences ({one['first_audio']['seconds']:.1f} s of speech)",
        one["first_audio"]["first"],
        two["first_audio"]["first"],
        f"≤ {TARGET_FIRST_AUDIO_MS} ms",
    )
    row("all audio synthesised", one["first_audio"]["total"], two["first_audio"]["total"])
    print(
        "\nTranscripts (2 threads): " + "; ".join(f"{n} {w}: {t['text']!r}" for (n, w), t in two["transcribe"].items())
    )
    print(
        f"Threads used by ORT: STT {one['stt_load']['threads']}/{two['stt_load']['threads']}, "
        f"TTS {one['tts_load']['threads']}/{two['tts_load']['threads']}"
    )


if __name__ == "__main__":
    main()
