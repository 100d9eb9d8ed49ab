// A table of bad requests: each gets a 4xx RFC 9457 problem naming the offending field, and nothing is
// stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE, http, startInProcess, type InProcessControlPlane } from './helpers/control-plane.ts';

const BODY_LIMIT = 64 * 1024;

let cp: InProcessControlPlane;
let lbId: string;
let edgeId: string;

beforeAll(async () => {
  cp = await startInProcess({ bodyLimitBytes: BODY_LIMIT });
  lbId = (await http(`${cp.url}/api/v1/load-balancers`, { method: 'POST', body: SAMPLE.loadBalancer })).json.id;
  await http(`${cp.url}/api/v1/load-balancers/${lbId}/origins`, { method: 'POST', body: SAMPLE.origins[0] });
  edgeId = (await http(`${cp.url}/api/v1/edges`, { method: 'POST', body: SAMPLE.edges[0] })).json.id;
});
afterAll(() => cp.close());

const lb = (over: Record<string, unknown>) => ({ ...SAMPLE.loadBalancer, name: 'other', ...over });
const origin = (over: Record<string, unknown>) => ({ ...SAMPLE.origins[0], name: 'other', ...over });
const edge = (over: Record<string, unknown>) => ({ ...SAMPLE.edges[0], name: 'other', ...over });
const without = (o: Record<string, unknown>, key: string) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));

interface Case {
  name: string;
  method: string;
  path: () => string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  status: number;
  field: string;
}

const LBS = () => '/api/v1/load-balancers';
const ORIGINS = () => `/api/v1/load-balancers/${lbId}/origins`;
const EDGES = () => '/api/v1/edges';

const CASES: Case[] = [
  { name: 'name of the wrong type', method: 'POST', path: LBS, body: lb({ name: 42 }), status: 400, field: 'name' },
  { name: 'missing name', method: 'POST', path: LBS, body: without(lb({}), 'name'), status: 400, field: 'name' },
  { name: 'name with spaces and capitals', method: 'POST', path: LBS, body: lb({ name: 'My App' }), status: 400, field: 'name' },
  { name: 'listener VIP not an IP', method: 'POST', path: LBS, body: lb({ listeners: [{ vip: '999.1.1.1', port: 443 }] }), status: 400, field: 'listeners.0.vip' },
  { name: 'listener port out of range', method: 'POST', path: LBS, body: lb({ listeners: [{ vip: '192.0.2.1', port: 70000 }] }), status: 400, field: 'listeners.0.port' },
  { name: 'unknown policy', method: 'POST', path: LBS, body: lb({ policy: 'fastest' }), status: 400, field: 'policy' },
  { name: 'max_shift zero', method: 'POST', path: LBS, body: lb({ max_shift: 0 }), status: 400, field: 'max_shift' },
  { name: 'max_shift above 1', method: 'POST', path: LBS, body: lb({ max_shift: 1.5 }), status: 400, field: 'max_shift' },
  { name: 'unknown field', method: 'POST', path: LBS, body: lb({ colour: 'blue' }), status: 400, field: 'colour' },
  { name: 'neither DNS nor listeners', method: 'POST', path: LBS, body: without(lb({ listeners: [] }), 'dns'), status: 400, field: 'listeners' },
  { name: 'hostname outside its zone', method: 'POST', path: LBS, body: lb({ dns: { zone: 'example.com', hostname: 'app.example.org' } }), status: 400, field: 'dns.hostname' },
  { name: 'TTL as a string', method: 'POST', path: LBS, body: lb({ dns: { zone: 'example.com', hostname: 'x.example.com', ttl: '30' } }), status: 400, field: 'dns.ttl' },
  { name: 'origin address not an IP', method: 'POST', path: ORIGINS, body: origin({ addresses: ['not-an-ip'] }), status: 400, field: 'addresses.0' },
  { name: 'origin with no address', method: 'POST', path: ORIGINS, body: origin({ addresses: [] }), status: 400, field: 'addresses' },
  { name: 'negative capacity', method: 'POST', path: ORIGINS, body: origin({ target_rps: -5 }), status: 400, field: 'target_rps' },
  { name: 'NaN capacity (as a string)', method: 'POST', path: ORIGINS, body: origin({ max_rps: 'NaN' }), status: 400, field: 'max_rps' },
  { name: 'infinite capacity (1e999)', method: 'POST', path: ORIGINS, rawBody: JSON.stringify(origin({})).replace('"max_rps":200', '"max_rps":1e999'), status: 400, field: 'max_rps' },
  { name: 'target above max', method: 'POST', path: ORIGINS, body: origin({ target_rps: 300, max_rps: 200 }), status: 400, field: 'target_rps' },
  { name: 'latitude out of range', method: 'POST', path: ORIGINS, body: origin({ location: { lat: 91, lon: 0 } }), status: 400, field: 'location.lat' },
  { name: 'unknown admin state', method: 'POST', path: ORIGINS, body: origin({ admin_state: 'paused' }), status: 400, field: 'admin_state' },
  { name: 'unknown health check type', method: 'POST', path: ORIGINS, body: origin({ health_check: { type: 'icmp' } }), status: 400, field: 'health_check.type' },
  { name: 'health check timeout above interval', method: 'POST', path: ORIGINS, body: origin({ health_check: { interval_ms: 1000, timeout_ms: 2000 } }), status: 400, field: 'health_check.timeout_ms' },
  { name: 'unknown origin field', method: 'POST', path: ORIGINS, body: origin({ weight: 3 }), status: 400, field: 'weight' },
  { name: 'edge address with an octet over 255', method: 'POST', path: EDGES, body: edge({ address: '10.0.0.300' }), status: 400, field: 'address' },
  { name: 'edge without location', method: 'POST', path: EDGES, body: without(edge({}), 'location'), status: 400, field: 'location' },
  { name: 'invalid JSON', method: 'POST', path: LBS, rawBody: '{"name": "x",', headers: { 'content-type': 'application/json' }, status: 400, field: '' },
  { name: 'wrong content type', method: 'POST', path: LBS, rawBody: 'name=x', headers: { 'content-type': 'text/plain' }, status: 415, field: 'content-type' },
  { name: 'oversized body', method: 'POST', path: LBS, body: lb({ name: 'big', padding: 'x'.repeat(BODY_LIMIT) }), status: 413, field: '' },
  { name: 'origin under a load balancer that does not exist', method: 'POST', path: () => '/api/v1/load-balancers/lb_nope/origins', body: origin({}), status: 404, field: 'id' },
  { name: 'replace an edge that does not exist', method: 'PUT', path: () => '/api/v1/edges/ed_nope', body: edge({}), status: 404, field: 'id' },
  { name: 'patch that breaks target <= max', method: 'PATCH', path: () => `${ORIGINS()}/ORIGIN`, body: { target_rps: 999 }, status: 400, field: 'target_rps' },
  { name: 'duplicate name', method: 'POST', path: LBS, body: { ...SAMPLE.loadBalancer }, status: 409, field: 'name' },
  { name: 'latency filter with host bits set', method: 'GET', path: () => '/api/v1/latency?subnet=10.0.0.1/24', status: 400, field: 'subnet' },
  { name: 'page size zero', method: 'GET', path: () => '/api/v1/edges?limit=0', status: 400, field: 'limit' },
  { name: 'stale If-Match on delete', method: 'DELETE', path: () => `/api/v1/edges/EDGE`, headers: { 'if-match': '"99"' }, status: 412, field: 'If-Match' },
];

async function everything() {
  const lbs = (await http(`${cp.url}/api/v1/load-balancers`)).json;
  const origins = (await http(`${cp.url}/api/v1/load-balancers/${lbId}/origins`)).json;
  const edges = (await http(`${cp.url}/api/v1/edges`)).json;
  return { lbs, origins, edges };
}

describe('bad requests', () => {
  it('has at least 25 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(25));

  it.each(CASES)('$name -> $status problem naming "$field"', async (c) => {
    const before = await everything();
    const originId = before.origins.items[0].id as string;
    const path = c.path().replace('ORIGIN', originId).replace('EDGE', edgeId);
    const res = await http(`${cp.url}${path}`, {
      method: c.method,
      ...(c.body !== undefined ? { body: c.body } : {}),
      ...(c.rawBody !== undefined ? { rawBody: c.rawBody, headers: { 'content-type': 'application/json', ...c.headers } } : { headers: c.headers ?? {} }),
    });
    expect(res.status, res.text).toBe(c.status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.json).toMatchObject({ status: c.status, type: expect.stringMatching(/^https:\/\/sluice\.dev\/problems\//), title: expect.any(String), detail: expect.any(String) });
    const fields = (res.json.errors ?? []).map((e: { field: string }) => e.field);
    expect(fields, res.text).toContain(c.field);
    expect(await everything()).toEqual(before);
  });
});
