// Fuzzing the control plane over raw HTTP: random and mutated requests (methods, paths, escapes,
// query strings, headers, JSON bodies with fields deleted, retyped, out of range or truncated) against
// a real server. Bounded in count and time. Properties, for every request:
//   - the server answers, and never with a 5xx;
//   - every 4xx is an RFC 9457 problem (application/problem+json, with the same status inside);
//   - every answer keeps the OpenAPI contract (test/helpers/openapi-contract.ts);
//   - a rejected write changes nothing in the store.
// A failure prints the seed and the request; SLUICE_FUZZ_SEED=<seed> replays the same sequence.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../lib/prng.ts';
import { SAMPLE, http, startInProcess, type InProcessControlPlane } from './helpers/control-plane.ts';
import { contractViolations } from './helpers/openapi-contract.ts';
import { rawExchange } from './helpers/raw-http.ts';

const SEED = Number(process.env.SLUICE_FUZZ_SEED ?? 0x5eed11);
const MAX_REQUESTS = 2000;
const MAX_MS = 25_000;
const BODY_LIMIT = 16 * 1024;

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'PATCH', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PROPFIND', 'G=T'];
const CONTENT_TYPES = ['application/json', 'application/json', 'application/json', 'application/json', 'application/json', 'application/merge-patch+json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', '', 'applicat\u0000ion/json'];
const WEIRD_SEGMENTS = ['%zz', '%', '%00', '%2F', '..', '.', '', 'ü', '%C3%BC', 'x'.repeat(70), 'y'.repeat(300), '%E0%A4%A', ';', '*', 'a b', '\t'];
const QUERY_KEYS = ['limit', 'cursor', 'wait', 'subnet', 'origin_id', 'load_balancer_id', 'x', 'limit', ''];
const QUERY_VALUES = ['0', '1', '50', '501', '-1', '1e3', 'NaN', 'abc', '%zz', '10.0.0.0/8', '10.0.0.1/24', '::/0', 'czE', 'bm9wZQ', '3601', '0.5', ''];

/** Random JSON values of the kinds that break validators. */
function oddValue(r: Rand): unknown {
  return pick(r, [null, true, 0, -1, 1e308, -1e-308, 2 ** 53 + 1, 'NaN', 'Infinity', '', 'x'.repeat(2000), [], {}, [1, 'a'], { a: { b: { c: [] } } }, '\u0000', 'ü', '192.0.2.300', '::1', 443, 70000, 0.5, '1e999']);
}

function mutateObject(r: Rand, o: Record<string, unknown>, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = { ...o };
  const keys = Object.keys(out);
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const k = pick(r, keys.length > 0 ? keys : ['x']);
    const choice = r();
    if (choice < 0.25) delete out[k];
    else if (choice < 0.6) out[k] = oddValue(r);
    else if (choice < 0.75) out[`extra_${Math.floor(r() * 100)}`] = oddValue(r);
    else if (depth < 2 && out[k] && typeof out[k] === 'object' && !Array.isArray(out[k])) out[k] = mutateObject(r, out[k] as Record<string, unknown>, depth + 1);
    else if (Array.isArray(out[k]) && (out[k] as unknown[]).length > 0) out[k] = (out[k] as unknown[]).map((v) => (v && typeof v === 'object' && r() < 0.7 ? mutateObject(r, v as Record<string, unknown>, depth + 1) : r() < 0.3 ? oddValue(r) : v));
  }
  return out;
}

interface Ids {
  lbs: string[];
  origins: { lb: string; id: string }[];
  edges: string[];
}

function fuzzRequest(r: Rand, ids: Ids): { method: string; target: string; bytes: Buffer } {
  const lb = ids.lbs.length > 0 && r() < 0.85 ? pick(r, ids.lbs) : `lb_${Math.floor(r() * 1e6)}`;
  const origin = ids.origins.length > 0 && r() < 0.8 ? pick(r, ids.origins) : { lb, id: `or_${Math.floor(r() * 1e6)}` };
  const edge = ids.edges.length > 0 && r() < 0.85 ? pick(r, ids.edges) : `ed_${Math.floor(r() * 1e6)}`;
  const COLLECTION = ['GET', 'POST'];
  const ITEM = ['GET', 'PUT', 'PATCH', 'PATCH', 'DELETE'];
  const templates: { path: string; sample: Record<string, unknown> | null; methods?: string[] }[] = [
    { path: '/api/v1/load-balancers', sample: { ...SAMPLE.loadBalancer, name: `lb-${Math.floor(r() * 1e6)}` }, methods: COLLECTION },
    { path: `/api/v1/load-balancers/${lb}`, sample: { ...SAMPLE.loadBalancer, name: `lb-${Math.floor(r() * 1e6)}` }, methods: ITEM },
    { path: `/api/v1/load-balancers/${lb}/origins`, sample: { ...SAMPLE.origins[1], name: `o-${Math.floor(r() * 1e6)}` }, methods: COLLECTION },
    { path: `/api/v1/load-balancers/${origin.lb}/origins/${origin.id}`, sample: { ...SAMPLE.origins[0], name: `o-${Math.floor(r() * 1e6)}` }, methods: ITEM },
    { path: `/api/v1/load-balancers/${lb}/weights`, sample: null },
    { path: '/api/v1/edges', sample: { ...SAMPLE.edges[0], name: `e-${Math.floor(r() * 1e6)}` }, methods: COLLECTION },
    { path: `/api/v1/edges/${edge}`, sample: { ...SAMPLE.edges[1], name: `e-${Math.floor(r() * 1e6)}` }, methods: ITEM },
    { path: `/api/v1/edges/${edge}/config`, sample: null },
    { path: '/api/v1/dns/view', sample: null },
    { path: '/api/v1/latency', sample: null },
    { path: '/api/v1/decisions', sample: null },
    { path: '/api/v1/health', sample: null },
    { path: '/healthz', sample: null },
    { path: '/readyz', sample: null },
    { path: '/openapi.json', sample: null },
    { path: '/metrics', sample: null },
    { path: '/nope', sample: null },
  ];
  const t = pick(r, templates);
  // Mostly a method the path takes (so bodies get validated), sometimes any.
  const method = r() < 0.75 ? pick(r, t.methods ?? ['GET']) : pick(r, METHODS);
  let path = t.path;
  if (r() < 0.2) {
    const segs = path.split('/');
    segs[1 + Math.floor(r() * (segs.length - 1))] = pick(r, WEIRD_SEGMENTS);
    path = segs.join('/');
  }
  if (r() < 0.05) path += '/';
  let query = '';
  if (r() < 0.4) {
    const n = 1 + Math.floor(r() * 3);
    query = `?${Array.from({ length: n }, () => `${pick(r, QUERY_KEYS)}=${pick(r, QUERY_VALUES)}`).join('&')}`;
    if (r() < 0.03) query += 'q'.repeat(9000);
  }
  const target = `${path}${query}`;
  const headers: string[] = ['Host: fuzz', 'Connection: close'];
  let body = '';
  const wantsBody = ['POST', 'PUT', 'PATCH'].includes(method) ? r() < 0.95 : r() < 0.1;
  if (wantsBody) {
    const sample = t.sample ?? { name: 'x' };
    const obj = method === 'PATCH' && r() < 0.6 ? Object.fromEntries(Object.entries(sample).filter(() => r() < 0.3)) : sample;
    const mutated = r() < 0.6 ? mutateObject(r, obj) : obj;
    body = JSON.stringify(mutated);
    if (r() < 0.08) body = body.slice(0, Math.floor(r() * body.length));
    if (r() < 0.04) body = body.replace(/\d+/, '1e999');
    if (r() < 0.03) body = `[${body}]`;
    if (r() < 0.02) body = 'x'.repeat(BODY_LIMIT + 10);
    const type = pick(r, CONTENT_TYPES);
    if (type) headers.push(`Content-Type: ${type}`);
  }
  if (r() < 0.25) headers.push(`If-Match: ${pick(r, ['"1"', '"2"', '"99"', '*', 'W/"1"', 'garbage', '"', '"1", "2"'])}`);
  if (r() < 0.15) headers.push(`If-None-Match: ${pick(r, ['"abc"', '*', 'W/"x"', ''])}`);
  if (r() < 0.05) headers.push(`X-Pad: ${'p'.repeat(Math.floor(r() * 20_000))}`);
  const bodyBytes = Buffer.from(body, 'utf8');
  if (wantsBody || r() < 0.05) headers.push(`Content-Length: ${bodyBytes.length}`);
  const head = `${method} ${target} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`;
  return { method, target, bytes: Buffer.concat([Buffer.from(head, 'latin1'), bodyBytes]) };
}

describe('control plane under random and mutated requests', () => {
  let cp: InProcessControlPlane;
  const ids: Ids = { lbs: [], origins: [], edges: [] };

  beforeAll(async () => {
    cp = await startInProcess({ bodyLimitBytes: BODY_LIMIT, server: { requestTimeoutMs: 3000, headerTimeoutMs: 3000, docs: true } });
    const lb = (await http(`${cp.url}/api/v1/load-balancers`, { method: 'POST', body: SAMPLE.loadBalancer })).json.id as string;
    ids.lbs.push(lb);
    for (const o of SAMPLE.origins) ids.origins.push({ lb, id: (await http(`${cp.url}/api/v1/load-balancers/${lb}/origins`, { method: 'POST', body: o })).json.id });
    for (const e of SAMPLE.edges) ids.edges.push((await http(`${cp.url}/api/v1/edges`, { method: 'POST', body: e })).json.id);
  });
  afterAll(() => cp.close());

  const snapshot = async () => JSON.stringify([await cp.store.allLoadBalancers(), await cp.store.allOrigins(), await cp.store.allEdges(), await cp.store.changeSeq()]);

  it(`never 5xx, always problem+json on 4xx, within the contract, nothing stored on rejection (seed ${SEED})`, async () => {
    const r = seededRandom(SEED);
    const statuses = new Map<number, number>();
    const started = Date.now();
    let sent = 0;
    while (sent < MAX_REQUESTS && Date.now() - started < MAX_MS) {
      const req = fuzzRequest(r, ids);
      sent++;
      const what = `seed ${SEED}, request #${sent}: ${req.bytes.toString('latin1').slice(0, 300)}`;
      const write = !['GET', 'HEAD'].includes(req.method);
      const before = write ? await snapshot() : '';
      const res = await rawExchange(cp.url, req.bytes);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status, what).toBeGreaterThanOrEqual(200);
      expect(res.status, `${what}\n-> ${res.head}\n${res.body}`).toBeLessThan(500);
      if (res.status >= 400) {
        expect(res.headers.get('content-type') ?? '', `${what}\n-> ${res.head}`).toMatch(/^application\/problem\+json/);
        if (req.method !== 'HEAD') expect(JSON.parse(res.body).status, what).toBe(res.status);
        if (write) expect(await snapshot(), `a rejected write changed the store: ${what}`).toBe(before);
      }
      expect(contractViolations({ method: req.method, url: req.target, status: res.status, headers: res.headers, text: res.body }), what).toEqual([]);
      // Keep the id pools current so later requests hit real resources.
      if (res.status === 201 && req.method === 'POST') {
        const created = JSON.parse(res.body) as { id: string; load_balancer_id?: string };
        if (created.id.startsWith('lb_')) ids.lbs.push(created.id);
        else if (created.id.startsWith('or_')) ids.origins.push({ lb: created.load_balancer_id!, id: created.id });
        else if (created.id.startsWith('ed_')) ids.edges.push(created.id);
      }
    }
    // The bound must not hide a fuzzer that did nothing: plenty of requests, successes and many kinds of refusal.
    expect(sent).toBeGreaterThanOrEqual(400);
    const kinds = [...statuses.keys()];
    expect(kinds.some((s) => s >= 200 && s < 300), JSON.stringify(Object.fromEntries(statuses))).toBe(true);
    expect(kinds.filter((s) => s >= 400).length, JSON.stringify(Object.fromEntries(statuses))).toBeGreaterThanOrEqual(6);
    process.stderr.write(`api fuzz: ${sent} requests in ${Date.now() - started} ms, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}\n`);
  });
});
