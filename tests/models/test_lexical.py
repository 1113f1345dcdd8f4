"""The word index (SQLite FTS5, BM25), the fusion with dense scores, and the reasons given for a match."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.lexical import LexicalIndex, objects_text, query_terms, reasons

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
