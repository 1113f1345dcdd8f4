/* Voice search: speak a query, Whisper tiny.en transcribes it in a worker on this machine, the search runs.
 *
 * The mic button is shown whenever JavaScript runs. Where the browser cannot do it all locally (WebAssembly
 * with SIMD, module workers, microphone capture, Web Audio) pressing it says why; text search is untouched.
 * - Click / Enter toggles recording. Space held on the button is push-to-talk (keydown starts, keyup stops);
 *   a short Space tap (< 400 ms) behaves like a click and keeps recording until pressed again.
 * - Audio: getUserMedia → AudioWorklet (ScriptProcessor fallback) → downsampled to 16 kHz mono here, ≤ 30 s.
 * - The model (≈ 77 MB, cached by the browser as immutable) starts loading silently when recording starts; if it
 *   is still loading when speech ends, its progress is shown and announced.
 * - Every state and problem is announced in the page's polite live region (#announcer) and shown in
 *   #voice-status.
 * Test/benchmark hook: window.glimpseVoice = {transcribe(f32) → {text, ms}, choose(choices) → {choice, ms},
 *   transcribeAndSearch(f32) → text, configure({threads}), load() → {bytes, threads, ms}} — the same path as
 *   after a real recording.
 */

import { announce } from "./announce.js";
import { features } from "./speech-support.js";
import { CHOICES, parseCommand } from "./voice/commands.js";
import { FRAME_MS, SpeechEnd } from "./voice/speech-end.js";
import { WorkerClient } from "./worker-client.js";

const SAMPLE_RATE = 16000;
const MAX_SECONDS = 30;
const TAP_MS = 400;
const SILENCE_RMS = 0.002;
const WORKER_URL = "/static/js/workers/stt-worker.js";

const MESSAGES = {
  listening: "Listening\u2026 press again to stop",
  listeningForCommand: "Listening for a command\u2026",
  transcribing: "Transcribing\u2026",
  empty: "I did not catch that; please try again.",
  denied: "Microphone access is blocked. Allow the microphone for this site to search by voice, or type your search.",
  noDevice: "No microphone was found. Connect one to search by voice, or type your search.",
  busyDevice: "The microphone could not be started; it may be in use by another program. You can type your search.",
  micFailed: "The microphone could not be started. You can type your search.",
  modelFailed: "The speech model could not be loaded, so voice search is not available right now. You can type your search.",
  transcribeFailed: "Speech recognition failed. Please try again, or type your search.",
  limit: "Recording stopped after 30 seconds.",
  noSimd: "Voice search needs WebAssembly SIMD, which this browser does not have. Update the browser to search by voice, or type your search.",
  noCapture: "This browser cannot record audio, so voice search is not available here. You can type your search.",
};

function showStatus(message, { speak = true } = {}) {
  const status = document.getElementById("voice-status");
  if (status) {
    status.textContent = message;
    status.hidden = !message;
  }
  if (speak && message) announce(message);
}

// ------------------------------------------------------------------ feature checks
function canTranscribe() {
  const can = features();
  return can.simd && can.worker;
}

function canRecord() {
  return !!(navigator.mediaDevices && typeof navigator.mediaDevices.getUserMedia === "function" &&
    (window.AudioContext || window.webkitAudioContext));
}

// ------------------------------------------------------------------ the worker
const progressListeners = new Set();
let threads = null;
let modelReady = false;

class VoiceError extends Error {
  constructor(stage, name, message) {
    super(message);
    this.stage = stage;
    this.name = name || "Error";
  }
}

const speech = new WorkerClient(WORKER_URL, {
  name: "glimpse-stt",
  onStart: (post) => { if (threads) post({ type: "config", threads }); },
  onEvent: (msg) => {
    if (msg.type === "progress") progressListeners.forEach((fn) => fn(msg.loaded, msg.total));
    else if (msg.type === "error") console.warn("speech worker:", msg.message); // not tied to a request
  },
  errorFrom: (msg) => new VoiceError(msg.stage, msg.name, msg.message),
  // The worker script itself failed (e.g. ORT could not be imported): the next request starts afresh.
  crashError: (event) => new VoiceError("load", "Error", event.message || "the speech worker failed to start"),
});

async function request(message, transfer) {
  const answer = await speech.request(message, transfer).done;
  if (answer.type === "loaded" || answer.type === "result") modelReady = true;
  return answer;
}

function loadModel() {
  return request({ type: "load" });
}

async function transcribe(audio) {
  const copy = new Float32Array(audio); // transferred to the worker
  const result = await request({ type: "transcribe", audio: copy }, [copy.buffer]);
  return { text: result.text, tokens: result.tokens, ms: result.ms, window_s: result.window_s, redone: result.redone };
}

/** The likeliest of `choices` ([{name, phrases}], voice/commands.js CHOICES) for the last transcribed audio:
 * {choice: {name, phrase, score} | null, ms}. */
async function choose(choices) {
  const answer = await request({ type: "choose", choices });
  return { choice: answer.choice, ms: answer.ms };
}

// ------------------------------------------------------------------ text
/** Whisper's transcript made into a query: non-speech tags ([BLANK_AUDIO], (music)) and end punctuation gone. */
function cleanTranscript(text) {
  return (text || "")
    .replace(/\[[^\]]*\]|\([^)]*\)|\*[^*]*\*/g, " ")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^[\s.,!?;:'"-]+|[\s.,!?;:'"-]+$/g, "")
    .trim();
}

function rms(audio) {
  let sum = 0;
  for (let i = 0; i < audio.length; i++) sum += audio[i] * audio[i];
  return audio.length ? Math.sqrt(sum / audio.length) : 0;
}

// ------------------------------------------------------------------ audio capture
const WORKLET_URL = "/static/js/workers/capture-worklet.js";

/** Downsample mono audio to 16 kHz: average over each output sample's span (a box low-pass), then sample. */
function downsample(chunks, rate) {
  let length = 0;
  for (const c of chunks) length += c.length;
  const input = new Float32Array(length);
  let offset = 0;
  for (const c of chunks) {
    input.set(c, offset);
    offset += c.length;
  }
  if (rate === SAMPLE_RATE) return input;
  const ratio = rate / SAMPLE_RATE;
  const outLength = Math.min(Math.floor(length / ratio), MAX_SECONDS * SAMPLE_RATE);
  const out = new Float32Array(outLength);
  for (let i = 0; i < outLength; i++) {
    const start = i * ratio;
    const end = Math.min(start + ratio, length);
    let sum = 0;
    let weight = 0;
    for (let pos = start; pos < end; ) {
      const j = Math.floor(pos);
      const next = Math.min(j + 1, end);
      const w = next - pos;
      sum += input[j] * w;
      weight += w;
      pos = next;
    }
    out[i] = weight ? sum / weight : 0;
  }
  return out;
}

class Recorder {
  /** onLimit: 30 s recorded; onSpeech("start" | "end"): speech started, or ended (a pause after speech). */
  constructor(onLimit, onSpeech) {
    this.onLimit = onLimit;
    this.onSpeech = onSpeech;
    this.chunks = [];
    this.samples = 0;
    this.speech = new SpeechEnd();
    this.frame = { sum: 0, count: 0 };
  }

  /** Loudness per FRAME_MS frame, for the end-of-speech detector. */
  listen(mono) {
    const size = Math.round((this.rate * FRAME_MS) / 1000);
    for (let i = 0; i < mono.length; i++) {
      this.frame.sum += mono[i] * mono[i];
      if (++this.frame.count < size) continue;
      const event = this.speech.push(Math.sqrt(this.frame.sum / this.frame.count));
      this.frame.sum = 0;
      this.frame.count = 0;
      if (event) this.onSpeech?.(event);
    }
  }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    const Context = window.AudioContext || window.webkitAudioContext;
    this.context = new Context();
    if (this.context.state === "suspended") await this.context.resume();
    this.rate = this.context.sampleRate;
    this.source = this.context.createMediaStreamSource(this.stream);
    const take = (mono) => {
      if (this.stopped) return;
      this.chunks.push(mono);
      this.samples += mono.length;
      this.listen(mono);
      if (this.samples >= MAX_SECONDS * this.rate) this.onLimit();
    };
    if (this.context.audioWorklet && typeof AudioWorkletNode === "function") {
      await this.context.audioWorklet.addModule(WORKLET_URL);
      this.node = new AudioWorkletNode(this.context, "glimpse-capture", { numberOfOutputs: 0 });
      this.node.port.onmessage = (event) => take(event.data);
      this.source.connect(this.node);
    } else {
      this.node = this.context.createScriptProcessor(4096, 1, 1);
      this.node.onaudioprocess = (event) => take(new Float32Array(event.inputBuffer.getChannelData(0)));
      this.source.connect(this.node);
      this.node.connect(this.context.destination);
    }
  }

  /** Stop capturing and return the audio as 16 kHz mono float32. */
  async stop() {
    this.stopped = true;
    this.release();
    return downsample(this.chunks, this.rate || SAMPLE_RATE);
  }

  release() {
    this.stopped = true;
    try { this.source && this.source.disconnect(); } catch { /* already disconnected */ }
    try { this.node && this.node.disconnect(); } catch { /* already disconnected */ }
    if (this.node && this.node.port) this.node.port.onmessage = null;
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
    if (this.context && this.context.state !== "closed") this.context.close().catch(() => {});
  }
}

// ------------------------------------------------------------------ the button
let state = "idle"; // idle | starting | recording | working
let recorder = null;
let stopRequested = false;
// What the recording is for: a search, or a command for hands-free reading (listenForCommand).
let purpose = "search";
let command = null; // {resolve, timer, heard} while listening for a command

function elements() {
  return {
    button: document.getElementById("voice-button"),
    form: document.getElementById("search-form"),
    input: document.getElementById("q"),
  };
}

function setPressed(pressed) {
  const { button } = elements();
  if (!button) return;
  button.setAttribute("aria-pressed", pressed ? "true" : "false");
  const label = button.querySelector(".voice-label");
  const hidden = button.querySelector(".visually-hidden");
  if (label) label.textContent = pressed ? "Stop" : "Speak";
  if (hidden) hidden.textContent = pressed ? (purpose === "command" ? " listening" : " recording") : " your search";
}

function micMessage(error) {
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") return MESSAGES.denied;
  if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") return MESSAGES.noDevice;
  if (name === "NotReadableError" || name === "AbortError" || name === "TrackStartError") return MESSAGES.busyDevice;
  return MESSAGES.micFailed;
}

async function startRecording(why = "search") {
  if (state !== "idle") return false;
  state = "starting";
  purpose = why;
  stopRequested = false;
  recorder = new Recorder(
    () => { if (why !== "command") showStatus(MESSAGES.limit); stopRecording(); },
    (event) => {
      if (event === "end") stopRecording(); // a pause after speech: no second key press needed
      else if (command) command.heard = true;
    },
  );
  try {
    await recorder.start();
  } catch (error) {
    recorder.release();
    recorder = null;
    state = "idle";
    setPressed(false);
    if (why === "command") command?.resolve({ error: new Error(micMessage(error)) }); // hands-free says it
    else showStatus(micMessage(error));
    return false;
  }
  state = "recording";
  setPressed(true);
  // While reading aloud the listening is said once by hands-free reading, not at every command.
  if (why === "command") showStatus(MESSAGES.listeningForCommand, { speak: false });
  else showStatus(MESSAGES.listening);
  // Fetch and compile the model while the person speaks (silently: announcements would reach the mic).
  loadModel().catch(() => { /* reported when the transcript is asked for */ });
  if (stopRequested) stopRecording();
  return true;
}

async function stopRecording() {
  if (state === "starting") {
    stopRequested = true; // push-to-talk released before the microphone opened
    return;
  }
  if (state !== "recording") return;
  state = "working";
  setPressed(false);
  const audio = await recorder.stop();
  recorder = null;
  if (purpose === "command") {
    await finishCommand(audio);
    return;
  }
  try {
    await transcribeAndSearch(audio);
  } catch {
    /* already announced */
  } finally {
    state = "idle";
  }
}

// ------------------------------------------------------------------ commands (hands-free reading)
async function finishCommand(audio) {
  const waiter = command;
  command = null;
  if (waiter) window.clearTimeout(waiter.timer);
  let answer = { silence: true };
  try {
    if (waiter && waiter.cancelled) answer = { cancelled: true };
    else if (rms(audio) >= SILENCE_RMS && audio.length >= SAMPLE_RATE / 4) {
      const result = await transcribe(audio);
      const text = cleanTranscript(result.text);
      // The scored choice costs 170-230 ms: asked for only when the transcript itself is no command.
      const choice = text && !parseCommand(text) ? (await choose(CHOICES)).choice : null;
      answer = text ? { text, choice } : { silence: true };
    }
  } catch (error) {
    answer = { error };
  } finally {
    state = "idle";
    showStatus("", { speak: false });
  }
  waiter?.resolve(answer);
}

/** Listen for one spoken command: the microphone opens (the button shows it), and closes when a pause follows
 * speech, or after `timeoutMs` with no speech. Resolves with {text, choice}, {silence: true}, {cancelled: true} (the
 * button was pressed, or cancelListening() was called) or {error}. Nothing leaves the page. */
export async function listenForCommand({ timeoutMs = 10000 } = {}) {
  if (!canTranscribe() || !canRecord()) return { error: new Error("voice commands are not available here") };
  if (state !== "idle") return { busy: true };
  const answer = new Promise((resolve) => { command = { resolve, heard: false, cancelled: false }; });
  const waiter = command;
  if (!(await startRecording("command"))) {
    command = null;
    waiter.resolve({ error: new Error("the microphone could not be started") }); // unless already answered
    return answer;
  }
  waiter.timer = window.setTimeout(() => { if (!waiter.heard) stopRecording(); }, timeoutMs);
  return answer;
}

/** Stop listening for a command, if listening (the answer is {cancelled: true}). */
export function cancelListening() {
  if (!command) return;
  command.cancelled = true;
  if (state === "recording" || state === "starting") stopRecording();
}

function onProgressWhileWaiting() {
  let lastSpoken = 0;
  return (loaded, total) => {
    const percent = total ? Math.floor((100 * loaded) / total) : 0;
    const message = `Loading the speech model, ${percent} %`;
    // Show every step, announce only every 20 % (a live region that chatters is worse than none).
    const step = Math.floor(percent / 20);
    showStatus(message, { speak: step !== lastSpoken });
    lastSpoken = step;
  };
}

/** Transcribe 16 kHz mono audio, put the words in the search box, announce them and run the search. */
async function transcribeAndSearch(audio) {
  const { form, input } = elements();
  if (!form || !input) throw new Error("voice search needs the search form on this page");
  if (rms(audio) < SILENCE_RMS || audio.length < SAMPLE_RATE / 4) {
    showStatus(MESSAGES.empty);
    return "";
  }
  let listener = null;
  if (!modelReady) {
    listener = onProgressWhileWaiting();
    progressListeners.add(listener);
    showStatus("Loading the speech model\u2026");
  } else {
    showStatus(MESSAGES.transcribing);
  }
  let result;
  try {
    await loadModel();
    if (listener) showStatus(MESSAGES.transcribing);
    result = await transcribe(audio);
  } catch (error) {
    showStatus(error.stage === "load" ? MESSAGES.modelFailed : MESSAGES.transcribeFailed);
    throw error;
  } finally {
    if (listener) progressListeners.delete(listener);
  }
  const text = cleanTranscript(result.text);
  if (!text) {
    showStatus(MESSAGES.empty);
    return "";
  }
  input.value = text;
  input.removeAttribute("aria-invalid");
  showStatus(`You said: ${text}`);
  // Hands-free reading (hands-free.js) reads the results of a spoken search.
  document.dispatchEvent(new CustomEvent("glimpse:spoken-search", { detail: { text } }));
  // Let "You said" reach the live region before the search announces "Searching…".
  await new Promise((resolve) => window.setTimeout(resolve, 120));
  if (typeof form.requestSubmit === "function") form.requestSubmit();
  else form.submit();
  return text;
}

function setUp() {
  const supported = canTranscribe();
  if (supported) {
    window.glimpseVoice = {
      configure(options) {
        if (options && Number.isInteger(options.threads) && options.threads >= 1) {
          threads = options.threads;
          speech.post({ type: "config", threads }); // a worker started later gets it from onStart
        }
      },
      load: () => loadModel().then(({ bytes, fromCache, threads: used, ms }) => ({ bytes, fromCache, threads: used, ms })),
      transcribe,
      choose,
      transcribeAndSearch,
    };
  }

  const { button, form } = elements();
  if (!button || !form) return;
  button.hidden = false;
  if (!supported || !canRecord()) {
    // The button stays, so a person looking for voice search learns why it cannot work here.
    const reason = supported ? MESSAGES.noCapture : MESSAGES.noSimd;
    button.addEventListener("click", () => showStatus(reason));
    return;
  }

  let spaceDownAt = 0;
  let spaceHeld = false;
  let swallowClick = false;

  button.addEventListener("click", (event) => {
    if (swallowClick) {
      swallowClick = false;
      event.preventDefault();
      return;
    }
    if (command) cancelListening(); // a press while listening for a command ends hands-free listening
    else if (state === "idle") startRecording();
    else if (state === "recording" || state === "starting") stopRecording();
  });
  button.addEventListener("keydown", (event) => {
    if (event.key !== " " && event.code !== "Space") return;
    event.preventDefault(); // no native activation: keyup decides
    if (event.repeat || spaceHeld) return;
    spaceHeld = true;
    spaceDownAt = performance.now();
    if (command) {
      spaceDownAt = 0;
      cancelListening();
    } else if (state === "idle") startRecording();
    else if (state === "recording" || state === "starting") {
      spaceDownAt = 0; // a press while recording is a "stop" press
      stopRecording();
    }
  });
  button.addEventListener("keyup", (event) => {
    if (event.key !== " " && event.code !== "Space") return;
    event.preventDefault();
    swallowClick = true; // some browsers still synthesise a click on Space keyup
    window.setTimeout(() => { swallowClick = false; }, 0);
    if (!spaceHeld) return;
    spaceHeld = false;
    const held = spaceDownAt ? performance.now() - spaceDownAt : 0;
    if (held >= TAP_MS) stopRecording(); // push-to-talk released; a short tap keeps recording (toggle)
  });
  button.addEventListener("blur", () => {
    if (spaceHeld) {
      spaceHeld = false;
      stopRecording();
    }
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
else setUp();
