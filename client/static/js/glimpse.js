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

import { announce } from "./announce.js";
import { PREFIX, key as cacheKey, normalise } from "./cache-key.js";

const MAX_ENTRIES = 40;
const MAX_BYTES = 1500000; // characters of cached HTML, well inside the ~5 MB localStorage quota
let known = {}; // model name -> {version, index}

// ------------------------------------------------------------------ the cache
const cache = {
  read(key) {
    try {
      const raw = localStorage.getItem(key);
      return raw ? JSON.parse(raw) : null;
    } catch { return null; }
  },
  entries() {
    const out = [];
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (key && key.startsWith(PREFIX)) {
        const entry = cache.read(key);
        if (entry) out.push({ key, entry });
        else localStorage.removeItem(key);
      }
    }
    return out;
  },
  write(key, entry) {
    entry.used = Date.now();
    const text = JSON.stringify(entry);
    if (text.length > MAX_BYTES) return;
    try { localStorage.removeItem(key); } catch { return; }
    cache.evict(text.length);
    try {
      localStorage.setItem(key, text);
    } catch { // quota: make room once and retry, else give up quietly (the cache is an optimisation)
      cache.evict(MAX_BYTES);
      try { localStorage.setItem(key, text); } catch { /* ignore */ }
    }
  },
  touch(key, entry) {
    entry.used = Date.now();
    try { localStorage.setItem(key, JSON.stringify(entry)); } catch { /* ignore */ }
  },
  evict(incoming) { // least recently used first, until one more entry of this size fits
    const all = cache.entries().sort((a, b) => a.entry.used - b.entry.used);
    let total = all.reduce((sum, item) => sum + JSON.stringify(item.entry).length, 0);
    while (all.length && (all.length >= MAX_ENTRIES || total + incoming > MAX_BYTES)) {
      const oldest = all.shift();
      total -= JSON.stringify(oldest.entry).length;
      localStorage.removeItem(oldest.key);
    }
  },
  expire() { // drop entries made by other versions of a model we now know the versions of
    for (const item of cache.entries()) {
      const current = known[item.entry.model];
      if (current && (current.version !== item.entry.version || current.index !== item.entry.index)) {
        localStorage.removeItem(item.key);
      }
    }
  },
};

function learnVersions(model, version, index) {
  if (!model || !version || !index) return;
  const before = known[model];
  known[model] = { version, index };
  if (!before || before.version !== version || before.index !== index) cache.expire();
}

// A cached fragment cut to k results, its heading and announcement rewritten for the query as typed now (or
// for the query searched, when the server respelled it: the fragment says so).
function fragmentFor(entry, k, typedNow) {
  const holder = document.createElement("div");
  holder.innerHTML = entry.html;
  const section = holder.querySelector(".results-section");
  const respelled = section && section.dataset.typed;
  const query = respelled ? section.dataset.query : typedNow;
  const items = holder.querySelectorAll("ol.results > li");
  for (let i = k; i < items.length; i++) items[i].remove();
  const count = Math.min(k, items.length);
  const noun = count === 1 ? " result" : " results";
  const heading = holder.querySelector("#results-heading");
  if (heading) heading.textContent = count + noun + " for \u201c" + query + "\u201d";
  if (section) {
    section.dataset.count = String(count);
    section.dataset.k = String(k);
    const said = section.dataset.noGoodMatch === "true"
      ? "No good match for " + query + ". Showing the closest " + count + "."
      : count + noun + " for " + query;
    section.dataset.announce = respelled
      ? said + (said.endsWith(".") ? " " : ". ") + "Searched for " + query + " instead of " + section.dataset.typed + "."
      : said;
  }
  holder.querySelectorAll('input[name="query"]').forEach((input) => { input.value = query; });
  return holder.innerHTML;
}

function searchParams(form) {
  const data = new FormData(form);
  return {
    q: String(data.get("q") || ""),
    k: parseInt(String(data.get("k") || "20"), 10) || 20,
    model: String(data.get("model") || document.body.dataset.defaultModel || ""),
  };
}

function notBusy() {
  const region = document.getElementById("results");
  if (region) region.removeAttribute("aria-busy");
}

// ------------------------------------------------------------------ after new results arrive
function resultsArrived() {
  const region = document.getElementById("results");
  if (!region) return;
  region.removeAttribute("aria-busy");
  const section = region.querySelector(".results-section");
  if (!section) return;
  const invalid = (section.dataset.errorFields || "").split(" ").filter(Boolean);
  for (const name of ["q", "k", "model", "file"]) {
    const field = document.getElementById(name);
    if (!field) continue;
    // The field says why it is invalid: the summary's message joins its description (and leaves it when fixed).
    const message = "summary-error-" + name;
    const described = (field.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== message);
    if (invalid.includes(name)) {
      field.setAttribute("aria-invalid", "true");
      described.push(message);
    } else {
      field.removeAttribute("aria-invalid");
    }
    if (described.length) field.setAttribute("aria-describedby", described.join(" "));
    else field.removeAttribute("aria-describedby");
  }
  announce(section.dataset.announce || "");
  const heading = document.getElementById("results-heading");
  if (heading) heading.focus({ preventScroll: false });
  document.dispatchEvent(new CustomEvent("glimpse:results")); // hands-free.js reads a spoken search's results
}

// ------------------------------------------------------------------ wiring
// A picture over the server's limit is refused here, before a long upload: the field becomes invalid, so neither
// HTMX nor the browser's own submit sends it, and the reason is shown under the field and announced.
// Any new choice also clears what was said about the previous file (the server's summary or message).
function checkSize(file) {
  const limit = Number(file.form.dataset.maxBytes) || 0;
  const chosen = file.files && file.files[0];
  const mb = (bytes) => (bytes / 1048576).toFixed(1).replace(/\.0$/, "");
  let message = "";
  if (limit && chosen && chosen.size > limit) {
    message = mb(chosen.size) === mb(limit) // "10 MB; the limit is 10 MB" would not say what is wrong
      ? "The picture is just over the " + mb(limit) + " MB limit. Choose a smaller picture."
      : "The picture is " + mb(chosen.size) + " MB; the limit is " + mb(limit) + " MB. Choose a smaller picture.";
  }
  const section = document.querySelector("#results .results-section");
  if (section && (section.dataset.errorFields || "").split(" ").includes("file")) section.remove();
  const stale = document.getElementById("file-error");
  if (stale) stale.remove();
  const described = (file.getAttribute("aria-describedby") || "").split(" ")
    .filter((id) => id && id !== "file-error" && id !== "summary-error-file");
  file.setCustomValidity(message);
  if (message) {
    const shown = document.createElement("p");
    shown.id = "file-error";
    shown.className = "field-error";
    shown.textContent = message;
    (document.getElementById("file-hint") || file).after(shown);
    described.push("file-error");
    file.setAttribute("aria-invalid", "true");
    announce(message);
  } else {
    file.removeAttribute("aria-invalid");
  }
  if (described.length) file.setAttribute("aria-describedby", described.join(" "));
  else file.removeAttribute("aria-describedby");
  return !message;
}

function setUp() {
  // Colour swatches: set through the DOM, because the Content-Security-Policy forbids inline style attributes.
  document.querySelectorAll(".swatch[data-rgb]").forEach((swatch) => {
    const parts = swatch.dataset.rgb.split(",").map(Number);
    if (parts.length === 3 && parts.every((n) => n >= 0 && n <= 255)) {
      swatch.style.backgroundColor = "rgb(" + parts.join(",") + ")";
    }
  });
  try { known = JSON.parse(document.body.dataset.knownVersions || "{}") || {}; } catch { known = {}; }
  try { cache.expire(); } catch { /* storage disabled */ }

  for (const name of ["k", "model"]) { // the picture form sends the same options as the text form
    const select = document.getElementById(name);
    if (!select) continue;
    select.addEventListener("change", () => {
      document.querySelectorAll('[data-mirror="' + name + '"]').forEach((input) => { input.value = select.value; });
    });
  }

  const back = document.querySelector("[data-back]");
  if (back && document.referrer && new URL(document.referrer).origin === location.origin && history.length > 1) {
    back.textContent = "Back to results";
    back.addEventListener("click", (event) => { event.preventDefault(); history.back(); });
  }

  const zone = document.getElementById("drop-zone");
  const file = document.getElementById("file");
  if (file && file.form) file.addEventListener("change", () => checkSize(file));
  if (zone && file && window.DataTransfer) {
    zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("dragging"); });
    zone.addEventListener("dragleave", () => { zone.classList.remove("dragging"); });
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      const transfer = new DataTransfer();
      transfer.items.add(event.dataTransfer.files[0]);
      file.files = transfer.files;
      if (checkSize(file)) {
        announce("Picture chosen: " + event.dataTransfer.files[0].name + ". Press Search with this picture.");
      }
    });
  }
}

// A module script runs once the page is parsed and before DOMContentLoaded, so this waits for the event, as the
// page always has: after HTMX (a deferred script before this one) has set up its own listener for it.
document.addEventListener("DOMContentLoaded", setUp);

document.addEventListener("htmx:beforeRequest", (event) => {
  const form = event.detail.elt;
  if (form && form.id === "search-form") {
    const params = searchParams(form);
    const versions = known[params.model];
    if (versions && normalise(params.q)) {
      const key = cacheKey(params.model, versions, params.q);
      const entry = cache.read(key);
      if (entry && entry.k >= params.k) {
        event.preventDefault(); // answered here: no request
        cache.touch(key, entry);
        const region = document.getElementById("results");
        region.innerHTML = fragmentFor(entry, params.k, params.q.replace(/\s+/g, " ").trim());
        if (window.htmx) window.htmx.process(region);
        const url = "/search?" + new URLSearchParams({ q: params.q, k: String(params.k), model: params.model });
        history.pushState({ glimpse: true }, "", url);
        resultsArrived();
        return;
      }
    }
  }
  const target = document.getElementById("results");
  if (target && event.detail.target === target) {
    target.setAttribute("aria-busy", "true");
    announce("Searching\u2026");
  }
});

document.addEventListener("htmx:afterRequest", (event) => {
  const xhr = event.detail.xhr;
  const form = event.detail.elt;
  if (!xhr || !event.detail.successful) return;
  const model = xhr.getResponseHeader("X-Glimpse-Model");
  const version = xhr.getResponseHeader("X-Glimpse-Model-Version");
  const index = xhr.getResponseHeader("X-Glimpse-Index-Version");
  learnVersions(model, version, index);
  if (form && form.id === "search-form" && xhr.status === 200 && model && version && index) {
    const params = searchParams(form);
    try {
      cache.write(cacheKey(model, known[model], params.q), {
        model, version, index, k: params.k, html: xhr.responseText,
      });
    } catch { /* storage disabled or full */ }
  }
});

document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target && event.detail.target.id === "results") resultsArrived();
});

document.addEventListener("htmx:responseError", () => {
  notBusy();
  announce("The search failed. Please try again.");
});

document.addEventListener("htmx:validation:halted", (event) => {
  const invalid = event.detail.elt && event.detail.elt.querySelector(":invalid");
  if (invalid && invalid.validationMessage) announce(invalid.validationMessage);
});

document.addEventListener("htmx:sendError", () => {
  notBusy();
  announce("The server cannot be reached. Check the connection and try again.");
});

// Feedback: JSON to the API, aria-pressed shows the vote; without JavaScript the form posts and comes back.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.classList || !form.classList.contains("feedback")) return;
  event.preventDefault();
  const button = event.submitter;
  if (!button || button.getAttribute("aria-pressed") === "true") {
    announce("Already recorded. Thank you.");
    return;
  }
  const data = new FormData(form);
  const body = { image_id: data.get("image_id"), vote: button.value, model_version: data.get("model_version"),
                 rank: parseInt(String(data.get("rank")), 10) || null };
  if (data.get("query")) body.query = data.get("query");
  if (data.get("query_image_id")) body.query_image_id = data.get("query_image_id");
  fetch("/api/feedback", {
    method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" },
    body: JSON.stringify(body),
  }).then((response) => {
    if (!response.ok) {
      return response.json().catch(() => ({})).then((problem) => {
        throw new Error(problem.message || "the server said " + response.status);
      });
    }
    form.querySelectorAll("button.vote").forEach((other) => {
      other.setAttribute("aria-pressed", other === button ? "true" : "false");
    });
    announce(button.value === "up" ? "Thanks: recorded as a good match." : "Thanks: recorded as not a match.");
  }).catch((error) => {
    announce("Your feedback was not saved: " + error.message);
  });
});
