// GET /api/v1/dns/view/changes over real HTTP against the real API on SQLite: a full compact view
// without a base, a delta (only what changed) once the view moves on, correct when applied; and HA:
// a second replica on the same database that did not render the base answers the full view (never a
// wrong delta). Every response is checked against openapi/openapi.json by the http helper.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../api/server.ts';
import { tokenSets } from '../api/auth.ts';
import { DnsViewChange } from '../model/view-changes.ts';
import { applyChanges, fromCompactView } from '../model/view-codec.ts';
import { DnsView } from '../model/views.ts';
import { SAMPLE, http, startInProcess, type InProcessControlPlane } from './helpers/control-plane.ts';
import { watchControlPlane } from './helpers/openapi-contract.ts';

function subnets(n: number, a: string, b: string, shift = 0): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (let i = 0; i < n; i++) {
    const x = ((i + shift) % 5) / 4 > 1 ? 1 : ((i + shift) % 5) / 4;
    out[`10.${i >> 8}.${i & 255}.0/24`] = { [a]: x, [b]: 1 - x };
  }
  return out;
}

describe('GET /api/v1/dns/view/changes', () => {
  let cp: InProcessControlPlane;
  let lbId: string;
  let ids: string[];
  beforeAll(async () => {
    cp = await startInProcess();
    lbId = (await http(`${cp.url}/api/v1/load-balancers`, { method: 'POST', body: SAMPLE.loadBalancer })).json.id;
    ids = [];
    for (const o of SAMPLE.origins.slice(0, 2)) ids.push((await http(`${cp.url}/api/v1/load-balancers/${lbId}/origins`, { method: 'POST', body: o })).json.id);
    await cp.store.publishWeights(lbId, { subnets: subnets(2000, ids[0]!, ids[1]!) }, { load_balancer_id: lbId, reason: 'optimize' });
  });
  afterAll(() => cp.close());

  it('without a base: the full view, compact, equal to GET /dns/view and much smaller', async () => {
    const full = await http(`${cp.url}/api/v1/dns/view`);
    const res = await http(`${cp.url}/api/v1/dns/view/changes`);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(full.headers.get('etag'));
    const change = DnsViewChange.parse(res.json);
    expect(change).toMatchObject({ kind: 'full', reason: 'no_base', version: full.json.version });
    if (change.kind !== 'full') throw new Error('unreachable');
    expect(fromCompactView(change.view)).toEqual(DnsView.parse(full.json));
    expect(change.view.zones[0]!.records[0]!.subnets.maps.length).toBe(5);
    expect(res.text.length).toBeLessThan(full.text.length * 0.5);
  });

  it('a long-poll from the version held answers a delta when the view moves on; applied, it is the new view', async () => {
    const base = DnsView.parse((await http(`${cp.url}/api/v1/dns/view`)).json);
    const waiting = http(`${cp.url}/api/v1/dns/view/changes?wait=20`, { headers: { 'if-none-match': `"${base.version}"` } });
    const next = subnets(2000, ids[0]!, ids[1]!);
    for (let i = 0; i < 40; i++) next[`10.0.${i}.0/24`] = { [ids[0]!]: 0.33, [ids[1]!]: 0.67 }; // 2 % changed
    delete next['10.7.0.0/24'];
    await cp.store.publishWeights(lbId, { subnets: next }, { load_balancer_id: lbId, reason: 'optimize' });
    const res = await waiting;
    expect(res.status).toBe(200);
    const change = DnsViewChange.parse(res.json);
    expect(change.kind).toBe('delta');
    if (change.kind !== 'delta') throw new Error('unreachable');
    expect(change.from).toBe(base.version);
    expect(change.records).toHaveLength(1);
    expect(change.records[0]!.set.cidrs).toHaveLength(40);
    expect(change.records[0]!.removed).toEqual(['10.7.0.0/24']);
    const now = DnsView.parse((await http(`${cp.url}/api/v1/dns/view`)).json);
    expect(change.version).toBe(now.version);
    expect(applyChanges(base, change.records, change)).toEqual(now);
    expect(res.text.length).toBeLessThan(5000);
    // Up to date: 304 at once without a wait.
    expect((await http(`${cp.url}/api/v1/dns/view/changes`, { headers: { 'if-none-match': `"${now.version}"` } })).status).toBe(304);
  });

  it('a server several publishes behind gets one delta composed over every step since its version', async () => {
    const base = DnsView.parse((await http(`${cp.url}/api/v1/dns/view`)).json);
    for (let shift = 2; shift <= 4; shift++) {
      const next = subnets(2000, ids[0]!, ids[1]!, shift);
      for (let k = 2; k <= shift; k++) delete next[`10.1.${k}.0/24`]; // one more gone each publish
      await cp.store.publishWeights(lbId, { subnets: next }, { load_balancer_id: lbId, reason: 'optimize' });
      await http(`${cp.url}/api/v1/dns/view`); // this replica renders every version (as its long-polls do)
    }
    const res = await http(`${cp.url}/api/v1/dns/view/changes`, { headers: { 'if-none-match': `"${base.version}"` } });
    const change = DnsViewChange.parse(res.json);
    expect(change.kind).toBe('delta');
    if (change.kind !== 'delta') throw new Error('unreachable');
    expect(change.records[0]!.removed.sort()).toEqual(['10.1.2.0/24', '10.1.3.0/24', '10.1.4.0/24']);
    const now = DnsView.parse((await http(`${cp.url}/api/v1/dns/view`)).json);
    expect(applyChanges(base, change.records, change)).toEqual(now);
  });

  it('a replica on the same database that did not render the base answers the full view (unknown_base)', async () => {
    const base = DnsView.parse((await http(`${cp.url}/api/v1/dns/view`)).json);
    await cp.store.publishWeights(lbId, { subnets: subnets(2000, ids[0]!, ids[1]!, 1) }, { load_balancer_id: lbId, reason: 'optimize' });
    const other = await buildServer({ store: cp.store, tokens: tokenSets({ admin_tokens: [], read_tokens: [] }), docs: false });
    const url = await other.listen({ host: '127.0.0.1', port: 0 });
    const unwatch = watchControlPlane(url);
    try {
      const res = await http(`${url}/api/v1/dns/view/changes`, { headers: { 'if-none-match': `"${base.version}"` } });
      const change = DnsViewChange.parse(res.json);
      expect(change).toMatchObject({ kind: 'full', reason: 'unknown_base' });
      if (change.kind !== 'full') throw new Error('unreachable');
      expect(fromCompactView(change.view)).toEqual(DnsView.parse((await http(`${cp.url}/api/v1/dns/view`)).json));
      // The replica that rendered the base still answers a delta from it.
      const delta = DnsViewChange.parse((await http(`${cp.url}/api/v1/dns/view/changes`, { headers: { 'if-none-match': `"${base.version}"` } })).json);
      expect(delta.kind).toBe('delta');
    } finally {
      unwatch();
      await other.close();
    }
  });
});
