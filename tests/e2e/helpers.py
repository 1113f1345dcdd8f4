"""Helpers for the real-browser tests: axe-core audits, screenshots, request and console checks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page

PROJECT_ROOT = Path(__file__).resolve().parents[2]
AXE_SCRIPT = PROJECT_ROOT / "client" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

# An init script: every text the page's polite live region (#announcer) is given, in order, in window.__announced.
RECORD_ANNOUNCEMENTS = """
window.__announced = [];
document.addEventListener('DOMContentLoaded', () => {
  const region = document.getElementById('announcer');
  if (!region) return;
  new MutationObserver(() => { if (region.textContent) window.__announced.push(region.textContent); })
    .observe(region, {childList: true, characterData: true, subtree: true});
});
"""

WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21aa", "wcag22aa")


def run_axe(page: Page, tags: Sequence[str] = WCAG_TAGS, context: str | None = None) -> list[dict]:
    """Run axe-core on the page as it is now and return its violations (``[]`` when it passes).

    ``tags`` restricts axe to the rules tagged with any of them; ``context`` is an optional CSS selector to
    audit only part of the page. Assert with ``assert not violations, format_violations(violations)``.
    """
    if not AXE_SCRIPT.is_file():
        raise FileNotFoundError(f"{AXE_SCRIPT} is missing: run `make setup` (npm ci in client/)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # evaluated through the DevTools protocol: a <script> tag would be (rightly) refused by the page's CSP
        page.evaluate(AXE_SCRIPT.read_text() + "\n;undefined")
    results = page.evaluate(
        """async ([tags, context]) => {
            const options = {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']};
            return await window.axe.run(context ? document.querySelector(context) : document, options);
        }""",
        [list(tags), context],
    )
    return results["violations"]


def format_violations(violations: Iterable[dict]) -> str:
    """A readable list of axe violations for assertion messages: rule, impact, help and failing nodes."""
    lines = []
    for v in violations:
        lines.append(f"[{v.get('impact') or 'n/a'}] {v['id']}: {v['help']} ({v.get('helpUrl', '')})")
        for node in v.get("nodes", []):
            target = " ".join(_target(t) for t in node.get("target", []))
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    at {target}: {summary}")
    return "\n".join(lines) if lines else "no axe violations"


def _target(t) -> str:
    # A target is a CSS selector, or a list of selectors through shadow roots / iframes.
    return " >>> ".join(t) if isinstance(t, list) else str(t)


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as ``tests/e2e/artifacts/<name>.png`` and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "page"
    path = ARTIFACTS / f"{safe}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def requests_to(page: Page, path: str) -> list[str]:
    """The URLs the page requested (since the fixture started) whose path is ``path``, e.g. ``/api/search``."""
    return [url for url in page.requests if urlsplit(url).path == path]


def assert_no_console_errors(page: Page) -> None:
    """Fail if the page logged a console error or threw an uncaught exception."""
    errors = page.console_errors
    assert not errors, "console errors:\n" + "\n".join(f"    {e}" for e in errors)


def focused(page: Page) -> dict:
    """What has keyboard focus: tag, id, text and whether it is (inside) ``main``."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            return {
                tag: el ? el.tagName.toLowerCase() : null,
                id: el ? el.id : null,
                text: el ? (el.innerText || '').trim().slice(0, 80) : null,
                href: el ? el.getAttribute('href') : null,
                isMain: !!el && el === document.querySelector('main'),
            };
        }"""
    )
