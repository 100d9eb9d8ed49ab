// Two `sluice control-plane` processes on one data directory (an operator's mistake, or a restart that
// overlaps the old process): SQLite serialises their writes. Every write transaction takes the write
// lock up front (BEGIN IMMEDIATE, waiting up to the busy timeout), so concurrent writers queue instead
// of failing with "database is locked"; a write never answers 500.
import { afterAll, describe, expect, it } from 'vitest';
import { SAMPLE, http, startControlPlaneProcess, tempDir } from './helpers/control-plane.ts';

describe('two control planes on one data directory', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('interleaved writes through both all succeed (no 500 "database is locked") and both read the same', async () => {
    const a = await startControlPlaneProcess(['--data-dir', dir.path, '--config', '/dev/null']);
    const b = await startControlPlaneProcess(['--data-dir', dir.path, '--config', '/dev/null']);
    try {
      const lb = await http(`${a.url}/api/v1/load-balancers`, { method: 'POST', body: SAMPLE.loadBalancer });
      expect(lb.status).toBe(201);
      const statuses = new Map<number, number>();
      const failures: string[] = [];
      // Bounded: 8 rounds of 24 concurrent writes, split over the two processes. PATCHes without
      // If-Match read the row, then write it: the read-then-write shape that loses a deferred lock race.
      for (let round = 0; round < 8; round++) {
        const writes = Array.from({ length: 24 }, (_, i) => {
          const base = i % 2 === 0 ? a.url : b.url;
          if (i % 3 === 0) return http(`${base}/api/v1/load-balancers/${lb.json.id}`, { method: 'PATCH', body: { max_shift: 0.01 + ((round * 24 + i) % 50) / 1000 } });
          return http(`${base}/api/v1/edges`, { method: 'POST', body: { ...SAMPLE.edges[0], name: `e-${round}-${i}` } });
        });
        for (const r of await Promise.all(writes)) {
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status >= 500) failures.push(r.text.slice(0, 200));
        }
      }
      expect(failures, JSON.stringify(Object.fromEntries(statuses))).toEqual([]);
      expect(statuses.get(201)).toBe(8 * 16);
      expect(statuses.get(200)).toBe(8 * 8);
      const fromA = await http(`${a.url}/api/v1/edges?limit=500`);
      const fromB = await http(`${b.url}/api/v1/edges?limit=500`);
      expect(fromA.json.items).toHaveLength(8 * 16);
      expect(fromB.json).toEqual(fromA.json);
    } finally {
      await Promise.all([a.proc.stop(), b.proc.stop()]);
    }
  });
});
