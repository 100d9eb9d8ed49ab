// A replica's history of the DNS view: a delta only from a version it rendered itself with every step
// since known; the full view (with the reason) otherwise.
import { describe, expect, it } from 'vitest';
import type { DnsView, WeightMap } from '../../model/views.ts';
import { applyChanges, encodeDiff } from '../../model/view-codec.ts';
import { DnsViewHistory } from './dns-history.ts';
import { runToEnd } from '../../lib/steps.ts';

function view(n: number, subnets: Record<string, WeightMap>, lbs = ['lb1']): DnsView {
  return {
    version: `v${n}`,
    seq: n,
    weights_version: n,
    zones: [{ zone: 'example.com', records: lbs.map((id) => ({ load_balancer_id: id, hostname: `${id}.example.com`, ttl: 20, answers: 1, policy: 'latency' as const, max_latency_ms: 100, origins: [], subnets })) }],
  };
}

describe('DnsViewHistory', () => {
  it('answers a delta from any version it rendered, composed to the one served', () => {
    const h = new DnsViewHistory();
    const views = [1, 2, 3, 4].map((n) => view(n, { '10.0.0.0/24': { a: n / 10, b: 1 - n / 10 }, [`10.0.${n}.0/24`]: { a: 1 } }));
    for (const v of views) h.record(v);
    for (const [i, base] of views.slice(0, 3).entries()) {
      const since = h.since(base.version, 'v4');
      expect(since.kind).toBe('delta');
      if (since.kind === 'delta') expect(applyChanges(views[i]!, encodeDiff(runToEnd(since.diff())), views[3]!)).toEqual(views[3]);
    }
  });

  it('answers full for no base, an unknown base, a base beyond the bound, a stale current, and across a change of shape', () => {
    const h = new DnsViewHistory(2);
    for (const n of [1, 2, 3, 4]) h.record(view(n, { [`10.0.${n}.0/24`]: { a: 1 } }));
    expect(h.since(null, 'v4')).toEqual({ kind: 'full', reason: 'no_base' });
    expect(h.since('v9', 'v4')).toEqual({ kind: 'full', reason: 'unknown_base' });
    expect(h.since('v1', 'v4')).toEqual({ kind: 'full', reason: 'unknown_base' }); // dropped: only 2 steps kept
    expect(h.since('v2', 'v4').kind).toBe('delta');
    // The caller serves v5, which this replica has not rendered: no delta can be vouched for.
    expect(h.since('v3', 'v5')).toEqual({ kind: 'full', reason: 'unknown_base' });
    h.record(view(5, {}, ['lb1', 'lb2']));
    expect(h.since('v4', 'v5')).toEqual({ kind: 'full', reason: 'shape_changed' });
    expect(h.since('v3', 'v5')).toEqual({ kind: 'full', reason: 'unknown_base' });
  });

  it('ignores a view older than the last one rendered (a slow snapshot finishing late)', () => {
    const h = new DnsViewHistory();
    h.record(view(1, {}));
    h.record(view(3, { '10.0.0.0/24': { a: 1 } }));
    h.record(view(2, { '10.9.0.0/24': { a: 1 } }));
    expect(h.since('v1', 'v3').kind).toBe('delta');
    expect(h.depth).toBe(1);
  });

  it('drops the oldest steps once the changed subnets kept exceed the bound', () => {
    const h = new DnsViewHistory(16, 3);
    h.record(view(1, {}));
    h.record(view(2, { '10.0.1.0/24': { a: 1 }, '10.0.2.0/24': { a: 1 } }));
    h.record(view(3, { '10.0.1.0/24': { a: 1 }, '10.0.2.0/24': { a: 1 }, '10.0.3.0/24': { a: 1 }, '10.0.4.0/24': { a: 1 } }));
    expect(h.since('v1', 'v3').kind).toBe('full');
    expect(h.since('v2', 'v3').kind).toBe('delta');
  });
});
