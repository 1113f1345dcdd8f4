"""Property tests (Hypothesis) of the browser's result-cache key, run in Chromium.

A cache key must name one search: if two typed queries share a key, the server must treat them as the same
query, or the cache would answer one with the other's results. The key's query part is therefore checked
against the server's own cleaning (``clean_query``) over all of Unicode, in the browser that runs it.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from server.services.search import MAX_QUERY, QueryError, clean_query

SCRIPT = "client/static/js/cache-key.js"
ORIGIN = "http://glimpse.test"
texts = st.text(alphabet=st.characters(codec=None, exclude_categories=("Cs",)), max_size=MAX_QUERY + 50)
names = st.text(alphabet=st.characters(codec=None, exclude_categories=("Cs",), exclude_characters="|"), max_size=12)


def ascii_lower(text: str) -> str:
    return re.sub(r"[A-Z]+", lambda m: m.group(0).lower(), text)


@pytest.fixture(scope="module")
def js(browser, project_root):
    # cache-key.js is an ES module: serve it (and an empty page to import it from) on a made-up origin, import it
    # and call its exports.
    module = f"{ORIGIN}/cache-key.js"
    context = browser.new_context()
    context.route(f"{ORIGIN}/", lambda route: route.fulfill(body="<!doctype html>", content_type="text/html"))
    context.route(module, lambda route: route.fulfill(path=project_root / SCRIPT, content_type="text/javascript"))
    page = context.new_page()
    page.goto(f"{ORIGIN}/")
    page.evaluate("async url => { window.GlimpseCacheKey = await import(url); }", module)

    def call(function: str, *args):
        return page.evaluate(f"args => window.GlimpseCacheKey.{function}(...args)", list(args))

    yield call
    context.close()


@settings(max_examples=500, deadline=None, derandomize=True)
@given(texts)
@example("\ufeffcat")  # JavaScript's \s is whitespace; Python's split() is not
@example("red\x85car")  # NEL: a C1 control character
@example("red\u2028car\u3000")
@example("İSTANBUL Straße ÉTÉ")  # only ASCII letters fold
@example("caf\ufffd")  # undecodable bytes: the server refuses it
@example("  A  Red\tboat ")
def test_the_key_is_the_servers_cleaned_query_with_ascii_folded(js, raw):
    key_text = js("normalise", raw)
    try:
        cleaned = clean_query(raw)
    except QueryError:
        # The server answers 422 and the page caches only 200 answers; an empty key is never even looked up.
        assert key_text == "" or len(key_text) > MAX_QUERY or "\ufffd" in raw
        return
    assert key_text == ascii_lower(cleaned)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(names, st.integers(1, 10**6).map(str), st.text("0123456789abcdef", min_size=1, max_size=16), texts)
def test_the_key_tells_model_versions_and_queries_apart(js, model, version, index, query):
    key = js("key", model, {"version": version, "index": index}, query)
    prefix = js("key", "", {"version": "", "index": ""}, "")[: -len("|||")]
    parts = key.removeprefix(prefix).split("|", 3)
    assert parts == [model, version, index, js("normalise", query)]
