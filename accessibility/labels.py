"""From a classifier's top ImageNet classes to one subject worth saying, with how sure the system is.

A confident class is said as itself ("tabby cat"). When no class is confident, probability mass is pooled up
the WordNet hypernym tree and the most specific concept that holds most of it is said instead: "tabby",
"tiger cat" and "Egyptian cat" at 0.3 each are "a cat" at 0.9 rather than "a tabby cat" at 0.3. Concepts too
vague to help a listener ("artifact", "whole") are never chosen.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

from accessibility.wordnet import WordNet

CONFIDENT = 0.5  # a single class at or above this is said as itself
POOLED = 0.5  # a hypernym must gather at least this much mass to be said instead
MIN_DEPTH = 5  # shallower concepts (entity … artifact, organism) say nothing useful
FAMILIAR = 2  # SemCor tag count from which a word counts as everyday (bird 29, cat 18, oscine 0)
# Concepts deep enough to pass MIN_DEPTH that still tell a listener nothing; WordNet first lemmas.
TOO_VAGUE = frozenset(
    {
        "instrumentality",
        "device",
        "container",
        "covering",
        "commodity",
        "equipment",
        "implement",
        "structure",
        "object",
        "artifact",
        "whole",
        "matter",
        "material",
        "substance",
        "solid",
        "food",
        "foodstuff",
        "produce",
        "natural object",
        "organism",
        "living thing",
        "chordate",
        "vertebrate",
        "invertebrate",
        "placental",
        "system",
        "mechanism",
        "mechanical device",
        "restraint",
        "protective covering",
        "furnishing",
        "creation",
        "decoration",
        "surface",
        "area",
        "way",
        "geological formation",
        "support",
        "consumer goods",
        "durables",
        "electronic equipment",
        "ware",
        "utensil",
        "article",
        "conveyance",
    }
)


@dataclass(frozen=True)
class Label:
    """One class of the classifier's output."""

    id: str  # WordNet id, e.g. n02123045
    name: str  # spoken name, e.g. "tabby cat"
    probability: float


@dataclass(frozen=True)
class Subject:
    """What the description says the picture shows."""

    name: str  # noun phrase without article: "tabby cat", "cat"
    id: str  # WordNet id of the concept said
    confidence: float  # probability mass behind it, 0–1
    merged: tuple[str, ...] = field(default=())  # names of the classes pooled into it; empty for a single class
    alternatives: tuple[str, ...] = field(default=())  # other classes worth mentioning, most probable first

    @property
    def pooled(self) -> bool:
        return bool(self.merged)


def offset_id(offset: int) -> str:
    return f"n{offset:08d}"


def identify(labels: list[Label], wordnet: WordNet) -> Subject | None:
    """The subject to say, or ``None`` when there are no labels at all."""
    labels = sorted(_one_per_name(lab for lab in labels if lab.probability > 0), key=lambda lab: -lab.probability)
    if not labels:
        return None
    top = labels[0]
    if top.probability >= CONFIDENT:
        others = tuple(lab.name for lab in labels[1:3] if lab.probability >= 0.1)
        return Subject(top.name, top.id, top.probability, alternatives=others)
    mass: dict[int, float] = defaultdict(float)
    members: dict[int, list[Label]] = defaultdict(list)
    for label in labels:
        try:
            ancestors = wordnet.ancestors(label.id)
        except KeyError:  # a class id WordNet does not know: it can only speak for itself
            continue
        for offset in ancestors:
            mass[offset] += label.probability
            members[offset].append(label)
    candidates = [
        offset
        for offset, total in mass.items()
        if total >= POOLED and len(members[offset]) > 1 and speakable(wordnet, offset)
    ]
    if not candidates:
        others = tuple(lab.name for lab in labels[1:3] if lab.probability >= 0.1)
        return Subject(top.name, top.id, top.probability, alternatives=others)
    best = max(candidates, key=lambda offset: (wordnet.depth(offset), mass[offset]))
    said = basic_level(wordnet, best)
    merged = tuple(lab.name for lab in members[said])
    return Subject(_name(wordnet, said), offset_id(said), min(1.0, mass[said]), merged=merged)


def _one_per_name(labels) -> list[Label]:
    """Classes that are said the same way count as one (ImageNet has two "sunglasses" and two "missile"
    classes): their probabilities add up under the id of the likelier one."""
    by_name: dict[str, Label] = {}
    for label in sorted(labels, key=lambda lab: -lab.probability):
        if label.name in by_name:
            kept = by_name[label.name]
            by_name[label.name] = replace(kept, probability=min(1.0, kept.probability + label.probability))
        else:
            by_name[label.name] = label
    return list(by_name.values())


def speakable(wordnet: WordNet, offset: int) -> bool:
    return wordnet.depth(offset) >= MIN_DEPTH and wordnet.synset(offset).name not in TOO_VAGUE


def _name(wordnet: WordNet, offset: int) -> str:
    return wordnet.synset(offset).name


def basic_level(wordnet: WordNet, offset: int, steps: int = 5) -> int:
    """Say a pooled concept at the level people name things ("a bird", not "an oscine").

    WordNet's pooled concepts are often technical ("oscine", "domestic cat", "motor vehicle"); the nearest
    hypernym within ``steps`` whose words are in everyday use (tagged at least ``FAMILIAR`` times in SemCor)
    is said instead. A hypernym holds at least the same probability mass, so nothing is overstated.
    """
    frontier, seen = [offset], {offset}
    for _ in range(steps + 1):
        familiar = [node for node in frontier if speakable(wordnet, node) and wordnet.familiarity(node) >= FAMILIAR]
        if familiar:
            return max(familiar, key=wordnet.familiarity)
        frontier = [p for node in frontier for p in wordnet.synset(node).hypernyms if p not in seen]
        seen.update(frontier)
    return offset
