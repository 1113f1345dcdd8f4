"""Small rules of spoken English for descriptions: hedges, articles, lists, numbers, clean quotations.

Kept apart from the describer so each rule is tested on its own and reused by the quality script.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

# Confidence bands, highest first: (lowest confidence, hedge said before the noun phrase).
HEDGES: tuple[tuple[float, str], ...] = ((0.85, ""), (0.5, "probably"), (0.25, "possibly"))
UNNAMED_BELOW = HEDGES[-1][0]  # below this a guess is not said in alt text at all

_FILE_NAME = re.compile(
    r"(?:[\w.~-]*[/\\])*[\w~-]+(?:\.[\w~-]+)*\.(?:jpe?g|png|gif|webp|bmp|tiff?|svg|heic|raw|cr2|nef|dng|psd|xcf)\b",
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s+")
_AN_BEFORE = ("hour", "honest", "honor", "honour", "heir")  # silent h
_A_BEFORE = ("uni", "use", "usu", "ura", "ure", "uro", "uti", "eu", "ewe", "one ", "once")  # "y"/"w" sounds


def hedge(confidence: float) -> str | None:
    """The word that tells a listener how sure the system is; ``None`` when too unsure to name anything."""
    for lowest, word in HEDGES:
        if confidence >= lowest:
            return word
    return None


def article(noun_phrase: str) -> str:
    """ "a cat", "an owl", "an hourglass", "a unicycle", "a European robin": by sound, not spelling."""
    lower = noun_phrase.lower()
    if not lower:
        return noun_phrase
    if lower.startswith(_AN_BEFORE):
        return f"an {noun_phrase}"
    if lower.startswith(_A_BEFORE) or lower[0] not in "aeiou":
        return f"a {noun_phrase}"
    return f"an {noun_phrase}"


def join_words(words: list[str], conjunction: str = "and") -> str:
    """ "red", "red and blue", "red, blue and green" (no serial comma: it reads aloud the same)."""
    words = [w for w in words if w]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def about_percent(probability: float) -> str:
    """ "about 60 percent": rounded to 5, because more digits would claim a precision the model lacks."""
    value = round(probability * 20) * 5
    if value <= 0:
        return "less than 5 percent"
    if value >= 100:
        return "over 95 percent"
    return f"about {value} percent"


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def clean_text(text: object, limit: int = 160) -> str:
    """Untrusted text made safe and short to read aloud: no control characters, no file names, one
    sentence, no surrounding quotes or final full stop, cut at a word boundary."""
    if not isinstance(text, str):
        return ""
    text = "".join(ch for ch in unicodedata.normalize("NFC", text) if unicodedata.category(ch)[0] != "C")
    text = _FILE_NAME.sub("", text)
    text = _SPACE.sub(" ", text).strip().strip("\"'“”‘’ ").strip()
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text, maxsplit=1)[0]
    first = first.rstrip(" .")
    first = re.sub(r"[\"“”]", "'", first)
    return truncate_words(first, limit)


def truncate_words(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return cut if cut else text[:limit]


def spoken_date(iso: str | None) -> str | None:
    """ISO 8601 → "12 March 2009"; ``None`` for missing or malformed dates."""
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return None
    return f"{moment.day} {moment:%B %Y}"


def hour_of(iso: str | None) -> int | None:
    try:
        return datetime.fromisoformat(iso).hour if iso else None
    except (TypeError, ValueError):
        return None


def sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    return capitalise(text) + ("" if text[-1] in ".!?" else ".")
