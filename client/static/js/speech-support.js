/* What both speech features (voice-search.js, read-aloud.js) need to know about the browser. */

// A module whose one function uses SIMD (i32.const 0; i8x16.splat; i8x16.popcnt): it validates only where
// WebAssembly SIMD is available, which ONNX Runtime Web's wasm build requires.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

function hasSimd() {
  try {
    return typeof WebAssembly === "object" && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/** What this browser offers for running speech models locally. */
export function features() {
  return {
    simd: hasSimd(),
    worker: typeof Worker === "function",
    audio: typeof (window.AudioContext || window.webkitAudioContext) === "function",
  };
}
