/* Gapless playback of synthesised sentences: each sentence's PCM is queued on one AudioContext right after the
 * one before, so speech starts with the first sentence while the next ones are still being made. */

export const GAP_S = 0.2; // silence between sentences, as accessibility/speech/synthesise.py

export class Player {
  constructor() {
    this.ctx = null;
    this.sources = new Set();
    this.nextTime = 0;
  }

  /** The AudioContext, created on first use: call it inside a user gesture, or the browser keeps it silent. */
  context() {
    if (!this.ctx) {
      const AC = window.AudioContext || window.webkitAudioContext;
      if (!AC) throw new Error("this browser cannot play audio");
      this.ctx = new AC();
    }
    if (this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
    return this.ctx;
  }

  /** Queue one sentence after what is already queued; returns its start time on the context's clock. */
  schedule(pcm, sampleRate) {
    const ctx = this.context();
    const buffer = ctx.createBuffer(1, pcm.length, sampleRate);
    buffer.copyToChannel(pcm, 0);
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(ctx.destination);
    const start = Math.max(ctx.currentTime + 0.02, this.nextTime);
    source.start(start);
    this.nextTime = start + buffer.duration + GAP_S;
    this.sources.add(source);
    source.onended = () => this.sources.delete(source);
    return start;
  }

  now() { return this.ctx ? this.ctx.currentTime : 0; }

  /** Resolves when everything queued has played (or at once if nothing is queued). */
  drained() {
    return new Promise((resolve) => {
      const check = () => {
        const left = this.nextTime - GAP_S - this.now();
        if (!this.ctx || left <= 0) resolve(); else window.setTimeout(check, Math.min(250, left * 1000 + 20));
      };
      check();
    });
  }

  stop() {
    for (const source of this.sources) {
      try { source.stop(); } catch { /* already stopped */ }
    }
    this.sources.clear();
    this.nextTime = 0;
  }
}
