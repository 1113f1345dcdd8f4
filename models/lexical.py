"""Word search over what was seen in each picture: detected objects, text read in it, its descriptions and the
collection's own words, ranked by BM25 in SQLite's FTS5 (Porter stemming: "dogs" finds "dog").

The dense embedding knows what pictures look like; this finds the exact words — a shop sign's name, "two
dogs", a title — that an embedding blurs. The server fuses both rankings (models/fusion.py). The index is one
SQLite file built by the pipeline next to the vector indexes and opened read-only by the server.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from models.atomic import atomic_path

WORDS_FILE = "words.sqlite"  # beside a version's vector indexes: <index root>/<bundle version>/words.sqlite
FIELDS = ("objects", "text", "description", "source")
# BM25 weight per field: what the detector saw and the text in the picture are the strongest evidence.
WEIGHTS = {"objects": 2.0, "text": 2.0, "description": 1.0, "source": 1.0}
_STOPWORDS = """a an the of on in at to with and or for by from is are was were be been this that these those it
its there their his her he she they them some very into onto near next up down over under out off while as has
have having who which what where"""
# Words of the request itself ("show me photos of …", "find a picture of …"). The describer's wording puts some in
# every description ("It shows", "A landscape picture"): they matched every picture, and every result of a spoken
# "show me a photo of …" said "matched: words in its description".
_REQUEST_WORDS = "show shows showing me find search photo photos picture pictures image images"
STOPWORDS = frozenset(_STOPWORDS.split()) | frozenset(_REQUEST_WORDS.split())
# Words people use for what the COCO detector calls "person" (captions say "man", "woman", "kids" …).
PERSON_WORDS = "person people man men woman women boy boys girl girls child children kid kids guy guys lady ladies"
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_PERSON = frozenset(PERSON_WORDS.split())
# Text read in pictures has misread letters ("PENNSYINANIA", "REMIUM", "DAKLEY"): a query word of at least
# MISREAD_MIN letters also matches a word read within one edit of it (two from MISREAD_TWO letters). Shorter words
# stay exact: "cake" is one edit from "came", "care" and "lake".
MISREAD_MIN = 5
MISREAD_TWO = 8


def query_terms(query: str) -> list[str]:
    """The words of a query worth matching, lower-cased, each once, stopwords out."""
    seen: dict[str, None] = {}
    for token in _TOKEN.findall(query.lower()):
        if token not in STOPWORDS and (len(token) > 1 or token.isdigit()):
            seen.setdefault(token, None)
    return list(seen)


def misread(term: str, word: str) -> bool:
    """Whether ``word``, read in a picture, may be the query word ``term`` with a letter or two misread."""
    if len(term) < MISREAD_MIN or term == word:
        return False
    allowed = 2 if len(term) >= MISREAD_TWO else 1
    return Levenshtein.distance(term, word, score_cutoff=allowed) <= allowed


def read_words(text: str) -> set[str]:
    """The words of a picture's text that a misread query word may match: lower-case letters, long enough (the
    pipeline keeps those in no dictionary)."""
    return {w for w in _TOKEN.findall(text.lower()) if len(w) >= MISREAD_MIN - 1 and w.isalpha()}


def objects_text(labels: Iterable[str]) -> str:
    """The words a search may use for the detected classes ("person" also matches "man", "girls" …)."""
    words = []
    for label in labels:
        words.append(PERSON_WORDS if label == "person" else label)
    return " ".join(words)


@dataclass(frozen=True)
class Hit:
    image_id: str
    score: float  # BM25, higher is better (FTS5's rank negated)
    exact: bool = False  # every query word is in the collection's own words or in the text read in the picture


class LexicalIndex:
    """A read-only FTS5 index: ``docs(image_id, objects, text, description, source)``."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no word index at {self.path}")
        self._uri = f"file:{self.path}?mode=ro&immutable=1"
        try:
            with sqlite3.connect(self._uri, uri=True) as db:
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
                self.count = db.execute("SELECT count(*) FROM docs").fetchone()[0]
                tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                # indexes built before it have no table of words read; a collection may have none read
                misreads = (
                    "read_words" in tables and db.execute("SELECT EXISTS (SELECT 1 FROM read_words)").fetchone()[0]
                )
            db.close()
        except sqlite3.Error as exc:
            raise ValueError(f"the word index {self.path} cannot be read ({exc})") from None
        self._local = threading.local()  # one read-only connection per serving thread, kept open
        self.weight = float(meta.get("weight", 0.0))  # how much a word match adds to the dense score
        self.exact_weight = float(meta.get("exact_weight", 0.0))  # and a match of every word in source or text
        self.misreads = bool(misreads)  # whether a query word may match a word misread in a picture
        self._misread_as = lru_cache(maxsize=1024)(self._find_misread)  # asked by search, then by fields
        self._has_word = lru_cache(maxsize=4096)(self._find_word)

    @staticmethod
    def build(rows: Iterable[dict[str, str]], path: Path | str, weight: float = 0.0, exact_weight: float = 0.0) -> Path:
        """Write the index for ``rows`` (dicts with image_id and the FIELDS) to ``path``, atomically;
        ``weight`` and ``exact_weight`` are the fusion weights the server uses with it."""
        path = Path(path)
        rows = list(rows)
        with atomic_path(path) as temp:
            with sqlite3.connect(temp) as db:
                columns = ", ".join(FIELDS)
                db.execute(f"CREATE VIRTUAL TABLE docs USING fts5(image_id UNINDEXED, {columns}, tokenize='porter')")
                db.executemany(
                    f"INSERT INTO docs (image_id, {columns}) VALUES (?, {', '.join('?' * len(FIELDS))})",
                    ([row["image_id"], *(row.get(f) or "" for f in FIELDS)] for row in rows),
                )
                db.execute("INSERT INTO docs(docs) VALUES ('optimize')")
                # The words read in pictures that are in no dictionary (a row's "misread"), by their letter
                # triples: the candidates a misread query word has. "YIELD" is read right and never one of them.
                db.execute("CREATE VIRTUAL TABLE read_words USING fts5(word, tokenize='trigram')")
                words = sorted(set().union(*((row.get("misread") or "").split() for row in rows)))
                db.executemany("INSERT INTO read_words (word) VALUES (?)", ((w,) for w in words))
                db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
                db.execute("INSERT INTO meta VALUES ('weight', ?)", (str(float(weight)),))
                db.execute("INSERT INTO meta VALUES ('exact_weight', ?)", (str(float(exact_weight)),))
            db.close()
        return path

    def _db(self) -> sqlite3.Connection:
        """This thread's connection: opening one per query cost more than the query (and its page cache)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self._uri, uri=True)
        return db

    def has_word(self, word: str) -> bool:
        """Whether any picture's document holds ``word`` (stemmed as the index is: "lassies" holds "Lassie"); the
        query speller never corrects such a word (models/spelling.py)."""
        return self._has_word(word.lower())

    def _find_word(self, word: str) -> bool:
        if not word.strip():
            return False
        found = self._db().execute("SELECT 1 FROM docs WHERE docs MATCH ? LIMIT 1", (_quote(word),)).fetchone()
        return found is not None

    def misread_as(self, query: str) -> dict[str, list[str]]:
        """Per query word, the words read in pictures that may be it misread (none for short or exact words)."""
        return self._misread_as(query) if self.misreads else {}

    def _find_misread(self, query: str) -> dict[str, list[str]]:
        db = self._db()
        out = {}
        for term in query_terms(query):
            if len(term) < MISREAD_MIN or not term.isalpha():
                continue
            triples = " OR ".join(f'"{term[i : i + 3]}"' for i in range(len(term) - 2))
            found = db.execute(
                "SELECT word FROM read_words WHERE read_words MATCH ? ORDER BY rank LIMIT 50", (triples,)
            ).fetchall()
            near = [word for (word,) in found if misread(term, word)]
            if near:
                out[term] = near
        return out

    def _matches(self, query: str) -> list[str]:
        """FTS5 expressions, one per query word: the word anywhere, or a misreading of it in the text read."""
        variants = self.misread_as(query)
        out = []
        for term in query_terms(query):
            quoted = _quote(term)
            if term in variants:
                quoted = f"({quoted} OR {{text}} : ({' OR '.join(_quote(w) for w in variants[term])}))"
            out.append(quoted)
        return out

    def search(self, query: str, k: int = 100) -> list[Hit]:
        """The best ``k`` documents matching any of the query's words, best first."""
        terms = self._matches(query)
        if not terms:
            return []
        weights = ", ".join(str(WEIGHTS[f]) for f in FIELDS)
        db = self._db()
        rows = db.execute(
            f"SELECT image_id, -bm25(docs, 0, {weights}) FROM docs WHERE docs MATCH ? "
            f"ORDER BY bm25(docs, 0, {weights}) LIMIT ?",
            (" OR ".join(terms), int(k)),
        ).fetchall()
        exact = {
            row[0]
            for row in db.execute(
                "SELECT image_id FROM docs WHERE docs MATCH ?", ("{source text} : (" + " AND ".join(terms) + ")",)
            )
        }
        return [Hit(image_id, float(score), image_id in exact) for image_id, score in rows]

    def fields(self, query: str, image_ids: list[str]) -> dict[str, tuple[str, ...]]:
        """The fields any query word matched in, per image, for "why it matched": asked only for the few
        results shown (highlighting every candidate cost as much as the ranking)."""
        terms = self._matches(query)
        if not terms or not image_ids:
            return {}
        highlights = ", ".join(f"highlight(docs, {i + 1}, char(1), '')" for i in range(len(FIELDS)))
        marks = ", ".join("?" * len(image_ids))
        rows = self._db().execute(
            f"SELECT image_id, {highlights} FROM docs WHERE docs MATCH ? AND image_id IN ({marks})",
            (" OR ".join(terms), *image_ids),
        )
        return {row[0]: tuple(f for f, marked in zip(FIELDS, row[1:], strict=True) if "\x01" in marked) for row in rows}


def _quote(word: str) -> str:
    """A word as an FTS5 string literal (so no word is read as an operator)."""
    return '"' + word.replace('"', '""') + '"'


def _stem(word: str) -> str:
    """Enough stemming to tell "dogs" is "dog" and "buses" is "bus" when explaining a match."""
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def reasons(query: str, objects: Iterable[tuple[str, int]], text: str, fields: tuple[str, ...]) -> list[str]:
    """Why a result matched, briefly, for people: "2 people", "dog", 'text: "STOP"', "description".

    ``objects``: (spoken name, count) as the description tallied them; ``text``: the text read in the picture;
    ``fields``: where the word index found query words.
    """
    terms = {_stem(t) for t in query_terms(query)}
    out = []
    for name, count in objects:
        words = {_stem(w) for w in name.lower().split()}
        if (name == "person" and terms & {_stem(w) for w in _PERSON}) or words & terms:
            if name == "person":
                out.append(f"{count} people" if count > 1 else "a person")
            else:
                out.append(f"{count} {name}s" if count > 1 else name)
    misreads = "text" in fields  # the word index matched the text read: a misreading of a query word may be why
    read = [
        w
        for w in _TOKEN.findall(text)
        if _stem(w.lower()) in terms or (misreads and any(misread(t, w.lower()) for t in terms))
    ]
    if read:
        out.append(f'text: "{" ".join(dict.fromkeys(read))}"')
    if not out and "source" in fields:
        out.append("words of its source")
    elif not out and "description" in fields:
        out.append("words in its description")
    return out
