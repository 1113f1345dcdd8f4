"""The search page in real Chromium: a keyboard-only journey, live-region announcements, colour swatches,
the localStorage result cache (requests counted), no-JavaScript use, and screenshots at 1280 and 320 px."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.e2e.helpers import (
    assert_no_console_errors,
    focused,
    requests_to,
    screenshot,
)
from tests.fixtures.images import encode, photo
from tools.browser import RECORD_ANNOUNCEMENTS

pytestmark = pytest.mark.e2e

# Records every text the live region is given, so transient messages ("Searching…") can be checked.


def announced(page) -> list[str]:
    return page.evaluate("() => window.__announced || []")


def wait_for_results(page, text: str | None = None) -> None:
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'results-heading'")
    if text:
        page.wait_for_function("t => (window.__announced || []).some(a => a.includes(t))", arg=text)


def tab_to(page, predicate_js: str, limit: int = 60) -> dict:
    """Press Tab until the focused element satisfies ``predicate_js`` (a JS function of the element)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => ({predicate_js})(document.activeElement)"):
            return focused(page)
    raise AssertionError(f"never reached an element matching {predicate_js} with Tab; last: {focused(page)}")


def search(page, base: str, query: str, k: int | None = None) -> None:
    page.fill("#q", query)
    if k is not None:
        page.select_option("#k", str(k))
    page.press("#q", "Enter")


def test_keyboard_only_journey(page, live_server):
    page.add_init_script(RECORD_ANNOUNCEMENTS)
    page.goto(live_server + "/")
    # Skip link, then the search box, typing and Enter: no mouse anywhere in this test.
    page.keyboard.press("Tab")
    assert focused(page)["href"] == "#main"
    tab_to(page, "el => el.id === 'q'")
    page.keyboard.type("a bright photo")
    page.keyboard.press("Enter")
    wait_for_results(page, "results for a bright photo")
    assert "a%20bright%20photo" in page.url or "a+bright+photo" in page.url

    # First result: its link is named by the alt text; then its feedback button.
    link = tab_to(page, "el => el.classList.contains('thumb-link')")
    alt = page.evaluate("() => document.activeElement.querySelector('img').alt")
    assert alt and len(alt) <= 125
    tab_to(page, "el => el.classList.contains('vote-up')")
    # Its accessible name starts with the visible "Good" (WCAG 2.5.3 Label in Name), then names the picture.
    named = page.get_by_role("button", name=f"Good match: {alt}", exact=True)
    assert named.evaluate_all("els => els.includes(document.activeElement)")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.getAttribute('aria-pressed') === 'true'")
    page.wait_for_function("() => (window.__announced || []).some(a => a.includes('recorded as a good match'))")
    with urllib.request.urlopen(live_server + "/api/feedback/summary") as response:
        assert json.load(response)["up"] >= 1

    # Open the image: back to the first result link and Enter.
    page.focus(f"a.thumb-link[href='{link['href']}']")  # focus() is keyboard-equivalent: no pointer involved
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{link['href']}")
    assert page.locator("h1").inner_text() == alt
    assert page.locator("#long-description").inner_text()

    # Search by image: open the disclosure, choose a file (the OS picker is not scriptable), submit by keyboard.
    page.goto(live_server + "/")
    tab_to(page, "el => el.tagName === 'SUMMARY'")
    page.keyboard.press("Enter")
    tab_to(page, "el => el.id === 'file'")
    page.set_input_files(
        "#file", files=[{"name": "query.png", "mimeType": "image/png", "buffer": encode(photo(90, 60, seed=7), "PNG")}]
    )
    tab_to(page, "el => el.type === 'submit' && el.closest('#image-form')")
    page.keyboard.press("Enter")
    wait_for_results(page, "pictures like yours")
    assert page.locator("ol.results > li").count() >= 1
    assert_no_console_errors(page)


def test_live_region_announces_searching_results_and_problems(page, live_server):
    page.add_init_script(RECORD_ANNOUNCEMENTS)
    page.goto(live_server + "/")
    region = page.locator("#announcer")
    assert region.get_attribute("role") == "status" and region.get_attribute("aria-live") == "polite"
    assert region.inner_text() == ""
    search(page, live_server, "green leaves", k=5)
    wait_for_results(page, "5 results for green leaves")
    assert "Searching…" in announced(page)
    search(page, live_server, "   ")
    page.wait_for_function("() => (window.__announced || []).some(a => a.startsWith('Search problem'))")
    assert page.locator("#q").get_attribute("aria-invalid") == "true"
    assert "Type a few words" in page.locator("#results").inner_text()
    # The field's description now says why (a screen reader reads it on the field), and stops once fixed.
    assert page.locator("#q").get_attribute("aria-describedby") == "q-hint summary-error-q"
    description = page.evaluate("() => document.getElementById('summary-error-q').textContent")
    assert "Type a few words" in description
    search(page, live_server, "green leaves", k=5)
    wait_for_results(page)
    assert page.locator("#q").get_attribute("aria-describedby") == "q-hint"
    assert page.locator("#q").get_attribute("aria-invalid") is None


def test_picture_problems_are_shown_and_announced(page, live_server):
    """A file that is not a picture gets the server's message in the results (its 415 is swapped in, as the 422s
    are); a picture over the limit is stopped before any upload, with the reason announced."""
    page.add_init_script(RECORD_ANNOUNCEMENTS)
    page.goto(live_server + "/")
    page.locator("details.by-image summary").click()
    limit = int(page.locator("#image-form").get_attribute("data-max-bytes"))
    assert "up to 10 MB" in page.locator("label[for=file]").inner_text() and limit == 10 * 1024 * 1024

    page.set_input_files("#file", files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"just some text"}])
    page.locator("#image-form button[type=submit]").click()
    page.wait_for_function("() => (window.__announced || []).some(a => a.startsWith('Search problem'))")
    assert "not an image" in page.locator("#results .error-summary").inner_text()
    assert page.locator("#file").get_attribute("aria-invalid") == "true"
    assert not any("search failed" in a for a in announced(page))

    uploads = len(requests_to(page, "/search/image"))
    big = {"name": "huge.png", "mimeType": "image/png", "buffer": b"\0" * (limit + 1)}
    page.set_input_files("#file", files=[big])
    page.wait_for_function("() => (window.__announced || []).some(a => a.includes('just over the 10 MB limit'))")
    # The server's summary was about the previous file: it goes, and the new reason shows under the field.
    assert page.locator("#results .error-summary").count() == 0
    shown = page.locator("#file-error")
    assert shown.inner_text() == "The picture is just over the 10 MB limit. Choose a smaller picture."
    assert shown.is_visible()
    assert page.locator("#file").get_attribute("aria-describedby") == "file-hint file-error"
    larger = {"name": "huger.png", "mimeType": "image/png", "buffer": b"\0" * (limit + 1024 * 1024)}
    page.set_input_files("#file", files=[larger])  # another refusal replaces the first, it does not pile up
    assert shown.inner_text() == "The picture is 11 MB; the limit is 10 MB. Choose a smaller picture."
    assert page.locator("#file").get_attribute("aria-describedby") == "file-hint file-error"
    page.locator("#image-form button[type=submit]").click()
    page.wait_for_timeout(500)
    assert len(requests_to(page, "/search/image")) == uploads  # nothing was sent
    assert page.evaluate("() => document.getElementById('file').validationMessage").startswith("The picture is 11 MB")
    assert page.locator("#file").get_attribute("aria-invalid") == "true"
    picture = {"name": "q.png", "mimeType": "image/png", "buffer": encode(photo(90, 60, seed=7), "PNG")}
    page.set_input_files("#file", files=[picture])
    assert page.evaluate("() => document.getElementById('file').validity.valid")
    assert page.locator("#file").get_attribute("aria-invalid") is None
    assert page.locator("#file-error").count() == 0
    assert page.locator("#file").get_attribute("aria-describedby") == "file-hint"
    page.locator("#image-form button[type=submit]").click()
    wait_for_results(page, "pictures like yours")


def test_colour_swatches_get_their_colour_from_script(page, live_server):
    # Axe over every page state is in test_page_states.py; this is the one thing the image page does by script.
    page.goto(live_server + "/search?q=photo&k=5")
    page.goto(live_server + page.locator("a.thumb-link").first.get_attribute("href"))
    # Colour swatches get their colour from script (the CSP forbids inline style attributes).
    swatches = page.locator(".swatch[data-rgb]")
    assert swatches.count() > 0
    expected = "rgb(" + swatches.first.get_attribute("data-rgb").replace(",", ", ") + ")"
    assert swatches.first.evaluate("el => getComputedStyle(el).backgroundColor") == expected


def test_cache_answers_smaller_k_without_asking_the_server(page, live_server):
    page.goto(live_server + "/")

    def calls() -> int:
        return len(requests_to(page, "/search")) + len(requests_to(page, "/api/search"))

    search(page, live_server, "A  Red boat", k=20)
    wait_for_results(page)
    assert calls() == 1
    first = page.locator("ol.results > li").count()

    search(page, live_server, "a red boat", k=10)  # same query once normalised, fewer results: from the cache
    page.wait_for_function("n => document.querySelectorAll('ol.results > li').length === n", arg=min(10, first))
    assert calls() == 1
    assert page.locator("#results-heading").inner_text().startswith(f"{min(10, first)} result")
    # Results from the cache get their read-aloud buttons too (no HTMX swap happened).
    assert page.locator(".read-results").is_visible() and page.locator(".read-one").first.is_visible()

    search(page, live_server, "a red boat", k=50)  # more than cached: one request, which replaces the entry
    page.wait_for_function("() => document.querySelector('.results-section').dataset.k === '50'")
    assert calls() == 2
    search(page, live_server, "a red boat", k=20)
    page.wait_for_function("() => document.querySelector('.results-section').dataset.k === '20'")
    assert calls() == 2

    page.goto(live_server + "/")  # a new page load keeps the cache (same versions)
    before = calls()
    search(page, live_server, "a red boat", k=5)
    page.wait_for_function("() => document.querySelector('.results-section')?.dataset.k === '5'")
    assert calls() == before

    # An entry from another index version is dropped when the page learns the current version.
    page.evaluate(
        """() => {
            for (const key of Object.keys(localStorage).filter(k => k.startsWith('glimpse.results.v1:'))) {
                const entry = JSON.parse(localStorage.getItem(key));
                entry.index = 'stale';
                localStorage.setItem(key, JSON.stringify(entry));
            }
        }"""
    )
    page.reload()
    assert page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('glimpse.results.v1:')).length") == 0
    before = calls()
    search(page, live_server, "a red boat", k=5)
    wait_for_results(page)
    assert calls() == before + 1


def test_a_respelled_search_from_the_cache_still_says_what_was_searched(page, live_server):
    page.add_init_script(RECORD_ANNOUNCEMENTS)
    page.goto(live_server + "/")
    search(page, live_server, "a red baot", k=10)
    wait_for_results(page)
    heading = page.locator("#results-heading").inner_text()
    assert heading.endswith("for “a red boat”")
    said = "Searched for a red boat instead of a red baot."
    page.wait_for_function("s => (window.__announced || []).some(a => a.endsWith(s))", arg=said)
    calls = len(requests_to(page, "/search"))

    search(page, live_server, "A red baot", k=5)  # the same key once normalised: answered from the cache
    page.wait_for_function("() => document.querySelector('.results-section').dataset.k === '5'")
    assert len(requests_to(page, "/search")) == calls
    assert page.locator("#results-heading").inner_text().endswith("for “a red boat”")
    assert page.locator(".results-section").get_attribute("data-announce").endswith(said)
    assert page.locator('input[name="query"]').first.input_value() == "a red boat"

    page.get_by_role("link", name="Search for “a red baot” as typed").click()  # HTMX, then the URL says so
    page.wait_for_function("() => !document.querySelector('.respelled') && !document.querySelector('[aria-busy]')")
    assert page.locator("#results-heading").inner_text().endswith("for “a red baot”")
    assert "spell=false" in page.url


def test_cache_is_capped_and_evicts_least_recently_used(page, live_server):
    page.goto(live_server + "/")
    page.evaluate(
        """() => {
            for (let i = 0; i < 60; i++) {
                localStorage.setItem('glimpse.results.v1:old|' + i,
                    JSON.stringify({model: 'old', version: 'x', index: 'y', k: 5, html: 'x'.repeat(100), used: i}));
            }
        }"""
    )
    search(page, live_server, "a sunny day", k=5)
    wait_for_results(page)
    keys = page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('glimpse.results.v1:'))")
    assert len(keys) <= 40
    assert "glimpse.results.v1:old|0" not in keys and "glimpse.results.v1:old|59" in keys  # oldest went first
    assert any("a sunny day" in key for key in keys)


def test_plain_forms_work_without_javascript(browser, live_server):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(live_server + "/")
        page.fill("#q", "a photo")
        page.press("#q", "Enter")
        page.wait_for_url("**/search?q=a+photo*")
        assert page.locator("ol.results > li").count() >= 1
        page.locator("button.vote-up").first.click()  # the form posts and the server sends us back
        page.wait_for_url("**/search?q=a+photo*")
        with urllib.request.urlopen(live_server + "/api/feedback/summary") as response:
            assert json.load(response)["total"] >= 1
    finally:
        context.close()


def test_screenshots_at_1280_and_320(page, live_server):
    """Saved in tests/e2e/artifacts/ for people to look at; the layout must not scroll sideways at 320 px."""
    for width in (1280, 320):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(live_server + "/search?q=a+photo&k=10")
        screenshot(page, f"results-{width}")
        href = page.locator("a.thumb-link").first.get_attribute("href")
        page.goto(live_server + href)
        screenshot(page, f"image-{width}")
        overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{width}px: the page is {overflow}px wider than the viewport"
    page.set_viewport_size({"width": 640, "height": 400})  # what 200 % zoom leaves of a 1280 × 800 window
    page.goto(live_server + "/search?q=a+photo&k=10")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"at 200 % zoom the page is {overflow}px wider than the window"
    assert_no_console_errors(page)
