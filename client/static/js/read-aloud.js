/* Read aloud: result descriptions spoken by the Glimpse voice (Piper, in a worker: workers/tts-worker.js), or by
 * one of the browser's own voices when the user chooses one. This file wires the page; the parts are in
 * read-aloud/: engine.js (the worker), player.js (gapless playback), settings.js (voice and speed), texts.js
 * (what is read), reader.js (one reading: queue, stop, skip) and speech-hook.js (window.glimpseSpeech).
 *
 * - Shown when the browser can speak: with the Glimpse voice (WebAssembly SIMD, module workers, Web Audio) or,
 *   failing that, with one of its own speechSynthesis voices. Then the hidden "Read results aloud" / "Read"
 *   buttons and the "Reading voice and speed" settings (voice + speed, saved in localStorage) appear. New
 *   results swapped in by HTMX get their buttons shown too.
 * - Playback: each sentence's PCM is queued on an AudioContext as soon as the worker posts it, so speech starts
 *   after the first sentence while the next ones are synthesised.
 * - Keys while reading: Escape stops (announced "Stopped reading"); N skips to the next result. The button that
 *   started reading becomes "Stop reading" (aria-pressed="true").
 * - Test/benchmark hook: window.glimpseSpeech.synthesise(text, {rate, threads}) runs the same worker path and
 *   returns the PCM instead of playing it.
 */

import { features } from "./speech-support.js";
import { finish, reading, readingButton, skip, startReading, stop } from "./read-aloud/reader.js";
import { browserVoices, buildSettings, setGlimpseAvailable } from "./read-aloud/settings.js";
import { glimpseSpeechHook } from "./read-aloud/speech-hook.js";
import { describedBy, resultItems } from "./read-aloud/texts.js";

function showButtons(root) {
  for (const button of root.querySelectorAll(".read-results, .read-one")) {
    button.hidden = false;
    if (!button.hasAttribute("aria-pressed")) button.setAttribute("aria-pressed", "false");
  }
}

function typing(target) {
  return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

function wire() {
  showButtons(document);
  buildSettings();
  const refresh = () => {
    if (reading() && !readingButton().isConnected) finish();
    showButtons(document);
  };
  document.addEventListener("htmx:afterSwap", refresh);
  // Results answered from the localStorage cache arrive without an HTMX swap; glimpse.js says so.
  document.addEventListener("glimpse:results", refresh);
  document.addEventListener("click", (event) => {
    const button = event.target.closest?.(".read-results, .read-one, .read-skip");
    if (!button) return;
    if (button.classList.contains("read-skip")) { skip(); return; }
    if (readingButton() === button) { stop(); return; }
    startReading(button, button.classList.contains("read-results") ? resultItems() : describedBy(button));
  });
  document.addEventListener("keydown", (event) => {
    if (!reading() || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "Escape") { event.preventDefault(); stop(); }
    else if ((event.key === "n" || event.key === "N") && !typing(event.target)) { event.preventDefault(); skip(); }
  });
}

function init() {
  const can = features();
  const glimpseAvailable = can.simd && can.worker && can.audio;
  setGlimpseAvailable(glimpseAvailable);
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

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
