"""Real-browser tests: Debian's Chromium driven by Playwright against the real app served by uvicorn.

Fixtures:
- ``browser`` (session): headless ``/usr/bin/chromium`` with a fresh profile. Never ``playwright install``.
- ``live_server`` (session): a small real collection (the real pipeline, a tiny CLIP model, 12 drawn photos and one
  real one, ``SEEN_PHOTO``; a weak-match threshold recorded as the coco evaluation would: see ``WEAK_THRESHOLD``)
  served by
  ``uvicorn server.main:create_app --factory`` in a subprocess; yields the base URL ("http://127.0.0.1:PORT").
- ``page`` (per test): a new context + page (1280x800). ``page.requests`` lists every requested URL and
  ``page.console_errors`` every console error / uncaught exception; see ``tests.e2e.helpers``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.evaluation import coco_root
from tests.e2e.helpers import screenshot
from tools.browser import CHROMIUM, launch

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1280, "height": 800}
READY_TIMEOUT_S = 60.0
ACTION_TIMEOUT_MS = 10_000
# With the tiny test model, "xylophone" scores at most 0.01 against every photo and the queries the tests use
# ("a photo", "red", "a yellow flower", ...) 0.17 or more: so "xylophone" is the page's "no good match" state.
WEAK_THRESHOLD = 0.1
NO_GOOD_MATCH_QUERY = "xylophone"
# The drawn photos show nothing a detector or a text reader finds. One real photo (coco-mini) does, so the image
# page's tables of what was seen are audited too: five people at a dinner table under a parasol that reads
# "SMAKELIJK", which the word search finds first.
SEEN_PHOTO = coco_root() / "distractors" / "000000338905.jpg"
SEEN_QUERY = "smakelijk"

_E2E_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Everything under tests/e2e is an e2e test (``-m "not e2e"`` leaves them out)."""
    for item in items:
        if _E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item so the `page` fixture can screenshot failed tests.
    report = yield
    setattr(item, f"_e2e_report_{report.when}", report)
    return report


# --- browser ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (Debian package `chromium`)"
        if os.geteuid() != 0:
            pytest.skip(f"{reason}; install it (as root `make setup` does) to run the browser tests")
        pytest.fail(f"{reason}, although `make setup` installs it when run as root", pytrace=False)

    with launch(tmp_path_factory.mktemp("chromium")) as browser:
        yield browser


# --- live server --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[str]:
    from tests.fixtures.project import build_project, calibrate_weak_threshold
    from tests.fixtures.server_process import start_server
    from tools.processes import ChildFailedError

    if not SEEN_PHOTO.is_file():
        pytest.skip(f"{SEEN_PHOTO} is missing: the browser tests' collection needs this coco-mini photo (GLIMPSE_COCO)")
    folder = tmp_path_factory.mktemp("e2e-project")
    build_project(folder, real_photos=[SEEN_PHOTO])
    calibrate_weak_threshold(folder, WEAK_THRESHOLD)
    try:
        server = start_server(folder, folder / "uvicorn.log", ready_timeout_s=READY_TIMEOUT_S)
    except ChildFailedError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server.base_url
    finally:
        server.stop()


# --- speech -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def whisper():
    """Whisper tiny.en (the browser's graphs, in onnxruntime) to hear what the page said."""
    from tests.e2e.helpers import MODELS

    if not (MODELS / "speech-manifest.json").is_file():
        pytest.skip("the Whisper graphs are not built (make setup)")
    from accessibility.speech.transcribe import WhisperOnnx

    return WhisperOnnx(MODELS, threads=2)


# --- page ---------------------------------------------------------------------------------------------------


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    page.requests = []  # every URL the page requested, in order
    page.console_errors = []  # console.error messages and uncaught exceptions
    page.on("request", lambda req: page.requests.append(req.url))
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(_describe_console(msg)))
    page.on("pageerror", lambda exc: page.console_errors.append(f"uncaught {exc}"))
    try:
        yield page
    finally:
        report = getattr(request.node, "_e2e_report_call", None)
        if report is not None and report.failed:
            with contextlib.suppress(Exception):
                path = screenshot(page, f"FAILED-{request.node.name}")
                print(f"screenshot of the failed test: {path}")
        context.close()
    # Every journey in a real browser also checks the Content-Security-Policy: Chromium reports each blocked
    # script, style, worker, wasm compile or fetch as a console error.
    blocked = [e for e in page.console_errors if "Content Security Policy" in e]
    assert not blocked, f"the Content-Security-Policy blocked something: {blocked}"


def _describe_console(msg) -> str:
    location = msg.location or {}
    where = location.get("url", "")
    if where and location.get("lineNumber") is not None:
        where += f":{location['lineNumber'] + 1}"
    return f"console.error: {msg.text}" + (f" ({where})" if where else "")
