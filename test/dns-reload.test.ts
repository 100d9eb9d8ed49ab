// Graceful reload: clients keep asking (ECS, a learned subnet) while the view — 20,000 learned
// subnets, so every index build takes a while — is replaced several times with SIGHUP. No query may be
// lost: a reload swaps the index behind the sockets and never touches them, and queries that arrive
// while a thread indexes wait in its socket's queue. Both UDP paths.
//
// The clients are our own, not dnsperf: dnsperf at a fixed rate counts the queries still in flight
// when its time is up as lost (gdnsd "loses" the same ~50), so it cannot tell a dropped query from a
// late one. Here every query is tracked by socket and ID, at a bounded rate, and each may take up to
// 10 s: a lost query is one the server really dropped, not a slow moment on a busy machine.
// (`npm run bench -- dns` runs dnsperf at saturation across reloads too.)
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WeightMap } from '../model/views.ts';
import { record, threeOrigins, view } from '../dns/testing/fixtures.ts';
import { buildQuery, decodeResponse, udpExchange } from '../dns/testing/packets.ts';
import { freePort, freeServerPort } from './helpers/ports.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { udpDropsOnPort } from './helpers/udp-drops.ts';
import { UDP_IO_PATHS } from './helpers/udp-io.ts';
import { waitFor } from './helpers/wait.ts';

const SECONDS = 6;
const RATE = 2000;
const RELOAD_EVERY_MS = 1500;

function bigView(version: number) {
  const subnets: Record<string, WeightMap> = {};
  for (let i = 0; i < 20_000; i++) subnets[`10.${(i >> 8) & 255}.${i & 255}.0/24`] = { 'eu-london': ((i * 37) % 100) / 100, 'us-east': 1 - ((i * 37) % 100) / 100 };
  // The subnet dnsperf asks for: its answer tells which view served it.
  subnets['10.1.2.0/24'] = { [version % 2 === 0 ? 'us-east' : 'eu-london']: 1 };
  return view('example.com', [record('app.example.com', threeOrigins(), { subnets })], String(version), version);
}

/** Queries from 4 sockets at `rate` per second for `seconds`, each tracked until answered (10 s at most). */
async function askSteadily(port: number, query: (id: number) => Buffer, rate: number, seconds: number): Promise<{ sent: number; answered: number; clientDrops: number }> {
  const sockets = await Promise.all(
    [0, 1, 2, 3].map(
      () =>
        new Promise<dgram.Socket>((resolve) => {
          // Room for answers that arrive while this (busy, shared) test process is off the CPU.
          const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
          s.bind(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const waiting = sockets.map(() => new Set<number>());
  let answered = 0;
  sockets.forEach((s, k) => s.on('message', (m) => waiting[k]!.delete(m.readUInt16BE(0)) && answered++));
  let sent = 0;
  const start = Date.now();
  while (Date.now() - start < seconds * 1000) {
    // Catch up to the rate every 10 ms (a bounded, paced loop; IDs never repeat within a socket).
    const due = Math.min(Math.floor(((Date.now() - start) / 1000) * rate), seconds * rate);
    for (; sent < due; sent++) {
      const k = sent % sockets.length;
      const id = Math.floor(sent / sockets.length) & 0xffff;
      waiting[k]!.add(id);
      sockets[k]!.send(query(id), port, '127.0.0.1');
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await waitFor(() => answered === sent, { timeoutMs: 10_000, intervalMs: 100 }).catch(() => undefined);
  const clientDrops = sockets.reduce((sum, s) => sum + udpDropsOnPort(s.address().port), 0);
  for (const s of sockets) s.close();
  return { sent, answered, clientDrops };
}

describe.each(UDP_IO_PATHS)('views reloaded under load lose no query (udp_io: %s)', (io) => {
  let dir: string;
  let port: number;
  let metricsPort: number;
  let proc: SluiceProcess;
  const metric = async (name: string) => Number(new RegExp(`^${name} (-?\\d+)$`, 'm').exec(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text())?.[1]);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-dns-reload-'));
    port = await freeServerPort();
    metricsPort = await freePort();
    writeFileSync(join(dir, 'view.json'), JSON.stringify(bigView(1)));
    writeFileSync(join(dir, 'dns.yaml'), `listen: ["127.0.0.1:${port}"]\nview_file: view.json\nworkers: 2\nudp_io: ${io}\nmetrics: { listen: "127.0.0.1:${metricsPort}" }\n`);
    proc = startSluice(['dns', '--config', join(dir, 'dns.yaml')]);
    await waitFor(async () => decodeResponse(await udpExchange(port, buildQuery({ name: 'app.example.com' }), { timeoutMs: 300 })).answers.length === 1, {
      timeoutMs: 30_000,
      what: `sluice dns; output: ${proc?.output()}`,
    });
    await waitFor(() => proc.output().includes('sluice dns ready'), { timeoutMs: 30_000, what: 'all workers ready' });
  });

  afterAll(async () => {
    await proc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`answers every query while the view is replaced every ${RELOAD_EVERY_MS / 1000} s`, async () => {
    let version = 1;
    const reloads = setInterval(() => {
      writeFileSync(join(dir, 'view.json'), JSON.stringify(bigView(++version)));
      process.kill(proc.child.pid!, 'SIGHUP');
    }, RELOAD_EVERY_MS);
    let result: { sent: number; answered: number; clientDrops: number };
    const serverDropsBefore = udpDropsOnPort(port);
    try {
      // ECS 10.1.2.0/24 on every query: the learned path, whose answer changes with each view.
      result = await askSteadily(port, (id) => buildQuery({ id, name: 'app.example.com', edns: { ecs: { address: '10.1.2.0', source: 24 } } }), RATE, SECONDS);
    } finally {
      clearInterval(reloads);
    }
    expect(version, 'reloads sent while the clients asked').toBeGreaterThanOrEqual(3);
    // Traffic throughout (the pacing may fall behind the rate when this shared machine is busy).
    expect(result.sent).toBeGreaterThan((RATE * SECONDS) / 4);
    const why = `dropped by the server's sockets ${udpDropsOnPort(port) - serverDropsBefore}, by the clients' ${result.clientDrops}`;
    expect(result.sent - result.answered, `queries lost (${why})`).toBe(0);
    // Every reload was installed by every worker (the gauge is the oldest any of them serves).
    await waitFor(async () => (await metric('sluice_dns_view_version')) === version, { timeoutMs: 20_000, what: `view ${version} on every worker` });
    expect(await metric('sluice_dns_view_updates_total')).toBe(version);
    const answer = decodeResponse(await udpExchange(port, buildQuery({ name: 'app.example.com', edns: { ecs: { address: '10.1.2.0', source: 24 } } }), { timeoutMs: 2000 }));
    expect(answer.answers[0]!.value).toBe(version % 2 === 0 ? '203.0.113.30' : '192.0.2.10');
  });
});
