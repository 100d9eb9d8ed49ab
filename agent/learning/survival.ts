// How long an open connection will stay open, from the lifetimes of connections that closed on the
// same port and its own age. Pure: counts in, tables out.
//
// A Kaplan–Meier estimate on a grid of `step` seconds (the poll interval: lifetimes are not known more
// finely): at risk at age b are the recently closed connections that lived at least b plus the open
// connections at least b old (censored: they are still open), the hazard is closes at b / at risk, and
// S(b) = Π (1 − hazard) below b. A connection of age a is still open t seconds later with probability
// S(a + t) / S(a) — for lifetimes that are all alike (20 requests at a fixed rate, a keep-alive timeout)
// that is ~1 until its end and then 0, which an exponential fit cannot say. The window asked about is
// [offset, offset + horizon] from now: the cycle the scheduler predicts starts some time after this poll
// (the data's age when it is read). Averaged over the window, it is what that cycle's load will see of
// the connection. Ages beyond the grid use its last cell; ages past every closed lifetime have no hazard
// left: they stay open (long-lived, as far as is known).
export const RECENT_LIFETIMES = 4096;
export const GRID_CELLS = 4096;

export class LifetimeSample {
  /** Grid cell of each recent lifetime (ring). */
  private readonly ring = new Uint16Array(RECENT_LIFETIMES);
  private size = 0;
  private next = 0;
  /** closes[b]: recent lifetimes in cell b. */
  readonly closes = new Float64Array(GRID_CELLS);

  constructor(readonly step: number) {}

  cell(seconds: number): number {
    return Math.min(GRID_CELLS - 1, Math.max(0, Math.floor(seconds / this.step)));
  }

  add(lifetimeSeconds: number): void {
    const b = this.cell(lifetimeSeconds);
    if (this.size === RECENT_LIFETIMES) this.closes[this.ring[this.next]!]!--;
    else this.size++;
    this.ring[this.next] = b;
    this.closes[b]!++;
    this.next = (this.next + 1) % RECENT_LIFETIMES;
  }

  get recent(): number {
    return this.size;
  }

  /**
   * Per age cell: the probability a connection of that age is still open at the end of the window
   * [offset, offset + horizon] (seconds from now), and that probability averaged over the window.
   * `openAges[b]` counts the open connections in cell b.
   */
  table(openAges: Float64Array, horizon: number, offset = 0): { end: Float64Array; mean: Float64Array } {
    // S(b) for b = 0..GRID_CELLS (S(0) = 1), with the open connections censored.
    const S = new Float64Array(GRID_CELLS + 1);
    let atRisk = 0;
    for (let b = 0; b < GRID_CELLS; b++) atRisk += this.closes[b]! + openAges[b]!;
    S[0] = 1;
    for (let b = 0; b < GRID_CELLS; b++) {
      const hazard = atRisk > 0 ? this.closes[b]! / atRisk : 0;
      S[b + 1] = S[b]! * (1 - hazard);
      atRisk -= this.closes[b]! + openAges[b]!;
    }
    const k = Math.max(1, Math.round(horizon / this.step));
    const o = Math.max(0, Math.round(offset / this.step));
    const end = new Float64Array(GRID_CELLS);
    const mean = new Float64Array(GRID_CELLS);
    for (let a = 0; a < GRID_CELLS; a++) {
      const base = S[a]!;
      if (base <= 0) {
        // Older than anything that ever closed here: nothing says it will close.
        end[a] = 1;
        mean[a] = 1;
        continue;
      }
      const at = (j: number) => S[Math.min(GRID_CELLS, a + j)]! / base;
      end[a] = at(o + k);
      // Trapezoid over the window (k steps from o).
      let sum = (at(o) + end[a]!) / 2;
      for (let j = 1; j < k; j++) sum += at(o + j);
      mean[a] = sum / k;
    }
    return { end, mean };
  }
}
