"""WordNet 3.0 nouns from the Debian ``wordnet-base`` package: names and hypernyms, offline.

ImageNet class ids are WordNet noun offsets (``n02123045`` → tabby), so a classifier's labels can be
generalised ("tabby", "tiger cat", "Egyptian cat" → "domestic cat" → "cat") without any download.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_DATA = Path("/usr/share/wordnet/data.noun")


@dataclass(frozen=True)
class Synset:
    offset: int
    lemmas: tuple[str, ...]  # spaces instead of underscores, most common first
    hypernyms: tuple[int, ...]  # "@" and instance "@i" pointers
    gloss: str
    sense_keys: tuple[str, ...] = ()  # one per lemma, e.g. "cat%1:05:00::", to look up tagged-use counts

    @property
    def name(self) -> str:
        return self.lemmas[0]


class WordNet:
    def __init__(self, data_noun: Path = DEFAULT_DATA) -> None:
        if not Path(data_noun).exists():
            raise FileNotFoundError(
                f"WordNet noun data not found at {data_noun}: install the Debian package wordnet-base (make setup)"
            )
        self._synsets = dict(_parse(Path(data_noun)))
        self._depths: dict[int, int] = {}
        self._by_lemma: dict[str, list[int]] | None = None
        self._counts, self._adjective_tags = _sense_counts(Path(data_noun).with_name("cntlist.rev"))

    def __len__(self) -> int:
        return len(self._synsets)

    def synset(self, offset: int | str) -> Synset:
        """By offset, or by an ImageNet-style id such as ``n02123045``."""
        key = int(offset[1:]) if isinstance(offset, str) and offset.startswith("n") else int(offset)
        try:
            return self._synsets[key]
        except KeyError:
            raise KeyError(f"no WordNet noun synset {offset}") from None

    def senses(self, word: str) -> list[int]:
        """The noun synsets a word (or its plural) can mean, most common sense first."""
        form = self._form(word)
        if form is None:
            return []
        return sorted(self._by_lemma[form], key=lambda o: -self._sense_count(o, form))

    def _form(self, word: str) -> str | None:
        """The lemma a word is a form of (itself, or the singular of a plural), when WordNet has it as a noun."""
        if self._by_lemma is None:
            index: dict[str, list[int]] = {}
            for offset, synset in self._synsets.items():
                for lemma in synset.lemmas:
                    index.setdefault(lemma.lower(), []).append(offset)
            self._by_lemma = index
        word = word.lower().strip()
        forms = (
            word,
            word[:-1] if word.endswith("s") else "",
            word[:-2] if word.endswith("es") else "",
            word[:-3] + "man" if word.endswith("men") else "",  # women, firemen
            word[:-3] if word.endswith("ren") else "",  # children
        )
        return next((form for form in forms if form and form in self._by_lemma), None)

    def _sense_count(self, offset: int, lemma: str) -> int:
        """How often ``lemma`` was tagged in this sense (SemCor): "cat" the animal 18, "cat" the guy 0."""
        synset = self._synsets[offset]
        for name, key in zip(synset.lemmas, synset.sense_keys, strict=False):
            if name.lower() == lemma:
                return self._counts.get(key, 0)
        return 0

    def is_a(self, word: str, concept: str) -> bool:
        """Whether the most common sense of ``word`` is a kind of ``concept``'s ("astronaut" is a "person", "spaniel" a
        "dog"): how a source that names an astronaut already mentions the person the detector found."""
        wanted = set(self.senses(concept)[:1])
        senses = self.senses(word)[:1]
        if not wanted or not senses or self.mostly_adjective(word):
            return False
        return bool(wanted & set(self.ancestors(senses[0])))

    def mostly_adjective(self, word: str) -> bool:
        """Whether SemCor tagged ``word`` as an adjective more often than as a noun: "white" (the colour 76 times,
        a person of European descent 16) is, so "a white dog" names no person; "duck" and "cook" are verbs as
        often as nouns, but in a caption they are the animal and the person, so only adjectives count."""
        form = self._form(word)
        if form is None:
            return False
        nouns = sum(self._sense_count(offset, form) for offset in self._by_lemma[form])
        return self._adjective_tags.get(form, 0) > nouns

    def ancestors(self, offset: int | str) -> list[int]:
        """The synset and all its hypernyms, nearest first (breadth-first, each once)."""
        start = self.synset(offset).offset
        seen, order, queue = {start}, [start], deque([start])
        while queue:
            for parent in self._synsets[queue.popleft()].hypernyms:
                if parent not in seen and parent in self._synsets:
                    seen.add(parent)
                    order.append(parent)
                    queue.append(parent)
        return order

    def depth(self, offset: int | str) -> int:
        """Length of the longest hypernym path to the root (entity has depth 0).

        The longest path is the one that measures specificity when a synset has several parents
        ("domestic cat" is both a "cat" and a "domestic animal").
        """
        start = self.synset(offset).offset
        stack, pending = [start], set()
        while stack:  # iterative post-order: the hierarchy is ~20 deep, but no recursion limits to worry about
            node = stack[-1]
            parents = [p for p in self._synsets[node].hypernyms if p in self._synsets]
            missing = [p for p in parents if p not in self._depths]
            if missing and node not in pending:
                pending.add(node)
                stack.extend(missing)
                continue
            stack.pop()
            pending.discard(node)
            self._depths[node] = 1 + max((self._depths[p] for p in parents), default=-1)
        return self._depths[start]

    def familiarity(self, offset: int | str) -> int:
        """How often the synset's words were tagged in the SemCor corpus (``cntlist.rev``): a proxy for how
        everyday the concept is ("bird" 29, "oscine" 0). 0 when unknown."""
        return max((self._counts.get(key, 0) for key in self.synset(offset).sense_keys), default=0)

    def lowest_common_ancestor(self, offsets: list[int | str]) -> Synset:
        """The deepest synset that is an ancestor of (or equal to) every given synset."""
        if not offsets:
            raise ValueError("need at least one synset")
        common = set(self.ancestors(offsets[0]))
        for offset in offsets[1:]:
            common &= set(self.ancestors(offset))
        return self.synset(max(common, key=self.depth))


def _parse(path: Path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("  "):  # the licence header
                continue
            head, _, gloss = line.partition(" | ")
            fields = head.split()
            offset, lex_file, word_count = int(fields[0]), int(fields[1]), int(fields[3], 16)
            words = [(fields[4 + 2 * i], int(fields[5 + 2 * i], 16)) for i in range(word_count)]
            lemmas = tuple(word.replace("_", " ") for word, _ in words)
            keys = tuple(f"{_lemma_key(word)}%1:{lex_file:02d}:{lex_id:02d}::" for word, lex_id in words)
            at = 4 + 2 * word_count
            pointer_count = int(fields[at])
            hypernyms = []
            for i in range(pointer_count):
                symbol, target, pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
                if symbol in ("@", "@i") and pos == "n":
                    hypernyms.append(int(target))
            yield offset, Synset(offset, lemmas, tuple(hypernyms), gloss.strip(), keys)


def _lemma_key(word: str) -> str:
    """Sense keys use the lower-cased lemma without the adjective-position marker, e.g. ``(a)``."""
    return word.split("(", 1)[0].lower()


def _sense_counts(path: Path) -> tuple[dict[str, int], dict[str, int]]:
    """``cntlist.rev`` lines: ``sense_key sense_number tag_count`` → the tag count of each noun sense key, and
    per lemma the tags of its adjective senses together; missing file → no counts."""
    counts: dict[str, int] = {}
    adjectives: dict[str, int] = {}
    if not path.exists():
        return counts, adjectives
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) != 3 or "%" not in parts[0]:
                continue
            lemma, _, rest = parts[0].partition("%")
            if rest.startswith("1:"):
                counts[parts[0]] = int(parts[2])
            elif rest.startswith(("3:", "5:")):  # adjective, adjective satellite
                lemma = lemma.replace("_", " ")
                adjectives[lemma] = adjectives.get(lemma, 0) + int(parts[2])
    return counts, adjectives


@lru_cache(maxsize=1)
def default_wordnet() -> WordNet:
    return WordNet()


# Endings stripped to find the dictionary form of an inflected word ("crashing" → "crash", "cities" → "city").
_ENDINGS = (("ies", "y"), ("ied", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"),
            ("er", ""), ("est", ""), ("ly", ""), ("men", "man"))  # fmt: skip


@lru_cache(maxsize=1)
def english_words(folder: Path = DEFAULT_DATA.parent) -> frozenset[str]:
    """Every one-word lemma of WordNet's nouns, verbs, adjectives and adverbs, and their irregular forms."""
    words: set[str] = set()
    for part in ("noun", "verb", "adj", "adv"):
        for path in (Path(folder) / f"index.{part}", Path(folder) / f"{part}.exc"):  # the word starts each line
            if not path.exists():
                raise FileNotFoundError(f"WordNet file {path} not found: install the Debian package wordnet-base")
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                word = line.split(" ", 1)[0]
                if word and "_" not in word:  # the licence lines start with a space
                    words.add(word.lower())
    return frozenset(words)


def is_english(word: str) -> bool:
    """Whether ``word`` (lower-case) is an English word or an inflection of one ("yield", "crossing", "guys")."""
    words = english_words()
    if word in words:
        return True
    for ending, base in _ENDINGS:
        if word.endswith(ending) and len(word) > len(ending) + 1:
            stem = word[: -len(ending)] + base
            if stem in words or (len(stem) > 2 and stem[-1] == stem[-2] and stem[:-1] in words):  # "running"
                return True
    return False
