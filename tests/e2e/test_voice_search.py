"""Voice search in real Chromium: espeak-ng speech → Whisper tiny.en in a worker (onnxruntime-web) → search.

- The transcript path through ``window.glimpseVoice.transcribeAndSearch`` (the code that runs after capture).
- The real capture path: ``getUserMedia`` replaced by a stream that plays the espeak speech through Web Audio, so
  the AudioWorklet, the 16 kHz downsampling and push-to-talk with the Space key all run in the shared browser.
- Keyboard operation, permission denied / no microphone, silence, axe while idle and while recording.
- Bonus: a second Chromium with the fake-device flags records the WAV file as a "real" microphone.
"""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from accessibility.speech.transcribe import load_wav
from tests.e2e.conftest import VIEWPORT
from tests.e2e.helpers import (
    assert_no_console_errors,
    espeak,
    focused,
    format_violations,
    requests_to,
    run_axe,
)
from tools.browser import CHROMIUM, CHROMIUM_ARGS, RECORD_ANNOUNCEMENTS, SPEECH_MIC

pytestmark = pytest.mark.e2e

# Voice search alone: hands-free reading (tests/e2e/test_hands_free.py) would open the microphone again for a
# command once the results arrive, and say so in the status line these tests read.
HANDS_FREE_OFF = "localStorage.setItem('glimpse.handsFree', 'off');"


@pytest.fixture(autouse=True)
def _voice_search_alone(request):
    if "page" in request.fixturenames:
        request.getfixturevalue("page").add_init_script(HANDS_FREE_OFF)


# getUserMedia rejects as a browser does when the person (or policy) blocks the microphone / has none.
REJECT_MIC = """
navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('blocked', '%s'));
"""

TRANSCRIBE_TIMEOUT_MS = 120_000  # the first use downloads ~77 MB and compiles two graphs


def speech(tmp_path: Path, text: str, name: str = "speech") -> tuple[Path, list[float]]:
    wav = espeak(tmp_path / f"{name}.wav", text)
    return wav, load_wav(wav).tolist()


def label(button) -> str:
    """The visible label (the button also carries visually hidden words for screen readers)."""
    return button.locator(".voice-label").inner_text().strip()


def announced(page) -> list[str]:
    return page.evaluate("() => window.__announced || []")


def wait_for_announcement(page, text: str, timeout: float = 10_000) -> None:
    page.wait_for_function("t => (window.__announced || []).some(a => a.includes(t))", arg=text, timeout=timeout)


def wait_for_results(page) -> None:
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.id === 'results-heading'", timeout=30_000
    )


def search_requests(page) -> list[str]:
    return requests_to(page, "/search") + requests_to(page, "/api/search")


def test_spoken_query_is_transcribed_announced_and_searched(page, live_server, tmp_path):
    _, samples = speech(tmp_path, "show me a red car")
    page.add_init_script(RECORD_ANNOUNCEMENTS)
    page.goto(live_server + "/")
    page.wait_for_function("() => window.glimpseVoice !== undefined")
    assert page.locator("#voice-button").is_visible()
    before = len(search_requests(page))

    text = page.evaluate("s => window.glimpseVoice.transcribeAndSearch(new Float32Array(s))", samples)
    lowered = text.lower()
    assert "red" in lowered and "car" in lowered, text
    assert page.locator("#q").input_value() == text
    wait_for_results(page)
    assert len(search_requests(page)) == before + 1
    assert page.locator("ol.results > li").count() >= 1
    said = announced(page)
    assert any(a == f"You said: {text}" for a in said), said
    assert any(a.startswith("Loading the speech model") for a in said), said  # first use shows the progress
    assert "Transcribing…" in said
    status = page.locator("#voice-status")
    assert status.is_visible() and text in status.inner_text()
    # The model files came from the hashed, immutable URLs of the manifest.
    assert any("/static/models/whisper-encoder." in url for url in page.requests)

    # Second use: the model is loaded; transcribe alone reports its timings.
    result = page.evaluate("s => window.glimpseVoice.transcribe(new Float32Array(s))", samples)
    assert result["text"].lower().startswith("show me a red car")
    assert result["ms"]["total"] > 0 and result["ms"]["encoder"] > 0
    assert_no_console_errors(page)


def test_speech_models_download_once_then_come_from_cache_storage(page, live_server):
    """Both models are fetched on first use only; a later page gets them from Cache Storage (the HTTP cache
    would skip files this large), without a single request for a model file."""
    page.goto(live_server + "/")
    page.wait_for_function("() => window.glimpseVoice !== undefined && window.glimpseSpeech !== undefined")
    assert page.evaluate("() => window.glimpseVoice.load()")["fromCache"] is False
    assert page.evaluate("() => window.glimpseSpeech.load()")["fromCache"] is False
    assert any("/static/models/whisper-decoder." in url for url in page.requests)

    later = page.context.new_page()
    model_requests: list[str] = []
    later.on(
        "request",
        lambda request: (
            "/static/models/" in request.url and request.url.endswith(".onnx") and model_requests.append(request.url)
        ),
    )
    later.goto(live_server + "/")
    later.wait_for_function("() => window.glimpseVoice !== undefined && window.glimpseSpeech !== undefined")
    assert later.evaluate("() => window.glimpseVoice.load()")["fromCache"] is True
    assert later.evaluate("() => window.glimpseSpeech.load()")["fromCache"] is True
    assert model_requests == []
    cached = later.evaluate("() => caches.open('glimpse-models-v1').then(c => c.keys()).then(k => k.map(r => r.url))")
    assert sum(".onnx" in url for url in cached) == 3, cached  # encoder, decoder, voice
    later.close()


def test_mic_button_is_keyboard_operable_and_push_to_talk_records_speech(page, live_server, tmp_path):
    # A phrase tiny.en hears the same wherever in a 10 ms frame the recording starts (checked over 138 offsets
    # through a 48 kHz round trip); espeak's "a yellow flower" came back as "Yeah, low flower" for ~1 in 10.
    _, samples = speech(tmp_path, "a red boat on the lake")
    page.add_init_script(RECORD_ANNOUNCEMENTS)
    page.add_init_script(SPEECH_MIC)
    page.goto(live_server + "/")
    page.evaluate("s => { window.__speech = s; }", samples)
    violations = run_axe(page)
    assert not violations, "mic button visible:\n" + format_violations(violations)

    page.focus("#q")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "voice-button"
    button = page.locator("#voice-button")
    assert button.get_attribute("aria-pressed") == "false"
    assert label(button) == "Speak"
    assert page.get_by_role("button", name="Speak your search", exact=True).count() == 1

    # Push-to-talk: hold Space while the speech plays, release after it.
    page.keyboard.down("Space")
    page.wait_for_function("() => document.querySelector('#voice-button').getAttribute('aria-pressed') === 'true'")
    assert label(button) == "Stop"
    assert page.get_by_role("button", name="Stop recording", exact=True).count() == 1
    wait_for_announcement(page, "Listening… press again to stop")
    violations = run_axe(page)
    assert not violations, "while recording:\n" + format_violations(violations)
    page.wait_for_function("() => performance.now() > window.__speechEndsAt + 400", timeout=15_000)
    page.keyboard.up("Space")
    page.wait_for_function("() => document.querySelector('#voice-button').getAttribute('aria-pressed') === 'false'")
    assert label(button) == "Speak"
    page.wait_for_function(
        "() => (window.__announced || []).some(a => a.startsWith('You said:') || a.startsWith('I did not'))",
        timeout=TRANSCRIBE_TIMEOUT_MS,
    )
    transcript = page.locator("#q").input_value().lower()
    assert "boat" in transcript and "lake" in transcript, (transcript, announced(page))
    wait_for_results(page)
    assert len(search_requests(page)) == 1  # Space keyup did not also "click" a second recording
    assert button.get_attribute("aria-pressed") == "false"
    assert_no_console_errors(page)


def test_click_toggles_and_silence_is_reported(page, live_server):
    page.add_init_script(RECORD_ANNOUNCEMENTS)
    page.add_init_script(SPEECH_MIC)  # no speech set: the stream is silent
    page.goto(live_server + "/")
    button = page.locator("#voice-button")
    button.click()
    page.wait_for_function("() => document.querySelector('#voice-button').getAttribute('aria-pressed') === 'true'")
    page.wait_for_timeout(600)
    button.click()
    wait_for_announcement(page, "I did not catch that; please try again.")
    assert button.get_attribute("aria-pressed") == "false"
    assert search_requests(page) == []
    assert_no_console_errors(page)


@pytest.mark.parametrize(
    ("error", "message"),
    [("NotAllowedError", "Microphone access is blocked"), ("NotFoundError", "No microphone was found")],
)
def test_microphone_problems_are_announced_and_text_search_still_works(page, live_server, error, message):
    page.add_init_script(RECORD_ANNOUNCEMENTS)
    page.add_init_script(REJECT_MIC % error)
    page.goto(live_server + "/")
    page.focus("#voice-button")
    page.keyboard.press("Enter")
    wait_for_announcement(page, message)
    button = page.locator("#voice-button")
    assert button.get_attribute("aria-pressed") == "false"
    assert label(button) == "Speak"
    assert message in page.locator("#voice-status").inner_text()
    violations = run_axe(page)
    assert not violations, format_violations(violations)

    page.fill("#q", "a photo")
    page.press("#q", "Enter")
    wait_for_results(page)
    assert page.locator("ol.results > li").count() >= 1
    assert_no_console_errors(page)


def test_without_simd_pressing_speak_explains_and_search_works(page, live_server):
    page.add_init_script(RECORD_ANNOUNCEMENTS)
    page.add_init_script("WebAssembly.validate = () => false;")
    page.goto(live_server + "/")
    page.wait_for_load_state("load")
    assert page.evaluate("() => window.glimpseVoice === undefined")
    page.focus("#voice-button")
    page.keyboard.press("Enter")
    wait_for_announcement(page, "Voice search needs WebAssembly SIMD")
    assert "type your search" in page.locator("#voice-status").inner_text()
    assert page.locator("#voice-button").get_attribute("aria-pressed") == "false"
    page.fill("#q", "a photo")
    page.press("#q", "Enter")
    wait_for_results(page)
    assert_no_console_errors(page)


def test_hidden_attribute_wins_over_component_display(page, live_server):
    """Buttons are display:inline-flex; before JavaScript shows them, hidden controls must not be visible."""
    page.route("**/static/js/*.js", lambda route: route.fulfill(status=200, body="", content_type="text/javascript"))
    page.goto(live_server + "/")
    page.wait_for_load_state("load")
    assert page.locator("#voice-button").is_hidden()
    assert page.locator("#voice-settings").is_hidden()


def test_model_load_failure_is_announced(page, live_server, tmp_path):
    _, samples = speech(tmp_path, "a blue sky")
    page.add_init_script(RECORD_ANNOUNCEMENTS)
    page.route("**/static/models/speech-manifest.json", lambda route: route.fulfill(status=503, body="down"))
    page.goto(live_server + "/")
    error = page.evaluate(
        "s => window.glimpseVoice.transcribeAndSearch(new Float32Array(s)).then(() => null, e => e.message)", samples
    )
    assert error and "503" in error
    wait_for_announcement(page, "The speech model could not be loaded")
    assert search_requests(page) == []
    # Only the 503 itself may show up as a console error (the browser logs failed fetches).
    assert all("503" in e for e in page.console_errors), page.console_errors


def test_fake_microphone_device_in_a_second_browser(live_server, tmp_path, browser):
    """Chromium's own fake capture device plays the WAV file as the microphone (no getUserMedia stub).

    The device starts the file when the microphone opens and plays it once (``%noloop``): half a second of
    silence, the words, then silence, so the recording always holds all of the words and nothing else, however
    long the page takes to start (a looping file made the transcript depend on where in the loop the recording
    began). The page stops recording by itself at the pause after the words."""
    wav, _ = speech(tmp_path, "show me a red car", name="fake-mic")
    padded = tmp_path / "fake-mic-padded.wav"
    with wave.open(str(wav), "rb") as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    lead = b"\0" * (params.sampwidth * params.nchannels * params.framerate // 2)
    with wave.open(str(padded), "wb") as target:
        target.setparams(params)
        target.writeframes(lead + frames)
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={padded}%noloop",
    ]
    # The same Playwright driver as the session's browser (a second sync_playwright() cannot start here).
    second = browser.browser_type.launch(
        executable_path=str(CHROMIUM), headless=True, chromium_sandbox=False, args=args
    )
    try:
        context = second.new_context(viewport=VIEWPORT, permissions=["microphone"])
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.add_init_script(RECORD_ANNOUNCEMENTS)
        page.add_init_script(HANDS_FREE_OFF)
        page.goto(live_server + "/")
        page.locator("#voice-button").click()
        page.wait_for_function("() => document.querySelector('#voice-button').getAttribute('aria-pressed') === 'true'")
        # No second press: the recording stops itself once the words are followed by a pause.
        page.wait_for_function(
            "() => (window.__announced || []).some(a => a.startsWith('You said:') || a.startsWith('I did not'))",
            timeout=TRANSCRIBE_TIMEOUT_MS,
        )
        text = page.locator("#q").input_value().lower()
        assert "red" in text and "car" in text, (text, page.evaluate("() => window.__announced"))
        assert not errors, errors
    finally:
        second.close()
