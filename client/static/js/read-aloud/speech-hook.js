/* window.glimpseSpeech, the test and benchmark hook (tests/e2e/test_read_aloud.py, bench/voice.py): the same
 * worker path as reading aloud, returning the PCM (sentences joined by the playback gap) instead of playing it. */

import { features } from "../speech-support.js";
import { engineFor } from "./engine.js";
import { GAP_S } from "./player.js";

export function glimpseSpeechHook() {
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
