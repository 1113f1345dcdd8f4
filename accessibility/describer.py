"""Compose alt text and a long description from what the offline models and the pixels can tell.

- ``alt``: one phrase ≤ 125 characters, most important first: the collection's own description when it has
  one, else the people and objects detected with counts ("Two people and a dog"), else the classifier's
  subject (hedged by confidence); then text read in the picture, what the eye notices at once (a cut-out,
  black and white), then the main colours. Never "image of", never a file name: screen readers already
  announce an image, and file names are noise.
- ``long``: a few sentences for speech, in plain words (numbers stay in the evidence): a neural caption when
  one is available, the source's own words, what is in the picture and how sure the system is, the text it
  reads, light/orientation/size/colours, then date and camera. The models' guesses follow the source's words
  and say so when the source does not mention what they see.
- ``evidence``: everything the text was built from, so a reader (or a test) can check every claim.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from PIL import Image, ImageOps

from accessibility.colours import Appearance, appearance
from accessibility.labels import Label, Subject, identify
from accessibility.objects import Seen, mentioned, objects_phrase, tally
from accessibility.wording import (
    OPENERS,
    PROBABLY,
    UNNAMED_BELOW,
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

VERSION = "composed-12"  # bump when the wording changes, so the pipeline describes every image again
ALT_LIMIT = 125
PANORAMA_RATIO = 2.5
TINY_SIDE = 64
CUT_OUT_SHARE = 0.2  # this much transparent area makes the picture a cut-out
# The detector learnt from photos; on cut-out drawings (the demo's 424 Tux Paint stamps) its detections from 0.3
# to 0.6 named something the stamp's own description mentions 24 times in 190, at 0.6 and above 8 in 16.
CUT_OUT_MIN_SCORE = 0.6
READ_SIDE = 512  # pixels: enough for colours and for a captioner's 384-pixel input
SHAPE_WORDS = {"panorama": "wide panorama", "tall strip": "tall narrow"}
TEXT_SURE = 0.8  # text read at least this surely is quoted as it is; below, it "seems to read"
UNCLEAR_TEXT = "Some more text in it is unclear."  # said instead of quoting unsure lines beside sure ones
TEXT_IN_ALT = 60  # characters of read text the alt phrase may quote
IMAGE_OF = re.compile(r"(?:(?:an?|the)\s+)?(?:image|picture|photo|photograph|graphic)\s+of\b", re.IGNORECASE)
WORDS_START = re.compile(rf"[{re.escape(OPENERS)}]*[^\W_]")  # a letter or digit, with the quotes opening it
DANGLING = " .,;:-–—"


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
class TextRead:
    """A line of text read in the picture."""

    text: str
    confidence: float


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
        objects: Sequence = (),
        text: Sequence[TextRead] = (),
    ) -> Description:
        """``image`` may be a reduced copy (colours and light need few pixels) or ``None`` if unreadable;
        ``objects``: detections (anything with ``label``, ``score`` and ``box``); ``text``: lines read."""
        seen = appearance(image) if image is not None else None
        subject = identify(labels, self.wordnet)
        drawn = seen is not None and cut_out(seen)
        things = tally([o for o in objects if o.score >= CUT_OUT_MIN_SCORE] if drawn else objects)
        source = clean_text(facts.source_description) if facts.source_description else ""
        caption_text = clean_text(caption.text) if caption else ""
        read = read_text(text)
        alt = compose_alt(subject, seen, things, source, read, self.wordnet)
        sentences = [
            sentence(f"A captioning model ({caption.model}) says: {caption_text}") if caption and caption_text else "",
            source_sentence(source),
            objects_sentence(things, source, self.wordnet),
            what_sentence(subject, bool(things)),
            text_sentence(read),
            look_sentence(seen, facts),
            record_sentence(facts),
        ]
        evidence = {
            "describer": VERSION,
            "alt_lead": alt_lead(source, things, subject),
            "subject": asdict(subject) if subject else None,
            "labels": [{"id": lab.id, "name": lab.name, "p": round(lab.probability, 4)} for lab in labels],
            "objects": [
                {"label": o.label, "score": round(float(o.score), 4), "box": [round(float(v), 1) for v in o.box]}
                for o in objects
            ],
            "said_objects": [asdict(t) for t in things],
            "text": [{"text": t.text, "confidence": t.confidence} for t in read],  # unrounded: 0.8 decides
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


def read_text(lines: Sequence[TextRead]) -> list[TextRead]:
    """Lines worth saying: cleaned, non-empty, each once, in reading order."""
    out: list[TextRead] = []
    for line in lines:
        words = clean_text(line.text, 80)
        if words and words.lower() not in {t.text.lower() for t in out}:
            out.append(TextRead(words, float(line.confidence)))
    return out


def quoted_text(read: list[TextRead], limit: int) -> str:
    """The lines read, joined and cut to ``limit`` characters at a word boundary."""
    return truncate_words(" ".join(t.text for t in read), limit)


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


def compose_alt(
    subject: Subject | None,
    seen: Appearance | None,
    things: list[Seen] = (),
    source: str = "",
    read: list[TextRead] = (),
    wordnet: WordNet | None = None,
) -> str:
    """Parts in order of importance; the least important are dropped until the phrase fits 125 characters.

    After a source's words come the people and things the models are sure of (counted) that those words do not
    name, said as the models' view ("Jesper in Grand Canyon; the models see a person"): a listener learns the tagged
    photo shows a person, and a sure guess that disagrees with the source is said aloud, not silently. Unsure
    ones ("possibly") are left to the long description: beside the collection's own words they are noise. So
    is the detector on cut-outs: on the demo's Tux Paint stamps 5 of the 8 sure detections this would add were
    wrong (a flower "a person", an avocado "a cat"), on its photos 2 of 15 (docs/descriptions.md)."""
    lead = alt_source(source)
    said = {
        "source": lead,
        "objects": objects_phrase(list(things)),
        "subject": subject_phrase(subject),
        None: "unidentified subject",
    }[alt_lead(source, things, subject)]
    parts = [capitalise(said)]
    if lead and not (seen is not None and cut_out(seen)):
        unnamed = objects_phrase([t for t in things if t.count and not mentioned(t.name, source, wordnet)], more=False)
        if unnamed:
            parts.append(f"; the models see {unnamed}")
    sure = [t for t in read if t.confidence >= TEXT_SURE]
    if sure:
        parts.append(f', with the words "{quoted_text(sure, TEXT_IN_ALT)}"')
    if seen is not None and cut_out(seen):
        parts.append(", cut-out")
    if seen is not None and seen.black_and_white:
        parts.append(", black and white")
    elif seen is not None and seen.colours:
        parts.append(", in " + join_words([c.name for c in seen.colours[:3]]))
    elif seen is not None and not seen.colours:
        parts.append(", fully transparent")
    while len(parts) > 1 and len("".join(parts)) > ALT_LIMIT:
        parts.pop()
    return truncate_words("".join(parts), ALT_LIMIT)


def alt_lead(source: str, things: list[Seen], subject: Subject | None) -> str | None:
    """What the alt leads with: the source's words; else the objects detected, unless the detector is unsure of
    all of them, none is a person, and the classifier is at least probably right ("possibly a bird" on a photo
    of a palace the classifier calls "probably a palace"); else the classifier's subject; ``None`` when nothing
    can be named. A possible person still leads: people are what a listener asks about first."""
    if alt_source(source):
        return "source"
    sure_subject = subject is not None and subject.confidence >= PROBABLY
    if things and (any(t.count or t.name == "person" for t in things) or not sure_subject):
        return "objects"
    return "subject" if subject_phrase(subject) else None


def alt_source(source: str) -> str:
    """The source's words as they lead the alt phrase: from the first letter or digit (with any quote or bracket
    opening it), without an "image of" opening (a screen reader already says it is an image; "photo of
    DSC0001.jpeg taken at" is cleaned to "photo of taken at") and without punctuation dangling at the end;
    empty when nothing is left."""
    text = source
    while (start := WORDS_START.search(text)) is not None:
        text = text[start.start() :]
        opening = IMAGE_OF.match(text)
        if opening is None:
            return text.rstrip(DANGLING)
        text = text[opening.end() :]
    return ""


def source_sentence(source: str) -> str:
    if not source:
        return ""
    title = len(source.split()) <= 4 and source.split()[0].lower() not in ("a", "an", "the")
    return sentence(f"Its source calls it {source}" if title else f"Its source describes it as: {source}")


def objects_sentence(things: list[Seen], source: str, wordnet: WordNet | None = None) -> str:
    """What the detector found, counted; after a source's words, said as the models' view, and flagged when
    the source names none of it."""
    phrase = objects_phrase(things, limit=5)
    if phrase is None:
        return ""
    if not source:
        return sentence(f"It shows {phrase}")
    if any(mentioned(t.name, source, wordnet) for t in things):
        return sentence(f"The models also see {phrase}")
    return sentence(f"The models also see {phrase}, which the source does not mention")


def text_sentence(read: list[TextRead]) -> str:
    """The text read, quoted. Beside lines read surely (``TEXT_SURE``) the unsure ones are only said to be there:
    in the 160 coco-mini photos 10 of the 13 such lines were misreadings ("MAEI", "+CEEN+" beside "SMAKELIJK"),
    and quoting them made the sure words "seem to read" too. With no sure line, every line is quoted, hedged."""
    if not read:
        return ""
    sure = [t for t in read if t.confidence >= TEXT_SURE]
    if not sure:
        return sentence(f'Text in the picture seems to read: "{quoted_text(read, 160)}"')
    said = sentence(f'Text in the picture reads: "{quoted_text(sure, 160)}"')
    return said if len(sure) == len(read) else f"{said} {UNCLEAR_TEXT}"


def what_sentence(subject: Subject | None, has_objects: bool = False) -> str:
    """The classifier's view of the whole picture, in words (its numbers are in the evidence). With objects
    detected it is said as the picture as a whole, and left out when it is only a guess."""
    if subject is None:
        return "" if has_objects else "What it shows is unknown: the picture could not be analysed."
    if subject.confidence < UNNAMED_BELOW:
        if has_objects:
            return ""
        return sentence(f"What it shows is unclear; the best guess, {article(subject.name)}, is unlikely")
    claim = f"{hedge(subject.confidence) or 'most likely'} {article(subject.name)}".strip()
    opening = "As a whole, it is" if has_objects else "It is"
    if subject.pooled:
        kinds = join_words([article(m) for m in subject.merged[:2]], "or")
        return sentence(f"{opening} {claim}, such as {kinds}")
    text = f"{opening} {claim}"
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


def record_sentence(facts: Facts) -> str:
    date = spoken_date(facts.exif_datetime)
    camera = clean_text(facts.camera, 60) if facts.camera else ""
    if date and camera:
        return sentence(f"Taken on {date} with {article(camera)}")
    if date:
        return sentence(f"Taken on {date}")
    if camera:
        return sentence(f"Taken with {article(camera)}")
    return ""
