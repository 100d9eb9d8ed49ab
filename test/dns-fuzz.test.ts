// Random and mutated packets against the real server (UDP and TCP) for a bounded time and count, on
// each UDP path; it must keep answering correct queries and count what it could not read. Over TCP,
// fuzzed frames are interleaved with valid queries in streams cut at random places: every valid
// query is answered, in order, on the same connection.
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
import { freePort, freeServerPort } from './helpers/ports.ts';
import { UDP_IO_PATHS } from './helpers/udp-io.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';

const MAX_PACKETS = 40_000;
const MAX_MS = 5_000;

describe.each(UDP_IO_PATHS)('sluice dns under fuzzing (udp_io: %s)', (io) => {
  let dir: string;
  let port: number;
  let metricsPort: number;
  let proc: SluiceProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-dns-fuzz-'));
    port = await freeServerPort();
    metricsPort = await freePort();
    writeFileSync(join(dir, 'view.json'), JSON.stringify(view('example.com', [record('app.example.com', threeOrigins(), { subnets: { '10.0.0.0/8': { 'us-east': 1 } } })])));
    writeFileSync(join(dir, 'dns.yaml'), `listen: ["127.0.0.1:${port}"]\nview_file: view.json\nudp_io: ${io}\nmetrics: { listen: "127.0.0.1:${metricsPort}" }\n`);
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

  it('answers every valid query, in order, in TCP streams mixing fuzzed frames and cut at random places', async () => {
    const rand = seededRandom(7);
    const VALID_BASE = 0x7000; // fuzzed frames get IDs below this, so answers can be told apart
    for (let c = 0; c < 10; c++) {
      const frames: Buffer[] = [];
      const expected: number[] = [];
      for (let k = 0; k < 150; k++) {
        let msg: Buffer;
        if (rand() < 0.4) {
          msg = buildQuery({ id: VALID_BASE + expected.length, name: 'app.example.com', edns: { ecs: { address: '10.9.9.0', source: 24 } } });
          expected.push(msg.readUInt16BE(0));
        } else {
          msg = Buffer.from(fuzzPacket(rand, FUZZ_SEEDS));
          if (msg.length === 0) continue; // a zero length closes the connection by design (tested in dns-tcp)
          if (msg.length >= 2) msg.writeUInt16BE(Math.floor(rand() * VALID_BASE), 0);
        }
        const f = Buffer.alloc(2 + msg.length);
        f.writeUInt16BE(msg.length, 0);
        msg.copy(f, 2);
        frames.push(f);
      }
      const stream = Buffer.concat(frames);
      const got: number[] = [];
      await new Promise<void>((resolve, reject) => {
        const conn = net.connect({ port, host: '127.0.0.1' });
        let buf = Buffer.alloc(0);
        const timer = setTimeout(() => reject(new Error(`connection ${c}: ${got.length} of ${expected.length} valid answers`)), 15_000);
        conn.on('error', reject);
        conn.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
            const id = buf.readUInt16BE(2);
            if (id >= VALID_BASE) got.push(id);
            buf = buf.subarray(2 + buf.readUInt16BE(0));
          }
          if (got.length === expected.length) {
            clearTimeout(timer);
            conn.destroy();
            resolve();
          }
        });
        conn.on('connect', async () => {
          for (let off = 0; off < stream.length; ) {
            const n = 1 + Math.floor(rand() * 300);
            conn.write(stream.subarray(off, off + n));
            off += n;
            await new Promise((r) => setImmediate(r));
          }
        });
      });
      expect(got).toEqual(expected);
    }
    expect(proc.child.exitCode).toBeNull();
  });
});
