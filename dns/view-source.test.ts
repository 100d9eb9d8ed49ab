// ApiViewSource: a view the schema accepts but the server cannot install is refused like an invalid
// one — counted in sluice_dns_api_errors_total{kind="invalid"} and logged — and the view in force
// stays; the next good view is installed. And the delta protocol (GET /api/v1/dns/view/changes): a
// delta is applied to the view held, one for another base is refused and the whole view asked for,
// and a control plane without /changes (404) is followed on GET /api/v1/dns/view.
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import type { DnsView } from '../model/views.ts';
import { LongPollError } from '../lib/long-poll.ts';
import { registerViewMetrics } from './metrics.ts';
import { origin, record, view } from './testing/fixtures.ts';
import { ApiViewSource, parseView } from './view-source.ts';
import type { DnsViewDelta } from '../model/view-changes.ts';
import { diffViews, encodeDiff, toCompactView } from '../model/view-codec.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { expandPackedView, type PackedView } from './packed/packed-view.ts';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? (server.closeAllConnections(), server.close(() => r())) : r())));

/**
 * Serves the view `current()` returns, 304 (after a short wait) to a client that holds it: on
 * /dns/view/changes as `delta(base)` returns, else as the full compact view (`changes: false`: an
 * older control plane, 404 there); on /dns/view as the view itself. `paths`: the request URLs seen.
 */
async function serve(current: () => DnsView, o: { changes?: boolean; delta?: (base: string) => DnsViewDelta | undefined; paths?: string[] } = {}): Promise<string> {
  server = createServer((req, res) => {
    const v = current();
    o.paths?.push(req.url!);
    const base = req.headers['if-none-match'];
    if (base === `"${v.version}"`) return void setTimeout(() => res.writeHead(304).end(), 50);
    let body: unknown = v;
    if (req.url!.startsWith('/api/v1/dns/view/changes')) {
      if (o.changes === false) return void res.writeHead(404).end('{}');
      const delta = typeof base === 'string' ? o.delta?.(base.slice(1, -1)) : undefined;
      body = delta ?? { kind: 'full', reason: base ? 'unknown_base' : 'no_base', version: v.version, seq: v.seq, weights_version: v.weights_version, view: toCompactView(v) };
    }
    res.writeHead(200, { 'content-type': 'application/json', etag: `"${v.version}"` }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

const viewAt = (version: string) => view('example.com', [record('app.example.com', [origin('eu', ['192.0.2.1'], { lat: 50, lon: 8 })])], version);
const API = { wait: 1000, retry: 10, timeout: 2000 };

describe('ApiViewSource', () => {
  it('refuses a view it cannot install as invalid, keeps the one in force, installs the next', async () => {
    let current = viewAt('1');
    const url = await serve(() => current);
    const installed: string[] = [];
    const onView = ({ view: v }: PackedView) => {
      if (v.version === '1') throw new Error('index build failed');
      installed.push(v.version);
    };
    const metrics = registerViewMetrics(new Registry());
    const source = new ApiViewSource({ url, ...API }, undefined, onView, metrics, pino({ level: 'silent' }));
    const err = await source.pollOnce().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(LongPollError);
    expect((err as LongPollError).kind).toBe('invalid');
    expect((err as Error).message).toBe(`view 1 from ${url}: cannot be installed: index build failed`);
    expect(installed).toEqual([]);
    current = viewAt('2');
    await expect(source.pollOnce()).resolves.toBe('updated');
    expect(installed).toEqual(['2']);
    expect((await metrics.updates.get()).values[0]!.value).toBe(1);
  });

  it('counts the refusal in sluice_dns_api_errors_total{kind="invalid"}', async () => {
    const url = await serve(() => viewAt('1'));
    const metrics = registerViewMetrics(new Registry());
    const source = new ApiViewSource({ url, ...API }, undefined, () => { throw new Error('index build failed'); }, metrics, pino({ level: 'silent' }));
    source.start();
    try {
      const errors = await waitFor(async () => (await metrics.errors.get()).values.find((v) => v.labels.kind === 'invalid'), { timeoutMs: 5000, what: 'an invalid-view error counted' });
      expect(errors.value).toBe(1);
    } finally {
      source.stop();
    }
  });

  const withSubnets = (version: string, subnets: Record<string, Record<string, number>>): DnsView => {
    const v = viewAt(version);
    v.zones[0]!.records[0]!.subnets = subnets;
    return v;
  };
  const kinds = async (metrics: ReturnType<typeof registerViewMetrics>) => Object.fromEntries((await metrics.changes.get()).values.map((x) => [`${x.labels.kind}/${x.labels.reason}`, x.value]));

  it('applies a delta to the view held; refuses one made for another base and asks for the whole view', async () => {
    const v1 = withSubnets('1', { '10.0.0.0/24': { eu: 1 }, '10.0.1.0/24': { eu: 1 } });
    const v2 = withSubnets('2', { '10.0.0.0/24': { eu: 1 }, '10.0.2.0/24': { eu: 1 } });
    let current = v1;
    const paths: string[] = [];
    const url = await serve(() => current, {
      paths,
      delta: (base) => (base === v1.version ? { kind: 'delta', from: base, version: current.version, seq: current.seq, weights_version: current.weights_version, records: encodeDiff(diffViews(v1, current)!) } : undefined),
    });
    const installed: DnsView[] = [];
    const metrics = registerViewMetrics(new Registry());
    const source = new ApiViewSource({ url, ...API }, undefined, (v) => installed.push(expandPackedView(v)), metrics, pino({ level: 'silent' }));
    await expect(source.pollOnce()).resolves.toBe('updated');
    current = v2;
    await expect(source.pollOnce()).resolves.toBe('updated');
    expect(installed.map((v) => v.version)).toEqual(['1', '2']);
    expect(installed[1]).toEqual(v2);
    expect(paths.every((p) => p.startsWith('/api/v1/dns/view/changes'))).toBe(true);
    expect(await kinds(metrics)).toEqual({ 'full/no_base': 1, 'delta/delta': 1 });

    // A replica answers a delta made for another base than the view held (a broken control plane):
    // refused as invalid, nothing installed, and the next request carries no If-None-Match: the full view.
    current = withSubnets('3', { '10.0.3.0/24': { eu: 1 } });
    const other = new ApiViewSource({ url, ...API }, undefined, (v) => installed.push(expandPackedView(v)), metrics, pino({ level: 'silent' }));
    await other.pollOnce(); // holds v3
    current = withSubnets('4', {});
    const wrong = encodeDiff(diffViews(v1, current)!);
    server!.removeAllListeners('request');
    let served = 0;
    server!.on('request', (req, res) => {
      served++;
      const body = req.headers['if-none-match'] ? { kind: 'delta', from: 'not-held', version: '4', seq: null, weights_version: null, records: wrong } : { kind: 'full', reason: 'no_base', version: '4', seq: null, weights_version: null, view: toCompactView(current) };
      res.writeHead(200, { 'content-type': 'application/json', etag: '"4"' }).end(JSON.stringify(body));
    });
    const err = await other.pollOnce().then(() => null, (e: unknown) => e);
    expect((err as LongPollError).kind).toBe('invalid');
    expect((err as Error).message).toMatch(/a delta from view not-held, but the view held is 3/);
    expect(installed.at(-1)!.version).toBe('3');
    await expect(other.pollOnce()).resolves.toBe('updated');
    expect(installed.at(-1)).toEqual(current);
    expect(served).toBe(2);
  });

  it('follows GET /api/v1/dns/view when the control plane has no /changes (an older control plane)', async () => {
    let current = viewAt('1');
    const paths: string[] = [];
    const url = await serve(() => current, { changes: false, paths });
    const installed: string[] = [];
    const metrics = registerViewMetrics(new Registry());
    const source = new ApiViewSource({ url, ...API }, undefined, (v) => installed.push(v.view.version), metrics, pino({ level: 'silent' }));
    await expect(source.pollOnce()).resolves.toBe('updated');
    current = viewAt('2');
    await expect(source.pollOnce()).resolves.toBe('updated');
    expect(installed).toEqual(['1', '2']);
    expect(paths).toEqual(['/api/v1/dns/view/changes', '/api/v1/dns/view', '/api/v1/dns/view?wait=1']);
    expect(await kinds(metrics)).toEqual({ 'full/legacy': 2 });
    expect((await metrics.errors.get()).values).toEqual([]);
  });
});

describe('parseView', () => {
  const subnets = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`10.0.${i}.0/24`, i % 2 ? { 'eu-london': 0.5, 'us-east': 0.5 } : { 'eu-london': 1 }]));
  const doc = (s: Record<string, unknown>) => JSON.parse(JSON.stringify(view('example.com', [record('a.example.com', [origin('eu-london', ['192.0.2.1'], { lat: 51, lon: 0 }), origin('us-east', ['192.0.2.2'], { lat: 40, lon: -74 })], { subnets: s as never })], '7', 7))) as unknown;

  it('shares one object per distinct weight map (JSON has one per subnet)', () => {
    const v = parseView(doc(subnets(6)), 'test');
    const maps = Object.values(v.zones[0]!.records[0]!.subnets);
    expect(maps).toHaveLength(6);
    expect(new Set(maps).size).toBe(2);
    expect(maps[1]).toEqual({ 'eu-london': 0.5, 'us-east': 0.5 });
  });

  it('names the subnet and origin of a bad share, and a subnets value that is not an object', () => {
    expect(() => parseView(doc({ ...subnets(3), '10.9.0.0/24': { 'eu-london': 2 } }), 'f.json')).toThrow(/f\.json: not a DnsView: zones\.0\.records\.0\.subnets\.10\.9\.0\.0\/24\.eu-london: /);
    expect(() => parseView(doc({ '10.9.0.0/24': 'eu' }), 'f.json')).toThrow(/zones\.0\.records\.0\.subnets\.10\.9\.0\.0\/24: /);
    expect(() => parseView(doc([] as never), 'f.json')).toThrow(/zones\.0\.records\.0\.subnets: expected an object/);
  });
});
