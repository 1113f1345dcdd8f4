"""Chromium for the browser tests and the docs' screenshots, launched the way that works on these machines.

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
