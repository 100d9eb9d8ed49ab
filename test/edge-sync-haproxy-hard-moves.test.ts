// Hard moves on a REAL HAProxy (TCP mode, loopback): established sessions follow a weight change only
// when the operator asks (`hard_moves: true` → `shutdown sessions server`); by default a server set to
// weight 0 keeps the sessions it has until they close.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HaproxyDataPlane } from '../edge-sync/config.ts';
import { HaproxyAdapter } from '../edge-sync/haproxy/adapter.ts';
import { edgeConfig } from '../edge-sync/testing/fixtures.ts';
import { startHaproxy } from '../edge-sync/testing/processes.ts';
import { unavailable } from './helpers/env.ts';
import { freePort } from './helpers/ports.ts';
import { waitFor } from './helpers/wait.ts';

const skip = unavailable({ tools: { haproxy: 'haproxy' } });

/** A TCP origin that holds every connection open and knows how many it has. */
async function holdingOrigin(): Promise<{ port: number; open(): number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    open: () => sockets.size,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

describe.skipIf(skip)('edge-sync hard moves with a real HAProxy (TCP mode)', () => {
  let dir: string;
  let a: Awaited<ReturnType<typeof holdingOrigin>>;
  let b: Awaited<ReturnType<typeof holdingOrigin>>;
  let fe: number;
  let sock: string;
  let haproxy: Awaited<ReturnType<typeof startHaproxy>>;
  const clients: net.Socket[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slc-edge-hard-'));
    a = await holdingOrigin();
    b = await holdingOrigin();
    fe = await freePort();
    sock = join(dir, 'admin.sock');
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(cfg, `global\n    stats socket ${sock} mode 600 level admin\ndefaults\n    mode tcp\n    timeout connect 2s\n    timeout client 60s\n    timeout server 60s\n\nfrontend tcp_${fe}\n    bind 127.0.0.1:${fe}\n    default_backend tcp_${fe}\n\nbackend tcp_${fe}\n    balance roundrobin\n`);
    haproxy = await startHaproxy(cfg, sock);
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await haproxy?.stop();
    await a?.close();
    await b?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const config = (wa: number, wb: number, version: number) =>
    edgeConfig([{ lb: 'tcp', port: fe, protocol: 'tcp', origins: [{ name: 'origin-a', port: a.port, weight: wa }, { name: 'origin-b', port: b.port, weight: wb }] }], { weightsVersion: version });
  const adapter = (hardMoves: boolean) => new HaproxyAdapter(HaproxyDataPlane.parse({ type: 'haproxy', admin_socket: sock, hard_moves: hardMoves }));
  const apply = async (ad: HaproxyAdapter, wa: number, wb: number, v: number) => {
    const plan = await ad.plan(config(wa, wb, v));
    await ad.apply(plan);
    return plan.preview;
  };
  const connect = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const c = net.connect(fe, '127.0.0.1');
      c.on('error', () => undefined);
      await new Promise<void>((r) => c.once('connect', () => r()));
      clients.push(c);
    }
  };

  it('by default, weight 0 leaves the established sessions where they are', async () => {
    await apply(adapter(false), 0.5, 0.5, 1);
    await connect(4);
    await waitFor(() => a.open() === 2 && b.open() === 2, { timeoutMs: 5000, what: 'two sessions on each origin' });
    const preview = await apply(adapter(false), 0, 1, 2);
    expect(preview.join('\n')).not.toContain('shutdown sessions');
    await new Promise((r) => setTimeout(r, 500)); // nothing to poll for: the point is that nothing happens
    expect(a.open()).toBe(2);
    expect(b.open()).toBe(2);
  });

  it('with hard_moves, a server going to weight 0 has its sessions shut down: its clients must reconnect (to the others)', async () => {
    await apply(adapter(true), 0.5, 0.5, 3);
    const preview = await apply(adapter(true), 0, 1, 4);
    expect(preview.some((l) => /shutdown sessions server tcp_\d+\/origin-a/.test(l))).toBe(true);
    await waitFor(() => a.open() === 0, { timeoutMs: 5000, what: 'origin-a sessions closed' });
    expect(b.open()).toBe(2);
    // The clients of origin-a saw their connection end (they would reconnect, to origin-b now).
    await waitFor(() => clients.filter((c) => c.destroyed).length === 2, { timeoutMs: 5000, what: 'two client connections ended' });
  });
});
