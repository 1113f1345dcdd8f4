"""Detected objects said the way a person would: "two people and a dog", "possibly a frisbee".

People come first (they are what a listener asks about first), then other things by how sure the detector
is. A class is counted from its confident detections only; a class found only with low scores is offered with
"possibly" and never counted. Unsure person detections beside a count are offered as "possibly more" ("five
people, possibly more"; "two people and a dog, possibly more people"): on COCO photos the detector never saw in
training (coco-mini's distractors) such extra detections were real people, mostly in the background, in every
photo checked (docs/descriptions.md). Counts above ``MANY``
become "many": a detector's exact count of a crowd is noise. Names are said in everyday words ("mobile phone",
not "cell phone").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from accessibility.wording import article, join_words

SURE = 0.5  # a detection at or above this counts and is said plainly
MAYBE = 0.3  # below SURE and at or above this: "possibly", never counted
MANY = 6  # more than this many of one class: "many"
# Classes whose unsure detections beside a count are offered as "more": extra person boxes were real people in
# every checked photo; for other classes a third were one object boxed twice or something else (a doll's
# head as "more donuts").
MORE_OF = frozenset({"person"})
# A word with its contraction kept whole: "don't" is not the "don" WordNet calls a person; a possessive is its
# word ("a man's hat" names a man).
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*['’]?")
_POSSESSIVE = re.compile(r"['’]s?$")
NUMBERS = ("no", "one", "two", "three", "four", "five", "six")
SPOKEN = {
    "person": "person",
    "tv": "television",
    "cell phone": "mobile phone",
    "dining table": "table",
    "sports ball": "ball",
    "hair drier": "hair dryer",
    "couch": "sofa",
    "motorcycle": "motorbike",
    "airplane": "aeroplane",
    "potted plant": "pot plant",
    "remote": "remote control",
    "mouse": "computer mouse",
    "skis": "pair of skis",
    "scissors": "pair of scissors",
}
LABELS = {name: label for label, name in SPOKEN.items()}  # everyday name → the detector's
PLURALS = {
    "person": "people",
    "sheep": "sheep",
    "knife": "knives",
    "computer mouse": "computer mice",
    "pair of skis": "pairs of skis",
    "pair of scissors": "pairs of scissors",
    "wine glass": "wine glasses",
}


@dataclass(frozen=True)
class Seen:
    """One class as it is said: ``count`` confident detections (0 when only a low-score one was found)."""

    name: str  # everyday singular name
    count: int
    score: float  # the best detection's score
    unsure: int = 0  # detections at or above MAYBE and below SURE: more of the class may be there than counted


def spoken(label: str) -> str:
    return SPOKEN.get(label, label)


def plural(name: str) -> str:
    if name in PLURALS:
        return PLURALS[name]
    if name.endswith(("s", "sh", "ch", "x")):
        return name + "es"
    if name.endswith("y") and name[-2:-1] not in tuple("aeiou"):
        return name[:-1] + "ies"
    return name + "s"


def named_in(name: str, text: str) -> bool:
    """Whether ``text`` names the class said as ``name``: by its everyday or its detector name, singular or
    plural, as whole words in any case ("Dogs!" names a dog, "a couch" a sofa; "the light" no traffic light)."""
    label = LABELS.get(name, name)
    folded = text.casefold()
    for form in {name, plural(name), label, plural(label)}:
        words = r"\W+".join(re.escape(word) for word in form.split())
        if re.search(rf"(?<!\w){words}(?!\w)", folded):
            return True
    return False


def mentioned(name: str, text: str, wordnet=None) -> bool:
    """``named_in``, or a word of ``text`` whose usual sense is a kind of the class ("astronaut", "women" for a
    person; "spaniel" for a dog), when a WordNet is given."""
    if named_in(name, text):
        return True
    if wordnet is None or " " in name:
        return False
    words = (_POSSESSIVE.sub("", word) for word in _WORD.findall(text))
    return any(wordnet.is_a(word, name) for word in words if len(word) > 2)


def tally(objects: Sequence) -> list[Seen]:
    """Classes in the order they are said: people first, then by count and best score."""
    best: dict[str, float] = {}
    sure: dict[str, int] = {}
    unsure: dict[str, int] = {}
    for found in objects:
        if found.score < MAYBE:
            continue
        name = spoken(found.label)
        best[name] = max(best.get(name, 0.0), float(found.score))
        sure[name] = sure.get(name, 0) + (found.score >= SURE)
        unsure[name] = unsure.get(name, 0) + (found.score < SURE)
    seen = [Seen(name, sure[name], best[name], unsure[name]) for name in best]
    return sorted(seen, key=lambda s: (s.name != "person", s.count == 0, -s.count, -s.score, s.name))


def counted(seen: Seen) -> str:
    """ "a dog", "two people", "many cars"."""
    if seen.count > MANY:
        return f"many {plural(seen.name)}"
    if seen.count > 1:
        return f"{NUMBERS[seen.count]} {plural(seen.name)}"
    return article(seen.name)


def possible(seen: Seen, more: bool = True) -> str | None:
    """What a class's unsure detections offer after "possibly": "a cat"; for people, with ``more``, "more people"
    beside a count and "people" for several unsure ones; ``None`` when they offer nothing."""
    more = more and seen.name in MORE_OF
    if seen.count == 0:
        return plural(seen.name) if more and seen.unsure > 1 else article(seen.name)
    if more and seen.unsure and seen.count <= MANY:  # "many people" says it already
        return f"more {plural(seen.name)}"
    return None


def objects_phrase(seen: list[Seen], limit: int = 3, more: bool = True) -> str | None:
    """ "two people and a dog, possibly more people or a frisbee"; ``None`` when nothing was detected.
    At most ``limit`` classes are counted and ``limit`` items said in all; ``more=False`` leaves out what the
    unsure detections add beside a count (and says several unsure ones as one: "possibly a person")."""
    shown = [s for s in seen if s.count > 0][:limit]
    sure = [counted(s) for s in shown]
    offered = [possible(s, more) for s in seen if s.count == 0 or s in shown]
    maybe = [phrase for phrase in offered if phrase][: max(0, limit - len(sure))]
    if sure and maybe:
        if len(shown) == 1 and maybe == [f"more {plural(shown[0].name)}"]:
            return f"{join_words(sure)}, possibly more"  # "five people, possibly more"
        also = "" if maybe[0].startswith("more ") else "also "  # never "possibly also more people"
        return f"{join_words(sure)}, possibly {also}{join_words(maybe, 'or')}"
    if sure:
        return join_words(sure)
    if maybe:
        return f"possibly {join_words(maybe, 'or')}"
    return None


def seen_sentence(objects: Sequence, text: Sequence[str] = ()) -> str:
    """What was seen as one sentence for a text encoder: 'a photo of two people and a dog with the words
    "STOP"'. Blended into the image embedding (models/fusion.py), it lets text queries match detections. Empty
    when nothing was seen: there is nothing to pull the picture towards. Built on the model's own scores
    (``Detection.model_score``), not the rescaled ones the descriptions say: the detections a description leaves
    out as too unsure still help find a picture (docs/models.md)."""
    modelled = [
        replace(o, score=o.model_score, raw=None) if getattr(o, "raw", None) is not None else o for o in objects
    ]
    phrase = objects_phrase(tally(modelled), more=False)  # the sentence the search weights were fitted on
    words = " ".join(t for t in text if t)
    if not phrase and not words:
        return ""
    sentence = f"a photo of {phrase}" if phrase else "a photo"
    return f'{sentence} with the words "{words}"' if words else sentence
