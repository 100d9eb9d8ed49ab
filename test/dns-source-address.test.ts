// Multi-homed hosts: with a wildcard bind (0.0.0.0, ::) an answer must leave from the address the
// query was sent to, or a resolver discards it (a connected socket, as dig uses, never even sees it).
// The batched path reads the destination of each query (IP_PKTINFO / IPV6_RECVPKTINFO) and sends the
// answer from it; node:dgram cannot, so it answers from whatever source the route picks — shown here
// too, which is also what proves the checks can fail.
//
// IPv4: 127.0.0.1 and 127.0.0.2 on the host's loopback. IPv6: two addresses of our own on the loopback
// of a network namespace created here (needs root), the client bound to one and asking the other.
import { execFile, execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { record, threeOrigins, view } from '../dns/testing/fixtures.ts';
import { buildQuery, decodeResponse } from '../dns/testing/packets.ts';
import { unavailable } from './helpers/env.ts';
import { freeServerPort } from './helpers/ports.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { UDP_IO_PATHS } from './helpers/udp-io.ts';
import { waitFor } from './helpers/wait.ts';

const run = promisify(execFile);
/** One origin (London): every answer is the same, whoever asks. */
const VIEW = view('example.com', [record('app.example.com', threeOrigins().slice(0, 1))]);

/** The answer to one query sent from a socket connected to host:port (only that peer's datagrams get in), or null after `ms`. */
async function askConnected(host: string, port: number, ms: number): Promise<string | null> {
  const sock = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.connect(port, host, () => resolve());
    });
    const answer = new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), ms);
      sock.on('message', (m) => {
        clearTimeout(timer);
        resolve(decodeResponse(m).answers[0]?.value ?? 'no answer record');
      });
    });
    sock.send(buildQuery({ name: 'app.example.com' }));
    return await answer;
  } finally {
    sock.close();
  }
}

describe.each(UDP_IO_PATHS)('answers leave from the address asked (IPv4 wildcard bind, udp_io: %s)', (io) => {
  let dir: string;
  let port: number;
  let proc: SluiceProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-dns-src-'));
    port = await freeServerPort(['0.0.0.0']);
    writeFileSync(join(dir, 'view.json'), JSON.stringify(VIEW));
    writeFileSync(join(dir, 'dns.yaml'), `listen: ["0.0.0.0:${port}"]\nview_file: view.json\nudp_io: ${io}\n`);
    proc = startSluice(['dns', '--config', join(dir, 'dns.yaml')]);
    await waitFor(() => askConnected('127.0.0.1', port, 300), { timeoutMs: 20_000, what: `sluice dns on 0.0.0.0:${port}; output: ${proc?.output()}` });
  });

  afterAll(async () => {
    await proc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('127.0.0.1 is answered from 127.0.0.1', async () => {
    expect(await askConnected('127.0.0.1', port, 2000)).toBe('192.0.2.10');
  });

  it(io === 'recvmmsg' ? '127.0.0.2 is answered from 127.0.0.2' : '127.0.0.2 is answered from 127.0.0.1 (node:dgram has no packet info): the connected client never sees it', async () => {
    const answer = await askConnected('127.0.0.2', port, io === 'recvmmsg' ? 2000 : 1000);
    if (io === 'recvmmsg') expect(answer).toBe('192.0.2.10');
    else expect(answer).toBeNull();
  });
});

const skipNetns = unavailable({ tools: { ip: 'iproute2', dig: 'dnsutils' }, root: true });

describe.skipIf(skipNetns)('answers leave from the address asked (IPv6 wildcard bind, in a network namespace)', () => {
  const ns = `slc-${process.pid}-dnssrc`;
  const [A, B] = ['fd00:5c::2', 'fd00:5c::3'];
  const PORT = 5353;
  let dir: string;
  const procs: SluiceProcess[] = [];
  const digIn = async (server: string, port: number, source: string) =>
    (await run('ip', ['netns', 'exec', ns, 'dig', `@${server}`, '-p', String(port), '-b', source, 'app.example.com', 'AAAA', '+short', '+tries=1', '+time=2']).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' })))
      .stdout.trim();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-dns-src6-'));
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    for (const a of [A, B]) execFileSync('ip', ['-n', ns, 'addr', 'add', `${a}/128`, 'dev', 'lo', 'nodad']);
    writeFileSync(join(dir, 'view.json'), JSON.stringify(VIEW));
    for (const [i, io] of UDP_IO_PATHS.entries()) {
      writeFileSync(join(dir, `${io}.yaml`), `listen: ["[::]:${PORT + i}"]\nview_file: view.json\nudp_io: ${io}\n`);
      const p = startSluice(['dns', '--config', join(dir, `${io}.yaml`)], { netns: ns });
      procs.push(p);
      await waitFor(async () => (await digIn(A, PORT + i, A)).startsWith('2001:db8'), { timeoutMs: 20_000, what: `sluice dns (${io}) in ${ns}; output: ${p.output()}` });
    }
  });

  afterAll(async () => {
    for (const p of procs) await p.stop();
    try {
      execFileSync('ip', ['netns', 'del', ns]);
    } catch {
      /* never created */
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(UDP_IO_PATHS.map((io, i) => [io, i] as const))('udp_io: %s — from fd00:5c::2 to fd00:5c::3 and back', async (io, i) => {
    // The route from ::3 back to ::2 would pick ::2 itself as the source; only packet info says ::3.
    const answer = await digIn(B, PORT + i, A);
    if (io === 'recvmmsg') expect(answer).toBe('2001:db8:10::10');
    else expect(answer).toMatch(/timed out|no servers could be reached/);
    // And the other way round.
    if (io === 'recvmmsg') expect(await digIn(A, PORT + i, B)).toBe('2001:db8:10::10');
  });
});
