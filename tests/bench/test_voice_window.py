"""The encoder-window benchmark's scoring and report, on made-up transcripts (no models, no espeak-ng)."""

from __future__ import annotations

import argparse

import pytest

pytest.importorskip("onnxruntime")

from bench import voice_window
from bench.voice_window import Run, looped, normalise, with_fallback, word_errors


def test_normalise_and_word_errors():
    assert normalise("Two dogs, playing in the snow.") == ["two", "dogs", "playing", "in", "the", "snow"]
    assert normalise("2 ice-cream cones") == ["two", "ice", "cream", "cones"]
    assert word_errors(["a", "red", "car"], ["a", "red", "car"]) == 0
    assert word_errors(["a", "red", "car"], ["red", "card", "now"]) == 3  # deletion, substitution, insertion
    assert word_errors([], ["x"]) == 1


def test_looped_and_fallback():
    assert looped([1, 2, 1, 2]) and looped([9, 1, 2, 3, 1, 2, 3, 4]) and looped(list(range(64)))
    assert not looped([1, 2, 3, 4, 5])
    short = [Run("go back go back", [1, 2, 1, 2], 8, 10.0, 20.0), Run("stop", [7], 8, 10.0, 5.0)]
    full = [Run("go back", [1, 2], 30, 100.0, 30.0), Run("stop", [7], 30, 100.0, 5.0)]
    redone, kept = with_fallback(short, full)
    assert (redone.text, redone.window_s, redone.encoder_ms, redone.decoder_ms, redone.redone) == (
        "go back",
        30,
        110.0,
        50.0,
        True,
    )
    assert kept is short[1]


def test_report_prints_the_tables(capsys):
    recordings = [
        {"phrase": "go back", "kind": "command", "voice": "en-us", "speed": 160, "seconds": 1.5},
        {"phrase": "a red car", "kind": "query", "voice": "piper", "speed": 160, "seconds": 2.0},
    ]
    runs = {
        "30 s (full)": [Run("Go back.", [1, 2], 30, 100.0, 30.0), Run("A red car.", [3, 4, 5], 30, 100.0, 30.0)],
        "min 8 s, margin 1 s": [
            Run("Go back. Go back.", [1, 2, 1, 2], 8, 10.0, 20.0),
            Run("A red card.", [3, 4, 6], 8, 10.0, 9.0),
        ],
    }
    args = argparse.Namespace(voices=["en-us", "piper"], speeds=[160], threads=1, fallback=True, per_voice=True, show=5)
    voice_window.report(recordings, runs, args)
    out = capsys.readouterr().out
    assert "| min 8 s, margin 1 s + fallback | " in out and "### Summary" in out and "red card" in out
