// Shares (0..1) to the integer weights a data plane understands, without losing small shares.
//
// Method: largest-remainder (Hamilton) apportionment of a fixed total T with a floor of 1 for every
// positive share.
//   1. Every share s_i > 0 whose exact quota q_i = s_i / Σs · T is below 1 is pinned to weight 1
//      (a share the scheduler gave to an origin must never silently become 0 = "no traffic").
//   2. The remaining units T' = T − (#pinned) are apportioned among the other positive shares in
//      proportion to their shares: each gets floor(quota), and the units still missing go, one each,
//      to the largest fractional remainders (ties: earlier input first, so the result is deterministic).
//   3. If a re-scaled quota in step 2 drops below 1 (possible only because pinning took units away),
//      that share is pinned as well and step 2 is repeated; at most n rounds.
// Result: Σ w_i = T exactly (when T ≥ the number of positive shares; otherwise every positive share
// gets 1), and 0 exactly for shares that are 0.
//
// Error bound (in share terms, |w_i/T − s_i/Σs|): without pinning < 1/T. Pinning moves at most k/T
// in total (k = number of pinned shares) from the large shares to the small ones, so every share is
// within (1 + k)/T (a pinned share is over-served by < 1/T). With T = 256 (HAProxy) and no pinning
// that is < 0.4 % per origin; with T = 1000 (nginx, IPVS defaults) < 0.1 %. Checked by a property
// test (rounding.test.ts).

export interface ApportionOptions {
  /** Integer total the positive shares are spread over (HAProxy 256, nginx/IPVS 1000 by default). */
  total: number;
}

/** Integer weights for `shares` (any non-negative numbers, not necessarily summing to 1). */
export function apportion(shares: readonly number[], { total }: ApportionOptions): number[] {
  if (!Number.isInteger(total) || total < 1) throw new RangeError(`total must be a positive integer, got ${total}`);
  const weights = shares.map(() => 0);
  const positive = shares.map((s, i) => ({ s, i })).filter(({ s }) => Number.isFinite(s) && s > 0);
  if (positive.length === 0) return weights;
  if (positive.length >= total) {
    for (const { i } of positive) weights[i] = 1;
    return weights;
  }
  const pinned = new Set<number>();
  for (let round = 0; round <= positive.length; round++) {
    const free = positive.filter(({ i }) => !pinned.has(i));
    const units = total - pinned.size;
    const sum = free.reduce((a, { s }) => a + s, 0);
    const quotas = free.map(({ s, i }) => ({ i, q: (s / sum) * units }));
    const tooSmall = quotas.filter(({ q }) => q < 1);
    if (tooSmall.length > 0 && free.length > tooSmall.length) {
      for (const { i } of tooSmall) pinned.add(i);
      continue;
    }
    for (const i of pinned) weights[i] = 1;
    let given = 0;
    for (const { i, q } of quotas) {
      const w = Math.max(1, Math.floor(q));
      weights[i] = w;
      given += w;
    }
    // Hand out the remaining units by largest remainder (stable: input order breaks ties).
    const byRemainder = [...quotas].sort((a, b) => (b.q - Math.floor(b.q)) - (a.q - Math.floor(a.q)) || a.i - b.i);
    for (let k = 0; given < units && k < byRemainder.length; k++, given++) weights[byRemainder[k]!.i]! += 1;
    // If every free quota was < 1 (all pinned at 1 above), `given` may exceed `units`: take the excess
    // back from the largest weights so the total stays exact.
    for (let k = 0; given > units && k < 10 * total; k++) {
      const j = largestIndex(weights);
      if (weights[j]! <= 1) break;
      weights[j]! -= 1;
      given -= 1;
    }
    return weights;
  }
  return weights;
}

function largestIndex(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
