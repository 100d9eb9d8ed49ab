import { describe, expect, it } from 'vitest';
import { DEFAULT_QUERIES, defaultQueries } from './promql.ts';
import { RECORDED_EDGE_DEMAND_IN, RECORDED_QUERIES, recordingRules, rulesFile } from './recording-rules.ts';

const metricsIn = (q: string) => new Set([...q.matchAll(/\b(sluice_[a-z_]+)\b/g)].map((m) => m[1]!));

describe('recording rules', () => {
  it('record every metric the raw default queries read, and nothing else', () => {
    const raw = new Set([...Object.values(DEFAULT_QUERIES), ...Object.values(defaultQueries('connections')), ...Object.values(defaultQueries('bytes'))].flatMap((q) => (q ? [...metricsIn(q)] : [])));
    // The default queries name the raw metrics in full (the recorded ones drop _total from the name).
    const recorded = new Set(recordingRules({ windowSeconds: 60, staleSeconds: 120 }).flatMap((r) => [...metricsIn(r.expr)]));
    expect([...recorded].sort()).toEqual([...raw].sort());
  });

  it('give every input with a raw default a recorded one, reading only recorded names', () => {
    const rules = recordingRules({ windowSeconds: 60, staleSeconds: 120 });
    const names = new Set(rules.map((r) => r.record));
    for (const [input, q] of Object.entries(RECORDED_QUERIES)) {
      expect(q === null, input).toBe(DEFAULT_QUERIES[input as keyof typeof DEFAULT_QUERIES] === null);
      if (q === null) continue;
      const read = [...q.replaceAll('$window', '60s').replaceAll('$stale', '120s').matchAll(/\b([a-z_]+:[a-z_]+:[a-z_0-9]+)\{/g)].map((m) => m[1]!);
      expect(read.length, input).toBe(1);
      expect(names.has(read[0]!), `${input} reads ${read[0]}`).toBe(true);
    }
    for (const q of Object.values(RECORDED_EDGE_DEMAND_IN)) expect(q).toMatch(/:rate\$window\{/);
    expect(defaultQueries('bytes', true).edge_demand).toBe(RECORDED_EDGE_DEMAND_IN.bytes);
  });

  it('name the window and stale span in every recorded series, and the interval in the group', () => {
    const text = rulesFile({ windowSeconds: 30, staleSeconds: 90, intervalSeconds: 15 });
    expect(text).toContain('    interval: 15s');
    for (const r of recordingRules({ windowSeconds: 30, staleSeconds: 90 })) expect(r.record).toMatch(/:(rate30s|(max_)?last90s)$/);
    expect(rulesFile({ windowSeconds: 30, staleSeconds: 90 })).not.toContain('interval:');
  });
});
