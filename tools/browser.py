"""Chromium for the browser tests, benchmarks and the docs' screenshots, launched the way that works on these
machines, and a stand-in microphone for voice in a headless browser.

Debian's ``chromium`` runs headless as root without a sandbox; Playwright refuses a ``--user-data-dir`` and
gives every launch a fresh profile of its own in the driver's TMPDIR, which :func:`launch` points at a folder
the caller owns (so nothing is left in /tmp).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


# getUserMedia answers with a stream that is silent except when the page listens (the mic button pressed: the
# capture node is connected by then) and the test has put an utterance in window.__speech (float32 at 16 kHz):
# then that utterance plays once (and __speech is emptied), window.__speechEndsAt telling when it ends. So a
# recording always holds the whole utterance however slow the machine, and a test can speak several times
# (a search, then commands) by setting __speech again.
SPEECH_MIC = """
window.__speech = null;
window.__speechEndsAt = Infinity;
window.__spokenAt = [];
navigator.mediaDevices.getUserMedia = async () => {
  const ctx = new AudioContext({sampleRate: 48000});
  await ctx.resume();
  const dest = ctx.createMediaStreamDestination();
  const track = dest.stream.getAudioTracks()[0];
  const button = document.getElementById('voice-button');
  const poll = setInterval(() => {
    if (track.readyState === 'ended') { clearInterval(poll); ctx.close(); return; }
    if (!button || button.getAttribute('aria-pressed') !== 'true' || !window.__speech) return;
    const samples = Float32Array.from(window.__speech);
    window.__speech = null;
    if (!samples.length) { window.__speechEndsAt = performance.now(); return; }
    const buffer = ctx.createBuffer(1, samples.length, 16000);
    buffer.copyToChannel(samples, 0);
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(dest);
    source.__microphone = true; // not speech the page plays (RECORD_PLAYED_AUDIO)
    const lead = 0.3;
    source.start(ctx.currentTime + lead);
    window.__speechEndsAt = performance.now() + 1000 * (lead + samples.length / 16000);
    window.__spokenAt.push(window.__speechEndsAt);
  }, 50);
  return dest.stream;
};
"""


@contextlib.contextmanager
def launch(profile_root: Path) -> Iterator:
    """A Playwright ``Browser`` on the system Chromium; its profile lives under ``profile_root``."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing (Debian package `chromium`; `make setup` installs it as root)")
    from playwright.sync_api import sync_playwright

    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(profile_root)  # the driver creates the fresh profile under its TMPDIR
    try:
        playwright = sync_playwright().start()
    finally:
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, chromium_sandbox=False, args=CHROMIUM_ARGS
        )
    except Exception:
        playwright.stop()
        raise
    try:
        yield browser
    finally:
        with contextlib.suppress(Exception):
            browser.close()
        playwright.stop()
