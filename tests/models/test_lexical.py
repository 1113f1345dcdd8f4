"""The word index (SQLite FTS5, BM25), the fusion with dense scores, and the reasons given for a match."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from models.lexical import LexicalIndex, misread, objects_text, query_terms, reasons

ROWS = [
    {"image_id": "sign", "objects": "stop sign", "text": "STOP", "description": "A red sign.", "source": ""},
    {"image_id": "yak", "objects": "", "text": "", "description": "A dark animal.", "source": "A yak"},
    {"image_id": "dogs", "objects": "two dog", "text": "", "description": "Two dogs on grass.", "source": ""},
    {"image_id": "people", "objects": "two " + objects_text(["person"]), "text": "", "description": "", "source": ""},
]


@pytest.fixture
def index(tmp_path: Path) -> LexicalIndex:
    return LexicalIndex(LexicalIndex.build(ROWS, tmp_path / "words.sqlite", weight=0.05, exact_weight=0.3))


def test_words_are_stemmed_ranked_and_told_where_they_matched(index: LexicalIndex) -> None:
    assert (index.weight, index.exact_weight, index.count) == (0.05, 0.3, 4)
    hits = index.search("a dog", 10)
    assert [h.image_id for h in hits] == ["dogs"]
    assert index.fields("a dog", ["dogs", "yak"]) == {"dogs": ("objects", "description")}  # yak: no dog word
    assert index.fields("a dog", []) == {} and index.fields("the", ["dogs"]) == {}
    assert [h.image_id for h in index.search("women walking", 10)] == ["people"]  # "person" in people's words
    assert index.search("the of a", 10) == [] and index.search("", 10) == []
    assert [h.image_id for h in index.search('"; DROP TABLE docs; --', 10)] == []  # quoted, never SQL


def test_the_words_of_the_request_match_nothing(index: LexicalIndex, tmp_path: Path) -> None:
    rows = [
        {
            "image_id": "dog",
            "objects": "dog",
            "text": "",
            "description": "It shows a dog. A landscape picture.",
            "source": "",
        },
        {
            "image_id": "cat",
            "objects": "cat",
            "text": "",
            "description": "It shows a cat. A square picture.",
            "source": "",
        },
    ]
    shown = LexicalIndex(LexicalIndex.build(rows, tmp_path / "shown.sqlite", weight=0.05, exact_weight=0.3))
    assert query_terms("Show me a photo of a dog") == ["dog"]
    assert [h.image_id for h in shown.search("show me a photo of a dog", 10)] == ["dog"]
    assert shown.fields("find pictures of a dog", ["dog", "cat"]) == {"dog": ("objects", "description")}
    assert shown.search("show me some pictures", 10) == []


def test_exact_means_every_word_in_the_source_or_the_text_read(index: LexicalIndex) -> None:
    yak = index.search("yak", 10)
    assert [(h.image_id, h.exact) for h in yak] == [("yak", True)]
    sign = {h.image_id: h for h in index.search("stop sign", 10)}
    assert not sign["sign"].exact  # "sign" is in the objects and description, not in the text read
    assert {h.image_id: h.exact for h in index.search("stop", 10)} == {"sign": True}


def test_a_broken_index_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "words.sqlite"
    path.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(ValueError, match="cannot be read"):
        LexicalIndex(path)
    with pytest.raises(FileNotFoundError):
        LexicalIndex(tmp_path / "absent.sqlite")


def test_query_terms_and_reasons() -> None:
    assert query_terms("Two DOGS, on the grass!") == ["two", "dogs", "grass"]
    assert reasons("two women", [("person", 2), ("dog", 1)], "", ()) == ["2 people"]
    assert reasons("dogs", [("dog", 3)], "", ("objects",)) == ["3 dogs"]
    assert reasons("stop sign", [("stop sign", 1)], "STOP", ()) == ["stop sign", 'text: "STOP"']
    assert reasons("yak", [], "", ("source",)) == ["words of its source"]
    assert reasons("cat", [("dog", 1)], "", ()) == []


MISREAD_ROWS = [  # the text as the reader got it; "misread" as the pipeline keeps it (words in no dictionary)
    {"image_id": "museum", "text": "BRANDYWINE RIVER MUSEUM PENNSYINANIA", "misread": "brandywine pennsyinania"},
    {"image_id": "petrol", "text": "HESS EGULAR 281 REMIUM 306", "misread": "egular hess remium"},
    {"image_id": "corner", "text": "YIELD", "misread": ""},
    {"image_id": "field", "objects": "sheep", "description": "A sheep in a field in Pennsylvania."},
]


@pytest.fixture
def misread_index(tmp_path: Path) -> LexicalIndex:
    return LexicalIndex(LexicalIndex.build(MISREAD_ROWS, tmp_path / "words.sqlite", weight=0.05, exact_weight=0.3))


def test_a_query_word_finds_the_text_read_with_a_letter_or_two_misread(misread_index: LexicalIndex) -> None:
    assert misread("pennsylvania", "pennsyinania") and misread("premium", "remium") and misread("regular", "egular")
    assert not misread("premium", "premium") and not misread("field", "yields") and not misread("cake", "came")
    assert misread_index.misread_as("Pennsylvania museum") == {"pennsylvania": ["pennsyinania"]}
    hits = {h.image_id: h for h in misread_index.search("Pennsylvania museum", 10)}
    assert hits["museum"].exact and not hits["field"].exact  # every word is in the text read, one misread
    assert misread_index.fields("Pennsylvania museum", ["museum", "field"]) == {
        "museum": ("text",),
        "field": ("description",),
    }
    regular = misread_index.search("regular premium", 10)
    assert [(h.image_id, h.exact) for h in regular] == [("petrol", True)]


def test_words_read_right_and_short_words_are_never_taken_for_misreadings(misread_index: LexicalIndex) -> None:
    assert misread_index.misread_as("a sheep in a field") == {}  # "yield" was read right: not a candidate
    assert [h.image_id for h in misread_index.search("field", 10)] == ["field"]
    assert misread_index.misread_as("hers") == {}  # four letters: one edit from too many words
    assert misread_index.misread_as('"; DROP TABLE read_words; --') == {}


def test_an_index_without_words_read_has_no_misreadings(index: LexicalIndex, tmp_path: Path) -> None:
    assert not index.misreads and index.misread_as("Pennsylvania") == {}
    older = LexicalIndex.build(MISREAD_ROWS, tmp_path / "older.sqlite")  # as built before words read were kept
    with sqlite3.connect(older) as db:
        db.execute("DROP TABLE read_words")
    db.close()
    legacy = LexicalIndex(older)
    assert not legacy.misreads and [h.image_id for h in legacy.search("museum", 10)] == ["museum"]


def test_reasons_show_the_misread_text_only_when_the_index_matched_the_text() -> None:
    assert reasons("premium fuel", [], "HESS REMIUM 306", ("text",)) == ['text: "REMIUM"']
    assert reasons("premium fuel", [], "HESS REMIUM 306", ("description",)) == ["words in its description"]


def test_has_word_answers_for_any_field_stemmed_and_never_as_sql(index: LexicalIndex) -> None:
    assert index.has_word("yak") and index.has_word("Dogs") and index.has_word("stop")
    assert index.has_word("signs")  # stemmed as the index is
    assert not index.has_word("giraffe") and not index.has_word("") and not index.has_word("   ")
    assert not index.has_word('"; DROP TABLE docs; --')
