// Shadow mode end to end through the API: a load balancer switched to shadow over HTTP is decided and
// recorded every cycle by a real loop, and nothing reaches the views data planes live on (an edge's
// config, the DNS view): their weights stay what they were. Back to enforce over HTTP, the next cycle
// publishes and the views change.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startInProcess, type InProcessControlPlane } from './helpers/control-plane.ts';
import { edgeInputs, loopWorld, ScriptedReader, type LoopWorld } from './helpers/scheduler-loop.ts';

let cp: InProcessControlPlane;
let w: LoopWorld;

beforeAll(async () => {
  cp = await startInProcess();
  w = await loopWorld({ dns: { zone: 'example.com', hostname: 'app.example.com', ttl: 20, answers: 1 } }, cp.store);
});
afterAll(async () => {
  await w.close();
  await cp.close();
});

describe('shadow mode through the API', () => {
  it('records decisions but changes neither the edge config nor the DNS view; enforce publishes', async () => {
    const lbUrl = `${cp.url}/api/v1/load-balancers/${w.lb.id}`;
    expect((await http(lbUrl, { method: 'PATCH', body: { mode: 'shadow' } })).json.mode).toBe('shadow');
    const reader = new ScriptedReader();
    reader.next = () => {
      const i = edgeInputs('sfo', 300, { us: 20, eu: 140 });
      i.subnetDemand.set('10.1.0.0/24', 50);
      i.subnetRtt.set('10.1.0.0/24', new Map([['us', { ms: 150, samples: 10 }], ['eu', { ms: 10, samples: 10 }]]));
      return i;
    };
    const loop = w.makeLoop(reader);
    const edgeBefore = await http(`${cp.url}/api/v1/edges/${w.edgeId}/config`);
    const dnsBefore = await http(`${cp.url}/api/v1/dns/view`);
    for (let i = 0; i < 3; i++) expect((await loop.cycle()).results[0]!.outcome).toBe('shadow');
    const edgeAfter = await http(`${cp.url}/api/v1/edges/${w.edgeId}/config`);
    const dnsAfter = await http(`${cp.url}/api/v1/dns/view`);
    expect(edgeAfter.json.version).toBe(edgeBefore.json.version);
    expect(edgeAfter.json.weights_version).toBeNull();
    expect(dnsAfter.json.version).toBe(dnsBefore.json.version);
    expect(dnsAfter.json.zones[0].records[0].subnets).toEqual({});
    expect((await http(`${lbUrl}/weights`)).status).toBe(404);
    const log = (await http(`${cp.url}/api/v1/decisions?load_balancer_id=${w.lb.id}&limit=10`)).json.items as { detail: string; inputs: { shadow?: { would_publish: { subnets: Record<string, Record<string, number>> } } } }[];
    expect(log).toHaveLength(3);
    expect(log[2]!.inputs.shadow!.would_publish.subnets['10.1.0.0/24']).toEqual({ [w.eu.id]: 1 });

    expect((await http(lbUrl, { method: 'PATCH', body: { mode: 'enforce' } })).json.mode).toBe('enforce');
    expect((await loop.cycle()).results[0]!.outcome).toBe('published');
    const dnsNow = await http(`${cp.url}/api/v1/dns/view`);
    expect(dnsNow.json.zones[0].records[0].subnets['10.1.0.0/24']).toEqual({ [w.eu.id]: 1 });
    expect((await http(`${cp.url}/api/v1/edges/${w.edgeId}/config`)).json.weights_version).not.toBeNull();
    await loop.stop();
  });
});
