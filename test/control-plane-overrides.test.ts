// Operator overrides through the API over real HTTP: each kind created with who/when/why, refused
// when it cannot be honoured (409 naming the conflicting fields and override, 422 when wrong by
// itself), cancelled with the record kept, audited in the decision log. Responses are checked against
// openapi/openapi.json by the http() helper.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE, http, startInProcess, type InProcessControlPlane } from './helpers/control-plane.ts';

const ADMIN = 'admin-token-overrides';
const READ = 'read-token-overrides';

describe('overrides API', () => {
  let cp: InProcessControlPlane;
  let base: string;
  let us: string;
  let eu: string;
  let sfo: string;
  const auth = { authorization: `Bearer ${ADMIN}` };
  const post = (body: unknown) => http(`${base}/overrides`, { method: 'POST', headers: auth, body });
  const fields = (res: { json: { errors?: { field: string }[] } }) => (res.json.errors ?? []).map((e) => e.field).sort();

  beforeAll(async () => {
    cp = await startInProcess({ admin_tokens: [ADMIN], read_tokens: [READ] });
    const lb = await http(`${cp.url}/api/v1/load-balancers`, { method: 'POST', headers: auth, body: SAMPLE.loadBalancer });
    base = `${cp.url}/api/v1/load-balancers/${lb.json.id}`;
    us = (await http(`${base}/origins`, { method: 'POST', headers: auth, body: SAMPLE.origins[0] })).json.id;
    eu = (await http(`${base}/origins`, { method: 'POST', headers: auth, body: SAMPLE.origins[1] })).json.id;
    sfo = (await http(`${cp.url}/api/v1/edges`, { method: 'POST', headers: auth, body: SAMPLE.edges[0] })).json.id;
  });
  afterAll(() => cp.close());

  it('creates each kind with who, when, why and expiry; reads and lists them', async () => {
    const dial = await post({ kind: 'dial', origin_id: us, percent: 60, reason: 'half the fleet patched', expires_in: '2h' });
    expect(dial.status, dial.text).toBe(201);
    expect(dial.headers.get('location')).toBe(`${new URL(base).pathname}/overrides/${dial.json.id}`);
    expect(dial.json).toMatchObject({ kind: 'dial', origin_id: us, percent: 60, reason: 'half the fleet patched', state: 'active', now: false, cancelled_at: null });
    expect(dial.json.created_by).toMatch(/^admin:[0-9a-f]{12}$/);
    expect(Date.parse(dial.json.expires_at) - Date.parse(dial.json.created_at)).toBeGreaterThan(2 * 3600_000 - 5000);
    const share = await post({ kind: 'share', origin_id: eu, edge_id: sfo, min_share: 0.2, max_share: 0.5, reason: 'keep eu warm', now: true });
    expect(share.status, share.text).toBe(201);
    const force = await post({ kind: 'force', subnet: '10.9.0.0/16', weights: { [us]: 0.25, [eu]: 0.75 }, reason: 'incident 42' });
    expect(force.status, force.text).toBe(201);
    expect((await http(`${base}/overrides/${share.json.id}`, { headers: auth })).json).toMatchObject({ min_share: 0.2, max_share: 0.5, edge_id: sfo, now: true });
    const list = await http(`${base}/overrides?limit=2`, { headers: { authorization: `Bearer ${READ}` } });
    expect(list.json.items.map((o: { id: string }) => o.id)).toEqual([dial.json.id, share.json.id]);
    expect(list.json.next_cursor).not.toBeNull();
    // A read token cannot create one.
    expect((await http(`${base}/overrides`, { method: 'POST', headers: { authorization: `Bearer ${READ}` }, body: { kind: 'dial', origin_id: eu, percent: 5, reason: 'x' } })).status).toBe(403);
  });

  it('refuses malformed requests naming the field (400)', async () => {
    const cases: [unknown, string][] = [
      [{ kind: 'dial', origin_id: us, reason: 'x' }, 'percent'],
      [{ kind: 'dial', origin_id: us, percent: 140, reason: 'x' }, 'percent'],
      [{ kind: 'share', origin_id: us, min_share: 0.6, max_share: 0.4, reason: 'x' }, 'min_share'],
      [{ kind: 'force', edge_id: sfo, weights: { [us]: 0.5 }, reason: 'x' }, 'weights'],
      [{ kind: 'force', weights: { [us]: 1 }, reason: 'x' }, 'edge_id'],
      [{ kind: 'dial', origin_id: us, percent: 10 }, 'reason'],
      [{ kind: 'dial', origin_id: us, percent: 10, reason: 'x', expires_in: 'soon' }, 'expires_in'],
    ];
    for (const [body, field] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(fields(res), JSON.stringify(body)).toContain(field);
    }
  });

  it('refuses what cannot be honoured: 422 by itself, 409 against an override in force (naming it)', async () => {
    const unknown = await post({ kind: 'share', origin_id: 'or_nope', max_share: 0.5, reason: 'x' });
    expect(unknown.status).toBe(422);
    expect(fields(unknown)).toEqual(['origin_id']);
    const past = await post({ kind: 'dial', origin_id: eu, percent: 50, reason: 'x', expires_at: '2020-01-01T00:00:00Z' });
    expect(past.status).toBe(422);
    expect(fields(past)).toEqual(['expires_at']);
    // A second dial on the same origin.
    const dup = await post({ kind: 'dial', origin_id: us, percent: 30, reason: 'x' });
    expect(dup.status).toBe(409);
    expect(fields(dup)).toEqual(['origin_id']);
    // Minimum shares that cannot all be met on one edge (0.2 on eu in force + 0.9 on us > 1).
    const mins = await post({ kind: 'share', origin_id: us, edge_id: sfo, min_share: 0.9, reason: 'x' });
    expect(mins.status).toBe(409);
    expect(fields(mins)).toEqual(['min_share']);
    expect(mins.json.detail).toMatch(/minimum shares add up to 1\.1 > 1/);
    // Forced weights on the edge that break its share bound in force (eu at most 0.5).
    const list = (await http(`${base}/overrides`, { headers: auth })).json.items as { id: string; kind: string }[];
    const bound = list.find((o) => o.kind === 'share')!;
    const forced = await post({ kind: 'force', edge_id: sfo, weights: { [us]: 0.2, [eu]: 0.8 }, reason: 'x' });
    expect(forced.status).toBe(409);
    expect(fields(forced)).toEqual([`weights.${eu}`]);
    expect(forced.json.detail).toContain(bound.id);
    // An overlapping forced subnet range.
    const overlap = await post({ kind: 'force', subnet: '10.9.4.0/24', weights: { [us]: 1 }, reason: 'x' });
    expect(overlap.status).toBe(409);
    expect(fields(overlap)).toEqual(['subnet']);
    // None of the refused requests was stored.
    expect((await http(`${base}/overrides`, { headers: auth })).json.items).toHaveLength(3);
  });

  it('cancels (record kept, who cancelled), refuses a second cancel, and audits both in the decision log', async () => {
    const created = await post({ kind: 'share', origin_id: us, max_share: 0.7, reason: 'cap us' });
    expect(created.status, created.text).toBe(201);
    const cancelled = await http(`${base}/overrides/${created.json.id}`, { method: 'DELETE', headers: auth });
    expect(cancelled.status).toBe(200);
    expect(cancelled.json).toMatchObject({ state: 'cancelled', cancelled_by: created.json.created_by });
    expect((await http(`${base}/overrides/${created.json.id}`, { method: 'DELETE', headers: auth })).status).toBe(409);
    expect((await http(`${base}/overrides/${created.json.id}`, { headers: auth })).json.state).toBe('cancelled');
    // Cancelled: the same bound can be set again.
    expect((await post({ kind: 'share', origin_id: us, max_share: 0.6, reason: 'cap us harder' })).status).toBe(201);
    const lbId = base.split('/').pop()!;
    const log = await http(`${cp.url}/api/v1/decisions?load_balancer_id=${lbId}&limit=50`, { headers: auth });
    const audit = (log.json.items as { reason: string; detail: string }[]).filter((d) => d.reason === 'override').map((d) => d.detail);
    expect(audit).toContainEqual(`override ${created.json.id} (share) created by ${created.json.created_by}: cap us`);
    expect(audit).toContainEqual(`override ${created.json.id} (share) cancelled by ${created.json.created_by}`);
    expect((await http(`${base}/overrides/ov_0000000000000000`, { headers: auth })).status).toBe(404);
  });
});
