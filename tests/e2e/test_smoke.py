"""Smoke test of the browser setup: the home page in real Chromium, keyboard, axe-core and screenshots."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import assert_no_console_errors, focused, format_violations, run_axe, screenshot

pytestmark = pytest.mark.e2e


def test_home_page_loads_and_is_accessible(page, live_server):
    response = page.goto(live_server + "/")
    assert response is not None and response.status == 200, response and response.status
    page.wait_for_load_state("load")

    assert page.evaluate("() => document.documentElement.lang") == "en"
    assert page.locator("h1").count() == 1, page.locator("h1").all_inner_texts()
    assert page.requests[0] == live_server + "/"

    # The first Tab lands on the skip link; Enter moves focus to <main>.
    page.keyboard.press("Tab")
    first = focused(page)
    assert first["tag"] == "a" and first["href"] == "#main", f"first Tab focused {first}"
    assert page.locator(".skip-link, a[href='#main']").first.is_visible(), "the focused skip link is not visible"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement === document.querySelector('main')", timeout=2000)
    assert focused(page)["isMain"]

    violations = run_axe(page)
    assert not violations, format_violations(violations)

    wide = screenshot(page, "home-1280")
    page.set_viewport_size({"width": 320, "height": 800})
    narrow = screenshot(page, "home-320")
    assert wide.stat().st_size > 0 and narrow.stat().st_size > 0
    # Nothing may scroll sideways at 320 CSS px (WCAG 1.4.10 Reflow).
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a 320px viewport"

    assert_no_console_errors(page)
