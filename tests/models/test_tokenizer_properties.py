"""Queries that share a browser cache key are one search: every text tokenizer folds ASCII letter case.

The page's result cache (client/static/js/cache-key.js) keys a query by the server's cleaned text with ASCII
letters lower-cased, so a cached "A red boat" answers "a red boat". That is sound only while the encoders
cannot tell the two apart, which this checks for the default model's tokenizer and an exported CLIP bundle's.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

texts = st.text(alphabet=st.characters(codec=None, exclude_categories=("Cs", "Cc")), max_size=200)


def ascii_lower(text: str) -> str:
    return re.sub(r"[A-Z]+", lambda m: m.group(0).lower(), text)


@pytest.fixture(scope="module", params=["default", "clip-bundle"])
def tokenizer(request) -> Tokenizer:
    if request.param == "default":
        from models.encoders.minilm import minilm_dir

        return Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    bundle = request.getfixturevalue("tiny_bundle")
    return Tokenizer.from_file(str(bundle / "tokenizer.json"))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(texts)
def test_ascii_case_does_not_change_the_tokens(tokenizer, text):
    assert tokenizer.encode(text).ids == tokenizer.encode(ascii_lower(text)).ids


def test_the_property_is_not_vacuous(tokenizer):
    assert tokenizer.encode("a red boat").ids != tokenizer.encode("a blue boat").ids
