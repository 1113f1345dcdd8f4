"""Every page state (tests/e2e/page_states.py) in real Chromium, as a screen reader and a low-vision user meet it.

- Axe with every rule it has (best practices, experimental rules, AAA enhanced 7:1 contrast included) finds
  nothing, in the light and the dark colour scheme.
- What a screen reader reads (tests/e2e/screen_reader.py: Chromium's accessibility tree in reading order) equals
  the reviewed reading script in tests/e2e/reading_scripts/<state>.txt, so a change to names, roles, states or
  order shows up in review. After an intended change, rewrite the scripts with
  ``GLIMPSE_WRITE_READING_SCRIPTS=1 pytest tests/e2e/test_page_states.py -k reading_script`` and review the diff.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest

from tests.e2e.helpers import assert_no_console_errors, format_violations, need_voice, run_axe
from tests.e2e.page_states import STATES, enter
from tests.e2e.screen_reader import reading_script

pytestmark = pytest.mark.e2e

SCRIPTS = Path(__file__).resolve().parent / "reading_scripts"
NEEDS_VOICE = {"reading", "hands-free"}


def _script_path(state: str) -> Path:
    return SCRIPTS / (re.sub(r"[^a-z0-9]+", "-", state.lower()).strip("-") + ".txt")


@pytest.mark.parametrize("state", list(STATES))
def test_axe_every_rule_light_and_dark(page, live_server, state):
    if state in NEEDS_VOICE:
        need_voice()
    enter(page, live_server, state)
    failures = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        assert page.evaluate(f"() => matchMedia('(prefers-color-scheme: {scheme})').matches")
        violations = run_axe(page)
        if violations:
            failures.append(f"{state}, {scheme}:\n{format_violations(violations)}")
    assert not failures, "\n".join(failures)
    # The browser logs the 422 / 404 answers of the error states as failed loads; nothing else may show.
    page.console_errors[:] = [e for e in page.console_errors if "Failed to load resource" not in e]
    assert_no_console_errors(page)


@pytest.mark.parametrize("state", list(STATES))
def test_reading_script(page, live_server, state):
    if state in NEEDS_VOICE:
        need_voice()
    enter(page, live_server, state)
    heard = reading_script(page)
    path = _script_path(state)
    if os.environ.get("GLIMPSE_WRITE_READING_SCRIPTS") == "1":
        SCRIPTS.mkdir(exist_ok=True)
        path.write_text("\n".join(heard) + "\n", encoding="utf-8")
    assert path.is_file(), f"{path} is missing: write it with GLIMPSE_WRITE_READING_SCRIPTS=1 and review it"
    expected = path.read_text(encoding="utf-8").splitlines()
    diff = "\n".join(difflib.unified_diff(expected, heard, str(path), "read now", lineterm=""))
    assert heard == expected, f"what a screen reader reads in state {state!r} changed:\n{diff}"
