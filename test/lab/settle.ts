// How a capped origin settles, read from the origins' own counters: the damping law's cycle bound, the
// first damped move in the audit log, and when the near origin went (and stayed) at or under its ceiling.
// Shared by the spill scenarios (scripts/capacity-spill.ts, scripts/keepalive-spill.ts).
import type { Decision, Recorder } from './measure.ts';
import { pickOrder, pickOrigin } from '../../scheduler/core/predict.ts';
import { rateOf, type Bin } from './world.ts';

/**
 * Cycles the damping needs to bring a source's share from `from` to within `tol` of `to`: linear at
 * max_shift, then the proportional band closes `gain` of the remaining gap per cycle (see
 * scheduler/core/damping.ts). With gain = 1 this is the write-up's ceil(gap / max_shift).
 */
export function dampedCycles(gap: number, maxShift: number, gain: number, tol: number): number {
  let g = gap;
  let n = 0;
  while (g > tol + 1e-12 && n < 10_000) {
    g -= Math.min(maxShift, gain * g);
    n++;
  }
  return n;
}

/** The first decision at or after `from` that lowers `originId`'s share for a source matching `source`. */
export function firstMoveOff(ds: Decision[], from: number, originId: string, source: (id: string) => boolean): number | null {
  const d = ds.find((x) => Date.parse(x.created_at) >= from && x.diff.some((c) => source(c.source) && c.origin_id === originId && c.to < c.from));
  return d ? Date.parse(d.created_at) : null;
}

export interface Settling {
  /** When the near origin went and stayed at or under the ceiling (null: never within the hold). */
  tSettle: number | null;
  /** Both origins' served rate from the first move to the end. */
  totalRate: number;
  /** The near origin's largest raw 2-s rate after settling. */
  rawMax: number;
}

/**
 * Settled: from some time on, every 2-s window (centred, in 250 ms steps) of the near origin's load is at
 * or under the ceiling — the load judged as the near origin's *share* of what both origins served in the
 * window times their total rate over the whole period. A CPU stall on a shared two-core machine shifts
 * requests between bins at both origins alike: raw 2-s rates then jump by ±10 % while the share does not
 * move. (The raw 2-s maximum is reported too.)
 */
export function settling(nearBins: Bin[], farBins: Bin[], firstMove: number, tEnd: number, ceiling: number): Settling {
  const totalRate = rateOf(nearBins, 'served', firstMove, tEnd) + rateOf(farBins, 'served', firstMove, tEnd);
  const centred = (t: number) => {
    const n = rateOf(nearBins, 'served', t - 1000, t + 1000);
    const f = rateOf(farBins, 'served', t - 1000, t + 1000);
    return n + f > 0 ? (n / (n + f)) * totalRate : 0;
  };
  let tSettle: number | null = null;
  for (let t = firstMove; t + 1000 <= tEnd; t += 250) {
    let stays = true;
    for (let u = t; u + 1000 <= tEnd; u += 250) {
      if (centred(u) > ceiling) {
        stays = false;
        break;
      }
    }
    if (stays) {
      tSettle = t;
      break;
    }
  }
  let rawMax = 0;
  for (let u = tSettle ?? tEnd; u + 1000 <= tEnd; u += 250) rawMax = Math.max(rawMax, rateOf(nearBins, 'served', u - 1000, u + 1000));
  return { tSettle, totalRate, rawMax };
}

/**
 * The scheduler's own measurement of an origin's load (decision records, `inputs.measured_load_rps`)
 * against the origin's request counter over the same window (each is a rate over the window before the
 * decision): the load balancer's unit is requests, so the two must agree — whatever the data plane in
 * between does with connections (HAProxy pools them; keep-alive clients reuse them).
 */
export function checkMeasuredInRequests(rec: Recorder, ds: Decision[], bins: Bin[], origin: string, windowMs: number, from: number, to: number): void {
  const used = ds.filter((d) => Date.parse(d.created_at) >= from + windowMs + 2000 && Date.parse(d.created_at) <= to);
  const ratios = used.flatMap((d) => {
    const t = Date.parse(d.created_at);
    const counted = rateOf(bins, 'served', t - windowMs, t);
    const said = Number((d.inputs.measured_load_rps as Record<string, number> | undefined)?.[origin] ?? NaN);
    return counted > 0 && Number.isFinite(said) ? [said / counted] : [];
  });
  ratios.sort((a, b) => a - b);
  const median = ratios[Math.floor(ratios.length / 2)] ?? NaN;
  rec.number('scheduler_measured_over_origin_counter', median);
  const how = (used.at(-1)?.inputs.units as { origin_load?: Record<string, string> } | undefined)?.origin_load?.[origin] ?? '—';
  rec.check(`units: the scheduler measures ${origin}'s load in requests, as its own counter does (within 5 %)`, Math.abs(median - 1) <= 0.05, `median of ${ratios.length} decisions: ${median.toFixed(3)} × the origin's served rate over the same ${windowMs / 1000} s; conversion: ${how}`);
}

/** One client subnet steered by DNS: its sticky point (scheduler/loop/dns-pick.ts) and the requests/s it offers. */
export interface AnsweredSubnet {
  cidr: string;
  point: number;
  rate: number;
}

/**
 * Per decision from `fromIndex`: the load on `originId` by where sluice dns answers each subnet (whole,
 * by its sticky point) and by its share (what the damping walks). Null when the replayed weights are
 * not `final` (then nothing is claimed).
 */
export function answeredLoads(
  ds: Decision[],
  fromIndex: number,
  subnets: AnsweredSubnet[],
  start: Record<string, number>,
  originIds: readonly string[],
  originId: string,
  final: Record<string, Record<string, number>>,
): { byAnswer: number[]; byShare: number[] } | null {
  const order = pickOrder(originIds);
  const col = originIds.indexOf(originId);
  const weights = new Map(subnets.map((s) => [s.cidr, originIds.map((id) => start[id] ?? 0)]));
  const byAnswer: number[] = [];
  const byShare: number[] = [];
  for (let k = 0; fromIndex + k < ds.length; k++) {
    for (const c of ds[fromIndex + k]!.diff) {
      const w = c.source.startsWith('subnet:') ? weights.get(c.source.slice('subnet:'.length)) : undefined;
      if (!w) continue;
      const j = originIds.indexOf(c.origin_id);
      if (j < 0) return null; // an origin this replay does not know: it cannot say what was answered
      w[j] = c.to;
    }
    let answered = 0;
    let shared = 0;
    for (const s of subnets) {
      const w = Float64Array.from(weights.get(s.cidr)!);
      const total = w.reduce((t, v) => t + (v > 0 ? v : 0), 0);
      if (pickOrigin(w, 0, order, s.point) === col) answered += s.rate;
      shared += total > 0 ? (s.rate * Math.max(0, w[col]!)) / total : 0;
    }
    byAnswer.push(answered);
    byShare.push(shared);
  }
  const replayed = subnets.every((s) => originIds.every((id, j) => Math.abs((final[s.cidr]?.[id] ?? 0) - weights.get(s.cidr)![j]!) < 1e-6));
  return replayed ? { byAnswer, byShare } : null;
}

/**
 * The cycles the answers' granularity may add to the damping law's bound. The law walks the shares;
 * the load goes where the subnets are answered, and the scheduler carries the *expected* shares from
 * one cycle to the next (scheduler/core/connections.ts), so a surplus the answers hold on the origin
 * is not caught up by a faster walk: it is worked off as the shares pass the remaining points. The
 * allowance is the largest surplus of the answered over the shared load on the origin, from the first
 * move until the shares reach the ceiling, in cycles of the law's pace there (`lawStep`, load moved
 * per cycle). Zero when the answers never held more than the shares; null without a pace.
 */
export function answerLag(loads: { byAnswer: number[]; byShare: number[] }, ceiling: number, lawStep: number): number | null {
  if (!(lawStep > 0)) return null;
  let surplus = 0;
  for (let k = 0; k < loads.byShare.length; k++) {
    surplus = Math.max(surplus, loads.byAnswer[k]! - loads.byShare[k]!);
    if (loads.byShare[k]! <= ceiling) break;
  }
  return surplus / lawStep;
}

/**
 * The cycles the scheduler's own walk needed to bring `originId` to or under `ceiling` and keep it
 * there: from the decision at `fromIndex`, the first whose predicted load for the end of its cycle
 * (`predicted_load_rps`, which knows the connections still pinned and where each subnet is answered)
 * is at or under the ceiling, with every later one too, counted as cycles (that decision's cycle
 * included). Null when the walk never got there.
 *
 * Why a second reference beside the damping law: the law assumes one plan, but learned RTTs move it
 * mid-walk (a subnet answered far learns a latency below the estimate the others still carry, leaves
 * the merged row, and the plan takes it instead of a share of its whole group). The walk then restarts
 * from the new plan at α = max_shift / (the new largest way), and the origin's remaining load shrinks
 * by that smaller α for a few cycles: legitimately slower than the one-plan law (decisions'
 * `step.cycles_to_plan` rises there).
 */
export function walkCycles(ds: Decision[], fromIndex: number, originId: string, ceiling: number): number | null {
  let settled: number | null = null;
  for (let k = fromIndex; k < ds.length; k++) {
    const predicted = ds[k]!.predicted_load_rps[originId];
    if (predicted === undefined) continue;
    if (predicted > ceiling) settled = null;
    else if (settled === null) settled = k - fromIndex + 1;
  }
  return settled;
}

/** Decisions in (`fromIndex`, `toIndex`] at which the walk restarted: its cycles to the plan rose instead of falling. */
export function walkRestarts(ds: Decision[], fromIndex: number, toIndex: number): number {
  let restarts = 0;
  for (let k = fromIndex + 1; k <= Math.min(toIndex, ds.length - 1); k++) {
    const before = (ds[k - 1]!.inputs.step as { cycles_to_plan?: number } | undefined)?.cycles_to_plan;
    const now = (ds[k]!.inputs.step as { cycles_to_plan?: number } | undefined)?.cycles_to_plan;
    if (before !== undefined && now !== undefined && now > before) restarts++;
  }
  return restarts;
}

/**
 * How far the answers ran *ahead* of the walk on the origin being left: the largest surplus of the
 * shared over the answered load there (answers that left before the shares did: load arriving on the
 * origin joined faster than max_shift allows), over the whole replay, and the largest one-cycle drop of
 * each. The scheduler holds such subnets back where the walk is carried apart from the published
 * weights (scheduler/core/answer-steering.ts); the shares here are the published ones, which for a
 * held subnet sit just past its point (its hold), within a cycle's step of the walk.
 */
export function answersAhead(loads: { byAnswer: number[]; byShare: number[] }): { ahead: number; answerStep: number; shareStep: number } {
  let ahead = 0;
  let answerStep = 0;
  let shareStep = 0;
  for (let k = 0; k < loads.byShare.length; k++) {
    ahead = Math.max(ahead, loads.byShare[k]! - loads.byAnswer[k]!);
    if (k === 0) continue;
    answerStep = Math.max(answerStep, loads.byAnswer[k - 1]! - loads.byAnswer[k]!);
    shareStep = Math.max(shareStep, loads.byShare[k - 1]! - loads.byShare[k]!);
  }
  return { ahead, answerStep, shareStep };
}
