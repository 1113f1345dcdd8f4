// Text-to-speech worker (module worker): the Piper voice (VITS, ONNX) in onnxruntime-web, phonemes from npm
// `phonemizer` (espeak-ng in wasm). Mirrors accessibility/speech/synthesise.py + piper_voice.py:
// text → sentences → IPA per clause (joined with ", " + the sentence's end mark) → Piper ids
// (^ _ p1 _ … pn _ $ over NFD code points) → model → float32 PCM, posted sentence by sentence.
//
// In:  {type: "load", threads?}                       load the voice now (otherwise on the first "speak")
//      {type: "speak", id, text, rate?}               rate 0.75–1.5: length_scale = config length_scale / rate
//      {type: "cancel", id}                           drop the rest of job `id` (or every job without id)
// Out: {type: "progress", stage, loaded, total}       while the voice loads
//      {type: "ready", sampleRate, threads, loadMs, fromCache}   fromCache: the voice came from Cache Storage
//      {type: "audio", id, index, count, pcm, sampleRate, ms}   pcm: Float32Array (transferred), one sentence
//      {type: "done", id, ms, sentences} | {type: "cancelled", id} | {type: "error", id, message}

import { fetchModel, pruneModels } from "./model-cache.js";

const MODELS = "/static/models/";
const MANIFEST = MODELS + "piper-voice.manifest.json";
const ORT_URL = "/vendor/ort/ort.wasm.min.mjs";
const PHONEMIZER_URL = "/vendor/phonemizer/phonemizer.js";

const SENTENCE_END = /(?<=[.!?…])["'”’)\]]*\s+|\n+/;
const TERMINATORS = { ".": ".", "!": "!", "?": "?", "…": ".", ":": ",", ";": "," };

let loading = null; // Promise<{ort, session, config, phonemize}>
let requestedThreads = null;
const cancelled = new Set();
let cancelAll = 0; // bumped by a cancel without id
let chain = Promise.resolve(); // jobs run one after another

export function splitSentences(text) {
  return text.split(SENTENCE_END).map((s) => (s || "").trim()).filter(Boolean);
}

function phonemesToIds(phonemes, idMap, config) {
  const bos = config.bos || "^", eos = config.eos || "$", pad = config.pad || "_";
  const ids = [...idMap[bos], ...idMap[pad]];
  for (const ch of phonemes.normalize("NFD")) {
    const id = idMap[ch];
    if (id) { ids.push(...id, ...idMap[pad]); }
  }
  ids.push(...idMap[eos]);
  return ids;
}

async function fetchVoice(url, total) {
  let loaded = 0;
  let lastPost = 0;
  const { bytes, source } = await fetchModel(url, (n) => {
    loaded += n;
    if (loaded - lastPost > 1 << 20) { lastPost = loaded; postMessage({ type: "progress", stage: "model", loaded, total }); }
  });
  postMessage({ type: "progress", stage: "model", loaded: bytes.length, total: total || bytes.length });
  return { bytes, source };
}

function load() {
  if (loading) return loading;
  loading = (async () => {
    const started = performance.now();
    postMessage({ type: "progress", stage: "voice", loaded: 0, total: 0 });
    const manifestResponse = await fetch(MANIFEST);
    if (!manifestResponse.ok) throw new Error(`the reading voice is not installed (${MANIFEST}: HTTP ${manifestResponse.status})`);
    const manifest = await manifestResponse.json();
    const [ort, phonemizer, configResponse] = await Promise.all([
      import(ORT_URL),
      import(PHONEMIZER_URL),
      fetch(MODELS + manifest.files.config.path),
    ]);
    if (!configResponse.ok) throw new Error(`voice config: HTTP ${configResponse.status}`);
    const config = await configResponse.json();
    const modelUrl = MODELS + manifest.files.model.path;
    const { bytes: model, source } = await fetchVoice(modelUrl, manifest.files.model.bytes);
    pruneModels(["piper-voice."], [modelUrl]).catch(() => {}); // older builds of the voice, if any
    const isolated = self.crossOriginIsolated === true;
    const cores = self.navigator.hardwareConcurrency || 1;
    const threads = isolated ? Math.max(1, Math.min(requestedThreads || 4, cores)) : 1;
    ort.env.wasm.wasmPaths = "/vendor/ort/";
    ort.env.wasm.numThreads = threads;
    ort.env.logLevel = "error";
    postMessage({ type: "progress", stage: "session", loaded: 0, total: 0 });
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    });
    const voice = config.espeak_voice || "en-us";
    const phonemize = (text) => phonemizer.phonemize(text, voice);
    await phonemize("Ready."); // espeak-ng's wasm starts up here, not on the first real sentence
    const loadMs = performance.now() - started;
    postMessage({ type: "ready", sampleRate: config.sample_rate, threads, loadMs, fromCache: source === "cache" });
    return { ort, session, config, phonemize };
  })();
  loading.catch(() => { loading = null; }); // a later request may retry
  return loading;
}

async function sentencePhonemes(phonemize, sentence) {
  const clauses = (await phonemize(sentence)).map((c) => c.trim()).filter(Boolean);
  if (!clauses.length) return "";
  const end = sentence.replace(/["'”’)\] ]+$/u, "").slice(-1);
  return clauses.join(", ") + (TERMINATORS[end] || ".");
}

async function synthesise(voice, phonemes, rate) {
  const { ort, session, config } = voice;
  const ids = phonemesToIds(phonemes, config.phoneme_id_map, config);
  const inf = config.inference;
  const feeds = {
    input: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [1, ids.length]),
    input_lengths: new ort.Tensor("int64", BigInt64Array.from([BigInt(ids.length)]), [1]),
    scales: new ort.Tensor("float32", Float32Array.from([inf.noise_scale, inf.length_scale / rate, inf.noise_w]), [3]),
  };
  const out = await session.run(feeds);
  const tensor = out[config.output || "output"];
  const pcm = new Float32Array(tensor.data.length);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.max(-1, Math.min(1, tensor.data[i]));
  for (const t of Object.values(out)) if (t.dispose) t.dispose();
  return pcm;
}

async function speak({ id, text, rate }, generation) {
  const isCancelled = () => cancelled.has(id) || cancelAll !== generation;
  const started = performance.now();
  try {
    const voice = await load();
    rate = Math.min(2, Math.max(0.5, Number(rate) || 1));
    const sentences = splitSentences(String(text || ""));
    let index = 0;
    for (const sentence of sentences) {
      if (isCancelled()) { postMessage({ type: "cancelled", id }); return; }
      const phonemes = await sentencePhonemes(voice.phonemize, sentence);
      if (!phonemes) continue;
      const pcm = await synthesise(voice, phonemes, rate);
      if (isCancelled()) { postMessage({ type: "cancelled", id }); return; }
      postMessage(
        { type: "audio", id, index, count: sentences.length, pcm, sampleRate: voice.config.sample_rate,
          ms: performance.now() - started },
        [pcm.buffer],
      );
      index += 1;
    }
    postMessage({ type: "done", id, ms: performance.now() - started, sentences: index });
  } catch (error) {
    postMessage({ type: "error", id, message: (error && error.message) || String(error) });
  } finally {
    cancelled.delete(id);
  }
}

self.onmessage = (event) => {
  const msg = event.data || {};
  if (msg.type === "load") {
    if (msg.threads) requestedThreads = msg.threads;
    load().catch((error) => postMessage({ type: "error", id: null, message: (error && error.message) || String(error) }));
  } else if (msg.type === "speak") {
    const generation = cancelAll;
    chain = chain.then(() => speak(msg, generation));
  } else if (msg.type === "cancel") {
    if (msg.id == null) cancelAll += 1; else cancelled.add(msg.id);
  }
};
