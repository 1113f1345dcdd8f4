"""The browser's phonemes (npm `phonemizer`, espeak-ng in wasm) against Debian espeak-ng's, which the
Python reference synthesiser uses: the Piper voice must hear the same IPA from both."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from accessibility.speech.synthesise import espeak_ipa

CLIENT = Path(__file__).resolve().parents[3] / "client"
TEXTS = [
    "A cat sleeping on a sofa.",
    "A tabby cat, curled up, is sleeping on a grey sofa.",
    "I'm not sure: it might be a tiger, or perhaps a jaguar?",
    "Colours: mostly blue (sky) and green; about 80% confidence.",
]
SCRIPT = """
import { phonemize } from 'phonemizer';
const texts = JSON.parse(process.argv[1]);
const out = [];
for (const t of texts) out.push(await phonemize(t, 'en-us'));
console.log(JSON.stringify(out));
"""


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node not installed"
    if not (CLIENT / "node_modules" / "phonemizer" / "package.json").exists():
        return "npm package phonemizer not installed (make setup)"
    if shutil.which("espeak-ng") is None:
        return "Debian espeak-ng not installed (make setup as root)"
    return None


@pytest.fixture(scope="module")
def browser_ipa() -> list[list[str]]:
    reason = _missing()
    if reason:
        if os.geteuid() == 0:
            pytest.fail(f"{reason}; `make setup` installs it")
        pytest.skip(reason)
    done = subprocess.run(
        ["node", "--input-type=module", "-e", SCRIPT, json.dumps(TEXTS)],
        cwd=CLIENT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def test_npm_phonemizer_gives_ipa(browser_ipa):
    assert browser_ipa[0] == ["ɐ kˈæt slˈiːpɪŋ ˌɔn ɐ sˈoʊfə"]


@pytest.mark.parametrize("index", range(len(TEXTS)))
def test_npm_phonemizer_matches_espeak_ng_cli(browser_ipa, index):
    browser, cli = browser_ipa[index], espeak_ipa(TEXTS[index], "en-us")
    print(f"{TEXTS[index]!r}\n  npm phonemizer: {browser}\n  espeak-ng CLI:  {cli}")
    # Same clauses (punctuation dropped by both), same phonemes, same stress marks.
    assert browser == cli
