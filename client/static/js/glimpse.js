/* Glimpse page behaviour, layered on HTMX. Without this file (or without JavaScript) every form still works.
 *
 * - Result cache in localStorage: a text search's results fragment is kept per (model name, model version,
 *   index version, normalised query; see cache-key.js) with the k it was fetched for. The same query with
 *   k' <= k is answered from the cache without any request; a larger k asks the server once and replaces the
 *   entry. Entries of other model/index versions are dropped as soon as the page learns the current ones.
 *   Size-capped, LRU.
 * - One polite live region announces "Searching…", the result count or the problem; focus moves to the
 *   results heading after each search.
 * - Feedback buttons post JSON and reflect the vote with aria-pressed.
 */
(function () {
  "use strict";

  var PREFIX = window.GlimpseCacheKey.PREFIX;
  var MAX_ENTRIES = 40;
  var MAX_BYTES = 1500000; // characters of cached HTML, well inside the ~5 MB localStorage quota
  var known = {}; // model name -> {version, index}

  // ------------------------------------------------------------------ small helpers
  var normalise = window.GlimpseCacheKey.normalise; // cache-key.js, loaded before this file

  function announce(message) {
    var region = document.getElementById("announcer");
    if (!region) return;
    region.textContent = "";
    window.setTimeout(function () { region.textContent = message; }, 60);
  }

  // ------------------------------------------------------------------ the cache
  var cache = {
    key: window.GlimpseCacheKey.key,
    read: function (key) {
      try {
        var raw = localStorage.getItem(key);
        return raw ? JSON.parse(raw) : null;
      } catch (e) { return null; }
    },
    entries: function () {
      var out = [];
      for (var i = 0; i < localStorage.length; i++) {
        var key = localStorage.key(i);
        if (key && key.indexOf(PREFIX) === 0) {
          var entry = cache.read(key);
          if (entry) out.push({ key: key, entry: entry });
          else localStorage.removeItem(key);
        }
      }
      return out;
    },
    write: function (key, entry) {
      entry.used = Date.now();
      var text = JSON.stringify(entry);
      if (text.length > MAX_BYTES) return;
      try { localStorage.removeItem(key); } catch (e) { return; }
      cache.evict(text.length);
      try {
        localStorage.setItem(key, text);
      } catch (e) { // quota: make room once and retry, else give up quietly (the cache is an optimisation)
        cache.evict(MAX_BYTES);
        try { localStorage.setItem(key, text); } catch (e2) { /* ignore */ }
      }
    },
    touch: function (key, entry) {
      entry.used = Date.now();
      try { localStorage.setItem(key, JSON.stringify(entry)); } catch (e) { /* ignore */ }
    },
    evict: function (incoming) { // least recently used first, until one more entry of this size fits
      var all = cache.entries().sort(function (a, b) { return a.entry.used - b.entry.used; });
      var total = all.reduce(function (sum, item) { return sum + JSON.stringify(item.entry).length; }, 0);
      while (all.length && (all.length >= MAX_ENTRIES || total + incoming > MAX_BYTES)) {
        var oldest = all.shift();
        total -= JSON.stringify(oldest.entry).length;
        localStorage.removeItem(oldest.key);
      }
    },
    expire: function () { // drop entries made by other versions of a model we now know the versions of
      cache.entries().forEach(function (item) {
        var current = known[item.entry.model];
        if (current && (current.version !== item.entry.version || current.index !== item.entry.index)) {
          localStorage.removeItem(item.key);
        }
      });
    }
  };

  function learnVersions(model, version, index) {
    if (!model || !version || !index) return;
    var before = known[model];
    known[model] = { version: version, index: index };
    if (!before || before.version !== version || before.index !== index) cache.expire();
  }

  // A cached fragment cut to k results, its heading and announcement rewritten for the query as typed now.
  function fragmentFor(entry, k, query) {
    var holder = document.createElement("div");
    holder.innerHTML = entry.html;
    var section = holder.querySelector(".results-section");
    var items = holder.querySelectorAll("ol.results > li");
    for (var i = k; i < items.length; i++) items[i].remove();
    var count = Math.min(k, items.length);
    var noun = count === 1 ? " result" : " results";
    var heading = holder.querySelector("#results-heading");
    if (heading) heading.textContent = count + noun + " for \u201c" + query + "\u201d";
    if (section) {
      section.dataset.count = String(count);
      section.dataset.k = String(k);
      section.dataset.announce = section.dataset.noGoodMatch === "true"
        ? "No good match for " + query + ". Showing the closest " + count + "."
        : count + noun + " for " + query;
    }
    holder.querySelectorAll('input[name="query"]').forEach(function (input) { input.value = query; });
    return holder.innerHTML;
  }

  function searchParams(form) {
    var data = new FormData(form);
    return {
      q: String(data.get("q") || ""),
      k: parseInt(String(data.get("k") || "20"), 10) || 20,
      model: String(data.get("model") || document.body.dataset.defaultModel || "")
    };
  }

  // ------------------------------------------------------------------ after new results arrive
  function resultsArrived() {
    var region = document.getElementById("results");
    if (!region) return;
    region.removeAttribute("aria-busy");
    var section = region.querySelector(".results-section");
    if (!section) return;
    var invalid = (section.dataset.errorFields || "").split(" ").filter(Boolean);
    ["q", "k", "model", "file"].forEach(function (name) {
      var field = document.getElementById(name);
      if (!field) return;
      if (invalid.indexOf(name) >= 0) field.setAttribute("aria-invalid", "true");
      else field.removeAttribute("aria-invalid");
    });
    announce(section.dataset.announce || "");
    var heading = document.getElementById("results-heading");
    if (heading) heading.focus({ preventScroll: false });
  }

  // ------------------------------------------------------------------ wiring
  document.addEventListener("DOMContentLoaded", function () {
    // Colour swatches: set through the DOM, because the Content-Security-Policy forbids inline style attributes.
    document.querySelectorAll(".swatch[data-rgb]").forEach(function (swatch) {
      var parts = swatch.dataset.rgb.split(",").map(Number);
      if (parts.length === 3 && parts.every(function (n) { return n >= 0 && n <= 255; })) {
        swatch.style.backgroundColor = "rgb(" + parts.join(",") + ")";
      }
    });
    try { known = JSON.parse(document.body.dataset.knownVersions || "{}") || {}; } catch (e) { known = {}; }
    try { cache.expire(); } catch (e) { /* storage disabled */ }

    ["k", "model"].forEach(function (name) { // the picture form sends the same options as the text form
      var select = document.getElementById(name);
      if (!select) return;
      select.addEventListener("change", function () {
        document.querySelectorAll('[data-mirror="' + name + '"]').forEach(function (input) { input.value = select.value; });
      });
    });

    var back = document.querySelector("[data-back]");
    if (back && document.referrer && new URL(document.referrer).origin === location.origin && history.length > 1) {
      back.textContent = "Back to results";
      back.addEventListener("click", function (event) { event.preventDefault(); history.back(); });
    }

    var zone = document.getElementById("drop-zone");
    var file = document.getElementById("file");
    if (zone && file && window.DataTransfer) {
      zone.addEventListener("dragover", function (event) { event.preventDefault(); zone.classList.add("dragging"); });
      zone.addEventListener("dragleave", function () { zone.classList.remove("dragging"); });
      zone.addEventListener("drop", function (event) {
        event.preventDefault();
        zone.classList.remove("dragging");
        if (!event.dataTransfer || !event.dataTransfer.files.length) return;
        var transfer = new DataTransfer();
        transfer.items.add(event.dataTransfer.files[0]);
        file.files = transfer.files;
        announce("Picture chosen: " + event.dataTransfer.files[0].name + ". Press Search with this picture.");
      });
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.id === "search-form") {
      var params = searchParams(form);
      var versions = known[params.model];
      if (versions && normalise(params.q)) {
        var key = cache.key(params.model, versions, params.q);
        var entry = cache.read(key);
        if (entry && entry.k >= params.k) {
          event.preventDefault(); // answered here: no request
          cache.touch(key, entry);
          var region = document.getElementById("results");
          region.innerHTML = fragmentFor(entry, params.k, params.q.replace(/\s+/g, " ").trim());
          if (window.htmx) window.htmx.process(region);
          var url = "/search?" + new URLSearchParams({ q: params.q, k: String(params.k), model: params.model });
          history.pushState({ glimpse: true }, "", url);
          resultsArrived();
          return;
        }
      }
    }
    var target = document.getElementById("results");
    if (target && event.detail.target === target) {
      target.setAttribute("aria-busy", "true");
      announce("Searching\u2026");
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    var form = event.detail.elt;
    if (!xhr || !event.detail.successful) return;
    var model = xhr.getResponseHeader("X-Glimpse-Model");
    var version = xhr.getResponseHeader("X-Glimpse-Model-Version");
    var index = xhr.getResponseHeader("X-Glimpse-Index-Version");
    learnVersions(model, version, index);
    if (form && form.id === "search-form" && xhr.status === 200 && model && version && index) {
      var params = searchParams(form);
      try {
        cache.write(cache.key(model, known[model], params.q), {
          model: model, version: version, index: index, k: params.k, html: xhr.responseText
        });
      } catch (e) { /* storage disabled or full */ }
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "results") resultsArrived();
  });

  document.addEventListener("htmx:responseError", function () {
    var region = document.getElementById("results");
    if (region) region.removeAttribute("aria-busy");
    announce("The search failed. Please try again.");
  });

  document.addEventListener("htmx:sendError", function () {
    var region = document.getElementById("results");
    if (region) region.removeAttribute("aria-busy");
    announce("The server cannot be reached. Check the connection and try again.");
  });

  // Feedback: JSON to the API, aria-pressed shows the vote; without JavaScript the form posts and comes back.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("feedback")) return;
    event.preventDefault();
    var button = event.submitter;
    if (!button || button.getAttribute("aria-pressed") === "true") {
      announce("Already recorded. Thank you.");
      return;
    }
    var data = new FormData(form);
    var body = { image_id: data.get("image_id"), vote: button.value, model_version: data.get("model_version"),
                 rank: parseInt(String(data.get("rank")), 10) || null };
    if (data.get("query")) body.query = data.get("query");
    if (data.get("query_image_id")) body.query_image_id = data.get("query_image_id");
    fetch("/api/feedback", {
      method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (!response.ok) {
        return response.json().catch(function () { return {}; }).then(function (problem) {
          throw new Error(problem.message || "the server said " + response.status);
        });
      }
      form.querySelectorAll("button.vote").forEach(function (other) {
        other.setAttribute("aria-pressed", other === button ? "true" : "false");
      });
      announce(button.value === "up" ? "Thanks: recorded as a good match." : "Thanks: recorded as not a match.");
    }).catch(function (error) {
      announce("Your feedback was not saved: " + error.message);
    });
  });
})();
