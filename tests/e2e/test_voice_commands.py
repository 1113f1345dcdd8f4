"""The browser's spoken-command grammar (voice/commands.js) and end-of-speech detector (voice/speech-end.js),
run in Chromium on transcripts and loudness sequences (the real modules, imported by the page)."""

from __future__ import annotations

import pytest

from accessibility.speech.transcribe import load_wav
from tests.e2e.helpers import espeak

pytestmark = pytest.mark.e2e

PARSE = "async (texts) => { const m = await import('/static/js/voice/commands.js'); return texts.map(m.parseCommand); }"

CASES = [
    # What Whisper writes for each command (seen with espeak-ng voices), and what a person might say.
    ("Next.", "next"),
    ("next, next, next, next,", "next"),
    ("Next!", "next"),
    ("Text.", "next"),
    ("Skip.", "next"),
    ("Repeat.", "repeat"),
    ("Repeat Repeat Repeat Repeat", "repeat"),
    ("Say that again, please.", "repeat"),
    ("Stop.", "stop"),
    ("Stop reading!", "stop"),
    ("Okay, stop.", "stop"),
    ("More like this.", "more like this"),
    ("More like this. More like this. More like this.", "more like this"),
    ("Show me more like this.", "more like this"),
    ("Similar.", "more like this"),
    ("Good.", "good"),
    ("God.", "good"),
    ("Good match!", "good"),
    ("Yes.", "good"),
    ("Not it.", "not it"),
    ("Not it. Not it. Not it.", "not it"),
    ("Knot it.", "not it"),
    ("That it...", "not it"),
    ("Nope.", "not it"),
    ("Not a match.", "not it"),
]


def test_commands_are_recognised_from_what_whisper_writes(page, live_server):
    page.goto(live_server + "/")
    got = page.evaluate(PARSE, [text for text, _ in CASES])
    wrong = [(text, want, g) for (text, want), g in zip(CASES, got, strict=True) if not g or g["name"] != want]
    assert not wrong, wrong


def test_search_carries_its_words_and_other_speech_is_no_command(page, live_server):
    page.goto(live_server + "/")
    texts = [
        "Search for a red car.",
        "Find me two dogs in the snow",
        "Look for a birthday cake!",
        "show me pictures of the beach",
        "The quick brown fox jumps over the lazy dog.",
        "A landscape picture, 80 by 60 pixels, mostly green.",
        "[BLANK_AUDIO]",
        "",
        "Lord",
        "That.",  # how Whisper once wrote a Piper voice's "good": not "what" (repeat) one letter away
    ]
    got = page.evaluate(PARSE, texts)
    assert got[0] == {"name": "search", "query": "a red car"}
    assert got[1] == {"name": "search", "query": "two dogs in the snow"}
    assert got[2] == {"name": "search", "query": "a birthday cake"}
    assert got[3] == {"name": "search", "query": "the beach"}
    assert got[4:] == [None] * 6, got


def test_end_of_speech_follows_a_pause_after_speech(page, live_server):
    page.goto(live_server + "/")
    events = page.evaluate(
        """async () => {
            const { SpeechEnd } = await import('/static/js/voice/speech-end.js');
            const run = (levels) => {
                const detector = new SpeechEnd();
                return levels.map((rms) => detector.push(rms)).map((e, i) => e && [e, i]).filter(Boolean);
            };
            const quiet = (n, level = 0.001) => Array(n).fill(level);
            const loud = (n) => Array(n).fill(0.1);
            return {
                // 0.2 s of room noise, a word, a 300 ms pause between words, a word, then silence.
                words: run([...quiet(10), ...loud(20), ...quiet(15), ...loud(20), ...quiet(60)]),
                // Silence only: never starts, never ends.
                silence: run(quiet(200)),
                // A noisy room: three times the floor is the bar, so steady noise is not speech.
                noisy: run([...quiet(10, 0.02), ...quiet(100, 0.03), ...loud(10), ...quiet(50, 0.02)]),
            };
        }"""
    )
    # Start after 80 ms (4 frames) of loudness; end 700 ms (35 frames) after the last loud frame.
    assert events["words"] == [["start", 13], ["end", 99]]
    assert events["silence"] == []
    assert events["noisy"] == [["start", 113], ["end", 154]]


def test_the_scored_choice_counts_only_when_the_transcript_is_no_command(page, live_server):
    page.goto(live_server + "/")
    got = page.evaluate(
        """async () => {
            const m = await import('/static/js/voice/commands.js');
            const sure = {name: 'good', score: m.CHOICE_MIN + 1};
            const unsure = {name: 'good', score: m.CHOICE_MIN - 0.5};
            return [m.commandFrom('Lord', sure), m.commandFrom('Lord', unsure), m.commandFrom('Next.', sure),
                    m.commandFrom('Search for a cat', sure), m.commandFrom('', null)];
        }"""
    )
    assert got == [{"name": "good"}, None, {"name": "next"}, {"name": "search", "query": "a cat"}, None]


CHOOSE = """async (samples) => {
    const { CHOICES } = await import('/static/js/voice/commands.js');
    const outcome = async (work) => { try { return await work(); } catch (error) { return {error: error.message}; } };
    const before = await outcome(() => window.glimpseVoice.choose(CHOICES));
    const heard = await window.glimpseVoice.transcribe(new Float32Array(samples));
    const chosen = await outcome(() => window.glimpseVoice.choose(CHOICES));
    await window.glimpseVoice.transcribe(new Float32Array(800)); // 50 ms: too short to transcribe
    const after = await outcome(() => window.glimpseVoice.choose(CHOICES));
    return {before, text: heard.text, chosen, after};
}"""


@pytest.mark.parametrize("said,want", [("not it", "not it"), ("more like this", "more like this")])
def test_the_worker_chooses_among_the_commands_for_the_last_speech_transcribed(page, live_server, tmp_path, said, want):
    samples = load_wav(espeak(tmp_path / "command.wav", said, "en-us", 160)).tolist()
    page.goto(live_server + "/")
    page.wait_for_function("() => window.glimpseVoice !== undefined")
    got = page.evaluate(CHOOSE, [0.0] * 4800 + samples + [0.0] * 11200)
    assert "no speech was transcribed" in got["before"]["error"], got  # nothing to score yet: a clear error
    assert got["chosen"]["choice"]["name"] == want, got
    assert got["chosen"]["choice"]["score"] > -3 and got["chosen"]["ms"] > 0, got
    assert "no speech was transcribed" in got["after"]["error"], got  # a new transcription replaces the old audio
