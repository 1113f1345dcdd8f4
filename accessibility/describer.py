"""Compose alt text and a long description from what the offline models and the pixels can tell.

- ``alt``: one phrase ≤ 125 characters, most important first: what is probably shown (hedged by confidence),
  then what the eye notices at once (a cut-out, black and white), then the main colours. Never "image of",
  never a file name: screen readers already announce an image, and file names are noise.
- ``long``: two to four sentences for speech: a neural caption when one is available, what the classifier
  thinks and how sure it is, light/orientation/size/colours, then date, camera and the source's own words.
- ``evidence``: everything the text was built from, so a reader (or a test) can check every claim.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from typing import Any

from PIL import Image, ImageOps

from accessibility.colours import Appearance, appearance
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
from accessibility.wordnet import WordNet

VERSION = "composed-4"  # bump when the wording changes, so the pipeline describes every image again
ALT_LIMIT = 125
PANORAMA_RATIO = 2.5
TINY_SIDE = 64
CUT_OUT_SHARE = 0.2  # this much transparent area makes the picture a cut-out
READ_SIDE = 512  # pixels: enough for colours and for a captioner's 384-pixel input
SHAPE_WORDS = {"panorama": "wide panorama", "tall strip": "tall narrow"}


@dataclass(frozen=True)
class Facts:
    """What the ingest step and the source package know about the file (all optional)."""

    width: int = 0
    height: int = 0
    exif_datetime: str | None = None
    camera: str | None = None
    source_description: str | None = None


@dataclass(frozen=True)
class Caption:
    text: str
    model: str


@dataclass(frozen=True)
class Description:
    alt: str
    long: str
    evidence: dict[str, Any] = field(default_factory=dict)


class Describer:
    def __init__(self, wordnet: WordNet) -> None:
        self.wordnet = wordnet

    def describe(
        self,
        image: Image.Image | None,
        labels: list[Label],
        facts: Facts,
        caption: Caption | None = None,
    ) -> Description:
        """``image`` may be a reduced copy (colours and light need few pixels) or ``None`` if unreadable."""
        seen = appearance(image) if image is not None else None
        subject = identify(labels, self.wordnet)
        source = clean_text(facts.source_description) if facts.source_description else ""
        caption_text = clean_text(caption.text) if caption else ""
        alt = compose_alt(subject, seen)
        sentences = [
            sentence(f"A captioning model ({caption.model}) says: {caption_text}") if caption and caption_text else "",
            what_sentence(subject),
            look_sentence(seen, facts),
            record_sentence(facts, source),
        ]
        evidence = {
            "describer": VERSION,
            "subject": asdict(subject) if subject else None,
            "labels": [{"id": lab.id, "name": lab.name, "p": round(lab.probability, 4)} for lab in labels],
            "colours": [{"name": c.name, "share": round(c.share, 3), "rgb": list(c.rgb)} for c in seen.colours]
            if seen
            else [],
            "lightness": round(seen.lightness, 1) if seen and seen.lightness is not None else None,
            "light": seen.light if seen else None,
            "chroma": round(seen.chroma, 1) if seen and seen.chroma is not None else None,
            "transparent": round(seen.transparent, 3) if seen else None,
            # the rounded numbers above can sit on either side of a threshold: what the text was built from
            "cut_out": cut_out(seen) if seen else None,
            "black_and_white": seen.black_and_white if seen else None,
            "width": facts.width,
            "height": facts.height,
            "orientation": orientation(facts.width, facts.height),
            "exif_datetime": facts.exif_datetime,
            "camera": facts.camera,
            "source_description": source or None,
            "caption": {"text": caption_text, "model": caption.model} if caption and caption_text else None,
            "pixels_read": image is not None,
        }
        return Description(alt=alt, long=" ".join(s for s in sentences if s), evidence=evidence)


def load_reduced(data: bytes, side: int = READ_SIDE) -> Image.Image:
    """Decode at reduced size (JPEG draft), upright, with alpha kept (cut-outs are told by transparency)."""
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (side, side))
    image = ImageOps.exif_transpose(image)
    image.thumbnail((side, side))
    image.load()
    return image


def subject_phrase(subject: Subject | None) -> str | None:
    """ "probably a tabby cat"; ``None`` when nothing is identified well enough to be named."""
    if subject is None or subject.confidence < UNNAMED_BELOW:
        return None
    word = hedge(subject.confidence)
    return f"{word} {article(subject.name)}".strip()


def cut_out(seen: Appearance) -> bool:
    """An object on a transparent background: enough transparent area, and something opaque to describe."""
    return seen.transparent >= CUT_OUT_SHARE and bool(seen.colours)


def compose_alt(subject: Subject | None, seen: Appearance | None) -> str:
    """Parts in order of importance; the least important are dropped until the phrase fits 125 characters."""
    named = subject_phrase(subject)
    parts = [named or "unidentified subject"]
    if seen is not None and cut_out(seen):
        parts.append("cut-out")
    if seen is not None and seen.black_and_white:
        parts.append("black and white")
    elif seen is not None and seen.colours:
        parts.append("in " + join_words([c.name for c in seen.colours[:3]]))
    elif seen is not None and not seen.colours:
        parts.append("fully transparent")
    while len(parts) > 1 and len(", ".join(parts)) > ALT_LIMIT:
        parts.pop()
    return capitalise(truncate_words(", ".join(parts), ALT_LIMIT))


def what_sentence(subject: Subject | None) -> str:
    if subject is None:
        return "The classifier could not look at this picture, so what it shows is unknown."
    sure = about_percent(subject.confidence)
    if subject.confidence < UNNAMED_BELOW:
        guess = article(subject.name)
        likely = f"{sure} likely" if sure.startswith("less") else f"only {sure} likely"
        return sentence(f"The classifier cannot tell what this shows: its best guess, {guess}, is {likely}")
    claim = f"{hedge(subject.confidence) or 'most likely'} {article(subject.name)}".strip()
    if subject.pooled:
        pooled = join_words(list(subject.merged[:3]) + (["others"] if len(subject.merged) > 3 else []))
        return sentence(f"It is {claim}: the classifier puts {sure} on kinds of {subject.name} ({pooled})")
    text = f"It is {claim}, the classifier is {sure} sure"
    # two classes can share a spoken name (ImageNet has two "missile" and two "sunglasses" classes)
    others = [name for name in dict.fromkeys(subject.alternatives) if name != subject.name]
    if others:
        text += f"; it might also be {join_words([article(a) for a in others], 'or')}"
    return sentence(text)


def orientation(width: int, height: int) -> str | None:
    if width <= 0 or height <= 0:
        return None
    ratio = width / height
    if ratio >= PANORAMA_RATIO:
        return "panorama"
    if ratio <= 1 / PANORAMA_RATIO:
        return "tall strip"
    if abs(ratio - 1) < 0.05:
        return "square"
    return "landscape" if ratio > 1 else "portrait"


def look_sentence(seen: Appearance | None, facts: Facts) -> str:
    """Light, orientation, size and colours in one sentence: "A dark landscape picture, 640 by 480 pixels,
    mostly blue and black, perhaps taken at night"."""
    shape = orientation(facts.width, facts.height)
    known = facts.width > 0 and facts.height > 0  # 0 is "not known", never a size to say
    if seen is None:
        kind = f"{shape} picture" if shape else "picture"
        size = f", {facts.width} by {facts.height} pixels" if known else ""
        return sentence(f"{article(kind)}{size}; its pixels could not be read")
    if not seen.colours:
        size = f", {facts.width} by {facts.height} pixels" if known else ""
        return sentence(f"A fully transparent picture{size}")
    noun = "cut-out" if cut_out(seen) else "picture"
    light = seen.light if seen.light != "medium" else ""
    kind = " ".join(w for w in (light, SHAPE_WORDS.get(shape or "", shape or ""), noun) if w)
    parts = [article(kind)]
    if known:
        tiny = max(facts.width, facts.height) < TINY_SIDE
        parts.append(f"{'only ' if tiny else ''}{facts.width} by {facts.height} pixels")
    if seen.black_and_white:
        parts.append("in black and white")
    else:
        parts.append("mostly " + join_words([c.name for c in seen.colours[:3]]))
    night = night_guess(seen, facts.exif_datetime)
    if night:
        parts.append(night)
    return sentence(", ".join(parts))


def night_guess(seen: Appearance, exif_datetime: str | None) -> str | None:
    """A day/night guess only when the evidence points one way: very dark pixels, or a dark picture whose
    camera clock says night."""
    hour = hour_of(exif_datetime)
    at_night = hour is not None and (hour >= 21 or hour < 5)
    if seen.light == "very dark" or (seen.light == "dark" and at_night):
        return "perhaps taken at night" if not at_night else "taken at night by the camera clock"
    if hour is not None and 9 <= hour < 17 and seen.light in ("bright", "very bright"):
        return "in daylight"
    return None


def record_sentence(facts: Facts, source: str) -> str:
    date = spoken_date(facts.exif_datetime)
    camera = clean_text(facts.camera, 60) if facts.camera else ""
    taken = ""
    if date and camera:
        taken = f"taken on {date} with {article(camera)}"
    elif date:
        taken = f"taken on {date}"
    elif camera:
        taken = f"taken with {article(camera)}"
    quoted = ""
    if source:
        title = len(source.split()) <= 4 and source.split()[0].lower() not in ("a", "an", "the")
        quoted = f"its source calls it {source}" if title else f"its source describes it as: {source}"
    return sentence("; ".join(part for part in (taken, quoted) if part))
