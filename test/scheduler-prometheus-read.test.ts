// The scheduler's own PromQL client (scheduler/inputs/prometheus-server.ts): the series it reads from a
// real Prometheus (Debian package, started here) are exactly what a plain JSON.parse of the same answer
// says, NaN and ±Inf included, on GETs and on the POSTs long queries take; and every way an answer can
// go wrong — Prometheus's own error bodies, a body cut short or not JSON, a proxy's page, a server that
// never answers — is an InputsUnavailable naming the server and the query, never a crash or an empty
// answer. The broken answers come from loopback servers of this test (Prometheus never sends them).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpGetter } from '../lib/http-get.ts';
import { PrometheusServer } from '../scheduler/inputs/prometheus-server.ts';
import type { Series } from '../scheduler/inputs/assemble.ts';
import { InputsUnavailable } from '../scheduler/inputs/types.ts';
import { unavailable } from './helpers/env.ts';
import { startPrometheus, type RunningPrometheus } from './helpers/prometheus.ts';
import { waitFor } from './helpers/wait.ts';

const skip = unavailable({ tools: { prometheus: 'prometheus' } });

/** More series than one parse step (STEP_ITEMS), so the paced path is what is compared. */
const MANY = 5000;

async function listen(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

async function close(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

/** What Prometheus's JSON says, read plainly: the sample's text as a number, "+Inf"/"-Inf" as ±Infinity. */
function plainSeries(body: string): Series[] {
  const answer = JSON.parse(body) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  return answer.data.result.map((r) => ({ labels: r.metric, value: r.value[1] === '+Inf' ? Infinity : r.value[1] === '-Inf' ? -Infinity : Number(r.value[1]) }));
}

describe.skipIf(skip)('PrometheusServer on a real Prometheus', () => {
  let exporter: Server | undefined;
  let prom: RunningPrometheus | undefined;
  const http = new HttpGetter();

  beforeAll(async () => {
    const lines = ['# TYPE t_value gauge', 't_value{k="nan"} NaN', 't_value{k="pinf"} +Inf', 't_value{k="ninf"} -Inf', 't_value{k="quoted",v="a\\"b\\\\c\\nd é"} 0.125', 't_value{k="tiny"} 1e-300'];
    lines.push('# TYPE t_many gauge');
    for (let i = 0; i < MANY; i++) lines.push(`t_many{i="${i}"} ${i / 7}`);
    const text = `${lines.join('\n')}\n`;
    ({ server: exporter } = await listen((_req, res) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text)));
    prom = await startPrometheus([{ job: 'read', targets: [`127.0.0.1:${(exporter.address() as { port: number }).port}`] }]);
    await waitFor(async () => (await prom!.query('count(t_many)'))[0]?.value[1] === String(MANY), { timeoutMs: 30_000, what: 'the test series in Prometheus' });
  }, 60_000);

  afterAll(async () => {
    http.close();
    await close(exporter);
    await prom?.stop();
  });

  it('reads the same series a plain JSON.parse of the answer gives, NaN and ±Inf included, by GET and by POST', async () => {
    // After the series are in (beforeAll): both reads evaluate at this one instant.
    const at = new Date();
    const server = new PrometheusServer({ url: prom!.url, timeoutMs: 10_000, evaluationTime: at });
    const time = String(at.getTime() / 1000);
    const plain = async (query: string) => plainSeries((await http.get(`${prom!.url}/api/v1/query?${new URLSearchParams({ query, time })}`)).body);

    const values = await server.query('edge_rtt', 't_value');
    expect(values).toEqual(await plain('t_value'));
    const byKind = new Map(values.map((s) => [s.labels.k, s]));
    expect(byKind.get('nan')!.value).toBeNaN();
    expect(byKind.get('pinf')!.value).toBe(Infinity);
    expect(byKind.get('ninf')!.value).toBe(-Infinity);
    expect(byKind.get('tiny')!.value).toBe(1e-300);
    expect(byKind.get('quoted')).toEqual({ labels: { __name__: 't_value', job: 'read', instance: expect.any(String), k: 'quoted', v: 'a"b\\c\nd é' }, value: 0.125 });

    const many = await server.query('subnet_demand', 't_many');
    expect(many).toHaveLength(MANY);
    expect(many).toEqual(await plain('t_many'));

    // A query too long for a GET's URL goes as a POST form; the answer is the same.
    const long = `t_many{i=~"${Array.from({ length: 1500 }, (_, i) => i * 3).join('|')}"}`;
    expect(long.length).toBeGreaterThan(4096);
    const posted = await server.query('subnet_demand', long);
    expect(posted).toHaveLength(1500);
    expect(posted).toEqual(await plain(long));
  });

  it("quotes Prometheus's own error answers, and says when a query is not an instant vector", async () => {
    const server = new PrometheusServer({ url: prom!.url, timeoutMs: 10_000 });
    const url = prom!.url.replace(/[.]/g, '\\.');
    await expect(server.query('edge_demand', 'sum(')).rejects.toMatchObject({ kind: 'backend_down', message: expect.stringMatching(new RegExp(`^edge_demand: Prometheus at ${url} failed: HTTP 400 bad_data: .*parse error`)) });
    await expect(server.query('edge_demand', '1 + 1')).rejects.toMatchObject({ kind: 'no_data', message: 'edge_demand: expected an instant vector from "1 + 1", got scalar' });
    await expect(server.query('edge_demand', 't_many[1m]')).rejects.toMatchObject({ kind: 'no_data', message: expect.stringContaining('got matrix') });
  });
});

describe('PrometheusServer on broken answers (loopback servers)', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    for (const s of servers) await close(s);
  });
  const serve = async (handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) => {
    const s = await listen(handler);
    servers.push(s.server);
    return s.url;
  };
  const reject = async (url: string, query = 'up', timeoutMs = 5000): Promise<InputsUnavailable> => {
    const err = await new PrometheusServer({ url, timeoutMs }).query('subnet_rtt', query).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputsUnavailable);
    return err as InputsUnavailable;
  };
  const vector = (result: unknown[]) => JSON.stringify({ status: 'success', data: { resultType: 'vector', result } });

  it('a body cut short, not JSON, or not an answer: backend_down naming the server and the query', async () => {
    const good = vector([{ metric: { node: 'a' }, value: [1, '1'] }, { metric: { node: 'b' }, value: [1, '2'] }]);
    const bodies = [good.slice(0, -20), 'not json', '{"status":"success"}', '{"status":"success","data":{"resultType":"vector","result":{}}}', vector([{ metric: { node: 'a' }, value: [1, 'abc'] }]), vector([{ metric: { node: 'a' }, value: [1, ''] }]), vector([{ value: [1, '1'] }]), `${good} trailing`];
    let i = 0;
    const url = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(bodies[i++]));
    for (const body of bodies) {
      const err = await reject(url, 'sum(x)');
      expect(err.kind, body).toBe('backend_down');
      expect(err.message, body).toMatch(new RegExp(`^subnet_rtt: Prometheus at ${url.replace(/[.]/g, '\\.')} answered "sum\\(x\\)" with a body that is not a PromQL answer \\(.+; \\d+ characters\\)$`));
    }
    // A big answer (read as it arrives, in many chunks) with one bad sample deep inside: named by its index,
    // the whole body counted.
    const big = vector(Array.from({ length: 20_000 }, (_, k) => ({ metric: { subnet: `10.${k >> 8}.${k & 255}.0/24` }, value: [1, k === 15_000 ? 'x' : String(k)] })));
    bodies.push(big);
    const deep = await reject(url, 'sum(x)');
    expect(deep.message).toContain(`data.result[15000]'s value "x" is not a number; ${big.length} characters)`);
    // The same server with a good body: read (the failures above were the bodies, not the client).
    bodies.push(good);
    expect(await new PrometheusServer({ url, timeoutMs: 5000 }).query('subnet_rtt', 'up')).toEqual([
      { labels: { node: 'a' }, value: 1 },
      { labels: { node: 'b' }, value: 2 },
    ]);
  });

  it("a proxy's error page and a connection that breaks off are quoted; a refused connection is backend_down", async () => {
    const page = await serve((_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>'));
    expect(await reject(page)).toMatchObject({ kind: 'backend_down', message: `subnet_rtt: Prometheus at ${page} failed: HTTP 502: "<html>Bad Gateway</html>"` });
    const cut = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"status":"success","data":{"resultType":"vector","result":[');
      setTimeout(() => res.destroy(), 50);
    });
    expect(await reject(cut)).toMatchObject({ kind: 'backend_down', message: expect.stringMatching(/^subnet_rtt: Prometheus at .* failed: (the answer broke off|aborted|socket hang up)/) });
    const gone = await serve(() => undefined);
    const port = new URL(gone).port;
    await close(servers.pop());
    expect(await reject(`http://127.0.0.1:${port}`)).toMatchObject({ kind: 'backend_down', message: expect.stringContaining('ECONNREFUSED') });
  });

  it('a server that never answers, or stops halfway through the body, is a timeout within timeoutMs', async () => {
    const silent = await serve(() => undefined);
    const halfway = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"status":"success","data":{"resultType":"vector","result":[');
    });
    for (const url of [silent, halfway]) {
      const t0 = Date.now();
      expect(await reject(url, 'up', 300)).toMatchObject({ kind: 'timeout', message: `subnet_rtt: Prometheus at ${url} failed: timeout of 300 ms exceeded` });
      // Generous for a loaded machine; what matters is that it ends, long before a test timeout.
      expect(Date.now() - t0).toBeLessThan(5000);
    }
  });

  it('asks for gzip and reads a gzip answer; a corrupt one is backend_down', async () => {
    const body = vector(Array.from({ length: 3000 }, (_, i) => ({ metric: { subnet: `10.0.${i >> 8}.${i & 255}/32`, s: 'é"' }, value: [1, String(i / 3)] })));
    const corrupt = gzipSync(body).subarray(0, 500);
    let asked: string | undefined;
    let bad = false;
    const url = await serve((req, res) => {
      asked = req.headers['accept-encoding'];
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(bad ? Buffer.concat([corrupt, Buffer.alloc(100, 7)]) : gzipSync(body));
    });
    expect(await new PrometheusServer({ url, timeoutMs: 5000 }).query('subnet_demand', 'up')).toEqual((JSON.parse(body) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) })));
    expect(asked).toBe('gzip');
    bad = true;
    expect(await reject(url)).toMatchObject({ kind: 'backend_down', message: expect.stringMatching(/^subnet_rtt: Prometheus at .* failed: .+/) });
  });

  it('sends the configured headers and the evaluation time; GET for short queries, a POST form for long ones', async () => {
    const seen: { method: string; auth: string | undefined; params: URLSearchParams }[] = [];
    const url = await serve((req, res, body) => {
      seen.push({ method: req.method!, auth: req.headers.authorization, params: req.method === 'POST' ? new URLSearchParams(body) : new URL(req.url!, 'http://x').searchParams });
      res.writeHead(200, { 'content-type': 'application/json' }).end(vector([{ metric: {}, value: [1, '+Inf'] }]));
    });
    const at = new Date(1_700_000_000_123);
    const server = new PrometheusServer({ url: `${url}/`, timeoutMs: 5000, headers: { authorization: 'Bearer t' }, evaluationTime: at });
    expect(await server.query('subnet_rtt', 'up')).toEqual([{ labels: {}, value: Infinity }]);
    const long = `up{node=~"${'x|'.repeat(3000)}y"}`;
    await server.query('subnet_rtt', long);
    expect(seen.map((s) => [s.method, s.auth, s.params.get('query'), s.params.get('time')])).toEqual([
      ['GET', 'Bearer t', 'up', '1700000000.123'],
      ['POST', 'Bearer t', long, '1700000000.123'],
    ]);
  });
});
