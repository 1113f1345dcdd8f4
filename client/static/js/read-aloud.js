// Read aloud: result descriptions spoken by the Glimpse voice (Piper, in a worker: workers/tts-worker.js), or by
// one of the browser's own voices when the user chooses one.
//
// - Shown when the browser can speak: with the Glimpse voice (WebAssembly SIMD, module workers, Web Audio) or,
//   failing that, with one of its own speechSynthesis voices. Then the hidden "Read results aloud" / "Read"
//   buttons and the "Reading voice and speed" settings (voice + speed, saved in localStorage) appear. New
//   results swapped in by HTMX get their buttons shown too.
// - Playback: each sentence's PCM is queued on an AudioContext as soon as the worker posts it, so speech starts
//   after the first sentence while the next ones are synthesised.
// - Keys while reading: Escape stops (announced "Stopped reading"); N skips to the next result. The button that
//   started reading becomes "Stop reading" (aria-pressed="true").
// - Test/benchmark hook: window.glimpseSpeech.synthesise(text, {rate, threads}) runs the same worker path and
//   returns the PCM instead of playing it.

import { announce, features } from "./speech-support.js";

const WORKER_URL = "/static/js/workers/tts-worker.js";
const GAP_S = 0.2; // silence between sentences, as accessibility/speech/synthesise.py
const RATES = [0.75, 1, 1.25, 1.5];
const GLIMPSE_VOICE = "glimpse";
const STORE_VOICE = "glimpse.readAloud.voice";
const STORE_RATE = "glimpse.readAloud.rate";

function stored(key, fallback) {
  try { return localStorage.getItem(key) ?? fallback; } catch (e) { return fallback; }
}

function store(key, value) {
  try { localStorage.setItem(key, value); } catch (e) { /* storage disabled: the choice lasts for this page */ }
}

// --------------------------------------------------------------------------------------------- synthesis engine
class Engine {
  constructor(threads) {
    this.threads = threads || null;
    this.worker = null;
    this.jobs = new Map();
    this.nextId = 1;
    this.info = null; // {sampleRate, threads, loadMs} once the voice is loaded
    this.readyWaiters = [];
    this.onProgress = null;
  }

  ensure() {
    if (this.worker) return;
    this.worker = new Worker(WORKER_URL, { type: "module", name: "glimpse-tts" });
    this.worker.onmessage = (event) => this.receive(event.data);
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.failAll(new Error("the reading voice could not start" + (event.message ? ` (${event.message})` : "")));
      this.worker.terminate();
      this.worker = null;
    };
    this.worker.postMessage({ type: "load", threads: this.threads });
  }

  failAll(error) {
    for (const job of this.jobs.values()) job.reject(error);
    this.jobs.clear();
    for (const w of this.readyWaiters) w.reject(error);
    this.readyWaiters = [];
  }

  receive(msg) {
    const job = msg.id != null ? this.jobs.get(msg.id) : null;
    switch (msg.type) {
      case "progress":
        if (this.onProgress) this.onProgress(msg);
        break;
      case "ready":
        this.info = msg;
        for (const w of this.readyWaiters) w.resolve(msg);
        this.readyWaiters = [];
        break;
      case "audio":
        if (job) job.onAudio(msg);
        break;
      case "done":
      case "cancelled":
        if (job) { this.jobs.delete(msg.id); job.resolve({ ...msg, cancelled: msg.type === "cancelled" }); }
        break;
      case "error":
        if (job) { this.jobs.delete(msg.id); job.reject(new Error(msg.message)); }
        else if (msg.id == null) this.failAll(new Error(msg.message));
        break;
      default:
        break;
    }
  }

  ready() {
    if (this.info) return Promise.resolve(this.info);
    this.ensure();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  speak(text, rate, onAudio) {
    this.ensure();
    const id = this.nextId++;
    const done = new Promise((resolve, reject) => this.jobs.set(id, { onAudio, resolve, reject }));
    this.worker.postMessage({ type: "speak", id, text, rate });
    return { id, done };
  }

  cancel(id) {
    if (this.worker) this.worker.postMessage({ type: "cancel", id });
  }
}

const engines = new Map();
function engineFor(threads) {
  const key = threads || "auto";
  if (!engines.has(key)) engines.set(key, new Engine(threads));
  return engines.get(key);
}

// --------------------------------------------------------------------------------------------- playback
class Player {
  constructor() {
    this.ctx = null;
    this.sources = new Set();
    this.nextTime = 0;
  }

  context() {
    if (!this.ctx) {
      const AC = window.AudioContext || window.webkitAudioContext;
      if (!AC) throw new Error("this browser cannot play audio");
      this.ctx = new AC();
    }
    if (this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
    return this.ctx;
  }

  // Queue one sentence after what is already queued; returns its start time on the context's clock.
  schedule(pcm, sampleRate) {
    const ctx = this.context();
    const buffer = ctx.createBuffer(1, pcm.length, sampleRate);
    buffer.copyToChannel(pcm, 0);
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(ctx.destination);
    const start = Math.max(ctx.currentTime + 0.02, this.nextTime);
    source.start(start);
    this.nextTime = start + buffer.duration + GAP_S;
    this.sources.add(source);
    source.onended = () => this.sources.delete(source);
    return start;
  }

  now() { return this.ctx ? this.ctx.currentTime : 0; }

  // Resolves when everything queued has played (or at once if nothing is queued).
  drained() {
    return new Promise((resolve) => {
      const check = () => {
        const left = this.nextTime - GAP_S - this.now();
        if (!this.ctx || left <= 0) resolve(); else window.setTimeout(check, Math.min(250, left * 1000 + 20));
      };
      check();
    });
  }

  stop() {
    for (const source of this.sources) { try { source.stop(); } catch (e) { /* already stopped */ } }
    this.sources.clear();
    this.nextTime = 0;
  }
}

// --------------------------------------------------------------------------------------------- settings
function browserVoices() {
  if (!("speechSynthesis" in window)) return [];
  try { return window.speechSynthesis.getVoices() || []; } catch (e) { return []; }
}

// The accent-matching idea, done locally: the descriptions are English, so the Glimpse voice (US English) unless
// the user's language is another English variant and the browser has a voice for exactly that locale.
function defaultVoice(voices) {
  const lang = (navigator.language || "en-US").toLowerCase().replace("_", "-");
  if (!lang.startsWith("en-") || lang === "en-us") return GLIMPSE_VOICE;
  const exact = voices.filter((v) => (v.lang || "").toLowerCase().replace("_", "-") === lang);
  const local = exact.find((v) => v.localService) || exact[0];
  return local ? "browser:" + local.voiceURI : GLIMPSE_VOICE;
}

let glimpseAvailable = false; // set by init(): the browser can run the Glimpse voice

function currentVoice() {
  const value = stored(STORE_VOICE, null);
  const voices = browserVoices();
  if (!glimpseAvailable) {
    const wanted = value && voices.find((v) => "browser:" + v.voiceURI === value);
    const fallback = defaultVoice(voices);
    const byLocale = voices.find((v) => "browser:" + v.voiceURI === fallback);
    const lang = (navigator.language || "en").toLowerCase().slice(0, 2);
    return { kind: "browser", voice: wanted || byLocale || voices.find((v) => v.lang.toLowerCase().startsWith(lang)) };
  }
  if (value === GLIMPSE_VOICE) return { kind: GLIMPSE_VOICE };
  if (value && value.startsWith("browser:")) {
    const voice = voices.find((v) => "browser:" + v.voiceURI === value);
    if (voice) return { kind: "browser", voice };
  }
  const fallback = defaultVoice(voices);
  if (fallback === GLIMPSE_VOICE) return { kind: GLIMPSE_VOICE };
  return { kind: "browser", voice: voices.find((v) => "browser:" + v.voiceURI === fallback) };
}

function currentRate() {
  const rate = Number(stored(STORE_RATE, "1"));
  return RATES.includes(rate) ? rate : 1;
}

function fillVoiceSelect(select) {
  const voices = browserVoices();
  const saved = stored(STORE_VOICE, null);
  const wanted = saved || defaultVoice(voices);
  select.replaceChildren();
  const add = (value, label) => {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = label;
    select.append(option);
  };
  if (glimpseAvailable) add(GLIMPSE_VOICE, "Glimpse voice (Joe, US English)");
  for (const v of voices) add("browser:" + v.voiceURI, `${v.name} (${v.lang}${v.localService ? "" : ", online"})`);
  const current = currentVoice();
  const fallback = current.kind === GLIMPSE_VOICE ? GLIMPSE_VOICE : "browser:" + (current.voice?.voiceURI || "");
  const values = [...select.options].map((o) => o.value);
  select.value = values.includes(wanted) ? wanted : values.includes(fallback) ? fallback : values[0] || "";
}

function buildSettings() {
  const details = document.getElementById("voice-settings");
  const body = document.getElementById("voice-settings-body");
  if (!details || !body) return;
  body.replaceChildren();
  const voiceField = document.createElement("div");
  voiceField.className = "option";
  voiceField.innerHTML = '<label for="read-voice">Voice</label><select id="read-voice"></select>';
  const rateField = document.createElement("div");
  rateField.className = "option";
  rateField.innerHTML = '<label for="read-rate">Speed</label><select id="read-rate"></select>';
  const hint = document.createElement("p");
  hint.className = "hint";
  hint.id = "read-keys-hint";
  hint.textContent = "While reading: Escape stops, N skips to the next result.";
  body.append(voiceField, rateField, hint);

  const voiceSelect = voiceField.querySelector("select");
  fillVoiceSelect(voiceSelect);
  voiceSelect.addEventListener("change", () => store(STORE_VOICE, voiceSelect.value));
  if ("speechSynthesis" in window) {
    window.speechSynthesis.addEventListener?.("voiceschanged", () => fillVoiceSelect(voiceSelect));
  }

  const rateSelect = rateField.querySelector("select");
  for (const rate of RATES) {
    const option = document.createElement("option");
    option.value = String(rate);
    option.textContent = rate === 1 ? "1× (normal)" : `${rate}×`;
    rateSelect.append(option);
  }
  rateSelect.value = String(currentRate());
  rateSelect.addEventListener("change", () => store(STORE_RATE, rateSelect.value));
  details.hidden = false;
}

// --------------------------------------------------------------------------------------------- reading
const player = new Player();
const state = { button: null, savedHTML: "", items: [], generation: 0, jobId: null, starts: [], current: -1,
  engine: null, skipButton: null };
let voiceAnnounced = false;

function reading() { return state.button !== null; }

function sentenceEnd(text) {
  const t = text.trim();
  return !t || /[.!?…]["'”’)\]]*$/u.test(t) ? t : t + ".";
}

function resultItems() {
  return [...document.querySelectorAll("#results .result")].map((li) => {
    const alt = li.querySelector("img")?.getAttribute("alt") || "";
    const long = li.querySelector(".long")?.textContent || "";
    return [sentenceEnd(alt), sentenceEnd(long)].filter(Boolean).join(" ");
  }).filter(Boolean);
}

function setPressed(button) {
  state.button = button;
  state.savedHTML = button.innerHTML;
  const hidden = button.querySelector(".visually-hidden");
  button.textContent = "Stop reading";
  if (hidden) button.append(hidden.cloneNode(true));
  button.setAttribute("aria-pressed", "true");
  button.setAttribute("aria-keyshortcuts", "Escape");
}

function finish() {
  const button = state.button;
  state.generation += 1;
  if (state.engine && state.jobId != null) state.engine.cancel(state.jobId);
  state.jobId = null;
  player.stop();
  if ("speechSynthesis" in window) { try { window.speechSynthesis.cancel(); } catch (e) { /* none */ } }
  if (button) {
    button.innerHTML = state.savedHTML;
    button.setAttribute("aria-pressed", "false");
    button.removeAttribute("aria-keyshortcuts");
  }
  if (state.skipButton) {
    if (state.skipButton.contains(document.activeElement) && button && button.isConnected) button.focus();
    state.skipButton.remove();
    state.skipButton = null;
  }
  state.button = null;
  state.items = [];
  state.current = -1;
}

function fail(error) {
  finish();
  const reason = (error && error.message) || String(error);
  announce(`Reading aloud is not available: ${reason}. Searching still works.`);
}

function startReading(button, items) {
  if (reading()) finish();
  if (!items.length) { announce("Nothing to read."); return; }
  const voice = currentVoice();
  if (voice.kind === GLIMPSE_VOICE) {
    try { player.context(); } catch (error) { fail(error); return; } // created inside the user's gesture
  }
  setPressed(button);
  state.items = items;
  if (items.length > 1 && button.classList.contains("read-results")) {
    const skip = document.createElement("button");
    skip.type = "button";
    skip.className = "button button-quiet read-skip";
    skip.textContent = "Skip to next result";
    skip.setAttribute("aria-keyshortcuts", "N");
    button.after(skip);
    state.skipButton = skip;
  }
  if (voice.kind === GLIMPSE_VOICE) readWithGlimpse(state.generation, 0);
  else readWithBrowser(state.generation, 0, voice.voice);
}

async function readWithGlimpse(generation, from) {
  const engine = engineFor(null);
  state.engine = engine;
  if (!engine.info && !voiceAnnounced) {
    voiceAnnounced = true;
    announce("Loading the reading voice…");
  }
  const rate = currentRate();
  try {
    for (let i = from; i < state.items.length; i++) {
      if (generation !== state.generation) return;
      state.current = i;
      state.starts[i] = null;
      const job = engine.speak(state.items[i], rate, (msg) => {
        if (generation !== state.generation) return;
        const start = player.schedule(msg.pcm, msg.sampleRate);
        if (state.starts[i] == null) state.starts[i] = start;
      });
      state.jobId = job.id;
      await job.done;
    }
    await player.drained();
    if (generation === state.generation) finish();
  } catch (error) {
    if (generation === state.generation) fail(error);
  }
}

function readWithBrowser(generation, from, voice) {
  const synth = window.speechSynthesis;
  const rate = currentRate();
  synth.cancel();
  for (let i = from; i < state.items.length; i++) {
    const utterance = new SpeechSynthesisUtterance(state.items[i]);
    if (voice) { utterance.voice = voice; utterance.lang = voice.lang; }
    utterance.rate = rate;
    utterance.onstart = () => { if (generation === state.generation) state.current = i; };
    if (i === state.items.length - 1) utterance.onend = () => { if (generation === state.generation) finish(); };
    utterance.onerror = (event) => {
      if (generation === state.generation && event.error !== "interrupted" && event.error !== "canceled") {
        fail(new Error(`the browser voice failed (${event.error})`));
      }
    };
    synth.speak(utterance);
  }
}

function skip() {
  if (!reading()) return;
  let playing = state.current;
  if (state.engine) {
    // The result being heard is the last one whose audio has started (synthesis runs ahead of playback).
    const now = player.now();
    for (let i = 0; i < state.starts.length; i++) if (state.starts[i] != null && state.starts[i] <= now) playing = i;
  }
  const next = playing + 1;
  if (next >= state.items.length) { finish(); announce("Finished reading"); return; }
  state.generation += 1;
  if (state.engine && state.jobId != null) state.engine.cancel(state.jobId);
  player.stop();
  state.starts = [];
  const voice = currentVoice();
  if (voice.kind === GLIMPSE_VOICE) readWithGlimpse(state.generation, next);
  else readWithBrowser(state.generation, next, voice.voice);
}

function stop() {
  if (!reading()) return;
  finish();
  announce("Stopped reading");
}

// --------------------------------------------------------------------------------------------- wiring
function showButtons(root) {
  for (const button of root.querySelectorAll(".read-results, .read-one")) {
    button.hidden = false;
    if (!button.hasAttribute("aria-pressed")) button.setAttribute("aria-pressed", "false");
  }
}

function typing(target) {
  return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

function init() {
  const can = features();
  glimpseAvailable = can.simd && can.worker && can.audio;
  if (can.simd && can.worker) window.glimpseSpeech = glimpseSpeechHook();
  if (glimpseAvailable) { wire(); return; }
  // No Glimpse voice here; the browser's own voices (if any, possibly listed late) can still read.
  if (!("speechSynthesis" in window)) return;
  const offer = () => {
    if (!browserVoices().length || document.getElementById("read-voice")) return;
    wire();
  };
  window.speechSynthesis.addEventListener?.("voiceschanged", offer);
  offer();
}

/** The test and benchmark hook: the same worker path as reading aloud, returning the PCM instead of playing. */
function glimpseSpeechHook() {
  return {
    features,
    async load({ threads } = {}) { return engineFor(threads).ready(); },
    async synthesise(text, { rate = 1, threads } = {}) {
      const engine = engineFor(threads);
      const started = performance.now();
      const parts = [];
      let firstAudioMs = null, sampleRate = null;
      const job = engine.speak(text, rate, (msg) => {
        if (firstAudioMs === null) firstAudioMs = performance.now() - started;
        sampleRate = msg.sampleRate;
        parts.push(msg.pcm);
      });
      const done = await job.done;
      const totalMs = performance.now() - started;
      const gap = Math.round(GAP_S * (sampleRate || 0));
      const length = parts.reduce((n, p) => n + p.length, 0) + gap * Math.max(0, parts.length - 1);
      const pcm = new Float32Array(length);
      let offset = 0;
      parts.forEach((p, i) => { if (i) offset += gap; pcm.set(p, offset); offset += p.length; });
      return { sampleRate: sampleRate || engine.info?.sampleRate, pcm, firstAudioMs, totalMs,
        sentences: done.sentences, threads: engine.info?.threads, loadMs: engine.info?.loadMs };
    },
  };
}

function wire() {
  showButtons(document);
  buildSettings();
  document.addEventListener("htmx:afterSwap", () => {
    if (reading() && !state.button.isConnected) finish();
    showButtons(document);
  });
  document.addEventListener("click", (event) => {
    const button = event.target.closest?.(".read-results, .read-one, .read-skip");
    if (!button) return;
    if (button.classList.contains("read-skip")) { skip(); return; }
    if (state.button === button) { stop(); return; }
    if (button.classList.contains("read-results")) {
      startReading(button, resultItems());
    } else {
      const source = document.getElementById(button.dataset.read || "");
      startReading(button, source ? [sentenceEnd(source.textContent || "")].filter(Boolean) : []);
    }
  });
  document.addEventListener("keydown", (event) => {
    if (!reading() || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "Escape") { event.preventDefault(); stop(); }
    else if ((event.key === "n" || event.key === "N") && !typing(event.target)) { event.preventDefault(); skip(); }
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
