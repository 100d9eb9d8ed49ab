// API behaviour over real HTTP: optimistic concurrency, auth, long-poll, pagination, views.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE, http, startInProcess, type InProcessControlPlane } from './helpers/control-plane.ts';

describe('optimistic concurrency', () => {
  let cp: InProcessControlPlane;
  beforeAll(async () => (cp = await startInProcess()));
  afterAll(() => cp.close());

  it('two concurrent updates with the same If-Match: exactly one succeeds, the other gets 412', async () => {
    const created = await http(`${cp.url}/api/v1/load-balancers`, { method: 'POST', body: SAMPLE.loadBalancer });
    const etag = created.headers.get('etag')!;
    const url = `${cp.url}/api/v1/load-balancers/${created.json.id}`;
    const [a, b] = await Promise.all([
      http(url, { method: 'PUT', headers: { 'if-match': etag }, body: { ...SAMPLE.loadBalancer, max_shift: 0.05 } }),
      http(url, { method: 'PATCH', headers: { 'if-match': etag }, body: { max_shift: 0.1 } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 412]);
    const winner = a.status === 200 ? 0.05 : 0.1;
    const now = await http(url);
    expect(now.json.max_shift).toBe(winner);
    expect(now.json.revision).toBe(2);
    expect(now.headers.get('etag')).toBe('"2"');
  });

  it('PATCH keeps the fields it does not mention (no defaults re-applied)', async () => {
    const created = await http(`${cp.url}/api/v1/load-balancers`, { method: 'POST', body: { ...SAMPLE.loadBalancer, name: 'patchme', policy: 'balance', deadband: 0.03 } });
    const patched = await http(`${cp.url}/api/v1/load-balancers/${created.json.id}`, { method: 'PATCH', body: { enabled: false } });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ policy: 'balance', deadband: 0.03, enabled: false, revision: 2 });
  });

  it('paginates with a cursor and visits every item once', async () => {
    for (let i = 0; i < 7; i++) await http(`${cp.url}/api/v1/edges`, { method: 'POST', body: { ...SAMPLE.edges[0], name: `edge-${i}` } });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { json: { items: { name: string }[]; next_cursor: string | null } } = await http(`${cp.url}/api/v1/edges?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...res.json.items.map((e) => e.name));
      cursor = res.json.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `edge-${i}`));
  });
});

describe('auth', () => {
  const ADMIN = 'admin-token-0123456789abcdef';
  const READER = 'reader-token-0123456789abcdef';
  let cp: InProcessControlPlane;
  beforeAll(async () => (cp = await startInProcess({ admin_tokens: [ADMIN], read_tokens: [`sha256:${await sha256(READER)}`] })));
  afterAll(() => cp.close());

  it('no token -> 401, read-only token on a write -> 403, admin -> 201, read-only read -> 200', async () => {
    const url = `${cp.url}/api/v1/load-balancers`;
    const none = await http(url, { method: 'POST', body: SAMPLE.loadBalancer });
    expect(none.status).toBe(401);
    expect(none.json.field).toBe('authorization');
    const wrong = await http(url, { headers: { authorization: 'Bearer not-a-real-token-at-all' } });
    expect(wrong.status).toBe(401);
    const reader = await http(url, { method: 'POST', body: SAMPLE.loadBalancer, headers: { authorization: `Bearer ${READER}` } });
    expect(reader.status).toBe(403);
    const admin = await http(url, { method: 'POST', body: SAMPLE.loadBalancer, headers: { authorization: `Bearer ${ADMIN}` } });
    expect(admin.status).toBe(201);
    const read = await http(url, { headers: { authorization: `Bearer ${READER}` } });
    expect(read.status).toBe(200);
    expect(read.json.items).toHaveLength(1);
  });

  it('a configured digest is not itself a token', async () => {
    const res = await http(`${cp.url}/api/v1/load-balancers`, { headers: { authorization: `Bearer sha256:${await sha256(READER)}` } });
    expect(res.status).toBe(401);
  });

  it('health endpoints stay open for probes', async () => {
    expect((await http(`${cp.url}/healthz`)).status).toBe(200);
    expect((await http(`${cp.url}/readyz`)).status).toBe(200);
  });
});

describe('long-poll views', () => {
  let cp: InProcessControlPlane;
  let lbId: string;
  let edgeId: string;
  let originIds: string[];
  beforeAll(async () => {
    cp = await startInProcess();
    lbId = (await http(`${cp.url}/api/v1/load-balancers`, { method: 'POST', body: SAMPLE.loadBalancer })).json.id;
    originIds = [];
    for (const o of SAMPLE.origins.slice(0, 2)) originIds.push((await http(`${cp.url}/api/v1/load-balancers/${lbId}/origins`, { method: 'POST', body: o })).json.id);
    edgeId = (await http(`${cp.url}/api/v1/edges`, { method: 'POST', body: SAMPLE.edges[0] })).json.id;
  });
  afterAll(() => cp.close());

  it('edge config: 304 for a matching ETag, and a waiting request returns the new version within 1 s of a change', async () => {
    const url = `${cp.url}/api/v1/edges/${edgeId}/config`;
    const first = await http(url);
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    expect(etag).toBe(`"${first.json.version}"`);
    // Before any publication, static weights apply: equal static weights -> 0.5 each.
    expect(first.json.listeners[0].origins.map((o: { weight: number }) => o.weight)).toEqual([0.5, 0.5]);
    expect((await http(url, { headers: { 'if-none-match': etag } })).status).toBe(304);

    const waiting = (async () => {
      const started = Date.now();
      const res = await http(`${url}?wait=20`, { headers: { 'if-none-match': etag } });
      return { res, at: Date.now(), started };
    })();
    // Give the request time to be parked, then change what the edge sees.
    await new Promise((r) => setTimeout(r, 300));
    const changedAt = Date.now();
    await cp.store.publishWeights(lbId, { edges: { [edgeId]: { [originIds[0]!]: 0.8, [originIds[1]!]: 0.2 } } }, { load_balancer_id: lbId, reason: 'optimize' });
    const { res, at } = await waiting;
    expect(res.status).toBe(200);
    expect(at - changedAt).toBeLessThan(1000);
    expect(res.json.version).not.toBe(first.json.version);
    expect(res.json.weights_version).toBe(1);
    expect(Object.fromEntries(res.json.listeners[0].origins.map((o: { id: string; weight: number }) => [o.id, o.weight]))).toEqual({ [originIds[0]!]: 0.8, [originIds[1]!]: 0.2 });
  });

  it('a change that does not alter the view keeps the request waiting until the wait ends (304)', async () => {
    const url = `${cp.url}/api/v1/edges/${edgeId}/config`;
    const etag = (await http(url)).headers.get('etag')!;
    const started = Date.now();
    const waiting = http(`${url}?wait=1`, { headers: { 'if-none-match': etag } });
    // Another edge's creation wakes the waiter, which finds its own view unchanged and waits on.
    await cp.store.createEdge({ ...SAMPLE.edges[1], name: 'unrelated' });
    await cp.store.upsertLatency([{ subnet: '81.2.69.0/24', origin_id: originIds[0]!, rtt_ms: 12, samples: 9, last_updated: new Date().toISOString() }]);
    const res = await waiting;
    expect(res.status).toBe(304);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('an unhealthy origin is out of the edge config and DNS view at once, before any new weights', async () => {
    const url = `${cp.url}/api/v1/edges/${edgeId}/config`;
    const before = await http(url);
    const dnsBefore = await http(`${cp.url}/api/v1/dns/view`);
    const waiting = http(`${url}?wait=20`, { headers: { 'if-none-match': before.headers.get('etag')! } });
    await cp.store.setOriginHealth(originIds[0]!, false, 'test: connection refused');
    const after = await waiting;
    const weights = Object.fromEntries(after.json.listeners[0].origins.map((o: { id: string; weight: number; healthy: boolean }) => [o.id, [o.weight, o.healthy]]));
    expect(weights).toEqual({ [originIds[0]!]: [0, false], [originIds[1]!]: [1, true] });
    const dns = await http(`${cp.url}/api/v1/dns/view`);
    expect(dns.json.version).not.toBe(dnsBefore.json.version);
    expect(dns.json.zones[0].records[0].origins.find((o: { id: string }) => o.id === originIds[0]).healthy).toBe(false);
    await cp.store.setOriginHealth(originIds[0]!, true, 'test: recovered');
  });

  it('DNS view lists the zone, record, origins and per-subnet weights', async () => {
    await cp.store.publishWeights(lbId, { subnets: { '81.2.69.0/24': { [originIds[1]!]: 1 } } }, { load_balancer_id: lbId, reason: 'optimize' });
    const view = await http(`${cp.url}/api/v1/dns/view`);
    expect(view.status).toBe(200);
    expect(view.json.zones).toHaveLength(1);
    const record = view.json.zones[0].records[0];
    expect(record).toMatchObject({ hostname: 'app.example.com', ttl: 20, load_balancer_id: lbId, subnets: { '81.2.69.0/24': { [originIds[1]!]: 1 } } });
    expect(record.origins.map((o: { name: string }) => o.name)).toEqual(['us-east', 'eu-west']);
  });

  it('weights, latency and decisions are readable, decisions newest first', async () => {
    const weights = await http(`${cp.url}/api/v1/load-balancers/${lbId}/weights`);
    expect(weights.status).toBe(200);
    expect(weights.json.version).toBeGreaterThanOrEqual(2);
    const latency = await http(`${cp.url}/api/v1/latency?subnet=81.2.69.0/24`);
    expect(latency.json.items).toEqual([expect.objectContaining({ subnet: '81.2.69.0/24', rtt_ms: 12, samples: 9 })]);
    const decisions = await http(`${cp.url}/api/v1/decisions?limit=1`);
    expect(decisions.json.items).toHaveLength(1);
    const older = await http(`${cp.url}/api/v1/decisions?limit=1&cursor=${decisions.json.next_cursor}`);
    expect(older.json.items[0].id).toBeLessThan(decisions.json.items[0].id);
  });

  it('publishing a share for an origin that does not exist is refused and changes nothing', async () => {
    const before = await cp.store.getWeights(lbId);
    await expect(cp.store.publishWeights(lbId, { edges: { [edgeId]: { or_ghost: 1 } } }, { load_balancer_id: lbId, reason: 'optimize' })).rejects.toThrow(/or_ghost/);
    expect(await cp.store.getWeights(lbId)).toEqual(before);
  });
});

async function sha256(text: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(text).digest('hex');
}

describe('shutdown', () => {
  it('releases held long-polls so the server closes promptly', async () => {
    const cp = await startInProcess();
    const edgeId = (await http(`${cp.url}/api/v1/edges`, { method: 'POST', body: SAMPLE.edges[0] })).json.id;
    const url = `${cp.url}/api/v1/edges/${edgeId}/config`;
    const etag = (await http(url)).headers.get('etag')!;
    const held = http(`${url}?wait=50`, { headers: { 'if-none-match': etag } });
    await new Promise((r) => setTimeout(r, 200)); // let the request be parked before closing
    const started = Date.now();
    await cp.close();
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await held).status).toBe(304);
  });
});
