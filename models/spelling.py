"""Query spelling: a word that is in no English word list and not in the collection is searched as the most common
English word one edit away ("giraffee" → "giraffe", "aobve" → "above").

Why: a typo reaches the text encoder as word pieces that mean something else, and the word index never matches
it. One swapped letter in each held-out caption costs about 5 points of R@1 and 3 of R@10 through the API; with
this correction the figures are back to the captions as written (docs/search-api.md#spelling).

What is left alone, so that a name or a word of another language is never "corrected" into English: words of
fewer than MIN_LETTERS letters, capitalised words after the first (names: "Lassy", "Serta"), words in capitals
("ISTANBUL"), words with an apostrophe or a letter outside ASCII, words the collection's word index holds (the
text read in its pictures, its titles and descriptions), and queries in which most words are unknown (probably
not English). A word with no English word one edit away stays as typed.

The English words and how common each is come from pyspellchecker (MIT; 160,000 words with their frequencies,
read in about 0.15 s once per process), which also lists the known words one edit away.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from spellchecker import SpellChecker

COMMON = 1000  # a word this frequent in the list is a common one
MIN_LETTERS = 4  # shorter words have many neighbours one edit away ("cat": "car", "hat", "cut")
# A word: letters, with inner apostrophes ("don't", "person's") kept in one token so that no half is corrected.
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


@dataclass(frozen=True)
class Correction:
    typed: str
    searched: str


@lru_cache(maxsize=1)
def english() -> SpellChecker:
    """pyspellchecker's English words, one edit away at most; loaded once per process."""
    return SpellChecker(language="en", distance=1)


@lru_cache(maxsize=1)
def without_accents() -> frozenset[str]:
    """The list's words with accents, as people type them without ("cafe", "naive"): the list has "café" only."""
    return frozenset(_ascii(w) for w in english().word_frequency.dictionary if not w.isascii())


def _ascii(word: str) -> str:
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()


class Speller:
    """Corrects the words of a query; ``in_collection(word)`` says whether the collection holds a word (such a
    word is never corrected, and is preferred among the candidates for one that is)."""

    def __init__(self, in_collection: Callable[[str], bool] | None = None) -> None:
        self.words = english()
        self.accented = without_accents()
        self.in_collection = in_collection or (lambda word: False)

    def correct(self, query: str) -> tuple[str, list[Correction]]:
        """The query to search and what was changed in it (nothing: the query itself and ``[]``)."""
        words = list(_WORD.finditer(query))
        unknown = [
            m
            for m in words
            if self._may_correct(m.group(0), first=m.start() == 0) and not self._known(m.group(0).lower())
        ]
        if not unknown:
            return query, []
        if len(unknown) > 1 and 2 * len(unknown) > len(words):  # mostly unknown words: probably not English
            return query, []
        out, corrections, end = [], [], 0
        for match in unknown:
            typed = match.group(0)
            best = self._best(typed.lower())
            if best is None:
                continue
            searched = best.capitalize() if typed[0].isupper() else best
            out += [query[end : match.start()], searched]
            end = match.end()
            corrections.append(Correction(typed, searched))
        if not corrections:
            return query, []
        return "".join(out) + query[end:], corrections

    def _may_correct(self, word: str, first: bool) -> bool:
        return (
            len(word) >= MIN_LETTERS
            and word.isascii()
            and word.isalpha()  # no apostrophe
            and not word.isupper()
            and (first or not word[0].isupper())
        )

    def _known(self, word: str) -> bool:
        """In the word list (accents aside), a plural of a word in it ("frisbees"), or in the collection."""
        listed = self.words.word_frequency
        return (
            word in listed
            or word in self.accented
            or (word.endswith("s") and word[:-1] in listed)
            or self.in_collection(word)
        )

    def _compound(self, word: str) -> bool:
        """Two common words written as one ("clownfish", "hoverfly"), which the list has few of."""
        frequency = self.words.word_frequency
        return any(frequency[word[:i]] >= COMMON and frequency[word[i:]] >= COMMON for i in range(3, len(word) - 2))

    def _best(self, word: str) -> str | None:
        near = self.words.candidates(word) or set()  # listed words one edit away (the word itself is not listed)
        frequency = self.words.word_frequency
        if self._compound(word):  # "clownfish" is not "clownish", but "sandwhich" is "sandwich"
            near = {w for w in near if frequency[w] >= COMMON}
        return max(near, key=lambda w: (self.in_collection(w), frequency[w], w), default=None)
