"""The typos bench asks every caption with one typo of each kind, the same in every run."""

from __future__ import annotations

import pytest
from rapidfuzz.distance import DamerauLevenshtein

from bench.typos import KINDS, with_typo

CAPTION = "A giraffe standing near trees in a grassy field."


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(40))
def test_one_word_gets_one_typo_and_the_same_one_every_run(kind: str, seed: int) -> None:
    typed = with_typo(CAPTION, kind, seed)
    assert typed == with_typo(CAPTION, kind, seed)
    changed = [(a, b) for a, b in zip(CAPTION.split(), typed.split(), strict=True) if a != b]
    assert len(changed) == 1
    word, typo = changed[0]
    assert len(word) > 4 and word.islower() and DamerauLevenshtein.distance(word, typo) == 1
    assert typo[0] == word[0] and typo[-1] == word[-1]  # the middle is mistyped


def test_a_caption_without_a_longer_lower_case_word_is_asked_as_written() -> None:
    assert with_typo("A Big Red Bus.", "swapped", seed=1) == "A Big Red Bus."
    with pytest.raises(ValueError, match="unknown kind"):
        with_typo(CAPTION, "shouted", seed=1)
