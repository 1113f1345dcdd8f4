/* Speech-to-text worker (module worker): Whisper tiny.en in ONNX Runtime Web, entirely on this machine.
 *
 * A faithful port of accessibility/speech/transcribe.py (WhisperOnnx): the audio (16 kHz mono float32, trimmed
 * to 30 s) is zero-padded to its encoder window, the encoder (log-mel inside the graph) returns every decoder
 * layer's cross-attention keys and values (cross_kv); then greedy decoding — each step feeds the tokens so far
 * and cross_kv and gets the next token's scores — with the tiny.en prompt, the tokenizer's suppress lists, and
 * byte-level BPE decoding of the generated ids.
 *
 * The window: the encoder graph treats the length of its input as the window (1500 positions for Whisper's
 * 30 s, 50 per second for less), and its cost and the decoder's cross-attention grow with it, so a 2 s query
 * need not pay for 30 s. The policy is transcribe.py's (window_samples, repeats_at_end; a Python test runs
 * these functions with node against it): min(30, max(WINDOW_MIN_S, ceil(seconds + WINDOW_MARGIN_S))) whole
 * seconds, 8 s for anything up to 7 s of audio; and since in a short window Whisper now and then repeats
 * itself ("Go back. Go back. Go back."), a decoding that repeats (or runs to MAX_TOKENS) is stopped and
 * redone in the full 30 s. Measured with bench/voice_window.py (docs/voice.md has the tables): 8 s is the
 * shortest window with few redos (12 of 468 short queries); word error rate 25.4 % against 29.1 % for 30 s
 * (espeak-ng and Piper voices; the Piper voice alone 10.0 % against 8.4 %), a third of the time.
 *
 * Messages in:
 *   {type: "config", threads}          before the first load: wasm threads (default min(4, cores) when the page
 *                                      is cross-origin isolated, else 1)
 *   {type: "load", id}                 fetch manifest, tokenizer and both graphs, create the sessions
 *   {type: "transcribe", id, audio, window}   audio: Float32Array at 16 kHz (transferred); loads first if
 *                                      needed. window (optional, for comparisons and benchmarks): "full" for
 *                                      Whisper's 30 s, or a number of seconds (at least the audio's length; no
 *                                      redo); otherwise the policy above
 *   {type: "choose", id, choices}      choices: [{name, phrases}], fixed phrases scored against the audio of the
 *                                      last transcription (its encoding is kept until the next one): choose(),
 *                                      for spoken commands whose transcript is no command
 * Messages out:
 *   {type: "progress", loaded, total}  bytes of model files fetched so far / all of them (from the manifest)
 *   {type: "loaded", id, bytes, fromCache, threads, ms: {fetch, session}}   fromCache: every file came from
 *                                      Cache Storage (see model-cache.js), nothing was downloaded
 *   {type: "result", id, text, tokens, window_s, redone, ms: {encoder, decoder, total}}
 *                                      window_s: the encoder window of the transcript, in seconds; redone: a
 *                                      looping short window was redone in 30 s (ms then covers both)
 *   {type: "choice", id, choice, ms}   choice: {name, phrase, score} the likeliest of the choices, or null
 *   {type: "error", id, stage, name, message}   stage: "load" | "transcribe" | "worker"
 * Lazily loaded on first use; a failed load is retried on the next request.
 */
import * as ort from "/vendor/ort/ort.wasm.min.mjs";
import { fetchModel, pruneModels } from "./model-cache.js";

const MODELS = "/static/models/";
const MANIFEST = MODELS + "speech-manifest.json";
const SAMPLE_RATE = 16000;
const FULL_WINDOW_S = 30;
const MAX_SAMPLES = FULL_WINDOW_S * SAMPLE_RATE;
const MAX_TOKENS = 64;
// The window policy: keep equal to WINDOW_MIN_S / WINDOW_MARGIN_S in accessibility/speech/transcribe.py.
const WINDOW_MIN_S = 8;
const WINDOW_MARGIN_S = 1.0;

// Threads need cross-origin isolation (SharedArrayBuffer); more than 4 buys little for a model this size.
let threads = self.crossOriginIsolated ? Math.max(1, Math.min(4, self.navigator.hardwareConcurrency || 1)) : 1;
let loading = null; // Promise of the loaded model
let configured = false;
let lastEncoding = null; // the cross_kv of the last transcription, for "choose"

function post(message, transfer) {
  self.postMessage(message, transfer || []);
}

function describe(error) {
  return { name: (error && error.name) || "Error", message: String((error && error.message) || error) };
}

// ------------------------------------------------------------------ loading
async function load() {
  const started = performance.now();
  const manifestResponse = await fetch(MANIFEST);
  if (!manifestResponse.ok) throw new Error(`${MANIFEST}: HTTP ${manifestResponse.status}`);
  const manifest = await manifestResponse.json();
  const files = manifest.files;
  const total = files.encoder.bytes + files.decoder.bytes + files.tokenizer.bytes;
  let loaded = 0;
  let lastPosted = -1;
  const onBytes = (n) => {
    loaded += n;
    // At most ~200 messages for the whole download.
    if (loaded === total || loaded - lastPosted >= total / 200) {
      lastPosted = loaded;
      post({ type: "progress", loaded, total });
    }
  };
  post({ type: "progress", loaded: 0, total });
  const urls = [files.tokenizer.file, files.encoder.file, files.decoder.file].map((file) => MODELS + file);
  const fetchedFiles = await Promise.all(urls.map((url) => fetchModel(url, onBytes)));
  const [tokenizerBytes, encoderBytes, decoderBytes] = fetchedFiles.map((f) => f.bytes);
  const fromCache = fetchedFiles.every((f) => f.source === "cache");
  pruneModels(["whisper-"], urls).catch(() => {}); // older builds' files, if any
  const fetched = performance.now();
  const tok = JSON.parse(new TextDecoder().decode(tokenizerBytes));

  ort.env.wasm.wasmPaths = "/vendor/ort/";
  ort.env.wasm.numThreads = self.crossOriginIsolated ? threads : 1;
  ort.env.logLevel = "error";
  const options = { executionProviders: ["wasm"], graphOptimizationLevel: "all", logSeverityLevel: 3 };
  const encoder = await ort.InferenceSession.create(encoderBytes, options);
  const decoder = await ort.InferenceSession.create(decoderBytes, options);
  const created = performance.now();

  // Never emit the prompt/control tokens (ids above <|endoftext|>) or the config's suppressed tokens.
  const vocab = tok.vocab_size;
  const suppress = new Uint8Array(vocab);
  suppress.fill(1, tok.special.eot + 1);
  for (const id of tok.suppress) suppress[id] = 1;
  const byteDecoder = new Map(Object.entries(tok.byte_decoder));
  const index = new Map(tok.tokens.map((token, id) => [token, id]));
  // A phrase ends with punctuation or the end of the text (choose()).
  const ends = [".", "!", ",", "?"].map((t) => index.get(t)).filter((id) => id !== undefined);
  ends.push(tok.special.eot);
  return {
    encoder,
    decoder,
    tokens: tok.tokens,
    index,
    ends,
    byteDecoder,
    special: tok.special,
    prompt: tok.prompt,
    vocab,
    suppress,
    suppressBegin: tok.suppress_at_begin,
    bytes: total,
    fromCache,
    threads: ort.env.wasm.numThreads,
    ms: { fetch: fetched - started, session: created - fetched },
  };
}

function ensureLoaded() {
  if (!loading) {
    loading = load().catch((error) => {
      loading = null; // let the next request try again
      throw error;
    });
  }
  return loading;
}

// ------------------------------------------------------------------ decoding
function decodeText(model, ids) {
  const eot = model.special.eot;
  const bytes = [];
  for (const id of ids) {
    if (id >= eot) continue;
    for (const ch of model.tokens[id]) {
      const b = model.byteDecoder.get(ch);
      if (b !== undefined) bytes.push(b);
    }
  }
  return new TextDecoder("utf-8").decode(new Uint8Array(bytes)).trim();
}

function argmaxNext(model, logits, first) {
  const vocab = model.vocab;
  const banned = first ? new Set(model.suppressBegin) : null;
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < vocab; i++) {
    if (model.suppress[i] || (banned && banned.has(i))) continue;
    const v = logits[i];
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

// The encoder window for nSamples of audio, in samples (transcribe.py's window_samples).
function windowSamples(nSamples) {
  const seconds = Math.min(Math.max(nSamples, 0), MAX_SAMPLES) / SAMPLE_RATE;
  return Math.min(FULL_WINDOW_S, Math.max(WINDOW_MIN_S, Math.ceil(seconds + WINDOW_MARGIN_S))) * SAMPLE_RATE;
}

// The window a request asks for (see the messages above), in samples.
function requestedWindow(requested, nSamples) {
  if (requested === "full") return MAX_SAMPLES;
  if (typeof requested === "number" && Number.isFinite(requested)) {
    return Math.min(MAX_SAMPLES, Math.max(nSamples, Math.round(requested * SAMPLE_RATE)));
  }
  return windowSamples(nSamples);
}

// Whether a decoding has just started to loop (transcribe.py's repeats_at_end): its last token three times in a
// row, or its last 2-8 tokens twice.
function repeatsAtEnd(tokens) {
  const n = tokens.length;
  if (n >= 3 && tokens[n - 1] === tokens[n - 2] && tokens[n - 2] === tokens[n - 3]) return true;
  for (let k = 2; k <= Math.min(8, Math.floor(n / 2)); k++) {
    let same = true;
    for (let i = 1; i <= k && same; i++) same = tokens[n - i] === tokens[n - k - i];
    if (same) return true;
  }
  return false;
}

// cross_kv for the audio zero-padded to `size` samples (the graph takes its input's length as the window).
async function encode(model, audio, size) {
  const padded = new Float32Array(size);
  padded.set(audio);
  const audioTensor = new ort.Tensor("float32", padded, [1, size]);
  return (await model.encoder.run({ audio: audioTensor }, ["cross_kv"])).cross_kv;
}

// Greedy decoding: {generated, looped}; looped: it repeated itself or ran to MAX_TOKENS without <|endoftext|>.
// With stopOnLoop it stops as soon as it repeats.
async function decode(model, crossKv, stopOnLoop) {
  const ids = model.prompt.slice();
  const generated = [];
  const eot = model.special.eot;
  for (let step = 0; step < MAX_TOKENS; step++) {
    const tokens = new ort.Tensor("int64", BigInt64Array.from(ids, (x) => BigInt(x)), [1, ids.length]);
    const out = await model.decoder.run({ tokens, cross_kv: crossKv });
    const token = argmaxNext(model, out.logits.data, step === 0);
    out.logits.dispose?.();
    tokens.dispose?.();
    if (token === eot || token < 0) return { generated, looped: false };
    generated.push(token);
    ids.push(token);
    if (stopOnLoop && repeatsAtEnd(generated)) return { generated, looped: true };
  }
  return { generated, looped: true };
}

// ------------------------------------------------------------------ a choice among fixed phrases
// Token ids of `text` when each of its words is one vocabulary entry with its leading space (" Next", " more",
// " like", " this"): how Whisper writes them. Null when a word is not (the phrase cannot be scored).
function phraseIds(model, text) {
  const ids = [];
  for (const word of text.split(" ")) {
    const id = model.index.get("\u0120" + word); // byte-level BPE writes a leading space as U+0120
    if (id === undefined) return null;
    ids.push(id);
  }
  return ids;
}

function logSoftmax(logits, vocab) {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[i] - max);
  const log = max + Math.log(sum);
  const out = new Float64Array(vocab);
  for (let i = 0; i < vocab; i++) out[i] = logits[i] - log;
  return out;
}

// The phrase among `choices` ([{name, phrases: [text]}]) that Whisper finds likeliest for this audio: each
// phrase's tokens forced after the prompt, then an ending; score = mean log-probability per token. A closed-set
// choice, for short commands the free transcript gets wrong ("Lord" for a robotic "good"). Decoder runs are shared
// between phrases with the same prefix. Returns {name, phrase, score} or null.
async function choose(model, crossKv, choices) {
  const cache = new Map();
  const logProbs = async (prefix) => {
    const key = prefix.join(",");
    if (!cache.has(key)) {
      const ids = model.prompt.concat(prefix);
      const tokens = new ort.Tensor("int64", BigInt64Array.from(ids, (x) => BigInt(x)), [1, ids.length]);
      const out = await model.decoder.run({ tokens, cross_kv: crossKv });
      cache.set(key, logSoftmax(out.logits.data, model.vocab));
      out.logits.dispose?.();
      tokens.dispose?.();
    }
    return cache.get(key);
  };
  let best = null;
  for (const choice of choices || []) {
    for (const phrase of choice.phrases || []) {
      const ids = phraseIds(model, phrase);
      if (!ids) continue;
      let total = 0;
      for (let i = 0; i < ids.length; i++) total += (await logProbs(ids.slice(0, i)))[ids[i]];
      const last = await logProbs(ids);
      const endings = model.ends.map((id) => last[id]);
      const top = Math.max(...endings);
      total += top + Math.log(endings.reduce((sum, x) => sum + Math.exp(x - top), 0));
      const score = total / (ids.length + 1);
      if (!best || score > best.score) best = { name: choice.name, phrase, score };
    }
  }
  return best;
}

function keepEncoding(crossKv) {
  lastEncoding?.dispose?.();
  lastEncoding = crossKv;
}

async function transcribe(model, audio, requested) {
  if (audio.length > MAX_SAMPLES) audio = audio.subarray(0, MAX_SAMPLES);
  const start = performance.now();
  keepEncoding(null);
  if (audio.length < SAMPLE_RATE / 10) {
    return { text: "", tokens: [], window_s: 0, redone: false, ms: { encoder: 0, decoder: 0, total: 0 } };
  }
  let size = requestedWindow(requested, audio.length);
  // The policy's fallback: a short window whose decoding loops is redone in Whisper's 30 s.
  let fallback = requested !== "full" && typeof requested !== "number" && size < MAX_SAMPLES;
  let redone = false;
  let encoderMs = 0;
  let result;
  for (;;) {
    const began = performance.now();
    const crossKv = await encode(model, audio, size);
    encoderMs += performance.now() - began;
    result = await decode(model, crossKv, fallback);
    if (!(fallback && result.looped)) {
      keepEncoding(crossKv);
      break;
    }
    crossKv.dispose?.();
    size = MAX_SAMPLES;
    fallback = false;
    redone = true;
  }
  const total = performance.now() - start;
  return {
    text: decodeText(model, result.generated),
    tokens: result.generated,
    window_s: size / SAMPLE_RATE,
    redone,
    ms: { encoder: encoderMs, decoder: total - encoderMs, total },
  };
}

// ------------------------------------------------------------------ messages
// One request at a time: ORT sessions must not run concurrently.
let queue = Promise.resolve();

self.onmessage = (event) => {
  const msg = event.data || {};
  if (msg.type === "config") {
    if (!configured && !loading && Number.isInteger(msg.threads) && msg.threads >= 1 && msg.threads <= 16) {
      threads = msg.threads;
    }
    configured = true;
    return;
  }
  queue = queue.then(() => handle(msg));
};

async function handle(msg) {
  let model;
  try {
    model = await ensureLoaded();
  } catch (error) {
    post({ type: "error", id: msg.id, stage: "load", ...describe(error) });
    return;
  }
  if (msg.type === "load") {
    post({ type: "loaded", id: msg.id, bytes: model.bytes, fromCache: model.fromCache, threads: model.threads,
           ms: model.ms });
    return;
  }
  if (msg.type === "transcribe") {
    try {
      const audio = msg.audio instanceof Float32Array ? msg.audio : new Float32Array(msg.audio || []);
      const result = await transcribe(model, audio, msg.window);
      post({ type: "result", id: msg.id, ...result });
    } catch (error) {
      post({ type: "error", id: msg.id, stage: "transcribe", ...describe(error) });
    }
    return;
  }
  if (msg.type === "choose") {
    try {
      if (!lastEncoding) throw new Error("nothing to choose for: no speech was transcribed since the last choice");
      const began = performance.now();
      const choice = await choose(model, lastEncoding, msg.choices);
      post({ type: "choice", id: msg.id, choice, ms: performance.now() - began });
    } catch (error) {
      post({ type: "error", id: msg.id, stage: "transcribe", ...describe(error) });
    }
    return;
  }
  post({ type: "error", id: msg.id, stage: "worker", name: "TypeError", message: `unknown message ${msg.type}` });
}

self.addEventListener("unhandledrejection", (event) => {
  post({ type: "error", id: null, stage: "worker", ...describe(event.reason) });
});
