// ApiViewSource: a view the schema accepts but the server cannot install is refused like an invalid
// one — counted in sluice_dns_api_errors_total{kind="invalid"} and logged — and the view in force
// stays; the next good view is installed.
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import type { DnsView } from '../model/views.ts';
import { LongPollError } from '../lib/long-poll.ts';
import { registerViewMetrics } from './metrics.ts';
import { origin, record, view } from './testing/fixtures.ts';
import { ApiViewSource } from './view-source.ts';
import { waitFor } from '../test/helpers/wait.ts';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? (server.closeAllConnections(), server.close(() => r())) : r())));

/** Serves the view `current()` returns, 304 (after a short wait) to a client that holds it. */
async function serve(current: () => DnsView): Promise<string> {
  server = createServer((req, res) => {
    const v = current();
    if (req.headers['if-none-match'] === `"${v.version}"`) return void setTimeout(() => res.writeHead(304).end(), 50);
    res.writeHead(200, { 'content-type': 'application/json', etag: `"${v.version}"` }).end(JSON.stringify(v));
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
    const onView = (v: DnsView) => {
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
});
