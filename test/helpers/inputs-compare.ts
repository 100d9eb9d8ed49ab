// Compares two scheduler inputs (LbInputs) field by field, numbers within a relative tolerance: for
// tests that read the same fleet two ways (raw vs recorded series, one Prometheus vs shards).
import type { LbInputs } from '../../scheduler/inputs/types.ts';

function plain(x: unknown): unknown {
  if (x instanceof Map) return Object.fromEntries([...x].map(([k, v]) => [String(k), plain(v)]));
  if (Array.isArray(x)) return x.map(plain);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]));
  return x;
}

/** Paths where `a` and `b` differ (missing keys, or numbers further apart than `relTol`). */
export function inputDifferences(a: LbInputs, b: LbInputs, relTol = 1e-6): string[] {
  const out: string[] = [];
  const walk = (x: unknown, y: unknown, path: string) => {
    if (out.length >= 20) return;
    if (typeof x === 'number' && typeof y === 'number') {
      if (!(x === y || Math.abs(x - y) <= relTol * Math.max(Math.abs(x), Math.abs(y)))) out.push(`${path}: ${x} vs ${y}`);
      return;
    }
    if (x && y && typeof x === 'object' && typeof y === 'object') {
      const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
      for (const k of keys) {
        if (!(k in x)) out.push(`${path}.${k}: missing on the left`);
        else if (!(k in y)) out.push(`${path}.${k}: missing on the right`);
        else walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], `${path}.${k}`);
      }
      return;
    }
    if (x !== y) out.push(`${path}: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
  };
  walk(plain(a), plain(b), 'inputs');
  return out;
}
