/**
 * Microphone capture for voice search: an AudioWorklet that hands every block of the input, mixed down to
 * mono, to the page (voice-search.js). A file of its own because the Content-Security-Policy allows
 * scripts, worklets included, only from this origin (no blob: URLs).
 */
class GlimpseCapture extends AudioWorkletProcessor {
  process(inputs) {
    const input = inputs[0];
    if (input && input[0]) {
      const n = input[0].length;
      const mono = new Float32Array(n);
      for (const channel of input) for (let i = 0; i < n; i++) mono[i] += channel[i] / input.length;
      this.port.postMessage(mono, [mono.buffer]);
    }
    return true;
  }
}
registerProcessor("glimpse-capture", GlimpseCapture);
