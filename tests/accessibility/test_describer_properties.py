"""Property tests (Hypothesis) for the description composer and its wording rules.

Whatever the classifier's labels, the detector's objects, the text read in the picture, the pixels, the metadata
and the caption (hostile or empty), a screen-reader user gets an alt phrase and a long description that are
clean to hear, bounded, honest about confidence, in plain words (the numbers stay in the evidence),
deterministic and backed by the evidence stored with them.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import math
import re
import time
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from accessibility.colours import GREY_CHROMA, PALETTE, Appearance, ColourShare, appearance
from accessibility.describer import (
    ALT_LIMIT,
    CUT_OUT_MIN_SCORE,
    CUT_OUT_SHARE,
    SHAPE_WORDS,
    TEXT_IN_ALT,
    TEXT_SURE,
    TINY_SIDE,
    UNCLEAR_TEXT,
    VERSION,
    Caption,
    Describer,
    Facts,
    TextRead,
    alt_source,
    compose_alt,
    look_sentence,
    objects_sentence,
    orientation,
    read_text,
    record_sentence,
    source_sentence,
    text_sentence,
    what_sentence,
)
from accessibility.labels import Label, Subject, identify
from accessibility.objects import MANY, MAYBE, NUMBERS, SURE, Seen, mentioned, objects_phrase, plural, spoken, tally
from accessibility.wording import (
    PROBABLY,
    UNNAMED_BELOW,
    about_percent,
    article,
    capitalise,
    clean_text,
    hedge,
    hour_of,
    join_words,
    sentence,
    spoken_date,
    truncate_words,
)
from accessibility.wordnet import default_wordnet
from models.detectors.base import Detection
from models.detectors.centernet import COCO_CLASSES

# Reproducible in CI: the same examples on every run, nothing read from or written to an example database.
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TEXT_LIMIT = inspect.signature(clean_text).parameters["limit"].default  # caption and source_description
CAMERA_LIMIT = 60  # record_sentence: clean_text(facts.camera, 60)
ARTEFACT = re.compile(r"\b(None|nan|NaN|null|undefined|inf)\b|[{}]")
DOUBLED_PUNCTUATION = re.compile(r"(?=[.,;:][.,;:])")  # "..", ".;", ",." where two pieces were glued
SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")  # the splitter clean_text uses
FILE_NAME = re.compile(r"\w\.(jpe?g|png|gif|webp|bmp|tiff?|svg|heic|raw|cr2|nef|dng|psd|xcf)\b", re.I)
QUOTES = "\"'“”‘’"
HEDGE_RANK = {None: 0, "possibly": 1, "probably": 2, "": 3}  # "" is said before a confident subject
IMAGE_OF = re.compile(r"(an? |the )?(image|picture|photo|photograph|graphic) of\b", re.I)
JARGON = re.compile(r"%|\b(percent|per cent|classifiers?|detectors?)\b", re.I)  # numbers stay in the evidence
OPENERS = "'‘“(["  # what may open the source's words before their first letter: "'Sunset' by Monet", "(untitled)"
NOT_MENTIONED = ", which the source does not mention."
TEXT_IN_LONG = 160  # characters of read text the long description quotes


@lru_cache(maxsize=1)
def imagenet() -> list[tuple[str, str]]:
    """The (WordNet id, spoken name) of the classes the project's classifiers output, in output order: the
    package data ``models.encoders.torch_towers.imagenet_class_ids/names`` return, read without importing
    torch, timm and open_clip (that takes 10-20 s)."""
    timm = Path(importlib.util.find_spec("timm").origin).parent
    ids = (timm / "data" / "_info" / "imagenet_synsets.txt").read_text().split()
    metadata = Path(importlib.util.find_spec("open_clip").origin).parent / "zero_shot_metadata.py"
    names = next(
        ast.literal_eval(node.value)
        for node in ast.parse(metadata.read_text()).body
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "IMAGENET_CLASSNAMES" for t in node.targets)
    )
    classes = list(zip(ids, names, strict=True))
    assert len(classes) == 1000 and classes[0] == ("n01440764", "tench")
    return classes


@lru_cache(maxsize=1)
def describer() -> Describer:
    return Describer(default_wordnet())


def has_control(text: str) -> bool:
    return any(unicodedata.category(ch).startswith("C") for ch in text)


def has_time(iso: str | None) -> bool:
    """Whether an ISO string says a clock time (a date alone says nothing about day or night)."""
    if not iso:
        return False
    try:
        datetime.fromisoformat(iso)
    except ValueError:
        return False
    try:
        date.fromisoformat(iso)
    except ValueError:
        return True
    return False


# ---------------------------------------------------------------------------------------------- strategies

probabilities = st.one_of(
    st.floats(0, 1),
    st.sampled_from([0.0, 0.05, 0.1, 0.25, 0.5, 0.85, 1.0, math.nextafter(0.25, 0), math.nextafter(0.85, 0)]),
)


@st.composite
def label_lists(draw) -> list[Label]:
    """A classifier's top classes: real ImageNet ids and names, possibly related (so they pool), with
    probabilities that may or may not sum to at most 1; sometimes none at all."""
    n = draw(st.integers(0, 6))
    if draw(st.booleans()):  # neighbours in id order are related (dogs, cats, finches ...): pooling happens
        start = draw(st.integers(0, 1000 - n))
        picked = list(range(start, start + n))
    else:
        picked = draw(st.lists(st.integers(0, 999), min_size=n, max_size=n, unique=True))
    chances = draw(st.lists(probabilities, min_size=n, max_size=n))
    total = sum(chances)
    if total > 1 and draw(st.booleans()):
        chances = [p / total for p in chances]  # a softmax's top-k
    classes = imagenet()
    return [Label(classes[i][0], classes[i][1], p) for i, p in zip(picked, chances, strict=True)]


channel = st.integers(0, 255)
alphas = st.one_of(st.sampled_from([0, 127, 128, 255]), channel)
rgba_colours = st.tuples(channel, channel, channel, alphas)


@st.composite
def pictures(draw) -> Image.Image:
    """Small images (1×1 … 64×64) in the modes files decode to: random cells, noise, one colour, greys,
    fully transparent, a cut-out on a transparent background."""
    width, height = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    kind = draw(st.sampled_from(["cells", "noise", "single", "grey", "clear", "cut-out"]))
    if kind == "noise":
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        rgba = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
        if draw(st.booleans()):
            rgba[..., 3] = 255
    elif kind in ("cells", "grey"):
        if kind == "cells":
            colours = draw(st.lists(rgba_colours, min_size=1, max_size=6))
        else:
            colours = [(v, v, v, 255) for v in draw(st.lists(channel, min_size=1, max_size=4))]
        cols, rows = draw(st.integers(1, 8)), draw(st.integers(1, 8))
        cells = draw(st.lists(st.integers(0, len(colours) - 1), min_size=cols * rows, max_size=cols * rows))
        small = np.array(colours, dtype=np.uint8)[cells].reshape(rows, cols, 4)
        rgba = np.asarray(Image.fromarray(small, "RGBA").resize((width, height), Image.Resampling.NEAREST))
    else:
        colour = draw(rgba_colours)
        rgba = np.empty((height, width, 4), dtype=np.uint8)
        rgba[...] = colour[:3] + ((colour[3],) if kind == "single" else (0,))
        if kind == "cut-out":
            x0, y0 = draw(st.integers(0, width - 1)), draw(st.integers(0, height - 1))
            x1, y1 = draw(st.integers(x0 + 1, width)), draw(st.integers(y0 + 1, height))
            rgba[y0:y1, x0:x1] = (*draw(st.tuples(channel, channel, channel)), 255)
    image = Image.fromarray(np.ascontiguousarray(rgba), "RGBA")
    mode = draw(st.sampled_from(["RGB", "RGBA", "L", "P", "LA", "1"]))
    if mode == "P":
        colours = draw(st.integers(1, 16))
        image = image.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=colours)
        if draw(st.booleans()):  # a GIF/PNG palette with a transparent entry
            image.info["transparency"] = draw(st.integers(0, colours - 1))
        return image
    return image.convert(mode)


any_character = st.characters(codec=None, exclude_categories=())  # surrogates, controls, unassigned too
FRAGMENTS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "IMG_2041.JPG",
    "/home/user/pics/holiday.png",
    "C:\\photos\\a b.jpeg",
    "photo of ",
    "Image of",
    "A picture of ",
    "the photograph of",
    "None",
    "nan",
    "{}",
    "{x}",
    "...",
    "e.g.",
    "Mr. Smith",
    "St. Bernard",
    ". ",
    "! ",
    "? ",
    ", ",
    ";",
    ":",
    "-",
    "(",
    "[",
    *QUOTES,
    "\x00",
    "\x07",
    "\x1b[31m",
    "\r\n",
    "\t",
    "\u00a0",
    "\u2003",
    "\u2028",
    "\u200b",
    "\u202e",
    "\ufeff",
    "\ud800",
    "e\u0301",
    "\u0301",
    "ß",
    "ﬁ",
    "İ",
    "ĸ",
    "猫",
    "the",
    "A",
    "cat",
    "dog",
    "Sunset",
    "  ",
]
hostile_texts = st.one_of(
    st.text(any_character, max_size=300),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(any_character, max_size=8)), max_size=40).map("".join),
    st.builds(
        lambda unit, n: unit * n,
        st.sampled_from(["x", "ab ", "é", "ß", "a.", " ", "word, ", "\x00", "e.g. ", "photo of "]),
        st.integers(50, 3000),
    ),
    st.text(st.sampled_from(" \t\n\r\x0b\x0c\x1c\x85\u00a0\u2003\u3000\u2028"), max_size=20),  # whitespace only
)


@st.composite
def sources_naming_objects(draw) -> str:
    """A collection's description that may or may not name a COCO class: by its detector name, its everyday
    name, a plural, only its last word ("light" for a traffic light), in capitals, glued to punctuation."""
    label = draw(st.sampled_from(COCO_CLASSES))
    name = spoken(label)
    word = draw(st.sampled_from([label, name, plural(name), plural(label), name.split()[-1]]))
    word = word.upper() if draw(st.booleans()) else word
    template = draw(
        st.sampled_from(
            ["A {}.", "Two {}!", "{}", "The {}; at dusk", "(a {})", "Photo of a {}", "With {}s", "hot{}", "A {}'s day"]
        )
    )
    return template.format(word)


time_zones = st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))])
valid_isos = st.one_of(
    st.dates().map(date.isoformat),  # a date alone
    st.builds(
        lambda moment, sep, spec: moment.isoformat(sep=sep, timespec=spec),
        st.datetimes(timezones=time_zones),
        st.sampled_from(["T", " "]),
        st.sampled_from(["auto", "hours", "minutes", "seconds", "milliseconds", "microseconds"]),
    ),
)
malformed_isos = st.one_of(
    st.text(any_character, max_size=30),
    st.sampled_from(["", "2009:03:12 14:05:00", "2009-02-30T10:00:00", "2009-13-01", "24:00", "T", "nan", "None"]),
)
sizes = st.one_of(st.integers(0, 100_000), st.sampled_from([0, 1, 2, 63, 64, 65, 100_000]))
source_descriptions = st.one_of(st.none(), hostile_texts, sources_naming_objects())
facts_ = st.builds(
    Facts,
    width=sizes,
    height=sizes,
    exif_datetime=st.one_of(st.none(), valid_isos, malformed_isos),
    camera=st.one_of(st.none(), hostile_texts),
    source_description=source_descriptions,
)
# A captioner's name is a hub id or a folder name from the configuration: trusted, unlike what it says.
model_names = st.one_of(
    st.sampled_from(["tiny-blip", "Salesforce/blip-image-captioning-base", "vit-gpt2"]),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}(/[A-Za-z0-9][A-Za-z0-9._-]{0,30})?", fullmatch=True).filter(
        lambda name: ".." not in name
    ),
)
captions = st.one_of(st.none(), st.builds(Caption, hostile_texts, model_names))
images = st.one_of(st.none(), pictures())

# The detector: scores anywhere in 0–1 and on either side of the "possibly" (0.3) and counting (0.5) edges.
object_scores = st.one_of(
    st.floats(0, 1),
    st.sampled_from([0.0, 0.1, math.nextafter(MAYBE, 0), MAYBE, 0.4, math.nextafter(SURE, 0), SURE, 0.7, 1.0]),
)
coordinates = st.floats(0, 4000)


@st.composite
def boxes(draw) -> tuple[float, float, float, float]:
    x1, x2 = sorted((draw(coordinates), draw(coordinates)))
    y1, y2 = sorted((draw(coordinates), draw(coordinates)))
    return (x1, y1, x2, y2)


@st.composite
def detection_lists(draw) -> list[Detection]:
    """A detector's output: a few COCO classes, often repeated (so numbers, "many" and "possibly" are said),
    people often among them; sometimes nothing at all."""
    pool = draw(st.lists(st.sampled_from(COCO_CLASSES), min_size=1, max_size=4, unique=True))
    if draw(st.booleans()):
        pool.append("person")
    labels = draw(st.lists(st.sampled_from(pool), max_size=12))
    if draw(st.integers(0, 4)) == 0:  # a crowd of one class
        labels += [pool[0]] * draw(st.integers(5, 12))
    return [Detection(label, draw(object_scores), draw(boxes())) for label in labels]


# What a text reader returns: sign words, hostile strings, confidences on either side of 0.8.
SIGN_WORDS = ["STOP", "stop", "EXIT", "Main St.", "OPEN 9-5", "“Café”", "IMG_1.JPG", "None", "'", "", "photo of"]
text_confidences = st.one_of(
    st.floats(0, 1), st.sampled_from([0.0, 0.5, math.nextafter(TEXT_SURE, 0), TEXT_SURE, 0.95, 1.0])
)
text_lines = st.lists(
    st.builds(TextRead, st.one_of(st.sampled_from(SIGN_WORDS), hostile_texts), text_confidences), max_size=5
)


# ---------------------------------------------------------------------------------------------- checks


def capitalised(ch: str) -> bool:
    """A capital, a digit or a letter of a script without capitals (猫, ĸ)."""
    return ch.isalnum() and ch.upper()[:1] == ch


def check_alt(alt: str, quoted: tuple[str, ...] = ()) -> None:
    """Clean to hear; ``quoted``: the words the alt may quote (the source's as they lead it, the text read),
    which are checked for being clean, not for the composer's wording."""
    assert 1 <= len(alt) <= ALT_LIMIT, alt
    assert not has_control(alt), alt
    assert alt == alt.strip() and not re.search(r"[^\S ]| {2}", alt), alt  # one plain space between words
    assert not IMAGE_OF.match(alt), alt  # not even when the source opens so: a screen reader says "image"
    assert not alt.endswith((",", ";", ":", "-")), alt
    assert not FILE_NAME.search(alt), alt
    skeleton = alt  # the composer's own wording: the quoted words replaced by Q
    for words in sorted(quoted, key=len, reverse=True):
        if not words:
            continue
        lead = capitalise(words)
        if lead.startswith(alt):  # the source's words are all the alt says (cut to fit, perhaps)
            skeleton = "Q"
        elif skeleton.startswith((f"{lead}, ", f"{lead}; ")):
            skeleton = "Q" + skeleton[len(lead) :]
        skeleton = skeleton.replace(f'"{words}"', '"Q"')
    if skeleton.startswith("Q"):  # the source's words open it: at a letter or digit, or a quote or bracket before one
        opening = alt.lstrip(OPENERS)
        assert opening and capitalised(opening[0]), alt
    assert skeleton[0].isupper() or skeleton[0].isdigit(), alt
    assert not ARTEFACT.search(skeleton), alt
    assert not JARGON.search(skeleton), alt  # numbers and model names stay in the evidence


def cleaned(facts: Facts, caption: Caption | None, text: list[TextRead] = ()) -> dict[str, str]:
    """The untrusted texts as the composer may quote them."""
    lines = clean_lines(text)
    return {
        "source": clean_text(facts.source_description) if facts.source_description else "",
        "caption": clean_text(caption.text) if caption else "",
        "camera": clean_text(facts.camera, CAMERA_LIMIT) if facts.camera else "",
        # the lines read surely when there are some, else every line (hedged)
        "text": truncate_words(
            " ".join([w for w, c in lines if c >= TEXT_SURE] or [w for w, _ in lines]), TEXT_IN_LONG
        ),
    }


def clean_lines(text: list[TextRead]) -> list[tuple[str, float]]:
    """The text read as it may be quoted: each line cleaned (at most 80 characters), empty ones and repeats
    (in any case) left out, in reading order."""
    out: list[tuple[str, float]] = []
    for line in text:
        words = clean_text(line.text, 80)
        if words and words.lower() not in {w.lower() for w, _ in out}:
            out.append((words, line.confidence))
    return out


def alt_quotes(facts: Facts, text: list[TextRead]) -> tuple[str, str]:
    """What the alt phrase may quote: the source's words as they lead it, and the text read surely."""
    source = clean_text(facts.source_description) if facts.source_description else ""
    sure = [words for words, confidence in clean_lines(text) if confidence >= TEXT_SURE]
    return alt_source(source), truncate_words(" ".join(sure), TEXT_IN_ALT)


def check_long(
    long: str,
    image: Image.Image | None,
    labels: list[Label],
    facts: Facts,
    caption,
    objects: list[Detection] = (),
    text: list[TextRead] = (),
) -> dict[str, str]:
    """The long description is the composer's sentences in order (caption, source, objects, classifier, text,
    look, record), two to seven of them, each clean; returns them by name."""
    quoted = cleaned(facts, caption, text)
    seen = appearance(image) if image is not None else None
    subject = identify(labels, describer().wordnet)
    drawn = seen is not None and seen.transparent >= CUT_OUT_SHARE and bool(seen.colours)
    things = tally([o for o in objects if o.score >= CUT_OUT_MIN_SCORE] if drawn else objects)
    caption_sentence = ""
    if caption and quoted["caption"]:
        caption_sentence = sentence(f"A captioning model ({caption.model}) says: {quoted['caption']}")
    named = {
        "caption": caption_sentence,
        "source": source_sentence(quoted["source"]),
        "objects": objects_sentence(things, quoted["source"], describer().wordnet),
        "what": what_sentence(subject, bool(things)),
        "text": text_sentence(read_text(text)),
        "look": look_sentence(seen, facts),
        "record": record_sentence(facts),
    }
    pieces = [p for p in named.values() if p]
    assert long == " ".join(pieces)
    assert 2 <= len(pieces) <= 7, pieces
    assert named["look"] and (named["what"] or named["objects"]), pieces  # always what is seen, and how it looks
    for piece in pieces:
        assert piece[0].isupper(), piece
        assert piece[-1] in ".!?", piece  # every sentence ends with terminal punctuation ...
        assert not re.search(r"[.,;:!?]\.$", piece), piece  # ... once: no "..", ",.", ";." at its end
    assert not has_control(long), long
    assert long == long.strip() and not re.search(r"[^\S ]| {2}", long), long
    # Artefacts of composition: what is left once the quoted texts are taken out must be clean ...
    skeleton = long
    for words in sorted(quoted.values(), key=len, reverse=True):
        if words:
            skeleton = skeleton.replace(words, "Q")
    assert not ARTEFACT.search(skeleton), skeleton
    assert not JARGON.search(skeleton.replace(f"({caption.model})" if caption else "()", "")), skeleton
    # ... and gluing the pieces together must not double punctuation the quoted texts did not have.
    doubled = sum(len(DOUBLED_PUNCTUATION.findall(words)) for words in quoted.values())
    assert len(DOUBLED_PUNCTUATION.findall(long)) == doubled, long
    # Bounded however long the metadata: the clean_text limits plus the fixed wording.
    if caption_sentence:
        assert len(caption_sentence) <= len("A captioning model () says: .") + len(caption.model) + TEXT_LIMIT
    assert len(named["source"]) <= len("Its source describes it as: .") + TEXT_LIMIT
    text_wording = max(
        len('Text in the picture seems to read: "".'), len(f'Text in the picture reads: "". {UNCLEAR_TEXT}')
    )
    assert len(named["text"]) <= text_wording + TEXT_IN_LONG
    assert len(named["objects"]) <= len("The models also see , possibly also " + NOT_MENTIONED) + 5 * 30
    longest_date = len("30 September 9999")
    assert len(named["record"]) <= len("Taken on  with an .") + longest_date + CAMERA_LIMIT
    untrusted = [facts.camera, facts.source_description, caption.text if caption else None]
    for raw in [*untrusted, *(line.text for line in text)]:
        if raw and len(raw.strip()) > TEXT_LIMIT:
            assert raw.strip() not in long
    return named


def check_evidence(evidence: dict) -> None:
    text = json.dumps(evidence, ensure_ascii=False, allow_nan=False)  # as the pipeline stores it; no NaN
    json.loads(text)
    assert evidence["describer"] == VERSION


def detected(objects: list[Detection], drawn: bool = False) -> dict[str, tuple[int, float]]:
    """What the detections say, by everyday name, for each class with a detection of at least MAYBE (at least
    CUT_OUT_MIN_SCORE on a cut-out drawing): how many detections of at least SURE, and the best score."""
    found: dict[str, tuple[int, float]] = {}
    for o in objects:
        if o.score >= (CUT_OUT_MIN_SCORE if drawn else MAYBE):
            count, best = found.get(spoken(o.label), (0, 0.0))
            found[spoken(o.label)] = (count + (o.score >= SURE), max(best, o.score))
    return found


def said_order(found: dict[str, tuple[int, float]]) -> list[str]:
    """People first, then the counted classes, most numerous and surest first, then the uncounted ones."""
    return sorted(found, key=lambda n: (n != "person", found[n][0] == 0, -found[n][0], -found[n][1], n))


def split_objects(phrase: str) -> tuple[list[str], list[str]]:
    """ "two people and a dog, possibly also a frisbee or a kite" → ["two people", "a dog"], ["a frisbee", "a kite"]."""
    counted, maybe = phrase, ""
    if phrase.startswith("possibly "):
        counted, maybe = "", phrase.removeprefix("possibly ")
    elif phrase.endswith(", possibly more"):  # "five people, possibly more": more of the one class counted
        counted = phrase.removesuffix(", possibly more")
        word, _, noun = counted.partition(" ")
        maybe = "more " + (plural(noun) if word in ("a", "an") else noun)
    elif ", possibly more " in phrase:  # "also" is never said before "more"
        counted, maybe = phrase.split(", possibly ", 1)
    elif ", possibly also " in phrase:
        counted, maybe = phrase.split(", possibly also ", 1)
        assert not maybe.startswith("more "), phrase

    def items(text: str, conjunction: str) -> list[str]:
        if not text:
            return []
        head, _, last = text.rpartition(f" {conjunction} ")
        return [*(head.split(", ") if head else []), last]

    return items(counted, "and"), items(maybe, "or")


def check_objects_phrase(phrase: str, objects: list[Detection], limit: int) -> None:
    """Each class said is counted as the confident detections count it ("many" above MANY), offered with
    "possibly" only when it has no confident detection, and detected at least at MAYBE; people first. Unsure
    person detections beside a count (up to MANY) are offered as "more people", several alone as "people"."""
    found = detected(objects)
    order = said_order(found)
    counted_items, maybe_items = split_objects(phrase)
    counted = [n for n in order if found[n][0] > 0][:limit]
    unsure_people = sum(o.label == "person" and MAYBE <= o.score < SURE for o in objects)
    more = "person" in counted and found["person"][0] <= MANY and unsure_people > 0
    offered = [n for n in order if found[n][0] == 0 or (n == "person" and more)]
    maybe = offered[: max(0, limit - len(counted))]
    assert len(counted_items) == len(counted) and len(maybe_items) == len(maybe), (phrase, found)
    for item, name in zip(counted_items, counted, strict=True):
        word, _, noun = item.partition(" ")
        count = found[name][0]
        if word in ("a", "an"):
            assert item == article(name) and count == 1, (item, found)
        elif word == "many":
            assert noun == plural(name) and count > MANY, (item, found)
        else:
            assert word in NUMBERS[2:] and NUMBERS.index(word) == count and noun == plural(name), (item, found)
    for item, name in zip(maybe_items, maybe, strict=True):
        if found[name][0]:
            assert item == "more people" and name == "person", (item, found)
        elif name == "person" and unsure_people > 1:
            assert item == "people", (item, found)
        else:
            assert item == article(name), (item, found)
    assert not re.search(r"\b(cell phone|tv|couch|airplane|motorcycle|potted plant|hair drier)\b", phrase)


def coco_named(source: str, name: str) -> bool:
    """Whether the source names the class said as ``name``: its everyday or detector name, singular or plural,
    as whole words in any case."""
    words = re.findall(r"\w+", source.casefold())
    labels = [label for label in COCO_CLASSES if spoken(label) == name]
    for form in {name, plural(name), *labels, *(plural(label) for label in labels)}:
        run = form.split()
        if any(words[i : i + len(run)] == run for i in range(len(words))):
            return True
    return False


def kind_named(source: str, name: str) -> bool:
    """Whether a word of the source is, in its usual sense, a kind of the class ("astronaut" a person)."""
    if " " in name:
        return False
    return any(describer().wordnet.is_a(w, name) for w in re.findall(r"[^\W\d_]+", source) if len(w) > 2)


# ---------------------------------------------------------------------------------------------- properties


@PROPERTY
@given(images, label_lists(), facts_, captions, detection_lists(), text_lines)
@example(None, [], Facts(), None, [], [])
@example(Image.new("RGBA", (4, 4), (0, 0, 0, 0)), [], Facts(), None, [], [])  # fully transparent, size unknown
@example(
    Image.new("RGB", (1, 1)),
    [],
    Facts(1, 1, "x" * 5000, "x" * 5000, "x" * 5000),
    Caption("x" * 5000, "m"),
    [],
    [TextRead("x" * 5000, 1.0)],
)
@example(None, [], Facts(source_description='"Sunset".'), Caption("A cat on a sofa,", "m"), [], [])
@example(Image.new("RGB", (4, 4), (20, 90, 200)), [], Facts(source_description="photo of taken at"), None, [], [])
@example(None, [], Facts(source_description="ß" * 200), None, [], [])  # "SS": capitals can be longer
@example(None, [], Facts(source_description="- photo of: 'sunset' by x -"), None, [], [TextRead("None", 0.9)])
def test_any_input_gives_a_clean_bounded_description(image, labels, facts, caption, objects, text):
    said = describer().describe(image, labels, facts, caption, objects, text)
    check_alt(said.alt, alt_quotes(facts, text))
    check_long(said.long, image, labels, facts, caption, objects, text)
    check_evidence(said.evidence)


def evidence_alt_parts(evidence: dict) -> list[str]:
    """The alt phrase's parts, each with the punctuation that joins it, most important first, as the evidence
    says they must be: the source's words and what the models are sure of that those words do not name (not on a
    cut-out), or the objects detected (unless all are unsure and the classifier is probably right), or the
    classifier's subject; the text read surely; then how it looks."""
    source = evidence["source_description"] or ""
    lead, kind = alt_source(source), "source"
    said = [Seen(**s) for s in evidence["said_objects"]]
    models_view = lead and not evidence["cut_out"]  # not on cut-outs, where the detector is often wrong
    unnamed = [s for s in said if s.count and not mentioned(s.name, source, describer().wordnet)] if models_view else []
    subject = evidence["subject"]
    sure = any(s.count or s.name == "person" for s in said)  # or a person, possible or not
    if not lead and said and (sure or not subject or subject["confidence"] < PROBABLY):
        lead, kind = objects_phrase(said), "objects"
    if not lead and subject and subject["confidence"] >= UNNAMED_BELOW:
        lead, kind = f"{hedge(subject['confidence'])} {article(subject['name'])}".strip(), "subject"
    assert evidence["alt_lead"] == (kind if lead else None)
    parts = [capitalise(lead or "unidentified subject")]
    if unnamed:
        parts.append(f"; the models see {objects_phrase(unnamed, more=False)}")
    sure = [line["text"] for line in evidence["text"] if line["confidence"] >= TEXT_SURE]
    if sure:
        parts.append(f', with the words "{truncate_words(" ".join(sure), TEXT_IN_ALT)}"')
    if not evidence["pixels_read"]:
        return parts
    colours = [c["name"] for c in evidence["colours"]]
    if evidence["cut_out"]:
        parts.append(", cut-out")
    if evidence["black_and_white"]:
        parts.append(", black and white")
    elif colours:
        parts.append(", in " + join_words(colours[:3]))
    else:
        parts.append(", fully transparent")
    return parts


@PROPERTY
@given(images, label_lists(), facts_, captions, detection_lists(), text_lines)
@example(  # 819 of 4096 pixels transparent: 0.19995, which evidence rounded to 3 places shows as 0.2
    Image.fromarray(np.where(np.arange(4096).reshape(64, 64, 1) < 819, 0, 255).repeat(4, 2).astype(np.uint8), "RGBA"),
    [],
    Facts(64, 64),
    None,
    [],
    [],
)
@example(Image.new("RGB", (4, 4), (40, 40, 50)), [], Facts(64, 48, "2009-03-12"), None, [], [])  # a date, no clock
@example(None, [Label("n03773504", "missile", 0.6), Label("n04008634", "missile", 0.3)], Facts(), None, [], [])
@example(None, [], Facts(), None, [], [TextRead("STOP", math.nextafter(TEXT_SURE, 0))])  # 0.8 once rounded
@example(None, [], Facts(), None, [Detection("dog", math.nextafter(SURE, 0), (0, 0, 1, 1))], [])
def test_every_claim_is_backed_by_the_evidence(image, labels, facts, caption, objects, text):
    """The module docstring: evidence is "everything the text was built from, so a reader (or a test) can check
    every claim"."""
    said = describer().describe(image, labels, facts, caption, objects, text)
    evidence = said.evidence
    sentences = check_long(said.long, image, labels, facts, caption, objects, text)
    what, look, record = sentences["what"], sentences["look"], sentences["record"]
    assert evidence["pixels_read"] == (image is not None)
    assert evidence["width"] == facts.width and evidence["height"] == facts.height
    assert evidence["orientation"] == orientation(facts.width, facts.height)
    if image is not None:  # the flags agree with the rounded measures they were decided on
        transparent, chroma = evidence["transparent"], evidence["chroma"]
        if evidence["cut_out"]:
            assert transparent >= CUT_OUT_SHARE - 0.0005 and evidence["colours"]
        else:
            assert transparent < CUT_OUT_SHARE + 0.0005 or not evidence["colours"]
        if evidence["black_and_white"]:
            assert chroma is not None and chroma < GREY_CHROMA + 0.05
        else:
            assert chroma is None or chroma >= GREY_CHROMA - 0.05

    # what was detected and read, as given (the read text cleaned), and what was made of it
    assert [o["label"] for o in evidence["objects"]] == [o.label for o in objects]
    for stored, detection in zip(evidence["objects"], objects, strict=True):
        assert abs(stored["score"] - detection.score) <= 0.00005 + 1e-9  # rounded to 4 places
        assert all(abs(a - b) <= 0.05 + 1e-9 for a, b in zip(stored["box"], detection.box, strict=True))
    found = detected(objects, drawn=bool(evidence.get("cut_out")))
    assert {s["name"]: (s["count"], s["score"]) for s in evidence["said_objects"]} == found
    assert [s["name"] for s in evidence["said_objects"]] == said_order(found)
    assert [(t["text"], t["confidence"]) for t in evidence["text"]] == clean_lines(text)

    # alt: the parts the evidence calls for, in order, the least important dropped only to fit the limit
    parts = evidence_alt_parts(evidence)
    fits = [k for k in range(1, len(parts) + 1) if len("".join(parts[:k])) <= ALT_LIMIT]
    expected = "".join(parts[: max(fits)]) if fits else truncate_words(parts[0], ALT_LIMIT)
    assert said.alt == expected

    # the classifier's view, in words only; with objects detected it is the picture as a whole, or nothing
    subject, has_objects = evidence["subject"], bool(evidence["said_objects"])
    if subject is None:
        assert what == ("" if has_objects else "What it shows is unknown: the picture could not be analysed.")
    elif subject["confidence"] < UNNAMED_BELOW:
        if has_objects:
            assert what == ""
        else:
            assert what.startswith("What it shows is unclear") and article(subject["name"]) in what
            assert what.endswith("is unlikely.")
    else:
        opening = "As a whole, it is" if has_objects else "It is"
        claim = f"{opening} {hedge(subject['confidence']) or 'most likely'} {article(subject['name'])}"
        assert what.startswith(claim)
        if subject["merged"]:  # pooled: said as the kind, with two of the classes pooled into it
            kinds = join_words([article(m) for m in subject["merged"][:2]], "or")
            assert what == f"{claim}, such as {kinds}."
            assert subject["name"] not in subject["merged"][:2], what  # "a cat, such as a cat" says nothing
        elif "; it might also be " in what:  # alternatives are other classes, each offered once
            offered = what.split("; it might also be ", 1)[1].removesuffix(".")
            name = article(subject["name"])
            assert offered != name and not offered.startswith(f"{name} or ") and not offered.endswith(f" or {name}")
            choices = offered.split(" or ")
            assert len(choices) == 1 or len(set(choices)) > 1, offered
        else:
            assert what == f"{claim}."

    # size: said only as known, never "0 by 0 pixels"
    for match in re.finditer(r"(\d+) by (\d+) pixels", look):
        assert (int(match[1]), int(match[2])) == (facts.width, facts.height) and facts.width > 0 and facts.height > 0
    if re.search(r"only \d+ by \d+ pixels", look):
        assert max(facts.width, facts.height) < TINY_SIDE
    assert ("could not be read" in look) == (image is None)
    if image is not None and evidence["colours"]:
        light = evidence["light"] if evidence["light"] != "medium" else ""
        shape = evidence["orientation"] or ""
        noun = "cut-out" if evidence["cut_out"] else "picture"
        kind = " ".join(w for w in (light, SHAPE_WORDS.get(shape, shape), noun) if w)
        assert look.startswith(capitalise(article(kind)))
        assert ("in black and white" in look) == evidence["black_and_white"]
    if image is not None and not evidence["colours"]:  # in the alt too, unless the lead leaves no room for it
        assert "fully transparent" in said.alt or len(f"{said.alt}, fully transparent") > ALT_LIMIT
        assert look.startswith("A fully transparent picture")

    # day and night: only when the pixels (and, for the camera clock, a clock time) say so
    exif = evidence["exif_datetime"]
    hour = hour_of(exif) if has_time(exif) else None
    if "taken at night by the camera clock" in look:
        assert hour is not None and (hour >= 21 or hour < 5) and evidence["light"] in ("dark", "very dark")
    if "perhaps taken at night" in look:
        assert evidence["light"] == "very dark"
    if "in daylight" in look:
        assert hour is not None and 9 <= hour < 17 and evidence["light"] in ("bright", "very bright")

    # the record: the date as the evidence has it and the camera as cleaned, nothing else
    spoken_day = spoken_date(exif)
    quoted = cleaned(facts, caption, text)
    camera = f"with {article(quoted['camera'])}" if quoted["camera"] else ""
    if spoken_day or camera:
        day = f"on {spoken_day}" if spoken_day else ""
        assert record == sentence(" ".join(w for w in ("Taken", day, camera) if w))
    else:
        assert record == ""

    # the source's own words, as cleaned, in their own sentence after the caption's
    assert evidence["source_description"] == (quoted["source"] or None)
    if quoted["source"]:
        called, described = (
            sentence(f"Its source {how} {quoted['source']}") for how in ("calls it", "describes it as:")
        )
        assert sentences["source"] in (called, described)
        if quoted["source"].split()[0].lower() in ("a", "an", "the"):
            assert sentences["source"] == described
    else:
        assert sentences["source"] == ""
    if caption is not None and quoted["caption"]:
        assert said.long.startswith(f"A captioning model ({caption.model}) says: {quoted['caption']}")
        assert evidence["caption"] == {"text": quoted["caption"], "model": caption.model}
    else:
        assert evidence["caption"] is None

    # the text read: the sure lines quoted as cleaned and the unsure ones only said to be there; every line, "seems
    # to", when none was read surely
    lines = clean_lines(text)
    sure = [c for _, c in lines if c >= TEXT_SURE]
    if sure:
        unclear = f" {UNCLEAR_TEXT}" if len(sure) < len(lines) else ""
        assert sentences["text"] == f'Text in the picture reads: "{quoted["text"]}".{unclear}'
    elif lines:
        assert sentences["text"] == f'Text in the picture seems to read: "{quoted["text"]}".'
    else:
        assert sentences["text"] == ""


@PROPERTY
@given(label_lists(), source_descriptions, detection_lists(), text_lines)
@example([], None, [Detection("person", 0.9, (0, 0, 1, 1))] * 2 + [Detection("dog", 0.6, (0, 0, 1, 1))], [])
@example([], None, [Detection("person", 0.9, (0, 0, 1, 1))] * 7 + [Detection("kite", 0.3, (0, 0, 1, 1))], [])
@example([], None, [Detection("person", 0.9, (0, 0, 1, 1)), Detection("person", 0.4, (0, 0, 1, 1))], [])
@example([], None, [Detection("person", 0.45, (0, 0, 1, 1))] * 2 + [Detection("cat", 0.4, (0, 0, 1, 1))], [])
@example([], "A yak.", [Detection("dog", 0.4, (0, 0, 1, 1))], [])
@example([], "Dogs!", [Detection("dog", 0.9, (0, 0, 1, 1))], [])
@example([], "The light of dawn", [Detection("traffic light", 0.9, (0, 0, 1, 1))], [])
@example([], "A couch", [Detection("couch", 0.9, (0, 0, 1, 1))], [])
@example([], "Scissors", [Detection("scissors", 0.9, (0, 0, 1, 1))] * 2, [])
@example([], "Photo of", [Detection("cat", 0.2, (0, 0, 1, 1))], [])  # nothing detected surely enough to name
def test_objects_are_said_as_counted(labels, source, objects, text):
    """Counts are the evidence's tally of confident detections, people first; "possibly" only for a class with
    no confident detection; nothing named without a detection of at least 0.3; the objects lead the alt unless
    all are unsure and the classifier is probably right; and after the source's words, the models' view is
    flagged exactly when the source names none of what they see."""
    said = describer().describe(None, labels, Facts(source_description=source), None, objects, text)
    found = detected(objects)
    source_words = clean_text(source) if source else ""
    long = check_long(said.long, None, labels, Facts(source_description=source), None, objects, text)
    sentence_ = long["objects"]
    if not found:
        assert sentence_ == "" and said.evidence["said_objects"] == []
    else:
        opening = "The models also see " if source_words else "It shows "
        assert sentence_.startswith(opening), sentence_
        body = sentence_.removeprefix(opening)
        flagged = body.endswith(NOT_MENTIONED)
        named = any(coco_named(source_words, n) or kind_named(source_words, n) for n in found)
        assert flagged == (bool(source_words) and not named), sentence_
        check_objects_phrase(body.removesuffix(NOT_MENTIONED).removesuffix("."), objects, 5)
    subject = said.evidence["subject"]
    probable = subject is not None and subject["confidence"] >= PROBABLY  # then only sure objects lead
    sure = any(count or name == "person" for name, (count, _) in found.items())  # a possible person still leads
    objects_lead = not alt_source(source_words) and found and (sure or not probable)
    assert (said.evidence["alt_lead"] == "objects") == bool(objects_lead), said.alt
    if objects_lead:  # the objects lead the alt: at most three classes
        phrase = re.sub(r', with the words "[^"]*"$', "", said.alt)
        check_objects_phrase(phrase[:1].lower() + phrase[1:], objects, 3)


@PROPERTY
@given(images, label_lists(), facts_, captions, detection_lists(), text_lines)
def test_deterministic_and_inputs_left_alone(image, labels, facts, caption, objects, text):
    before = (image.mode, image.size, image.tobytes(), dict(image.info)) if image is not None else None
    given_before = (list(labels), list(objects), list(text))
    first = describer().describe(image, labels, facts, caption, objects, text)
    after = (image.mode, image.size, image.tobytes(), dict(image.info)) if image is not None else None
    assert after == before and (labels, objects, text) == given_before
    again = image.copy() if image is not None else None
    second = describer().describe(again, list(labels), facts, caption, tuple(objects), tuple(text))
    assert second == first
    assert json.dumps(second.evidence, sort_keys=True) == json.dumps(first.evidence, sort_keys=True)


@PROPERTY
@given(images, label_lists(), facts_, captions, detection_lists(), text_lines)
@example(None, [], Facts(source_description="photo of DSC0001.jpeg taken at /x.png"), None, [], [])
def test_alt_depends_only_on_what_is_shown(image, labels, facts, caption, objects, text):
    """Camera, date, size and captions never reach the alt phrase (no file names, no camera, no hostile text
    there); the collection's own description may lead it, and without one it is what the models see."""
    said = describer().describe(image, labels, facts, caption, objects, text)
    bare = describer().describe(image, labels, Facts(source_description=facts.source_description), None, objects, text)
    assert said.alt == bare.alt
    unsourced = describer().describe(image, labels, Facts(), None, objects, text)
    lead, _ = alt_quotes(facts, text)
    if not lead:
        assert said.alt == unsourced.alt
    else:  # the source's words lead it (cut to fit, perhaps), in place of what the models see
        lead = capitalise(lead)
        assert lead.startswith(said.alt) or said.alt.startswith((f"{lead}, ", f"{lead}; ")), said.alt


@PROPERTY
@given(hostile_texts)
@example("photo of DSC0001.jpeg taken at /home/user/pics/holiday.png")
@example("An image of a photo of: 'sunset' -")
@example("- …")
def test_alt_source_only_trims_the_source(raw):
    """The source's words lead the alt as they are, less an "image of" opening and punctuation dangling at
    either end: a part of the source, never anything added."""
    source = clean_text(raw)
    lead = alt_source(source)
    assert lead in source
    if lead:
        assert lead == lead.strip() and not IMAGE_OF.match(lead), lead
        assert lead.lstrip(OPENERS)[:1].isalnum(), lead
        assert not lead.endswith((",", ";", ":", "-", ".")), lead
        assert source.rstrip(" .,;:-–—").endswith(lead), lead  # cut only at the end, of dangling punctuation
    if source and source[0].isalnum() and source[-1].isalnum() and not IMAGE_OF.match(source):
        assert lead == source
    if not any(ch.isalnum() for ch in source):
        assert lead == ""


@PROPERTY
@given(st.floats(-1, 2), st.floats(-1, 2))
@example(UNNAMED_BELOW, math.nextafter(UNNAMED_BELOW, 0))
def test_hedging_is_monotone(a, b):
    low, high = sorted((a, b))
    assert HEDGE_RANK[hedge(low)] <= HEDGE_RANK[hedge(high)]
    percent = {"less than 5 percent": 0, "over 95 percent": 100}

    def said(p: float) -> int:
        text = about_percent(p)
        return percent[text] if text in percent else int(text.split()[1])

    assert said(low) <= said(high)


# How the long description opens, weakest claim first.
LONG_CLAIMS = ("What it shows is ", "It is possibly ", "It is probably ", "It is most likely ")


@PROPERTY
@given(st.sampled_from(range(1000)), probabilities, probabilities, images)
def test_a_more_confident_subject_never_gets_a_weaker_hedge(index, a, b, image):
    """One class, more probable: never a weaker hedge in the alt phrase or in the long description."""
    class_id, name = imagenet()[index]
    low, high = sorted((a, b))
    words, claims = [], []
    for p in (low, high):
        said = describer().describe(image, [Label(class_id, name, p)], Facts())
        subject = said.evidence["subject"]
        opening = said.alt.split(",")[0].lower()
        if subject is None or subject["confidence"] < UNNAMED_BELOW:
            assert opening == "unidentified subject"
            words.append(None)
        else:
            word = hedge(subject["confidence"])
            assert opening == f"{word} {article(name)}".strip().lower()
            words.append(word)
        claims.append(next(rank for rank, start in enumerate(LONG_CLAIMS) if said.long.startswith(start)))
    assert HEDGE_RANK[words[0]] <= HEDGE_RANK[words[1]]
    assert claims[0] <= claims[1]


@PROPERTY
@given(st.sampled_from(range(1000)), probabilities, probabilities)
def test_compose_alt_hedges_monotonically(index, a, b):
    name = imagenet()[index][1]
    low, high = sorted((a, b))
    ranks = []
    for confidence in (low, high):
        alt = compose_alt(Subject(name, "n00000000", confidence), None).lower()
        word = hedge(confidence) if confidence >= UNNAMED_BELOW else None
        ranks.append(HEDGE_RANK[word])
        if word is None:
            assert alt == "unidentified subject" and name.lower() not in alt  # a weak guess is never named
        else:
            assert alt == f"{word} {article(name)}".strip().lower()
    assert ranks[0] <= ranks[1]


appearances = st.one_of(
    st.builds(lambda t: Appearance([], None, None, t), st.sampled_from([0.0, 1.0])),
    st.builds(
        Appearance,
        colours=st.lists(
            st.builds(
                ColourShare, st.sampled_from([name for name, _ in PALETTE]), st.floats(0.1, 1), st.just((0, 0, 0))
            ),
            min_size=1,
            max_size=5,
            unique_by=lambda c: c.name,
        ),
        lightness=st.floats(0, 100),
        chroma=st.floats(0, 150),
        transparent=st.floats(0, 1),
    ),
)


@PROPERTY
@given(st.one_of(st.none(), appearances), facts_)
def test_look_and_record_sentences_are_single_clean_sentences(seen, facts):
    for text in (look_sentence(seen, facts), record_sentence(facts)):
        if not text:
            continue
        assert text[0].isupper() and text[-1] in ".!?" and not re.search(r"[.,;:!?]\.$", text), text
        assert not has_control(text) and not re.search(r"[^\S ]| {2}", text), text
    look = look_sentence(seen, facts)
    assert look and not ARTEFACT.search(look) and " 0 by " not in look and " by 0 " not in look, look
    camera = clean_text(facts.camera, CAMERA_LIMIT) if facts.camera else ""
    if not spoken_date(facts.exif_datetime) and not camera:
        assert record_sentence(facts) == ""


@PROPERTY
@given(hostile_texts, st.integers(1, 300))
@example("x" * 5000, 160)
@example("aaa e.g. bbb", 8)
@example("-- x", 3)
@example('"Sunset".', 160)
def test_clean_text_makes_untrusted_text_safe_and_short(raw, limit):
    """The docstring: no control characters, no file names, one sentence, no surrounding quotes or final full
    stop, cut at a word boundary; and within the limit."""
    text = clean_text(raw, limit)
    assert len(text) <= limit
    assert not has_control(text)
    assert text == text.strip() and not re.search(r"[^\S ]| {2}", text)
    assert not FILE_NAME.search(text), text
    assert not SENTENCE_BREAK.search(text), text
    marks = [ch for ch in text if ch in QUOTES]
    assert not (len(text) >= 2 and marks == [text[0], text[-1]]), text  # not wrapped in a pair of quotes
    assert not text.endswith("."), text
    assert not text.endswith((",", ";", ":")), text  # nothing left dangling for sentence() to put a stop after
    assert '"' not in text and "“" not in text and "”" not in text  # double quotes become single ones


@pytest.mark.parametrize("unit", ["x", "a/", "a.", "a.jpg-", "'", "é "])
def test_clean_text_takes_linear_time_on_hostile_runs(unit):
    """A long description without spaces or full stops once took seconds (a backtracking file-name pattern:
    about 15 s for 12,000 characters); every description of a collection passes through here."""
    raw = unit * (12_000 // len(unit))
    start = time.process_time()
    clean_text(raw)
    assert time.process_time() - start < 1.0


plain_words = st.lists(st.from_regex(r"[a-z][a-z]{0,7}", fullmatch=True), min_size=1, max_size=5).map(" ".join)
quote_pairs = st.sampled_from([('"', '"'), ("“", "”"), ("'", "'"), ("‘", "’")])


@PROPERTY
@given(plain_words, plain_words, quote_pairs, st.sampled_from(["", ".", " ", ". "]))
def test_surrounding_quotes_go_and_quotations_stay_whole(words, quotation, pair, stop):
    opening, closing = pair
    assert clean_text(f"{opening}{words}{closing}{stop}") == words
    assert clean_text(f"{opening}{words}.{closing}") == words
    mark = "'" if opening in '"“' else None

    def kept(q: str) -> str:
        return q if mark is None else mark

    # a quotation that only ends or only starts the text keeps both its marks
    assert clean_text(f"{words} {opening}{quotation}{closing}{stop}") == (
        f"{words} {kept(opening)}{quotation}{kept(closing)}"
    )
    assert clean_text(f"{opening}{quotation}{closing} {words}{stop}") == (
        f"{kept(opening)}{quotation}{kept(closing)} {words}"
    )


@PROPERTY
@given(st.text(any_character, max_size=400), st.integers(1, 200))
def test_truncate_words_keeps_within_the_limit_and_only_cuts(text, limit):
    cut = truncate_words(text, limit)
    assert len(cut) <= limit
    assert text.startswith(cut)
    if len(text) <= limit:
        assert cut == text


@PROPERTY
@given(st.one_of(st.none(), valid_isos, malformed_isos))
def test_dates_are_said_only_when_valid_and_hours_only_when_a_clock_says_them(iso):
    spoken = spoken_date(iso)
    if spoken is not None:
        moment = datetime.fromisoformat(iso)
        assert spoken.startswith(f"{moment.day} ") and moment.strftime("%B") in spoken
    hour = hour_of(iso)
    assert (hour is not None) == has_time(iso)
    if hour is not None:
        assert 0 <= hour <= 23
