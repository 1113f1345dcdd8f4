"""Every state a person meets on the pages, each reached as a person would reach it (typing, pressing, clicking).

``STATES`` maps a state's name to a function ``enter(page, base_url)`` that brings a fresh page into that state
and waits until it is settled. The axe audit (every rule, light and dark) and the screen-reader reading scripts
(``test_page_states.py``) run over the same states.
"""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page

from tests.e2e.conftest import NO_GOOD_MATCH_QUERY, SEEN_QUERY
from tests.e2e.helpers import espeak
from tools.browser import RECORD_ANNOUNCEMENTS, SPEECH_MIC

RESULTS = 5  # results per page in these states: enough for every kind of card, short enough to review


def _search(page: Page, base: str, query: str) -> None:
    page.goto(base + "/")
    page.fill("#q", query)
    page.select_option("#k", str(RESULTS))
    page.press("#q", "Enter")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'results-heading'")
    page.wait_for_function("() => (window.__announced || []).length > 0 && !document.querySelector('[aria-busy]')")


def home(page: Page, base: str) -> None:
    page.goto(base + "/")
    page.wait_for_function("() => !document.querySelector('#voice-button').hidden")


def results(page: Page, base: str) -> None:
    _search(page, base, "a photo")


def no_good_match(page: Page, base: str) -> None:
    _search(page, base, NO_GOOD_MATCH_QUERY)
    page.wait_for_selector(".notice")


def respelled(page: Page, base: str) -> None:
    _search(page, base, "a red baot")  # searched as "a red boat", with a link to search the words as typed
    page.wait_for_selector(".respelled")


def error(page: Page, base: str) -> None:
    page.goto(base + "/")
    page.press("#q", "Enter")  # nothing typed
    page.wait_for_selector(".error-summary")
    page.wait_for_function("() => !document.querySelector('[aria-busy]')")


def after_feedback(page: Page, base: str) -> None:
    results(page, base)
    page.locator("button.vote-down").first.click()
    page.wait_for_function("() => (window.__announced || []).some(a => a.includes('recorded as not a match'))")


def picture_form(page: Page, base: str) -> None:
    home(page, base)
    page.locator(".by-image summary").click()
    page.wait_for_selector("#file", state="visible")


def picture_too_large(page: Page, base: str) -> None:
    """A picture over the upload limit, refused in the browser: the reason under the field, nothing sent."""
    picture_form(page, base)
    limit = int(page.locator("#image-form").get_attribute("data-max-bytes"))
    page.set_input_files("#file", files=[{"name": "big.png", "mimeType": "image/png", "buffer": b"\0" * (limit + 1)}])
    page.wait_for_selector("#file-error", state="visible")


def image_page(page: Page, base: str) -> None:
    """The real photo's page, found by the word on its parasol: the tables of the objects and the text it shows."""
    _search(page, base, SEEN_QUERY)
    page.locator("a.thumb-link").first.click()
    page.wait_for_selector("h1.image-title")
    page.wait_for_function("() => document.querySelector('[data-back]').textContent === 'Back to results'")
    page.wait_for_selector("table.objects")
    page.wait_for_selector("table.text-read")


def image_page_nothing_seen(page: Page, base: str) -> None:
    """A drawn photo's page: nothing detected or read, only the classifier's unsure guess."""
    results(page, base)
    page.locator("#results .result", has_text="Unidentified subject").first.locator("a.thumb-link").click()
    page.wait_for_selector("h1.image-title")
    page.wait_for_function("() => document.querySelector('[data-back]').textContent === 'Back to results'")


def not_found(page: Page, base: str) -> None:
    page.goto(base + "/no/such/page")


def narrow_results(page: Page, base: str) -> None:
    page.set_viewport_size({"width": 320, "height": 800})
    results(page, base)


def recording(page: Page, base: str) -> None:
    page.add_init_script(SPEECH_MIC)  # a silent microphone: nothing to say yet
    home(page, base)
    page.locator("#voice-button").click()
    page.wait_for_function("() => document.querySelector('#voice-button').getAttribute('aria-pressed') === 'true'")
    page.wait_for_selector("#voice-status", state="visible")


def reading(page: Page, base: str) -> None:
    results(page, base)
    button = page.locator(".read-results")
    button.wait_for(state="visible")
    button.click()
    page.wait_for_function("() => document.querySelector('.read-results').getAttribute('aria-pressed') === 'true'")
    page.wait_for_selector(".read-skip", state="visible")


def hands_free(page: Page, base: str) -> None:
    """A spoken search read aloud, the microphone listening for a command."""
    import tempfile
    from pathlib import Path

    from accessibility.speech.transcribe import load_wav

    with tempfile.TemporaryDirectory() as folder:
        samples = load_wav(espeak(Path(folder) / "query.wav", "show me a photo")).tolist()
    page.add_init_script(SPEECH_MIC)
    home(page, base)
    page.select_option("#k", str(RESULTS))
    page.evaluate("s => { window.__speech = s; }", samples)
    page.locator("#voice-button").click()
    page.wait_for_function("() => (window.__announced || []).some(a => a.startsWith('Reading '))", timeout=120_000)
    page.wait_for_function("() => document.querySelector('#voice-button').getAttribute('aria-pressed') === 'true'")
    page.wait_for_function("() => !document.querySelector('[aria-busy]')")


STATES: dict[str, Callable[[Page, str], None]] = {
    "home": home,
    "results": results,
    "no good match": no_good_match,
    "respelled": respelled,
    "error": error,
    "after feedback": after_feedback,
    "picture form": picture_form,
    "picture too large": picture_too_large,
    "image page": image_page,
    "image page, nothing seen": image_page_nothing_seen,
    "not found": not_found,
    "results at 320 px": narrow_results,
    "recording": recording,
    "reading": reading,
    "hands-free": hands_free,
}


def enter(page: Page, base: str, state: str) -> None:
    """Bring ``page`` (fresh, from the ``page`` fixture) into ``state``, recording live-region announcements."""
    page.add_init_script(RECORD_ANNOUNCEMENTS)
    STATES[state](page, base)
