/* Which voice reads, and how fast: the choice (saved in localStorage) and the "Reading voice and speed" form. */

export const GLIMPSE_VOICE = "glimpse";
const RATES = [0.75, 1, 1.25, 1.5];
const STORE_VOICE = "glimpse.readAloud.voice";
const STORE_RATE = "glimpse.readAloud.rate";

let glimpseAvailable = false; // the browser can run the Glimpse voice (set once by read-aloud.js)

export function setGlimpseAvailable(available) {
  glimpseAvailable = available;
}

function stored(key, fallback) {
  try { return localStorage.getItem(key) ?? fallback; } catch { return fallback; }
}

function store(key, value) {
  try { localStorage.setItem(key, value); } catch { /* storage disabled: the choice lasts for this page */ }
}

export function browserVoices() {
  if (!("speechSynthesis" in window)) return [];
  try { return window.speechSynthesis.getVoices() || []; } catch { return []; }
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

/** The voice to read with: {kind: "glimpse"} or {kind: "browser", voice} (voice may be undefined: the default). */
export function currentVoice() {
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

export function currentRate() {
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

/** Fill and show the page's hidden #voice-settings: voice and speed selects, and the keys hint. */
export function buildSettings() {
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
