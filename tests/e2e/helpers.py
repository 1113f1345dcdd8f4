"""Helpers for the real-browser tests: axe-core audits, screenshots, request and console checks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page

PROJECT_ROOT = Path(__file__).resolve().parents[2]
AXE_SCRIPT = PROJECT_ROOT / "client" / "node_modules" / "axe-core" / "axe.min.js"
MODELS = PROJECT_ROOT / "client" / "static" / "models"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

# Keeps every buffer of synthesised speech the page plays: window.__played = [{at, rate, pcm}] with `at` the
# performance.now() time it starts (the time a listener hears it) and pcm its samples.
RECORD_PLAYED_AUDIO = """
window.__played = [];
const originalStart = AudioBufferSourceNode.prototype.start;
AudioBufferSourceNode.prototype.start = function (when = 0, ...rest) {
  const ctx = this.context;
  if (this.buffer && !this.__microphone && !(ctx instanceof OfflineAudioContext)) {
    const delay = Math.max(0, when - ctx.currentTime);
    window.__played.push({at: performance.now() + 1000 * delay, rate: this.buffer.sampleRate,
                          pcm: this.buffer.getChannelData(0).slice()});
  }
  return originalStart.call(this, when, ...rest);
};
"""

# window.__played from `since` (a performance.now() time) on, as base64 of little-endian float32 per buffer.
PLAYED_SINCE = """since => window.__played.filter(p => p.at >= since).map(p => {
  const bytes = new Uint8Array(p.pcm.buffer, p.pcm.byteOffset, p.pcm.byteLength);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return {at: p.at, rate: p.rate, pcm: btoa(binary)};
})"""


def played_audio(page: Page, since: float = 0.0) -> list[dict]:
    """The speech the page played since ``since`` (performance.now() ms): [{at, rate, audio (float32)}]."""
    import base64

    import numpy as np

    out = []
    for item in page.evaluate(PLAYED_SINCE, since):
        audio = np.frombuffer(base64.b64decode(item.pop("pcm")), dtype="<f4")
        out.append({**item, "audio": audio})
    return out


WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21aa", "wcag22aa")


def run_axe(page: Page, tags: Sequence[str] | None = None, context: str | None = None) -> list[dict]:
    """Run axe-core on the page as it is now and return its violations (``[]`` when it passes).

    By default every rule axe has runs: best practices, the experimental rules and the AAA ones (enhanced 7:1
    contrast among them), which axe leaves out unless asked. ``tags`` restricts axe to the rules tagged with any
    of them (e.g. ``WCAG_TAGS``); ``context`` is an optional CSS selector to audit only part of the page. Assert
    with ``assert not violations, format_violations(violations)``.
    """
    if not AXE_SCRIPT.is_file():
        raise FileNotFoundError(f"{AXE_SCRIPT} is missing: run `make setup` (npm ci in client/)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # evaluated through the DevTools protocol: a <script> tag would be (rightly) refused by the page's CSP
        page.evaluate(AXE_SCRIPT.read_text() + "\n;undefined")
    results = page.evaluate(
        """async ([tags, context]) => {
            const runOnly = tags ? {type: 'tag', values: tags}
                                 : {type: 'rule', values: window.axe.getRules().map((rule) => rule.ruleId)};
            const options = {runOnly, resultTypes: ['violations']};
            return await window.axe.run(context ? document.querySelector(context) : document, options);
        }""",
        [list(tags) if tags else None, context],
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


def espeak(wav: Path, text: str, voice: str | None = None, speed: int = 150) -> Path:
    """``text`` spoken by espeak-ng (its default voice unless ``voice``) into ``wav``; skips the test when
    espeak-ng is not installed."""
    import shutil
    import subprocess

    import pytest

    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng (Debian) is not installed")
    command = ["espeak-ng", *(["-v", voice] if voice else []), "-s", str(speed), "-w", str(wav), text]
    subprocess.run(command, check=True, capture_output=True)
    return wav


def need_voice() -> None:
    """Skip unless the page can read aloud with the Glimpse voice (built and installed by ``make setup``)."""
    import pytest

    if not (MODELS / "piper-voice.manifest.json").is_file():
        pytest.skip("the Piper voice is not built (make setup)")
    if not (PROJECT_ROOT / "client" / "node_modules" / "phonemizer" / "dist" / "phonemizer.js").is_file():
        pytest.skip("npm phonemizer is not installed (make setup)")


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
