"""Real-browser tests: Debian's Chromium driven by Playwright against the real app served by uvicorn.

Fixtures:
- ``browser`` (session): headless ``/usr/bin/chromium`` with a fresh profile. Never ``playwright install``.
- ``live_server`` (session): a small real collection (the real pipeline, a tiny CLIP model, 12 photos) served by
  ``uvicorn server.main:create_app --factory`` in a subprocess; yields the base URL ("http://127.0.0.1:PORT").
- ``page`` (per test): a new context + page (1280x800). ``page.requests`` lists every requested URL and
  ``page.console_errors`` every console error / uncaught exception; see ``tests.e2e.helpers``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import screenshot

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# The launch recipe measured on these machines (../shared/FACTS.md, "Browser runtime"). Playwright refuses a
# --user-data-dir argument: it gives every launch a fresh profile of its own (playwright_chromiumdev_profile-*)
# in the driver's TMPDIR, which the `browser` fixture points at pytest's tmp folder.
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
VIEWPORT = {"width": 1280, "height": 800}
READY_TIMEOUT_S = 60.0
ACTION_TIMEOUT_MS = 10_000

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

    from playwright.sync_api import sync_playwright

    profile_tmp = tmp_path_factory.mktemp("chromium")
    # The Playwright driver creates the browser's fresh profile under its TMPDIR: make that our tmp folder.
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(profile_tmp)
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


# --- live server --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


try:
    _LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: no dlopen between fork and exec
except OSError:
    _LIBC = None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child (Linux): be killed if pytest dies without running its teardown (SIGKILL, crash)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the server's process group; kill it if it does not stop within 10 s."""
    if proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _get_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[str]:
    from tests.fixtures.project import build_project

    folder = tmp_path_factory.mktemp("e2e-project")
    build_project(folder)
    log_path = folder / "uvicorn.log"
    env = {
        **os.environ,
        "GLIMPSE_PROJECT_ROOT": str(folder),
        "GLIMPSE_ALIAS_REFRESH_S": "0",
        "GLIMPSE_FEEDBACK_DB": str(folder / "data" / "feedback" / "feedback.db"),
        "PYTHONUNBUFFERED": "1",
    }
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "uvicorn", "server.main:create_app", "--factory"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: Ctrl-C reaches pytest only, teardown stops it all
            preexec_fn=_die_with_parent,
        )
    atexit.register(_stop, proc)  # in case the session ends without running fixture teardown
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        status = None
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"uvicorn exited with code {proc.returncode} before /readyz answered; its output:\n"
                    + log_path.read_text(errors="replace")[-5000:],
                    pytrace=False,
                )
            status = _get_status(base_url + "/readyz")
            if status == 200:
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{base_url}/readyz did not answer 200 within {READY_TIMEOUT_S:.0f} s (last status {status}); "
                    "uvicorn's output:\n" + log_path.read_text(errors="replace")[-5000:],
                    pytrace=False,
                )
            time.sleep(0.2)
        yield base_url
    finally:
        _stop(proc)
        atexit.unregister(_stop)


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


def _describe_console(msg) -> str:
    location = msg.location or {}
    where = location.get("url", "")
    if where and location.get("lineNumber") is not None:
        where += f":{location['lineNumber'] + 1}"
    return f"console.error: {msg.text}" + (f" ({where})" if where else "")
