/* End of speech from the microphone's loudness, so a spoken search or command needs no second key press.
 *
 * Fed the RMS of each ~20 ms frame, it learns the room's noise floor from the first ten frames (the second
 * quietest, so words spoken at once do not count as noise), takes speech to have started after START_MS of
 * frames louder than the threshold (3x the floor, at least MIN_LEVEL), and to have ended after HANGOVER_MS of
 * quiet frames once it started. Pauses between words are far shorter than the hangover.
 */

export const FRAME_MS = 20;
const START_MS = 80;
const HANGOVER_MS = 700;
const MIN_LEVEL = 0.01;
const FLOOR_FRAMES = 10;

export class SpeechEnd {
  constructor({ hangoverMs = HANGOVER_MS, minLevel = MIN_LEVEL } = {}) {
    this.hangover = Math.ceil(hangoverMs / FRAME_MS);
    this.minLevel = minLevel;
    this.first = [];
    this.loud = 0;
    this.quiet = 0;
    this.started = false;
    this.ended = false;
  }

  get threshold() {
    const sorted = [...this.first].sort((a, b) => a - b);
    const floor = sorted.length ? sorted[Math.floor(sorted.length / 5)] : 0;
    return Math.max(this.minLevel, 3 * floor);
  }

  /** One frame's RMS; returns "start" when speech starts, "end" when it has ended, else null. */
  push(rms) {
    if (this.ended) return null;
    if (this.first.length < FLOOR_FRAMES) this.first.push(rms);
    const loud = rms > this.threshold;
    if (!this.started) {
      this.loud = loud ? this.loud + 1 : 0;
      if (this.loud * FRAME_MS >= START_MS) {
        this.started = true;
        return "start";
      }
      return null;
    }
    this.quiet = loud ? 0 : this.quiet + 1;
    if (this.quiet >= this.hangover) {
      this.ended = true;
      return "end";
    }
    return null;
  }
}
