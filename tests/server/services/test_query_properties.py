"""Property tests (Hypothesis) for the query normaliser shared by the API, the pages and the feedback form."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.services.search import MAX_QUERY, QueryError, clean_query

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")  # C0, C1, bidi
texts = st.text(alphabet=st.characters(codec=None, exclude_categories=("Cs",)), max_size=700)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_the_normaliser_answers_a_clean_query_or_a_query_error_and_nothing_else(raw):
    try:
        query = clean_query(raw)
    except QueryError as exc:
        # refused only when there is nothing to search for, too much of it, or bytes that were not UTF-8 —
        # and the reason says which (the page words its message by it)
        blank = all(c.isspace() or CONTROL.match(c) for c in raw)
        expected = "not_text" if "\ufffd" in raw else "empty" if blank else "too_long"
        assert exc.reason == expected
        assert len(raw) > MAX_QUERY or blank or "\ufffd" in raw
        return
    assert 1 <= len(query) <= MAX_QUERY
    assert not CONTROL.search(query)
    assert query == query.strip() and query == " ".join(query.split())  # no runs of whitespace of any kind
    assert clean_query(query) == query  # idempotent: a cleaned query (e.g. in a vote) cleans to itself


@settings(max_examples=200, deadline=None)
@given(
    st.text(min_size=1, max_size=50).filter(lambda s: s.strip()),
    st.lists(st.sampled_from(" \t\n\r\x0b\x0c\x00\x7f\u00a0\u2003"), max_size=5),
)
def test_whitespace_and_control_characters_around_words_do_not_change_the_query(words, padding):
    try:
        expected = clean_query(words)
    except QueryError:
        return
    pad = "".join(padding)
    assert clean_query(pad + words + pad) == expected


@pytest.mark.parametrize(
    ("raw", "query"),
    [
        ("\u202ecat\u202c photo", "cat photo"),  # right-to-left override around a word
        ("stop\u2067 sign\u2069", "stop sign"),  # an isolate
        ("\u200fשלט עצור\u200e", "שלט עצור"),  # marks around right-to-left words: the words stay
    ],
)
def test_bidirectional_controls_are_removed(raw, query):
    assert clean_query(raw) == query


@pytest.mark.parametrize("raw", ["", " ", "\x00\x01", "\t\n", "\x85\x9f", "caf\ufffd", "a" * (MAX_QUERY + 1)])
def test_examples_that_must_be_refused(raw):
    with pytest.raises(QueryError):
        clean_query(raw)
