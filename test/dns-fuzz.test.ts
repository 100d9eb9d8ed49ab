// Random and mutated packets against the real server (UDP and TCP) for a bounded time and count; it
// must keep answering correct queries and count what it could not read.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../lib/prng.ts';
import { FUZZ_SEEDS, fuzzPacket } from '../dns/testing/fuzz.ts';
import { record, threeOrigins, view } from '../dns/testing/fixtures.ts';
import { buildQuery, decodeResponse, tcpExchange, udpExchange } from '../dns/testing/packets.ts';
import { freePort } from './helpers/ports.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';

const MAX_PACKETS = 40_000;
const MAX_MS = 5_000;

describe('sluice dns under fuzzing', () => {
  let dir: string;
  let port: number;
  let metricsPort: number;
  let proc: SluiceProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-dns-fuzz-'));
    port = await freePort();
    metricsPort = await freePort();
    writeFileSync(join(dir, 'view.json'), JSON.stringify(view('example.com', [record('app.example.com', threeOrigins(), { subnets: { '10.0.0.0/8': { 'us-east': 1 } } })])));
    writeFileSync(join(dir, 'dns.yaml'), `listen: ["127.0.0.1:${port}"]\nview_file: view.json\nmetrics: { listen: "127.0.0.1:${metricsPort}" }\n`);
    proc = startSluice(['dns', '--config', join(dir, 'dns.yaml')]);
    await waitFor(async () => decodeResponse(await udpExchange(port, buildQuery({ name: 'app.example.com' }), { timeoutMs: 300 })).answers.length === 1, {
      timeoutMs: 20_000,
      what: 'sluice dns to answer',
    });
  });

  afterAll(async () => {
    await proc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`survives ${MAX_PACKETS} random/mutated packets (at most ${MAX_MS / 1000} s) and still answers correctly`, async () => {
    const rand = seededRandom(42);
    const sock = dgram.createSocket('udp4');
    sock.on('message', () => {}); // answers are irrelevant here; drain them
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const deadline = Date.now() + MAX_MS;
    let sent = 0;
    while (sent < MAX_PACKETS && Date.now() < deadline) {
      for (let i = 0; i < 200; i++, sent++) sock.send(fuzzPacket(rand, FUZZ_SEEDS), port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 5)); // bounded rate: ~40k packets/s at most
    }
    sock.close();
    // TCP: garbage streams, a zero length, a length longer than what follows, then hang up.
    for (let c = 0; c < 20; c++) {
      await new Promise<void>((resolve) => {
        const conn = net.connect({ port, host: '127.0.0.1' }, () => {
          const junk = Buffer.alloc(1 + Math.floor(rand() * 300));
          for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rand() * 256);
          if (c % 3 === 0) junk.writeUInt16BE(0, 0);
          conn.end(junk);
        });
        conn.on('data', () => {});
        conn.on('error', () => resolve());
        conn.on('close', () => resolve());
      });
    }
    expect(sent).toBeGreaterThan(1000);
    expect(proc.child.exitCode).toBeNull();
    // Correct queries still get correct answers, over UDP and TCP.
    const ok = buildQuery({ id: 4242, name: 'app.example.com', edns: { ecs: { address: '10.9.9.0', source: 24 } } });
    const udp = await waitFor(async () => decodeResponse(await udpExchange(port, ok, { timeoutMs: 500 })), { what: 'a UDP answer after fuzzing' });
    expect([udp.id, udp.rcode, udp.answers[0]!.value, udp.opt!.ecs!.scope]).toEqual([4242, 0, '203.0.113.30', 8]);
    const tcp = decodeResponse(await tcpExchange(port, ok));
    expect(tcp.answers[0]!.value).toBe('203.0.113.30');
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const dropped = Number(/sluice_dns_malformed_total\{action="drop"\} (\d+)/.exec(text)?.[1]);
    const formerr = Number(/sluice_dns_malformed_total\{action="formerr"\} (\d+)/.exec(text)?.[1]);
    expect(dropped + formerr).toBeGreaterThan(sent / 10);
  });
});
