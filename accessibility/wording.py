"""Small rules of spoken English for descriptions: hedges, articles, lists, numbers, clean quotations.

Kept apart from the describer so each rule is tested on its own and reused by the quality script.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

# Confidence bands, highest first: (lowest confidence, hedge said before the noun phrase).
HEDGES: tuple[tuple[float, str], ...] = ((0.85, ""), (0.5, "probably"), (0.25, "possibly"))
UNNAMED_BELOW = HEDGES[-1][0]  # below this a guess is not said in alt text at all
PROBABLY = HEDGES[1][0]  # from here up a guess is said as at least probably right

# A file name is told by its image extension; it is removed with the run of path characters it ends
# (directories, stem), so "see /home/me/IMG_1.JPG, taken" keeps "see , taken".
_PATH_RUN = re.compile(r"[\w.~/\\-]+")
_EXTENSION = re.compile(
    r"(?<=[\w~-])\.(?:jpe?g|png|gif|webp|bmp|tiff?|svg|heic|raw|cr2|nef|dng|psd|xcf)\b",
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s+")
_TERMINAL_CODE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # an ANSI colour or cursor code
_QUOTES = "\"'“”‘’"
OPENERS = "\"'“‘(["  # what may open a text before its first letter
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
    """The first letter a capital, after any quotes or brackets that open the text ("'sunset' by x" → "'Sunset'
    by x"). A capital can be longer than its letter ("ß" → "SS"): measure after capitalising."""
    start = len(text) - len(text.lstrip(OPENERS))
    return text[:start] + text[start : start + 1].upper() + text[start + 1 :]


def clean_text(text: object, limit: int = 160) -> str:
    """Untrusted text made safe and short to read aloud: no control characters, no file names, one
    sentence, no surrounding quotes or final full stop, cut at a word boundary."""
    if not isinstance(text, str):
        return ""
    text = _TERMINAL_CODE.sub("", text)  # "\x1b[31m" would leave "[31m" once its control character goes
    text = "".join(ch for ch in unicodedata.normalize("NFC", text) if unicodedata.category(ch)[0] != "C")
    text = _without_file_names(text)
    text = _unquote(_SPACE.sub(" ", text).strip())
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text, maxsplit=1)[0]
    first = re.sub(r"[\"“”]", "'", _unquote(first))
    return _unquote(truncate_words(first, limit))


def _without_file_names(text: str) -> str:
    """Each run of path characters loses everything up to its last image extension ("a/b.jpg-x" → "-x").

    Linear time: one regular expression for a whole path (directories, stem, extension) backtracked on long
    runs without one, quadratically (6,000 characters of a hostile description took 4 seconds).
    """

    def cut(run: re.Match[str]) -> str:
        ends = [found.end() for found in _EXTENSION.finditer(run[0])]
        return run[0][ends[-1] :] if ends else run[0]

    return _PATH_RUN.sub(cut, text)


def _unquote(text: str) -> str:
    """Without quotes around the whole text and without a final full stop (or a comma, semicolon or colon left
    dangling), inside or outside the quotes; a quotation that only opens or only closes the text keeps both
    its marks ('He said "hi"' is not a quoted text), and a lone mark at either end goes."""
    while True:
        bare = text.rstrip(" .,;:")
        marks = _quote_marks(bare)
        if marks == [0, len(bare) - 1]:
            text = bare[1:-1].strip()
        elif marks in ([0], [len(bare) - 1]):
            text = (bare[1:] if marks == [0] else bare[:-1]).strip()
        else:
            return bare


def _quote_marks(text: str) -> list[int]:
    """Where quotation marks are; an apostrophe between two letters ("potter's") is not one."""
    return [
        i
        for i, ch in enumerate(text)
        if ch in _QUOTES
        and not (ch in "'’" and 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum())
    ]


def truncate_words(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut after the last whole word that fits (mid-word only when one word is
    longer than the limit)."""
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    cut = head.rsplit(" ", 1)[0].rstrip(" ,;:-") if " " in head else ""
    return cut if cut else text[:limit].rstrip()


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
    """The hour of an ISO 8601 time; ``None`` for missing or malformed ones and for a date alone (which says
    nothing about day or night, though ``datetime`` would read it as midnight)."""
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return None
    try:
        date.fromisoformat(iso)
    except ValueError:
        return moment.hour
    return None


def sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    return capitalise(text) + ("" if text[-1] in ".!?" else ".")
