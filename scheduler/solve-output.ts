// The JSON `sluice solve` prints, written from the decision's flat form (core/output.ts) rather than
// from records. At 100k sources the weights, the plan and the diff are ~300k small objects; building them,
// rounding them into ~200k more and letting JSON.stringify walk them all was most of the output time.
// Here each source's row is rounded in a loop over the typed arrays and written as text, and only the
// small rest of the decision goes through JSON.stringify.
//
// The text is exactly what JSON.stringify of the record form gives (solve-output.test.ts compares them),
// including JavaScript's key order: integer-like keys ("7", "42") first, ascending, then the others in
// insertion order. Source and origin ids are unique (the problem is validated).
import type { DenseDecision, FlatDiff, SparseShares } from './core/output.ts';

/** Shares and changes are printed to 4 decimals; -0 prints as 0. */
export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  const r = Math.round(x * f) / f;
  return Object.is(r, -0) ? 0 : r;
}

/** Placeholders for the big parts in the small object given to JSON.stringify; replaced by their text. */
const HOLE = (name: string) => `\u0000sluice-${name}\u0000`;

export function renderSolveOutput(d: DenseDecision, opts: { full: boolean; compact: boolean }): string {
  const r = d.rest;
  const out: Record<string, unknown> = {
    weights: HOLE('weights'),
    objective: round(r.objective, 4),
    origin_load_rps: Object.fromEntries(Object.entries(r.origin_load_rps).map(([k, v]) => [k, round(v, 4)])),
    overload_rps: round(r.overload_rps, 4),
    status: r.status,
    reason: r.reason,
    plan_overload_rps: round(r.plan_overload_rps, 4),
    step: { ...r.step, fraction: round(r.step.fraction, 6) },
    notes: r.notes,
    diff: HOLE('diff'),
    ...(r.overrides ? { overrides: r.overrides } : {}),
  };
  if (opts.full) {
    out.plan = HOLE('plan');
    out.plan_objective = round(r.plan_objective, 4);
    out.origins = Object.fromEntries(
      Object.entries(r.origins).map(([id, o]) => [
        id,
        {
          ...o,
          load_rps: round(o.load_rps, 4),
          pinned_rps: round(o.pinned_rps, 4),
          planned_rps: round(o.planned_rps, 4),
          utilisation: round(o.utilisation, 6),
          price: round(o.price, 6),
          target_rps: Number.isFinite(o.target_rps) ? o.target_rps : null,
          max_rps: Number.isFinite(o.max_rps) ? o.max_rps : null,
        },
      ]),
    );
    out.solver = r.solver;
  }
  const text = opts.compact ? JSON.stringify(out) : JSON.stringify(out, null, 2);
  const fmt: Format = opts.compact ? COMPACT : INDENTED;
  // Each hole is a top-level value: depth 1.
  const parts: Record<string, () => string> = {
    weights: () => sharesText(d.weights, d.sourceIds, d.originIds, fmt),
    plan: () => sharesText(d.plan, d.sourceIds, d.originIds, fmt),
    diff: () => diffText(d.diff, d.sourceIds, d.originIds, fmt),
  };
  return text.replace(/"\\u0000sluice-(\w+)\\u0000"/g, (_, name: string) => parts[name]!());
}

interface Format {
  /** Between a key and its value. */
  colon: string;
  /** Before an entry at depth d (the line break and indentation), and before a closing bracket. */
  open: (depth: number) => string;
}
const COMPACT: Format = { colon: ':', open: () => '' };
const pads = ['', '\n  ', '\n    ', '\n      ', '\n        '];
const INDENTED: Format = { colon: ': ', open: (depth) => pads[depth]! };

/** An object (depth 1) of source -> {origin: share}, each row rounded to 4 decimals summing to 1. */
function sharesText(s: SparseShares, sourceIds: string[], originIds: string[], f: Format): string {
  if (s.rows === 0) return '{}';
  const units: number[] = [];
  const rems: number[] = [];
  const rows = new Array<string>(s.rows);
  for (let i = 0; i < s.rows; i++) {
    const a = s.start[i]!;
    const n = s.start[i + 1]! - a;
    let left = 10_000;
    for (let k = 0; k < n; k++) {
      const scaled = s.share[a + k]! * 10_000;
      const u = Math.floor(scaled + 1e-9);
      units[k] = u;
      rems[k] = scaled - u;
      left -= u;
    }
    // Largest remainders get the units still missing; ties go to the origin listed first.
    for (; left > 0; left--) {
      let best = -1;
      for (let k = 0; k < n; k++) if (rems[k]! !== -Infinity && (best < 0 || rems[k]! > rems[best]!)) best = k;
      if (best < 0) break;
      units[best]!++;
      rems[best] = -Infinity;
    }
    const keys: string[] = [];
    const values: string[] = [];
    for (let k = 0; k < n; k++) {
      if (units[k]! <= 0) continue;
      keys.push(originIds[s.origin[a + k]!]!);
      values.push(String(units[k]! / 10_000));
    }
    rows[i] = objectText(keys, values, 2, f);
  }
  return objectText(sourceIds.slice(0, s.rows), rows, 1, f);
}

/** The diff (depth 1): [{source, origin_id, from, to}], from/to to 4 decimals. */
function diffText(diff: FlatDiff, sourceIds: string[], originIds: string[], f: Format): string {
  const n = diff.source.length;
  if (n === 0) return '[]';
  const items = new Array<string>(n);
  const keys = ['source', 'origin_id', 'from', 'to'];
  for (let k = 0; k < n; k++) {
    const o = diff.origin[k]!;
    const origin = o >= 0 ? originIds[o]! : diff.extraIds[-o - 1]!;
    items[k] = objectText(keys, [JSON.stringify(sourceIds[diff.source[k]!]!), JSON.stringify(origin), String(round(diff.from[k]!, 4)), String(round(diff.to[k]!, 4))], 2, f);
  }
  let text = '[';
  for (let k = 0; k < n; k++) text += `${k === 0 ? '' : ','}${f.open(2)}${items[k]}`;
  return `${text}${f.open(1)}]`;
}

/** `{"k": v, ...}` at `depth`, values already JSON text, keys unique, in a JavaScript object's order. */
function objectText(keys: string[], values: string[], depth: number, f: Format): string {
  if (keys.length === 0) return '{}';
  let text = '{';
  const order = jsOrder(keys);
  for (let e = 0; e < keys.length; e++) {
    const k = order ? order[e]! : e;
    text += `${e === 0 ? '' : ','}${f.open(depth + 1)}${JSON.stringify(keys[k])}${f.colon}${values[k]}`;
  }
  return `${text}${f.open(depth)}}`;
}

/** Array-index keys ("0", "42"): a JS object lists them first, in ascending numeric order. */
function isIndexKey(k: string): boolean {
  const c = k.charCodeAt(0);
  return c >= 48 && c <= 57 && /^(?:0|[1-9]\d{0,9})$/.test(k) && Number(k) < 4294967295;
}

/** null when the keys keep their order (no index-like key: the usual case), else the order to print. */
function jsOrder(keys: string[]): number[] | null {
  let any = false;
  for (let i = 0; i < keys.length && !any; i++) any = isIndexKey(keys[i]!);
  if (!any) return null;
  const positions = keys.map((_, i) => i);
  const index = positions.filter((i) => isIndexKey(keys[i]!)).sort((a, b) => Number(keys[a]) - Number(keys[b]));
  return [...index, ...positions.filter((i) => !isIndexKey(keys[i]!))];
}
