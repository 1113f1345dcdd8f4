/* Hands-free reading: after a spoken search the results are read aloud with no other key press, and spoken
 * commands steer the reading, so a person who cannot see the screen can search, listen and answer by voice.
 *
 * - On for spoken searches only, remembered in localStorage ("glimpse.handsFree"), switched in "Reading voice
 *   and speed" with a checkbox whose change is announced. Typed searches are never read unasked.
 * - What is read: the count ("5 results."), then each result ("Result 1. <alt>. <description>"),
 *   the commands hinted once after the first result.
 * - While and for a few seconds after reading, the microphone listens for one command at a time (the Speak
 *   button shows "Stop listening"; pressing it stops listening): next, repeat, stop, more like this, good,
 *   not it, search for … (voice/commands.js). Each has a control on the page too: "Skip to next result" (N),
 *   a result's "Read" button, "Stop reading" (Escape), "More like this", "Good", "Not it", the search box.
 * - Every step is said in the live region as well. Audio is transcribed in this page's worker: none leaves it.
 */

import { announce } from "./announce.js";
import { features } from "./speech-support.js";
import { cancelListening, listenForCommand } from "./voice-search.js";
import { finish, heardIndex, primeAudio, reading, restartAt, skip, startReading, stop } from "./read-aloud/reader.js";
import { resultItems } from "./read-aloud/texts.js";
import { commandFrom } from "./voice/commands.js";

const STORE = "glimpse.handsFree";
export const HINT = "Say next, repeat, good, not it, more like this, or stop.";
const AFTER_READING_MS = 8000; // how long the microphone stays open once everything has been read
const WHILE_READING_MS = 120000;

let spoken = false; // the search under way was spoken: read its results
let session = null; // {id, timer} while hands-free reading is under way
let sessions = 0;
let hinted = false;

function storedOn() {
  try { return localStorage.getItem(STORE) !== "off"; } catch { return true; }
}

function results() {
  return [...document.querySelectorAll("#results .result")];
}

function sleep(ms) {
  return new Promise((resolve) => window.setTimeout(resolve, ms));
}

/** Hands-free reading is over: stop listening, say why (if there is something to say). */
function end(message) {
  if (!session) return;
  window.clearTimeout(session.timer);
  session = null;
  cancelListening();
  if (message) announce(message);
}

/** Read the results now on the page and listen for commands. */
function begin() {
  end();
  const section = document.querySelector("#results .results-section");
  const button = document.querySelector("#results .read-results");
  const texts = resultItems();
  if (!section || !button || button.hidden || !texts.length) return; // nothing to read: the page said why
  // The count alone (the person just said the query): the first description follows sooner.
  const n = texts.length;
  const noun = n === 1 ? "result" : "results";
  const items = [section.dataset.noGoodMatch === "true" ? `No good match. The closest ${n}.` : `${n} ${noun}.`];
  texts.forEach((text, i) => items.push(`Result ${i + 1}. ${text}`));
  if (!hinted) items[1] += ` ${HINT}`;
  hinted = true;
  startReading(button, items); // ends any reading first: before the session, which that ending would end
  session = { id: ++sessions, timer: 0 };
  announce(`Reading ${n} ${noun} aloud. ${HINT}`);
  listen(session.id);
}

/** The result being heard (0-based; the count, text 0, counts as the first result). */
function current() {
  return Math.max(0, heardIndex() - 1);
}

async function listen(id) {
  while (session && session.id === id) {
    const answer = await listenForCommand({ timeoutMs: reading() ? WHILE_READING_MS : AFTER_READING_MS });
    if (!session || session.id !== id) return;
    if (answer.busy) { await sleep(250); continue; } // a recording of another kind is under way
    if (answer.cancelled) { end("Stopped listening for commands."); return; }
    if (answer.error) { end(`Voice commands stopped: ${answer.error.message.replace(/\.$/, "")}`); return; }
    if (answer.silence) {
      if (!reading()) { end("Stopped listening for commands. Press Speak to search again."); return; }
      continue;
    }
    act(commandFrom(answer.text, answer.choice), answer.text);
  }
}

function act(command, heard) {
  const index = current();
  const result = results()[index];
  const name = command ? command.name : null;
  if (name === null) {
    // Long speech is not someone giving a command (talk in the room, or the reading itself heard back where
    // the browser cancels no echo): let it pass. A short miss gets a short apology and the hint.
    if (heard.split(/\s+/).length > 5) return;
    announce(`Not a command: ${heard}. ${HINT}`);
    if (reading()) restartAt(heardIndex() < 0 ? 0 : heardIndex(), `Sorry, I did not catch that. ${HINT}`);
    return;
  }
  if (name === "next") {
    announce(index + 1 < results().length ? `Next: result ${index + 2} of ${results().length}` : "Last result");
    if (reading()) skip();
    return;
  }
  if (name === "repeat") {
    announce(`Repeating result ${index + 1}`);
    if (reading()) restartAt(heardIndex() < 0 ? 0 : heardIndex());
    else begin();
    return;
  }
  if (name === "stop") {
    end();
    if (reading()) stop(); else announce("Stopped");
    return;
  }
  if (name === "good" || name === "not it") {
    const vote = result?.querySelector(name === "good" ? "button.vote-up" : "button.vote-down");
    if (!vote) { announce("There is no result to vote on here."); return; }
    vote.click(); // the page records it and announces the thanks
    const said = name === "good" ? "Recorded as a good match." : "Recorded as not a match.";
    if (reading()) restartAt(index + 2, said); // then on with the next result
    return;
  }
  if (name === "more like this") {
    const link = result?.querySelector('a[href^="/search/similar"]');
    if (!link) { announce("There is no result to find more like."); return; }
    announce(`Finding pictures like result ${index + 1}`);
    spoken = true;
    end();
    finish();
    link.click();
    return;
  }
  if (name === "search") {
    const form = document.getElementById("search-form");
    const input = document.getElementById("q");
    if (!form || !input) return;
    input.value = command.query;
    announce(`Searching for ${command.query}`);
    spoken = true;
    end();
    finish();
    if (typeof form.requestSubmit === "function") form.requestSubmit(); else form.submit();
  }
}

function addSetting() {
  const body = document.getElementById("voice-settings-body");
  if (!body || document.getElementById("hands-free")) return;
  const field = document.createElement("div");
  field.className = "option option-check";
  field.innerHTML =
    '<input type="checkbox" id="hands-free" aria-describedby="hands-free-hint">' +
    '<label for="hands-free">Read the results of a spoken search aloud and listen for spoken commands</label>' +
    `<p class="hint" id="hands-free-hint">Commands: next, repeat, good, not it, more like this, stop, or
     "search for" and your words. Each has a button or key on the page too.</p>`;
  body.append(field);
  const box = field.querySelector("input");
  box.checked = storedOn();
  box.addEventListener("change", () => {
    try { localStorage.setItem(STORE, box.checked ? "on" : "off"); } catch { /* lasts for this page */ }
    announce(box.checked ? "Hands-free reading on: the results of a spoken search will be read aloud."
      : "Hands-free reading off.");
    if (!box.checked) end();
  });
}

function setUp() {
  const can = features();
  if (!(can.simd && can.worker && can.audio)) return; // needs the Glimpse voice and speech recognition here
  addSetting();
  const button = document.getElementById("voice-button");
  // The press of Speak is the gesture that lets the reading that follows be heard.
  button?.addEventListener("click", primeAudio);
  button?.addEventListener("keydown", primeAudio);
  document.addEventListener("glimpse:spoken-search", () => { spoken = true; });
  document.addEventListener("glimpse:results", () => {
    if (!spoken) return;
    spoken = false;
    // After every listener of this swap has run (read-aloud.js shows the new "Read results aloud" button).
    if (storedOn()) window.setTimeout(begin, 0);
  });
  document.addEventListener("glimpse:reading-ended", (event) => {
    if (!session) return;
    if (!event.detail.completed) { end(); return; } // stopped by the listener (Escape, Stop reading)
    // Everything was read: a few more seconds to say "good", "more like this" or "search for …".
    session.timer = window.setTimeout(() => end("Stopped listening for commands."), AFTER_READING_MS);
  });
}

setUp();
