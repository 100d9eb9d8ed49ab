// The real `sluice control-plane` process: what it acknowledged survives kill -9 and a restart.
import { afterAll, describe, expect, it } from 'vitest';
import { SAMPLE, http, startControlPlaneProcess, tempDir } from './helpers/control-plane.ts';

describe('control plane durability', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('reads back everything identical after kill -9 and restart on the same data dir', async () => {
    const first = await startControlPlaneProcess(['--data-dir', dir.path]);
    let snapshot: unknown;
    try {
      const lb = await http(`${first.url}/api/v1/load-balancers`, { method: 'POST', body: SAMPLE.loadBalancer });
      expect(lb.status).toBe(201);
      for (const o of SAMPLE.origins) {
        expect((await http(`${first.url}/api/v1/load-balancers/${lb.json.id}/origins`, { method: 'POST', body: o })).status).toBe(201);
      }
      for (const e of SAMPLE.edges) expect((await http(`${first.url}/api/v1/edges`, { method: 'POST', body: e })).status).toBe(201);
      snapshot = await readEverything(first.url);
      expect((snapshot as { origins: unknown[] }).origins).toHaveLength(3);
      expect((snapshot as { edges: unknown[] }).edges).toHaveLength(2);
    } finally {
      first.proc.child.kill('SIGKILL');
      expect(await first.proc.exited).toBe('SIGKILL');
    }

    const second = await startControlPlaneProcess(['--data-dir', dir.path]);
    try {
      expect(await readEverything(second.url)).toEqual(snapshot);
    } finally {
      await second.proc.stop();
    }
  });
});

async function readEverything(url: string) {
  const lbs = (await http(`${url}/api/v1/load-balancers`)).json.items as { id: string }[];
  const origins = (await Promise.all(lbs.map(async (lb) => (await http(`${url}/api/v1/load-balancers/${lb.id}/origins`)).json.items))).flat();
  const edges = (await http(`${url}/api/v1/edges`)).json.items;
  const lbReads = await Promise.all(lbs.map(async (lb) => {
    const r = await http(`${url}/api/v1/load-balancers/${lb.id}`);
    return { etag: r.headers.get('etag'), body: r.json };
  }));
  return { lbs, lbReads, origins, edges };
}
