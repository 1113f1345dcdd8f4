/* What both speech features need from the page: the browser's capabilities and the shared live region. */

// A module whose one function uses SIMD (i32.const 0; i8x16.splat; i8x16.popcnt): it validates only where
// WebAssembly SIMD is available, which ONNX Runtime Web's wasm build requires.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

/** What this browser offers for running speech models locally. */
export function features() {
  let simd = false;
  try { simd = typeof WebAssembly === "object" && WebAssembly.validate(SIMD_PROBE); } catch (e) { simd = false; }
  return {
    simd,
    worker: typeof Worker === "function",
    audio: typeof (window.AudioContext || window.webkitAudioContext) === "function",
  };
}

/** Say `message` in the page's polite live region (#announcer), as glimpse.js does: cleared first so a
 * repeated message is announced again. */
export function announce(message) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => { region.textContent = message; }, 60);
}
