// The view cache on its own: what it writes reads back as the same view; a view changed in place
// during a write never reaches the file half old, half new; a damaged, truncated or missing file is
// refused (counted by result), and a write that cannot happen is counted, never thrown.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/log.ts';
import type { DnsView, WeightMap } from '../model/views.ts';
import { registerViewMetrics, type ViewMetrics } from './metrics.ts';
import { record, threeOrigins, view } from './testing/fixtures.ts';
import { ViewCache } from './view-cache.ts';
import { applyPackedChanges, expandPackedView, packView } from './packed/packed-view.ts';
import { waitFor } from '../test/helpers/wait.ts';

const log = createLogger('view-cache-test', 'silent');

function learnedView(n: number, version: string): DnsView {
  const [a, b] = threeOrigins();
  const subnets: Record<string, WeightMap> = {};
  for (let i = 0; i < n; i++) subnets[`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`] = { [a!.id]: (i % 7) / 7, [b!.id]: 1 - (i % 7) / 7 };
  return view('example.com', [record('app.example.com', threeOrigins(), { subnets, policy: 'latency' })], version);
}

async function count(metrics: ViewMetrics, name: 'cacheWrites' | 'cacheLoads', result: string): Promise<number> {
  const m = await metrics[name].get();
  return m.values.find((v) => v.labels.result === result)?.value ?? 0;
}

describe('ViewCache', () => {
  let dir: string;
  let metrics: ViewMetrics;
  const made: ViewCache[] = [];
  const cacheAt = (file: string, minInterval = 0) => {
    const c = new ViewCache({ file, min_interval: minInterval }, metrics, log);
    made.push(c);
    return c;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-view-cache-'));
    metrics = registerViewMetrics(new Registry());
  });
  afterEach(() => {
    for (const c of made.splice(0)) c.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads back exactly the view it wrote, and says so in its metrics only once it serves it', async () => {
    const file = join(dir, 'view.cache');
    const v = learnedView(3000, 'v1');
    const writer = cacheAt(file);
    writer.installed(packView(v));
    await waitFor(async () => (await count(metrics, 'cacheWrites', 'ok')) === 1, { timeoutMs: 10_000, what: 'the first write' });
    const loaded = cacheAt(file).load();
    expect(expandPackedView(loaded!.view)).toEqual(v);
    expect(Date.parse(loaded!.savedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(await count(metrics, 'cacheLoads', 'ok')).toBe(0);
    expect((await metrics.fromCache.get()).values[0]?.value).toBe(0);
  });

  it('a view changed in place while it is written is written again whole, never as a mix', async () => {
    const file = join(dir, 'view.cache');
    // Large enough that the write takes several slices, each followed by a file write (an await).
    const v = packView(learnedView(300_000, 'v1'));
    const writer = cacheAt(file);
    writer.installed(v);
    await waitFor(() => writer.busy, { timeoutMs: 10_000, intervalMs: 1, what: 'the write to start' });
    const [a, b] = threeOrigins();
    const cidrs = Array.from({ length: 1000 }, (_, i) => `10.0.${(i >> 8) & 255}.${i & 255}/32`);
    const set = { cidrs, map: cidrs.map(() => 0), maps: [{ [a!.id]: 0.5, [b!.id]: 0.5 }] };
    // The tables changed in place, as the view source applies a delta (packed/packed-view.ts).
    const v2 = applyPackedChanges(v, [{ zone: 0, record: 0, load_balancer_id: v.view.zones[0]!.records[0]!.load_balancer_id, meta: null, set, removed: [] }], { version: 'v2', seq: null, weights_version: 2 });
    writer.installed(v2);
    await waitFor(async () => !writer.busy && !writer.pending && (await count(metrics, 'cacheWrites', 'ok')) >= 1, { timeoutMs: 30_000, what: 'the second write' });
    const loaded = cacheAt(file).load();
    expect(loaded?.view.view.version).toBe('v2');
    expect(expandPackedView(loaded!.view)).toEqual(expandPackedView(v2));
    // Either the first write saw the change (superseded) or it had finished its text before it (two writes).
    expect((await count(metrics, 'cacheWrites', 'superseded')) + (await count(metrics, 'cacheWrites', 'ok'))).toBeGreaterThanOrEqual(2);
  });

  it('writes at most once per min_interval, the latest view', async () => {
    const file = join(dir, 'view.cache');
    const writer = cacheAt(file, 60_000);
    writer.installed(packView(learnedView(10, 'v1')));
    await waitFor(async () => (await count(metrics, 'cacheWrites', 'ok')) === 1, { timeoutMs: 10_000, what: 'the first write' });
    writer.installed(packView(learnedView(10, 'v2')));
    writer.installed(packView(learnedView(10, 'v3')));
    expect(writer.pending).toBe(true);
    expect(cacheAt(file).load()?.view.view.version).toBe('v1');
    expect(await count(metrics, 'cacheWrites', 'ok')).toBe(1);
  });

  it('refuses a damaged, truncated, foreign or missing file, counting each by result', async () => {
    const file = join(dir, 'view.cache');
    expect(cacheAt(file).load()).toBeNull();
    expect(await count(metrics, 'cacheLoads', 'missing')).toBe(1);
    const writer = cacheAt(file);
    writer.installed(packView(learnedView(500, 'v1')));
    await waitFor(async () => (await count(metrics, 'cacheWrites', 'ok')) === 1, { timeoutMs: 10_000, what: 'the write' });
    const good = readFileSync(file, 'utf8');
    // One weight changed, still valid JSON and a valid view: only the checksum can tell.
    const flipped = good.replace('"version":"v1"', '"version":"v9"');
    expect(flipped).not.toBe(good);
    for (const bad of [flipped, good.slice(0, good.length >> 1), good.slice(0, good.lastIndexOf('\n')), '{"zones":[]}\n{"format":"something-else/1"}']) {
      writeFileSync(file, bad);
      expect(cacheAt(file).load()).toBeNull();
    }
    expect(await count(metrics, 'cacheLoads', 'invalid')).toBe(4);
  });

  it('a write that cannot happen is counted and logged, not thrown; the previous file stays', async () => {
    const sub = join(dir, 'gone');
    const writer = cacheAt(join(sub, 'view.cache'));
    writer.installed(packView(learnedView(10, 'v1')));
    await waitFor(async () => (await count(metrics, 'cacheWrites', 'failed')) === 1, { timeoutMs: 10_000, what: 'the failed write' });
    expect(writer.busy).toBe(false);
  });
});
