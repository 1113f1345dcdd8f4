/* The key of the result cache in localStorage (used by glimpse.js).
 *
 * A key must name one query: two queries with the same key must be one search to the server, or the cache
 * would answer one with the other's results. So the query part is the server's own cleaning
 * (clean_query in server/services/search.py: control and bidi formatting characters become spaces, runs of
 * Python's whitespace become one space, ends trimmed) with only ASCII letters lower-cased, which every text encoder's tokenizer
 * folds too. Other letters keep their case: lower-casing rules differ between browsers, Python and tokenizers.
 * tests/e2e/test_cache_key_properties.py checks this in Chromium against the server's function.
 */

export const PREFIX = "glimpse.results.v1:";
// C0 and C1 control characters (U+0000-U+001F, U+007F-U+009F: the general category Cc is exactly those) and
// the bidirectional formatting characters the server removes too (marks, embeddings, overrides, isolates).
const CONTROL = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+/gu;
// What Python's str.split() splits on, once control characters are gone (JavaScript's \s adds U+FEFF).
const SPACE = /[ \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;

/** The query part of a key: the server's cleaned query with ASCII letters lower-cased. */
export function normalise(query) {
  return String(query)
    .replace(CONTROL, " ")
    .replace(SPACE, " ")
    .replace(/^ | $/g, "")
    .replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/** The localStorage key of one search: model name, its version, the index version and the query. */
export function key(model, versions, query) {
  return PREFIX + [model, versions.version, versions.index, normalise(query)].join("|");
}
