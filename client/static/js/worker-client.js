/* Request/response over postMessage with a module worker, shared by voice search (workers/stt-worker.js) and
 * read aloud (workers/tts-worker.js).
 *
 * Every request carries a fresh `id`; the worker's messages with that id answer it. An "error" message rejects
 * the request, a type listed in `updates` reports on it without ending it (read aloud's sentence audio), and any
 * other type resolves it. Messages with no id, or an id no request waits for, go to `onEvent` (load progress,
 * "ready", errors not tied to a request).
 *
 * The worker starts on first use. If its script fails (say a vendored import is missing), every waiting request
 * is rejected and the worker is dropped, so the next request starts a fresh one.
 */

export class WorkerClient {
  /**
   * @param {string} url        the module worker's script
   * @param {object} options
   *   name                     the worker's name (shown in developer tools)
   *   updates                  message types that report on a request without answering it
   *   onStart(post)            called once per started worker, before any request: post(message) sends set-up
   *   onEvent(msg)             messages that answer no waiting request
   *   onFail(error)            after fail(): everything waiting was rejected with `error`
   *   errorFrom(msg)           the Error for a request's "error" message (default: new Error(msg.message))
   *   crashError(event)        the Error for a worker whose script failed
   */
  constructor(url, options = {}) {
    this.url = url;
    this.options = options;
    this.updates = new Set(options.updates || []);
    this.worker = null;
    this.pending = new Map(); // id -> {resolve, reject, onUpdate}
    this.nextId = 1;
  }

  get running() { return this.worker !== null; }

  /** Start the worker if it is not running (onStart sends its set-up messages). */
  start() {
    if (this.worker) return this.worker;
    const worker = new Worker(this.url, { type: "module", name: this.options.name });
    this.worker = worker;
    worker.onmessage = (event) => this.receive(event.data || {});
    worker.onerror = (event) => {
      event.preventDefault(); // reported to the page's own handlers instead of the console
      const crash = this.options.crashError;
      this.fail(crash ? crash(event) : new Error(event.message || "the worker failed to start"));
      worker.terminate();
      if (this.worker === worker) this.worker = null;
    };
    this.options.onStart?.((message) => worker.postMessage(message));
    return worker;
  }

  /** Send a message that expects no answer, only to a running worker; returns whether it was sent. */
  post(message) {
    if (!this.worker) return false;
    this.worker.postMessage(message);
    return true;
  }

  /** Send `message` with a new id; `done` settles with the worker's answer. onUpdate(msg) gets the updates. */
  request(message, transfer, onUpdate) {
    const worker = this.start();
    const id = this.nextId++;
    const done = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, onUpdate }));
    worker.postMessage({ ...message, id }, transfer || []);
    return { id, done };
  }

  /** Reject every waiting request with `error`. */
  fail(error) {
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
    this.options.onFail?.(error);
  }

  receive(msg) {
    const entry = msg.id != null ? this.pending.get(msg.id) : undefined;
    if (!entry) {
      this.options.onEvent?.(msg);
      return;
    }
    if (this.updates.has(msg.type)) {
      entry.onUpdate?.(msg);
      return;
    }
    this.pending.delete(msg.id);
    if (msg.type === "error") {
      const errorFrom = this.options.errorFrom;
      entry.reject(errorFrom ? errorFrom(msg) : new Error(msg.message));
    } else {
      entry.resolve(msg);
    }
  }
}
