// The control plane against hostile and malformed HTTP, one class of defect per block: errors the
// framework raises before a route runs, input that later reaches the network, slow clients, too many
// long-polls from one address, and races between writers. Every answer here also goes through the
// OpenAPI contract check of test/helpers/control-plane.ts.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE, http, startInProcess, type InProcessControlPlane } from './helpers/control-plane.ts';
import { contractViolations } from './helpers/openapi-contract.ts';
import { parseRawResponse as parseRaw, rawExchange } from './helpers/raw-http.ts';
import { waitFor } from './helpers/wait.ts';

function expectProblem(r: { status: number; headers: Headers; body?: string; text?: string }, status: number, field?: string): Record<string, unknown> {
  expect(r.headers.get('content-type') ?? '').toMatch(/^application\/problem\+json/);
  const body = JSON.parse(r.body ?? r.text ?? '') as Record<string, unknown> & { errors?: { field: string }[] };
  expect(body).toMatchObject({ status, type: expect.stringMatching(/^https:\/\/sluice\.dev\/problems\//), title: expect.any(String), detail: expect.any(String) });
  if (field !== undefined) expect((body.errors ?? []).map((e) => e.field)).toContain(field);
  return body;
}

describe('framework errors are problem+json, before any route runs', () => {
  let cp: InProcessControlPlane;
  beforeAll(async () => (cp = await startInProcess({ bodyLimitBytes: 4096 })));
  afterAll(() => cp.close());

  const cases: { name: string; request: () => string; status: number; field: string }[] = [
    { name: 'malformed percent-encoding in the path', request: () => 'GET /api/v1/edges/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', status: 400, field: 'url' },
    { name: 'malformed percent-encoding in a collection path', request: () => 'GET /api/v1/ed%E0%A4%A/ges HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', status: 400, field: 'url' },
    { name: 'a URI longer than the limit', request: () => `GET /api/v1/edges?cursor=${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, status: 414, field: 'url' },
    { name: 'a request line longer than the header buffer', request: () => `GET /api/v1/edges?cursor=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, status: 414, field: 'url' },
    { name: 'a path parameter longer than the router accepts', request: () => `GET /api/v1/edges/${'e'.repeat(300)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, status: 414, field: 'url' },
    { name: 'headers larger than the header buffer', request: () => `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\nConnection: close\r\n\r\n`, status: 431, field: 'headers' },
    { name: 'a body over the limit (announced)', request: () => `POST /api/v1/edges HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n${'{'.repeat(5000)}`, status: 413, field: '' },
    { name: 'an unsupported media type', request: () => 'POST /api/v1/edges HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 6\r\nConnection: close\r\n\r\nname=x', status: 415, field: 'content-type' },
    { name: 'JSON that does not parse', request: () => 'POST /api/v1/edges HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{"name":', status: 400, field: '' },
    { name: 'a request the HTTP parser rejects', request: () => 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab', status: 400, field: '' },
  ];

  it.each(cases)('$name -> $status problem naming "$field"', async (c) => {
    const r = await rawExchange(cp.url, c.request());
    expect(r.status, r.head).toBe(c.status);
    expectProblem(r, c.status, c.field);
    expect(contractViolations({ method: c.request().split(' ')[0]!, url: c.request().split(' ')[1]!, status: r.status, headers: r.headers, text: r.body })).toEqual([]);
  });

  it('a method the path does not support is 405 with Allow, not 404', async () => {
    const r = await http(`${cp.url}/api/v1/edges`, { method: 'PUT', body: SAMPLE.edges[0] });
    expect(r.status).toBe(405);
    expectProblem(r, 405);
    expect(r.headers.get('allow')?.split(/,\s*/).sort()).toEqual(['GET', 'HEAD', 'POST']);
    const item = await http(`${cp.url}/api/v1/edges/ed_1/config`, { method: 'DELETE' });
    expect(item.status).toBe(405);
    expect(item.headers.get('allow')?.split(/,\s*/).sort()).toEqual(['GET', 'HEAD']);
    // An unknown path is still a 404.
    expect((await http(`${cp.url}/api/v1/nothing-here`, { method: 'PUT' })).status).toBe(404);
  });
});

describe('input that reaches the network is validated as such', () => {
  let cp: InProcessControlPlane;
  let lbId: string;
  beforeAll(async () => {
    cp = await startInProcess();
    lbId = (await http(`${cp.url}/api/v1/load-balancers`, { method: 'POST', body: SAMPLE.loadBalancer })).json.id;
  });
  afterAll(() => cp.close());

  it.each([
    ['CRLF (header injection)', '/health\r\nHost: evil'],
    ['a space', '/health check'],
    ['a control character', '/health\u0000'],
    ['a tab', '/he\talth'],
    ['a non-ASCII character', '/gesundheit/ü'],
    ['a fragment', '/health#x'],
    ['a broken percent-escape', '/health%zz'],
  ])('a health-check path with %s is refused naming health_check.path, and nothing is stored', async (_what, path) => {
    const url = `${cp.url}/api/v1/load-balancers/${lbId}/origins`;
    const before = (await http(url)).json.items.length;
    const r = await http(url, { method: 'POST', body: { ...SAMPLE.origins[1], name: 'hc', health_check: { type: 'http', path } } });
    expect(r.status).toBe(400);
    expectProblem(r, 400, 'health_check.path');
    expect((await http(url)).json.items.length).toBe(before);
  });

  it('a path with a query and escapes is accepted', async () => {
    const r = await http(`${cp.url}/api/v1/load-balancers/${lbId}/origins`, { method: 'POST', body: { ...SAMPLE.origins[1], name: 'hc-ok', health_check: { type: 'http', path: '/status/ready%20now?full=1&x=a:b' } } });
    expect(r.status, r.text).toBe(201);
  });
});

describe('slow clients', () => {
  let cp: InProcessControlPlane;
  beforeAll(async () => (cp = await startInProcess({ server: { headerTimeoutMs: 1000, requestTimeoutMs: 1500 } })));
  afterAll(() => cp.close());

  /** Opens a socket, writes `first`, then one more piece every `everyMs` until the server closes it. */
  function trickle(first: string, piece: string, everyMs: number, maxMs: number): Promise<{ closedAfterMs: number; received: string }> {
    const { hostname, port } = new URL(cp.url);
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const sock: Socket = connect({ host: hostname, port: Number(port) });
      let received = '';
      let timer: NodeJS.Timeout | undefined;
      const giveUp = setTimeout(() => {
        clearInterval(timer);
        sock.destroy();
        reject(new Error(`the server kept a trickling connection open for ${maxMs} ms`));
      }, maxMs);
      sock.on('data', (d: Buffer) => (received += d.toString()));
      sock.on('error', () => undefined);
      sock.on('close', () => {
        clearInterval(timer);
        clearTimeout(giveUp);
        resolve({ closedAfterMs: Date.now() - started, received });
      });
      sock.on('connect', () => {
        sock.write(first);
        if (piece) timer = setInterval(() => sock.writable && sock.write(piece), everyMs);
      });
    });
  }

  it('a client trickling headers is cut off after the header timeout with a 408 problem', async () => {
    const r = await trickle('GET /healthz HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n', 200, 15_000);
    expect(r.closedAfterMs).toBeLessThan(6000);
    const res = parseRaw(r.received);
    expect(res.status).toBe(408);
    expectProblem(res, 408);
  });

  it('a client that stops mid-body is cut off after the request timeout', async () => {
    const r = await trickle('POST /api/v1/edges HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":', ' ', 400, 15_000);
    expect(r.closedAfterMs).toBeLessThan(7000);
    expect(parseRaw(r.received).status).toBe(408);
  });

  it('a connection that never sends a byte is closed too', async () => {
    const r = await trickle('', '', 0, 15_000);
    expect(r.closedAfterMs).toBeLessThan(6000);
  });

  it('a long-poll held longer than the request timeout is not cut off (its request was complete)', async () => {
    const edge = await http(`${cp.url}/api/v1/edges`, { method: 'POST', body: SAMPLE.edges[0] });
    const url = `${cp.url}/api/v1/edges/${edge.json.id}/config`;
    const etag = (await http(url)).headers.get('etag')!;
    const started = Date.now();
    const res = await http(`${url}?wait=3`, { headers: { 'if-none-match': etag } });
    expect(res.status).toBe(304);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
  });
});

describe('long-polls per client address are bounded', () => {
  let cp: InProcessControlPlane;
  let url: string;
  let etag: string;
  beforeAll(async () => {
    cp = await startInProcess({ server: { longPollsPerClient: 2 } });
    const edge = await http(`${cp.url}/api/v1/edges`, { method: 'POST', body: SAMPLE.edges[0] });
    url = `${cp.url}/api/v1/edges/${edge.json.id}/config`;
    etag = (await http(url)).headers.get('etag')!;
  });
  afterAll(() => cp.close());

  const waiters = async () => Number(/^sluice_api_long_poll_waiters (\d+)/m.exec((await http(`${cp.url}/metrics`)).text)?.[1]);

  it('beyond the bound a long-poll gets 429 with Retry-After; answers without waiting are not counted', async () => {
    const held = [http(`${url}?wait=30`, { headers: { 'if-none-match': etag } }), http(`${cp.url}/api/v1/dns/view?wait=30`, { headers: { 'if-none-match': (await http(`${cp.url}/api/v1/dns/view`)).headers.get('etag')! } })];
    await waitFor(async () => (await waiters()) === 2, { what: 'two parked long-polls' });
    const third = await http(`${url}?wait=30`, { headers: { 'if-none-match': etag } });
    expect(third.status).toBe(429);
    expectProblem(third, 429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    // A request that is answered at once (no matching ETag) does not wait and is not refused.
    expect((await http(`${url}?wait=30`)).status).toBe(200);
    // A change to both views (a new load balancer with a DNS name and a listener) releases both; then
    // there is room again.
    await http(`${cp.url}/api/v1/load-balancers`, { method: 'POST', body: SAMPLE.loadBalancer });
    const released = await Promise.all(held);
    expect(released.map((r) => r.status)).toEqual([200, 200]);
    const again = http(`${url}?wait=1`, { headers: { 'if-none-match': (await http(url)).headers.get('etag')! } });
    expect((await again).status).toBe(304);
  });
});

describe('races and stale writes', () => {
  let cp: InProcessControlPlane;
  beforeAll(async () => (cp = await startInProcess()));
  afterAll(() => cp.close());

  const newEdge = async (name: string) => {
    const r = await http(`${cp.url}/api/v1/edges`, { method: 'POST', body: { ...SAMPLE.edges[0], name } });
    return { url: `${cp.url}/api/v1/edges/${r.json.id}`, etag: r.headers.get('etag')! };
  };

  it('two DELETEs with the same If-Match: one 204, the other 412 (not 404)', async () => {
    const e = await newEdge('race-delete');
    const results = await Promise.all([http(e.url, { method: 'DELETE', headers: { 'if-match': e.etag } }), http(e.url, { method: 'DELETE', headers: { 'if-match': e.etag } })]);
    expect(results.map((r) => r.status).sort()).toEqual([204, 412]);
    expectProblem(results.find((r) => r.status === 412)!, 412, 'If-Match');
  });

  it('PATCH, PUT and DELETE with If-Match on a resource deleted meanwhile answer 412', async () => {
    const e = await newEdge('gone');
    expect((await http(e.url, { method: 'DELETE' })).status).toBe(204);
    expect((await http(e.url, { method: 'PATCH', headers: { 'if-match': e.etag }, body: { region: 'x' } })).status).toBe(412);
    expect((await http(e.url, { method: 'PUT', headers: { 'if-match': e.etag }, body: { ...SAMPLE.edges[0], name: 'gone' } })).status).toBe(412);
    expect((await http(e.url, { method: 'DELETE', headers: { 'if-match': '*' } })).status).toBe(412);
    // Without a precondition, a missing resource is simply not found.
    expect((await http(e.url, { method: 'DELETE' })).status).toBe(404);
  });

  it('If-Match: * on an existing resource passes', async () => {
    const e = await newEdge('star');
    expect((await http(e.url, { method: 'PATCH', headers: { 'if-match': '*' }, body: { region: 'y' } })).status).toBe(200);
    expect((await http(e.url, { method: 'DELETE', headers: { 'if-match': '*' } })).status).toBe(204);
  });

  it('Location names the new resource whatever the query string', async () => {
    const r = await http(`${cp.url}/api/v1/edges?source=test&x=%2F`, { method: 'POST', body: { ...SAMPLE.edges[0], name: 'located' } });
    expect(r.status).toBe(201);
    expect(r.headers.get('location')).toBe(`/api/v1/edges/${r.json.id}`);
    expect((await http(`${cp.url}${r.headers.get('location')}`)).json.name).toBe('located');
    const lb = await http(`${cp.url}/api/v1/load-balancers`, { method: 'POST', body: { ...SAMPLE.loadBalancer, name: 'loc' } });
    const o = await http(`${cp.url}/api/v1/load-balancers/${lb.json.id}/origins?`, { method: 'POST', body: SAMPLE.origins[0] });
    expect(o.headers.get('location')).toBe(`/api/v1/load-balancers/${lb.json.id}/origins/${o.json.id}`);
  });

  it('a scheduler cycle that changes nothing does not wake long-pollers', async () => {
    const e = await newEdge('quiet');
    const lb = await http(`${cp.url}/api/v1/load-balancers`, { method: 'POST', body: { ...SAMPLE.loadBalancer, name: 'quiet' } });
    const configUrl = `${e.url}/config`;
    const etag = (await http(configUrl)).headers.get('etag')!;
    const wakeups = async () => Number(/^sluice_api_long_poll_wakeups_total (\d+)/m.exec((await http(`${cp.url}/metrics`)).text)?.[1]);
    const held = http(`${configUrl}?wait=30`, { headers: { 'if-none-match': etag } });
    await waitFor(async () => /^sluice_api_long_poll_waiters 1$/m.test((await http(`${cp.url}/metrics`)).text), { what: 'the long-poll to park' });
    const before = await wakeups();
    for (let i = 0; i < 5; i++) await cp.store.recordDecision({ load_balancer_id: lb.json.id, reason: 'hold', detail: 'inputs stale' });
    await cp.store.upsertLatency([{ subnet: '81.2.69.0/24', origin_id: 'or_x', rtt_ms: 10, samples: 3, last_updated: new Date().toISOString() }]);
    // A real change (another edge) is the barrier: exactly one wake-up for it, none for the decisions.
    await newEdge('barrier');
    await waitFor(async () => (await wakeups()) > before, { what: 'the barrier wake-up' });
    expect(await wakeups()).toBe(before + 1);
    await http(e.url, { method: 'PATCH', body: { region: 'moved' } });
    expect((await held).status).toBe(200);
  });
});
