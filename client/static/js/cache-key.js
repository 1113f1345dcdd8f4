/* The key of the result cache in localStorage (used by glimpse.js).
 *
 * A key must name one query: two queries with the same key must be one search to the server, or the cache
 * would answer one with the other's results. So the query part is the server's own cleaning
 * (clean_query in server/api/routes/search.py: control characters become spaces, runs of Python's whitespace
 * become one space, ends trimmed) with only ASCII letters lower-cased, which every text encoder's tokenizer
 * folds too. Other letters keep their case: lower-casing rules differ between browsers, Python and tokenizers.
 * tests/e2e/test_cache_key_properties.py checks this in Chromium against the server's function.
 */
(function (root) {
  "use strict";

  var PREFIX = "glimpse.results.v1:";
  var CONTROL = /[\u0000-\u001f\u007f-\u009f]+/g;
  // What Python's str.split() splits on, once control characters are gone (JavaScript's \s adds U+FEFF).
  var SPACE = /[ \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;

  function normalise(query) {
    return String(query)
      .replace(CONTROL, " ")
      .replace(SPACE, " ")
      .replace(/^ | $/g, "")
      .replace(/[A-Z]+/g, function (letters) { return letters.toLowerCase(); });
  }

  function key(model, versions, query) {
    return PREFIX + [model, versions.version, versions.index, normalise(query)].join("|");
  }

  root.GlimpseCacheKey = { PREFIX: PREFIX, normalise: normalise, key: key };
})(window);
