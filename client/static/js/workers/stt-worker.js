/* Speech-to-text worker (module worker): Whisper tiny.en in ONNX Runtime Web, entirely on this machine.
 *
 * A faithful port of accessibility/speech/transcribe.py (WhisperOnnx): the encoder takes 16 kHz mono float32
 * audio (≤ 30 s; padding and log-mel happen inside the graph) and returns every decoder layer's cross-attention
 * keys and values (cross_kv); then greedy decoding — each step feeds the tokens so far and cross_kv and gets
 * the next token's scores — with the tiny.en prompt, the tokenizer's suppress lists, and byte-level BPE
 * decoding of the generated ids.
 *
 * Messages in:
 *   {type: "config", threads}          before the first load: wasm threads (default min(4, cores) when the page
 *                                      is cross-origin isolated, else 1)
 *   {type: "load", id}                 fetch manifest, tokenizer and both graphs, create the sessions
 *   {type: "transcribe", id, audio}    audio: Float32Array at 16 kHz (transferred); loads first if needed
 * Messages out:
 *   {type: "progress", loaded, total}  bytes of model files fetched so far / all of them (from the manifest)
 *   {type: "loaded", id, bytes, fromCache, threads, ms: {fetch, session}}   fromCache: every file came from
 *                                      Cache Storage (see model-cache.js), nothing was downloaded
 *   {type: "result", id, text, tokens, ms: {encoder, decoder, total}}
 *   {type: "error", id, stage, name, message}   stage: "load" | "transcribe" | "worker"
 * Lazily loaded on first use; a failed load is retried on the next request.
 */
import * as ort from "/vendor/ort/ort.wasm.min.mjs";
import { fetchModel, pruneModels } from "./model-cache.js";

const MODELS = "/static/models/";
const MANIFEST = MODELS + "speech-manifest.json";
const SAMPLE_RATE = 16000;
const MAX_SAMPLES = 30 * SAMPLE_RATE;
const MAX_TOKENS = 64;

// Threads need cross-origin isolation (SharedArrayBuffer); more than 4 buys little for a model this size.
let threads = self.crossOriginIsolated ? Math.max(1, Math.min(4, self.navigator.hardwareConcurrency || 1)) : 1;
let loading = null; // Promise of the loaded model
let configured = false;

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
  return {
    encoder,
    decoder,
    tokens: tok.tokens,
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

async function transcribe(model, audio) {
  if (audio.length > MAX_SAMPLES) audio = audio.subarray(0, MAX_SAMPLES);
  const start = performance.now();
  if (audio.length < SAMPLE_RATE / 10) return { text: "", tokens: [], ms: { encoder: 0, decoder: 0, total: 0 } };
  const audioTensor = new ort.Tensor("float32", audio, [1, audio.length]);
  const crossKv = (await model.encoder.run({ audio: audioTensor }, ["cross_kv"])).cross_kv;
  const encodedAt = performance.now();
  const ids = model.prompt.slice();
  const generated = [];
  const eot = model.special.eot;
  for (let step = 0; step < MAX_TOKENS; step++) {
    const tokens = new ort.Tensor("int64", BigInt64Array.from(ids, (x) => BigInt(x)), [1, ids.length]);
    const out = await model.decoder.run({ tokens, cross_kv: crossKv });
    const token = argmaxNext(model, out.logits.data, step === 0);
    out.logits.dispose?.();
    tokens.dispose?.();
    if (token === eot || token < 0) break;
    generated.push(token);
    ids.push(token);
  }
  crossKv.dispose?.();
  const end = performance.now();
  return {
    text: decodeText(model, generated),
    tokens: generated,
    ms: { encoder: encodedAt - start, decoder: end - encodedAt, total: end - start },
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
      const result = await transcribe(model, audio);
      post({ type: "result", id: msg.id, ...result });
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
