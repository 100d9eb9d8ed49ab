// The API contract: openapi/openapi.json says what the wire carries. Every response a control-plane
// test receives through `http()` is validated against the document with ajv (test/helpers/
// openapi-contract.ts); this file checks the document's own promises, proves the validator catches
// violations, and drives every documented operation (with auth on) so each is validated at least once.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANY_REQUEST, PROBLEMS } from '../api/errors.ts';
import { OPENAPI_FILE } from '../openapi/generate.ts';
import { SAMPLE, http, startInProcess, tempDir, type InProcessControlPlane } from './helpers/control-plane.ts';
import { contractViolations, findOperation } from './helpers/openapi-contract.ts';

interface Op {
  security?: unknown[];
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
}
const spec = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as { paths: Record<string, Record<string, Op>>; security: unknown[] };
const operations = Object.entries(spec.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));
const OPEN = ['/healthz', '/readyz', '/openapi.json', '/docs'];

describe('openapi/openapi.json promises', () => {
  it('declares every error response as application/problem+json with the Problem schema', () => {
    for (const { path, method, op } of operations) {
      for (const [status, r] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
        expect(Object.keys(r.content ?? {}), `${method} ${path} ${status}`).toEqual(['application/problem+json']);
        expect(r.content!['application/problem+json']!.schema?.$ref, `${method} ${path} ${status}`).toBe('#/components/schemas/Problem');
      }
    }
  });

  it('declares the unauthenticated endpoints without security and everything else with the bearer scheme or a client certificate', () => {
    expect(spec.security).toEqual([{ bearer: [] }, { mutualTLS: [] }]);
    for (const { path, method, op } of operations) {
      if (OPEN.includes(path)) {
        expect(op.security, `${method} ${path}`).toEqual([]);
        expect(op.responses['401'], `${method} ${path} cannot answer 401`).toBeUndefined();
      } else {
        expect(op.security, `${method} ${path} inherits bearer`).toBeUndefined();
        expect(op.responses['401'], `${method} ${path}`).toBeDefined();
      }
    }
    expect(operations.map((o) => o.path)).toEqual(expect.arrayContaining(OPEN));
  });

  it('declares on every operation what any request can be answered (400, 408, 414, 431, 500, 503)', () => {
    const statuses = [...new Set(ANY_REQUEST.map((c) => String(PROBLEMS[c].status)))];
    for (const { path, method, op } of operations) expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(statuses));
  });

  it('declares 304 and 429 on the long-polled views, and 403/412/413/415 on writes', () => {
    for (const p of ['/api/v1/edges/{id}/config', '/api/v1/dns/view', '/api/v1/dns/view/changes']) expect(Object.keys(spec.paths[p]!.get!.responses)).toEqual(expect.arrayContaining(['200', '304', '429']));
    for (const { path, method, op } of operations.filter((o) => ['post', 'put', 'patch', 'delete'].includes(o.method))) {
      expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['403', '413', '415']));
      // Overrides are immutable (no revision, no If-Match): their one write after creation is the
      // cancel, refused with 409 once cancelled or expired.
      if (method !== 'post' && !path.includes('/overrides/')) expect(Object.keys(op.responses), `${method} ${path}`).toContain('412');
    }
  });
});

describe('the validator', () => {
  const h = (type: string, extra: Record<string, string> = {}) => new Headers({ 'content-type': type, ...extra });
  const problem = JSON.stringify({ type: 'https://sluice.dev/problems/not-found', title: 'No such resource', status: 404, detail: 'x', instance: '/x', code: 'not_found' });

  it('accepts a response that keeps the contract', () => {
    expect(contractViolations({ method: 'GET', url: '/api/v1/edges/ed_1', status: 404, headers: h('application/problem+json'), text: problem })).toEqual([]);
    expect(contractViolations({ method: 'GET', url: '/healthz', status: 200, headers: h('application/json'), text: '{"status":"ok"}' })).toEqual([]);
  });

  it('catches an undeclared status, a wrong media type, a body off its schema, a 401 on an open endpoint', () => {
    expect(contractViolations({ method: 'GET', url: '/api/v1/edges/ed_1', status: 418, headers: h('application/problem+json'), text: problem }).join()).toMatch(/not declared/);
    expect(contractViolations({ method: 'GET', url: '/api/v1/edges/ed_1', status: 404, headers: h('application/json'), text: problem }).join()).toMatch(/must be application\/problem\+json/);
    expect(contractViolations({ method: 'GET', url: '/api/v1/edges/ed_1', status: 200, headers: h('application/json'), text: '{"id":1}' }).join()).toMatch(/does not match/);
    expect(contractViolations({ method: 'GET', url: '/healthz', status: 401, headers: h('application/problem+json'), text: problem }).join()).toMatch(/not declared|without security/);
    expect(contractViolations({ method: 'PUT', url: '/api/v1/edges', status: 405, headers: h('application/problem+json', { allow: 'GET' }), text: problem }).join()).toMatch(/lacks POST/);
    expect(contractViolations({ method: 'GET', url: '/nowhere', status: 200, headers: h('text/plain'), text: 'hi' }).join()).toMatch(/no documented operation/);
  });

  it('matches paths to their templates', () => {
    expect(findOperation('GET', '/api/v1/load-balancers/lb_1/origins/or_2')?.template).toBe('/api/v1/load-balancers/{lbId}/origins/{id}');
    expect(findOperation('HEAD', '/api/v1/edges/ed_1/config')?.op).toBeDefined();
  });
});

describe('every documented operation, driven with auth on and validated', () => {
  const ADMIN = 'contract-admin-token-0123456789';
  const READER = 'contract-reader-token-0123456789';
  const REPORTER = 'contract-report-token-0123456789';
  let cp: InProcessControlPlane;
  const exercised = new Map<string, Set<number>>();
  const call = async (method: string, path: string, init: { body?: unknown; headers?: Record<string, string>; token?: string | null } = {}) => {
    const token = init.token === undefined ? ADMIN : init.token;
    const res = await http(`${cp.url}${path}`, { method, ...(init.body !== undefined ? { body: init.body } : {}), headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...init.headers } });
    const found = findOperation(method, path.split('?')[0]!);
    if (found?.op) {
      const key = `${method === 'HEAD' ? 'get' : method.toLowerCase()} ${found.template}`;
      exercised.set(key, (exercised.get(key) ?? new Set()).add(res.status));
    }
    return res;
  };

  const keyDir = tempDir('sluice-contract-keys-');
  beforeAll(async () => (cp = await startInProcess({ admin_tokens: [ADMIN], read_tokens: [READER], report_tokens: [{ token: REPORTER, edge: SAMPLE.edges[0]!.name }], server: { docs: true, dnssec: { keyDirectory: keyDir.path } } })));
  afterAll(async () => {
    await cp.close();
    keyDir.remove();
  });

  it('answers every operation within its contract, successes and typical errors alike', async () => {
    for (const p of ['/healthz', '/readyz', '/openapi.json', '/docs']) expect((await call('GET', p, { token: null })).status).toBe(200);
    expect((await call('GET', '/metrics')).status).toBe(200);
    expect((await call('GET', '/metrics', { token: null })).status).toBe(401);

    const lb = await call('POST', '/api/v1/load-balancers', { body: SAMPLE.loadBalancer });
    expect(lb.status).toBe(201);
    const lbPath = `/api/v1/load-balancers/${lb.json.id}`;
    expect((await call('POST', '/api/v1/load-balancers', { body: SAMPLE.loadBalancer })).status).toBe(409);
    expect((await call('POST', '/api/v1/load-balancers', { body: SAMPLE.loadBalancer, token: READER })).status).toBe(403);
    expect((await call('GET', '/api/v1/load-balancers')).status).toBe(200);
    expect((await call('HEAD', '/api/v1/load-balancers')).status).toBe(200);
    expect((await call('GET', lbPath)).status).toBe(200);
    expect((await call('PUT', lbPath, { body: { ...SAMPLE.loadBalancer, max_shift: 0.05 }, headers: { 'if-match': '"1"' } })).status).toBe(200);
    expect((await call('PATCH', lbPath, { body: { max_shift: 0.04 }, headers: { 'if-match': '"1"' } })).status).toBe(412);
    expect((await call('PATCH', lbPath, { body: { max_shift: 0.04 } })).status).toBe(200);
    expect((await call('GET', `${lbPath}/weights`)).status).toBe(404);

    const originsPath = `${lbPath}/origins`;
    const origin = await call('POST', originsPath, { body: SAMPLE.origins[0] });
    expect(origin.status).toBe(201);
    const originPath = `${originsPath}/${origin.json.id}`;
    expect((await call('GET', originsPath)).status).toBe(200);
    expect((await call('GET', originPath)).status).toBe(200);
    expect((await call('PUT', originPath, { body: { ...SAMPLE.origins[0], max_rps: 250 } })).status).toBe(200);
    expect((await call('PATCH', originPath, { body: { target_rps: 1e6 } })).status).toBe(400);
    expect((await call('PATCH', originPath, { body: { target_rps: 100 } })).status).toBe(200);

    const edge = await call('POST', '/api/v1/edges', { body: SAMPLE.edges[0] });
    const edgePath = `/api/v1/edges/${edge.json.id}`;
    expect((await call('GET', '/api/v1/edges?limit=1')).status).toBe(200);
    expect((await call('GET', edgePath)).status).toBe(200);
    expect((await call('PUT', edgePath, { body: { ...SAMPLE.edges[0], region: 'x' } })).status).toBe(200);
    expect((await call('PATCH', edgePath, { body: { region: 'y' } })).status).toBe(200);
    const config = await call('GET', `${edgePath}/config`);
    expect(config.status).toBe(200);
    expect((await call('GET', `${edgePath}/config?wait=0`, { headers: { 'if-none-match': config.headers.get('etag')! } })).status).toBe(304);
    const view = await call('GET', '/api/v1/dns/view');
    expect(view.status).toBe(200);
    expect((await call('GET', '/api/v1/dns/view', { headers: { 'if-none-match': view.headers.get('etag')! } })).status).toBe(304);
    const changes = await call('GET', '/api/v1/dns/view/changes');
    expect(changes.json).toMatchObject({ kind: 'full', reason: 'no_base', version: view.json.version });
    expect((await call('GET', '/api/v1/dns/view/changes', { headers: { 'if-none-match': view.headers.get('etag')! } })).status).toBe(304);

    await cp.store.publishWeights(lb.json.id, { edges: { [edge.json.id]: { [origin.json.id]: 1 } } }, { load_balancer_id: lb.json.id, reason: 'optimize' });
    await cp.store.upsertLatency([{ subnet: '81.2.69.0/24', origin_id: origin.json.id, rtt_ms: 9, samples: 4, last_updated: new Date().toISOString() }]);
    await cp.store.setOriginHealth(origin.json.id, true, 'ok');
    expect((await call('GET', `${lbPath}/weights`)).status).toBe(200);
    expect((await call('GET', '/api/v1/latency?subnet=81.2.69.0/24')).status).toBe(200);
    expect((await call('GET', '/api/v1/latency?cursor=bm90LWEtY3Vyc29y')).status).toBe(400);
    expect((await call('GET', '/api/v1/decisions?limit=5')).status).toBe(200);
    expect((await call('GET', '/api/v1/health')).status).toBe(200);
    // Health reports: a report token bound to this edge may send them (and read), nothing else.
    const report = { reports: [{ origin_id: origin.json.id, healthy: true, result: 'pass', latency_ms: 4.2 }, { origin_id: 'or_gone', healthy: false, result: 'fail' }] };
    expect((await call('POST', `${edgePath}/health`, { body: report, token: REPORTER })).json).toEqual({ accepted: 1, ignored: ['or_gone'] });
    expect((await call('POST', `${edgePath}/health`, { body: report, token: READER })).status).toBe(403);
    expect((await call('POST', `${edgePath}/health`, { body: { reports: [] }, token: REPORTER })).status).toBe(400);
    expect((await call('POST', '/api/v1/edges/ed_missing/health', { body: report })).status).toBe(404);
    expect((await call('POST', '/api/v1/load-balancers', { body: { ...SAMPLE.loadBalancer, name: 'by-reporter' }, token: REPORTER })).status).toBe(403);
    expect((await call('GET', `${edgePath}/config`, { token: REPORTER })).status).toBe(200);
    const health = await call('GET', '/api/v1/health');
    expect(health.json.observations).toEqual([expect.objectContaining({ origin_id: origin.json.id, vantage: `edge:${SAMPLE.edges[0]!.name}`, kind: 'edge', edge_id: edge.json.id, healthy: true, latency_ms: 4.2 })]);

    const overridesPath = `${lbPath}/overrides`;
    const override = await call('POST', overridesPath, { body: { kind: 'dial', origin_id: origin.json.id, percent: 50, reason: 'contract' } });
    expect(override.status).toBe(201);
    expect((await call('POST', overridesPath, { body: { kind: 'dial', origin_id: origin.json.id, percent: 40, reason: 'again' } })).status).toBe(409);
    expect((await call('POST', overridesPath, { body: { kind: 'dial', origin_id: 'or_missing', percent: 40, reason: 'x' } })).status).toBe(422);
    expect((await call('GET', overridesPath)).status).toBe(200);
    expect((await call('GET', `${overridesPath}/${override.json.id}`)).status).toBe(200);
    expect((await call('DELETE', `${overridesPath}/${override.json.id}`, { token: READER })).status).toBe(403);
    expect((await call('DELETE', `${overridesPath}/${override.json.id}`)).status).toBe(200);
    expect((await call('DELETE', `${overridesPath}/${override.json.id}`)).status).toBe(409);

    // DNSSEC keys (issue 16): made, listed, the DS, a schedule moved (If-Match), and the usual refusals.
    const key = await call('POST', '/api/v1/dnssec/zones/example.com/keys', { body: { type: 'csk' } });
    expect(key.status).toBe(201);
    expect((await call('POST', '/api/v1/dnssec/zones/example.com/keys', { body: {}, token: READER })).status).toBe(403);
    expect((await call('GET', '/api/v1/dnssec/zones/example.com/keys', { token: READER })).status).toBe(200);
    expect((await call('GET', '/api/v1/dnssec/zones/example.com/ds')).status).toBe(200);
    expect((await call('GET', '/api/v1/dnssec/zones/other.example/ds')).status).toBe(404);
    const keyPath = `/api/v1/dnssec/zones/example.com/keys/${key.json.key_tag}`;
    expect((await call('PATCH', keyPath, { body: { sync_delete: '+30d' }, headers: { 'if-match': '"0000"' } })).status).toBe(412);
    expect((await call('PATCH', keyPath, { body: { sync_delete: '+30d' }, headers: { 'if-match': `"${key.json.revision}"` } })).status).toBe(200);

    expect((await call('DELETE', edgePath, { headers: { 'if-match': '"99"' } })).status).toBe(412);
    expect((await call('DELETE', edgePath)).status).toBe(204);
    expect((await call('DELETE', originPath)).status).toBe(204);
    expect((await call('DELETE', lbPath)).status).toBe(204);
    expect((await call('GET', lbPath)).status).toBe(404);

    // Every documented operation was answered at least once with a success, and validated.
    const unexercised = operations.map((o) => `${o.method} ${o.path}`).filter((k) => ![...(exercised.get(k) ?? [])].some((s) => s < 400));
    expect(unexercised).toEqual([]);
  });
});
