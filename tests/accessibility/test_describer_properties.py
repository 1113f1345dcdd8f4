"""Property tests (Hypothesis) for the description composer and its wording rules.

Whatever the classifier's labels, the pixels, the metadata and the caption (hostile or empty), a screen-reader
user gets an alt phrase and a long description that are clean to hear, bounded, honest about confidence,
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
    CUT_OUT_SHARE,
    SHAPE_WORDS,
    TINY_SIDE,
    VERSION,
    Caption,
    Describer,
    Facts,
    compose_alt,
    look_sentence,
    orientation,
    record_sentence,
    what_sentence,
)
from accessibility.labels import Label, Subject, identify
from accessibility.wording import (
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
    "ß",
    "ﬁ",
    "İ",
    "the",
    "A",
    "cat",
    "Sunset",
    "  ",
]
hostile_texts = st.one_of(
    st.text(any_character, max_size=300),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(any_character, max_size=8)), max_size=40).map("".join),
    st.builds(
        lambda unit, n: unit * n,
        st.sampled_from(["x", "ab ", "é", "a.", " ", "word, ", "\x00", "e.g. "]),
        st.integers(50, 3000),
    ),
    st.text(st.sampled_from(" \t\n\r\x0b\x0c\x1c\x85\u00a0\u2003\u3000\u2028"), max_size=20),  # whitespace only
)
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
facts_ = st.builds(
    Facts,
    width=sizes,
    height=sizes,
    exif_datetime=st.one_of(st.none(), valid_isos, malformed_isos),
    camera=st.one_of(st.none(), hostile_texts),
    source_description=st.one_of(st.none(), hostile_texts),
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


# ---------------------------------------------------------------------------------------------- checks


def check_alt(alt: str) -> None:
    assert 1 <= len(alt) <= ALT_LIMIT, alt
    assert alt[0].isupper() or alt[0].isdigit(), alt
    assert not has_control(alt), alt
    assert alt == alt.strip() and not re.search(r"[^\S ]| {2}", alt), alt  # one plain space between words
    assert not ARTEFACT.search(alt), alt
    assert not re.match(r"(an? |the )?(image|picture|photo|photograph|graphic) of\b", alt, re.I), alt
    assert not alt.endswith((",", ";", ":", "-")), alt
    assert not FILE_NAME.search(alt), alt


def cleaned(facts: Facts, caption: Caption | None) -> dict[str, str]:
    """The untrusted texts as the composer may quote them."""
    return {
        "source": clean_text(facts.source_description) if facts.source_description else "",
        "caption": clean_text(caption.text) if caption else "",
        "camera": clean_text(facts.camera, CAMERA_LIMIT) if facts.camera else "",
    }


def check_long(long: str, image: Image.Image | None, labels: list[Label], facts: Facts, caption) -> dict[str, str]:
    """The long description is the composer's two to four sentences, each clean; returns them by name."""
    quoted = cleaned(facts, caption)
    seen = appearance(image) if image is not None else None
    subject = identify(labels, describer().wordnet)
    caption_sentence = ""
    if caption and quoted["caption"]:
        caption_sentence = sentence(f"A captioning model ({caption.model}) says: {quoted['caption']}")
    named = {
        "caption": caption_sentence,
        "what": what_sentence(subject),
        "look": look_sentence(seen, facts),
        "record": record_sentence(facts, quoted["source"]),
    }
    pieces = [p for p in named.values() if p]
    assert long == " ".join(pieces)
    assert 2 <= len(pieces) <= 4, pieces
    for piece in pieces:
        assert piece[0].isupper(), piece
        assert piece[-1] in ".!?", piece  # every sentence ends with terminal punctuation ...
        assert not re.search(r"[.,;:!?]\.$", piece), piece  # ... once: no "..", ",.", ";." at its end
    assert not has_control(long), long
    assert long == long.strip() and not re.search(r"[^\S ]| {2}", long), long
    # Artefacts of composition: what is left once the quoted texts are taken out must be clean ...
    skeleton = long
    for text in sorted(quoted.values(), key=len, reverse=True):
        if text:
            skeleton = skeleton.replace(text, "Q")
    assert not ARTEFACT.search(skeleton), skeleton
    # ... and gluing the pieces together must not double punctuation the quoted texts did not have.
    doubled = sum(len(DOUBLED_PUNCTUATION.findall(text)) for text in quoted.values())
    assert len(DOUBLED_PUNCTUATION.findall(long)) == doubled, long
    # Bounded however long the metadata: the clean_text limits plus the fixed wording.
    if caption_sentence:
        assert len(caption_sentence) <= len("A captioning model () says: .") + len(caption.model) + TEXT_LIMIT
    longest_date = len("30 September 9999")
    assert len(named["record"]) <= (
        len("Taken on  with an ; its source describes it as: .") + longest_date + CAMERA_LIMIT + TEXT_LIMIT
    )
    for raw in (facts.camera, facts.source_description, caption.text if caption else None):
        if raw and len(raw.strip()) > TEXT_LIMIT:
            assert raw.strip() not in long
    return named


def check_evidence(evidence: dict) -> None:
    text = json.dumps(evidence, ensure_ascii=False, allow_nan=False)  # as the pipeline stores it; no NaN
    json.loads(text)
    assert evidence["describer"] == VERSION


# ---------------------------------------------------------------------------------------------- properties


@PROPERTY
@given(images, label_lists(), facts_, captions)
@example(None, [], Facts(), None)
@example(Image.new("RGBA", (4, 4), (0, 0, 0, 0)), [], Facts(), None)  # fully transparent, size unknown
@example(Image.new("RGB", (1, 1)), [], Facts(1, 1, "x" * 5000, "x" * 5000, "x" * 5000), Caption("x" * 5000, "m"))
@example(None, [], Facts(source_description='"Sunset".'), Caption("A cat on a sofa,", "m"))
def test_any_input_gives_a_clean_bounded_description(image, labels, facts, caption):
    said = describer().describe(image, labels, facts, caption)
    check_alt(said.alt)
    check_long(said.long, image, labels, facts, caption)
    check_evidence(said.evidence)


def evidence_alt_parts(evidence: dict) -> list[str]:
    """The alt phrase's parts, most important first, as the evidence says they must be."""
    subject = evidence["subject"]
    if subject and subject["confidence"] >= UNNAMED_BELOW:
        parts = [f"{hedge(subject['confidence'])} {article(subject['name'])}".strip()]
    else:
        parts = ["unidentified subject"]
    if not evidence["pixels_read"]:
        return parts
    colours = [c["name"] for c in evidence["colours"]]
    if evidence["cut_out"]:
        parts.append("cut-out")
    if evidence["black_and_white"]:
        parts.append("black and white")
    elif colours:
        parts.append("in " + join_words(colours[:3]))
    else:
        parts.append("fully transparent")
    return parts


@PROPERTY
@given(images, label_lists(), facts_, captions)
@example(  # 819 of 4096 pixels transparent: 0.19995, which evidence rounded to 3 places shows as 0.2
    Image.fromarray(np.where(np.arange(4096).reshape(64, 64, 1) < 819, 0, 255).repeat(4, 2).astype(np.uint8), "RGBA"),
    [],
    Facts(64, 64),
    None,
)
@example(Image.new("RGB", (4, 4), (40, 40, 50)), [], Facts(64, 48, "2009-03-12"), None)  # a date, no clock time
@example(None, [Label("n03773504", "missile", 0.6), Label("n04008634", "missile", 0.3)], Facts(), None)  # one name
def test_every_claim_is_backed_by_the_evidence(image, labels, facts, caption):
    """The module docstring: evidence is "everything the text was built from, so a reader (or a test) can check
    every claim"."""
    said = describer().describe(image, labels, facts, caption)
    evidence = said.evidence
    sentences = check_long(said.long, image, labels, facts, caption)
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

    # alt: the parts the evidence calls for, in order, the least important dropped only to fit the limit
    parts = evidence_alt_parts(evidence)
    fits = [k for k in range(1, len(parts) + 1) if len(", ".join(parts[:k])) <= ALT_LIMIT]
    expected = ", ".join(parts[: max(fits)]) if fits else truncate_words(parts[0], ALT_LIMIT)
    assert said.alt == capitalise(expected)

    subject = evidence["subject"]
    if subject is None:
        assert "could not look at this picture" in what
    else:
        assert about_percent(subject["confidence"]) in what
        if subject["confidence"] < UNNAMED_BELOW:
            assert "cannot tell" in what and article(subject["name"]) in what
        else:
            claim = f"It is {hedge(subject['confidence']) or 'most likely'} {article(subject['name'])}"
            assert claim in what
        if "; it might also be " in what:  # alternatives are other classes, each offered once
            offered = what.split("; it might also be ", 1)[1].removesuffix(".")
            name = article(subject["name"])
            assert offered != name and not offered.startswith(f"{name} or ") and not offered.endswith(f" or {name}")
            choices = offered.split(" or ")
            assert len(choices) == 1 or len(set(choices)) > 1, offered

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
    if image is not None and not evidence["colours"]:
        assert "fully transparent" in said.alt and look.startswith("A fully transparent picture")

    # day and night: only when the pixels (and, for the camera clock, a clock time) say so
    exif = evidence["exif_datetime"]
    hour = hour_of(exif) if has_time(exif) else None
    if "taken at night by the camera clock" in look:
        assert hour is not None and (hour >= 21 or hour < 5) and evidence["light"] in ("dark", "very dark")
    if "perhaps taken at night" in look:
        assert evidence["light"] == "very dark"
    if "in daylight" in look:
        assert hour is not None and 9 <= hour < 17 and evidence["light"] in ("bright", "very bright")

    # the record: the date as the evidence has it, the camera and the source's words as cleaned
    spoken = spoken_date(exif)
    assert record.startswith(f"Taken on {spoken}") if spoken else not record.startswith("Taken on")
    quoted = cleaned(facts, caption)
    assert evidence["source_description"] == (quoted["source"] or None)
    if quoted["source"]:
        assert quoted["source"] in record
    if quoted["camera"]:
        assert f"with {article(quoted['camera'])}" in record
    if caption is not None and quoted["caption"]:
        assert said.long.startswith(f"A captioning model ({caption.model}) says: {quoted['caption']}")
        assert evidence["caption"] == {"text": quoted["caption"], "model": caption.model}
    else:
        assert evidence["caption"] is None


@PROPERTY
@given(images, label_lists(), facts_, captions)
def test_deterministic_and_inputs_left_alone(image, labels, facts, caption):
    before = (image.mode, image.size, image.tobytes(), dict(image.info)) if image is not None else None
    labels_before = list(labels)
    first = describer().describe(image, labels, facts, caption)
    after = (image.mode, image.size, image.tobytes(), dict(image.info)) if image is not None else None
    assert after == before and labels == labels_before
    second = describer().describe(image.copy() if image is not None else None, list(labels), facts, caption)
    assert second == first
    assert json.dumps(second.evidence, sort_keys=True) == json.dumps(first.evidence, sort_keys=True)


@PROPERTY
@given(images, label_lists(), facts_, captions)
def test_alt_depends_only_on_what_is_shown(image, labels, facts, caption):
    """Metadata and captions never reach the alt phrase (no file names, no camera, no hostile text there)."""
    said = describer().describe(image, labels, facts, caption)
    bare = describer().describe(image, labels, Facts(), None)
    assert said.alt == bare.alt


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
LONG_CLAIMS = ("The classifier c", "It is possibly ", "It is probably ", "It is most likely ")


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
    source = clean_text(facts.source_description) if facts.source_description else ""
    for text in (look_sentence(seen, facts), record_sentence(facts, source)):
        if not text:
            continue
        assert text[0].isupper() and text[-1] in ".!?" and not re.search(r"[.,;:!?]\.$", text), text
        assert not has_control(text) and not re.search(r"[^\S ]| {2}", text), text
    look = look_sentence(seen, facts)
    assert look and not ARTEFACT.search(look) and " 0 by " not in look and " by 0 " not in look, look
    camera = clean_text(facts.camera, CAMERA_LIMIT) if facts.camera else ""
    if not spoken_date(facts.exif_datetime) and not source and not camera:
        assert record_sentence(facts, source) == ""


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
