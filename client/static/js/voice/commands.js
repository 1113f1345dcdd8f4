/* The spoken commands of hands-free reading, recognised from Whisper's transcript of a short utterance.
 *
 * A small grammar rather than a second model: the transcript is lower-cased and stripped of punctuation and
 * fillers ("please", "okay", "um"), then matched against each command's phrases; failing an exact match, the
 * closest phrase by edit distance within a third of its length is taken (Whisper writes "Knot it.", "Next!",
 * "Good." or "Stop it."). "search for …" (also "find …", "look for …", "show me …") carries the rest as a query.
 *
 * parseCommand(text) → {name, query?} | null, name one of COMMANDS. commandFrom(text, choice) adds the worker's
 * closed-set choice among the fixed commands (CHOICES) when the transcript itself is no command.
 */

export const COMMANDS = ["next", "repeat", "stop", "more like this", "good", "not it", "search"];

const PHRASES = {
  next: ["next", "next one", "next result", "next picture", "skip", "skip it", "go on", "forward"],
  // Not "what": any word one letter from it ("that", "hat", "wait") would be taken for "repeat".
  repeat: ["repeat", "repeat that", "repeat it", "again", "say again", "say that again", "read again", "pardon"],
  stop: ["stop", "stop reading", "stop it", "quiet", "be quiet", "silence", "cancel", "enough", "that's enough",
    "shut up", "end"],
  "more like this": ["more like this", "more like this one", "more like that", "more like these", "show me more like this",
    "similar", "similar pictures", "find similar", "like this"],
  // Not "that's it": one letter from "that it", which is how Whisper often writes a spoken "not it".
  good: ["good", "good match", "good one", "that's good", "yes", "that one", "thumbs up", "correct", "perfect"],
  "not it": ["not it", "not this", "not that", "not this one", "not that one", "no", "nope", "not a match",
    "wrong", "bad", "thumbs down", "not good", "that's not it", "it's not it", "that it"],
};

const SEARCH = /^(?:search(?: for)?|find(?: me)?|look(?:ing)? for|show me(?: pictures of| a picture of| photos of)?)\s+(.+)$/;
const FILLERS = /\b(?:please|okay|ok|um+|uh+|er+|hmm+|so|well|now|glimpse)\b/g;

/** Lower case, apostrophes kept, every other mark a space, fillers gone, spaces single. */
export function normalise(text) {
  return String(text || "")
    .toLowerCase()
    .replace(/[\u2018\u2019`]/g, "'")
    .replace(/\[[^\]]*\]|\([^)]*\)/g, " ") // Whisper's non-speech tags
    .replace(/[^a-z0-9' ]+/g, " ")
    .replace(FILLERS, " ")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^(.+?)(?: \1)+$/, "$1"); // Whisper looping on a short utterance: "next next next"
}

function distance(a, b) {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/* The fixed commands as Whisper writes them, for the worker to score when the transcript is no command
 * (stt-worker.js choose(): forced decoding, a closed-set choice). "search for …" is open and not among them. */
export const CHOICES = [
  { name: "next", phrases: ["Next", "next"] },
  { name: "repeat", phrases: ["Repeat", "repeat"] },
  { name: "stop", phrases: ["Stop", "stop"] },
  { name: "more like this", phrases: ["More like this", "more like this"] },
  { name: "good", phrases: ["Good", "good"] },
  { name: "not it", phrases: ["Not it", "not it"] },
];
// The lowest mean log-probability per token taken as a command. Spoken commands scored -2.6 to -0.4 and other
// speech -6.6 to -3.9 in a first measurement (5 + 2 espeak-ng voices); fitted with bench/voice_loop.py.
export const CHOICE_MIN = -3.2;

/** The command in a transcript, or null when it is none of them. */
export function parseCommand(text) {
  const said = normalise(text);
  if (!said) return null;
  const search = said.match(SEARCH);
  if (search && !Object.values(PHRASES).some((list) => list.includes(said))) {
    return { name: "search", query: search[1].trim() };
  }
  let best = null;
  for (const [name, phrases] of Object.entries(PHRASES)) {
    for (const phrase of phrases) {
      if (said === phrase) return { name };
      const d = distance(said, phrase);
      if (d <= Math.floor(phrase.length / 3) && (!best || d < best.d)) best = { name, d };
    }
  }
  return best ? { name: best.name } : null;
}

/** The command in a transcript, or failing that the worker's choice among CHOICES if it is likely enough. */
export function commandFrom(text, choice) {
  const parsed = parseCommand(text);
  if (parsed) return parsed;
  return choice && choice.score >= CHOICE_MIN ? { name: choice.name } : null;
}
