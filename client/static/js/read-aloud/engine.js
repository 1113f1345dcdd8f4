/* The Glimpse voice: Piper in a module worker (workers/tts-worker.js), driven over the shared worker client. */

import { WorkerClient } from "../worker-client.js";

const WORKER_URL = "/static/js/workers/tts-worker.js";

class Engine {
  constructor(threads) {
    this.threads = threads || null;
    this.info = null; // {sampleRate, threads, loadMs, fromCache} once the voice is loaded
    this.readyWaiters = [];
    this.client = new WorkerClient(WORKER_URL, {
      name: "glimpse-tts",
      updates: ["audio"], // one sentence's PCM; the job goes on
      // The voice starts loading with the worker, so it is warm by the first "speak".
      onStart: (post) => post({ type: "load", threads: this.threads }),
      onEvent: (msg) => this.event(msg),
      onFail: (error) => {
        for (const w of this.readyWaiters) w.reject(error);
        this.readyWaiters = [];
      },
      crashError: (event) =>
        new Error("the reading voice could not start" + (event.message ? ` (${event.message})` : "")),
    });
  }

  event(msg) {
    if (msg.type === "ready") {
      this.info = msg;
      for (const w of this.readyWaiters) w.resolve(msg);
      this.readyWaiters = [];
    } else if (msg.type === "error" && msg.id == null) {
      this.client.fail(new Error(msg.message)); // the voice failed to load: nothing queued can be spoken
    }
  }

  /** Resolves with the voice's info once it is loaded (starting the worker if need be). */
  ready() {
    if (this.info) return Promise.resolve(this.info);
    this.client.start();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Synthesise `text`; onAudio(msg) gets each sentence's PCM as it is made. `done` resolves with the worker's
   * "done" (or "cancelled") message, `cancelled` telling which. */
  speak(text, rate, onAudio) {
    const job = this.client.request({ type: "speak", text, rate }, [], onAudio);
    return { id: job.id, done: job.done.then((msg) => ({ ...msg, cancelled: msg.type === "cancelled" })) };
  }

  /** Drop the rest of job `id` (only a running worker has anything to drop). */
  cancel(id) {
    this.client.post({ type: "cancel", id });
  }
}

const engines = new Map();

/** One engine per thread count ("auto" when not given), so a benchmark can compare them on one page. */
export function engineFor(threads) {
  const key = threads || "auto";
  if (!engines.has(key)) engines.set(key, new Engine(threads));
  return engines.get(key);
}
