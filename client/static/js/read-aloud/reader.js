/* One reading at a time: a queue of texts read in order by the Glimpse voice (synthesised in the worker, played
 * through the Player) or by a browser voice (speechSynthesis), with stop, skip-to-next and restart-at. The button
 * that started it shows "Stop reading" (aria-pressed="true") until it ends; a result list also gets a
 * "Skip to next result" button. Every generation counter bump makes callbacks of an older reading do nothing.
 *
 * Events on document: "glimpse:reading-item" {index, at} when a text's audio starts (at: performance.now()
 * time), and "glimpse:reading-ended" {completed} when a reading ends (completed: it reached the end). */

import { announce } from "../announce.js";
import { engineFor } from "./engine.js";
import { Player } from "./player.js";
import { GLIMPSE_VOICE, currentRate, currentVoice } from "./settings.js";

const player = new Player();
const state = { button: null, savedHTML: "", items: [], generation: 0, jobId: null, starts: [], current: -1,
  engine: null, skipButton: null };
let voiceAnnounced = false;

export function reading() { return state.button !== null; }

/** Create (or resume) the audio output now: call it inside a user gesture (a press of Speak), so a reading
 * that starts later without one (hands-free, after a spoken search) is heard. */
export function primeAudio() {
  try { player.context(); } catch { /* no Web Audio: the browser voice, or nothing, reads */ }
}

/** The button whose reading is under way, or null. */
export function readingButton() { return state.button; }

function setPressed(button) {
  state.button = button;
  state.savedHTML = button.innerHTML;
  const hidden = button.querySelector(".visually-hidden");
  button.textContent = "Stop reading";
  if (hidden) button.append(hidden.cloneNode(true));
  button.setAttribute("aria-pressed", "true");
  button.setAttribute("aria-keyshortcuts", "Escape");
}

function tell(name, detail) {
  document.dispatchEvent(new CustomEvent(name, { detail }));
}

/** End the reading quietly: silence, restore the button, remove the skip button (focus back to the button). */
export function finish(completed = false) {
  const button = state.button;
  const wasReading = reading();
  state.generation += 1;
  if (state.engine && state.jobId != null) state.engine.cancel(state.jobId);
  state.jobId = null;
  player.stop();
  if ("speechSynthesis" in window) {
    try { window.speechSynthesis.cancel(); } catch { /* none */ }
  }
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
  if (wasReading) tell("glimpse:reading-ended", { completed });
}

function fail(error) {
  finish();
  const reason = (error && error.message) || String(error);
  announce(`Reading aloud is not available: ${reason}. Searching still works.`);
}

/** Read `items` (texts) aloud, `button` becoming their stop button; any reading under way ends first. */
export function startReading(button, items) {
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
  readFrom(state.generation, 0, voice);
}

/** Read the texts from `from` on; `first`, if given, is said before them (not one of the texts). */
function readFrom(generation, from, voice, first = "") {
  if (voice.kind === GLIMPSE_VOICE) readWithGlimpse(generation, from, first);
  else readWithBrowser(generation, from, voice.voice, first);
}

async function readWithGlimpse(generation, from, first = "") {
  const engine = engineFor(null);
  state.engine = engine;
  if (!engine.info && !voiceAnnounced) {
    voiceAnnounced = true;
    announce("Loading the reading voice…");
  }
  const rate = currentRate();
  try {
    if (first) {
      const job = engine.speak(first, rate, (msg) => {
        if (generation === state.generation) player.schedule(msg.pcm, msg.sampleRate);
      });
      state.jobId = job.id;
      await job.done;
    }
    for (let i = from; i < state.items.length; i++) {
      if (generation !== state.generation) return;
      state.current = i;
      state.starts[i] = null;
      const job = engine.speak(state.items[i], rate, (msg) => {
        if (generation !== state.generation) return;
        const start = player.schedule(msg.pcm, msg.sampleRate);
        if (state.starts[i] == null) {
          state.starts[i] = start;
          tell("glimpse:reading-item", { index: i, at: performance.now() + 1000 * (start - player.now()) });
        }
      });
      state.jobId = job.id;
      await job.done;
    }
    await player.drained();
    if (generation === state.generation) finish(true);
  } catch (error) {
    if (generation === state.generation) fail(error);
  }
}

function readWithBrowser(generation, from, voice, first = "") {
  const synth = window.speechSynthesis;
  const rate = currentRate();
  synth.cancel();
  if (first) {
    const utterance = new SpeechSynthesisUtterance(first);
    if (voice) { utterance.voice = voice; utterance.lang = voice.lang; }
    utterance.rate = rate;
    synth.speak(utterance);
  }
  for (let i = from; i < state.items.length; i++) {
    const utterance = new SpeechSynthesisUtterance(state.items[i]);
    if (voice) { utterance.voice = voice; utterance.lang = voice.lang; }
    utterance.rate = rate;
    utterance.onstart = () => {
      if (generation !== state.generation) return;
      state.current = i;
      tell("glimpse:reading-item", { index: i, at: performance.now() });
    };
    if (i === state.items.length - 1) utterance.onend = () => { if (generation === state.generation) finish(true); };
    utterance.onerror = (event) => {
      if (generation === state.generation && event.error !== "interrupted" && event.error !== "canceled") {
        fail(new Error(`the browser voice failed (${event.error})`));
      }
    };
    synth.speak(utterance);
  }
}

/** The index of the text being heard (or last heard), -1 before any; synthesis runs ahead of playback, so with
 * the Glimpse voice it is the last text whose audio has started. */
export function heardIndex() {
  if (!reading()) return -1;
  let playing = state.engine ? -1 : state.current;
  if (state.engine) {
    const now = player.now();
    for (let i = 0; i < state.starts.length; i++) if (state.starts[i] != null && state.starts[i] <= now) playing = i;
  }
  return playing;
}

/** Read on from text `index` (say `first` before it, if given), dropping what is queued. */
export function restartAt(index, first = "") {
  if (!reading()) return;
  state.generation += 1;
  if (state.engine && state.jobId != null) state.engine.cancel(state.jobId);
  player.stop();
  if ("speechSynthesis" in window) {
    try { window.speechSynthesis.cancel(); } catch { /* none */ }
  }
  state.starts = [];
  readFrom(state.generation, Math.max(0, index), currentVoice(), first);
}

/** Skip to the result after the one being heard; past the last one, reading ends ("Finished reading"). */
export function skip() {
  if (!reading()) return;
  const heard = heardIndex();
  const next = (heard >= 0 ? heard : Math.max(state.current, 0)) + 1;
  if (next >= state.items.length) { finish(true); announce("Finished reading"); return; }
  restartAt(next);
}

/** Stop reading at the listener's request ("Stopped reading"). */
export function stop() {
  if (!reading()) return;
  finish();
  announce("Stopped reading");
}
