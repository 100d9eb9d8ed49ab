// A batched UDP thread driven in-process (real sockets on loopback, no CLI): it answers from the view it
// was started with, counts into the owner's shared counters, takes a new view and a stop request while
// it sits idle in poll() (the eventfd wakes it: nothing else would), and reports a failed bind.
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeServerPort } from '../../../test/helpers/ports.ts';
import { waitFor } from '../../../test/helpers/wait.ts';
import { createLogger } from '../../../lib/log.ts';
import { DnsStats } from '../../answer/stats.ts';
import { DnsConfig } from '../../config.ts';
import { record, threeOrigins, view } from '../../testing/fixtures.ts';
import { buildQuery, decodeResponse, udpExchange } from '../../testing/packets.ts';
import { supportsBatchedUdp } from './linux-abi.ts';
import { startBatchedUdp, type BatchedUdp } from './start.ts';
import { splitCompactView } from '../engine.ts';
import { toCompactView } from '../../../model/view-codec.ts';

const config = DnsConfig.parse({ view_file: 'unused.json', log_level: 'warn' });
const log = createLogger('dns-test', 'warn');
const appView = (version: number, origin: string) =>
  view('example.com', [record('app.example.com', threeOrigins(), { subnets: { '10.0.0.0/8': { [origin]: 1 } } })], String(version), version);
const ask = async (port: number, host = '127.0.0.1') =>
  decodeResponse(await udpExchange(port, buildQuery({ name: 'app.example.com', edns: { ecs: { address: '10.1.2.0', source: 24 } } }), { host, timeoutMs: 2000 })).answers[0]?.value;

describe.skipIf(!supportsBatchedUdp())('batched UDP thread', () => {
  let port: number;
  let udp: BatchedUdp;
  const stats = new DnsStats(new SharedArrayBuffer(DnsStats.BYTES));
  const exits: number[] = [];

  beforeAll(async () => {
    port = await freeServerPort(['127.0.0.1', '::1']);
    const addresses = [{ host: '127.0.0.1', port }, { host: '::1', port }];
    udp = startBatchedUdp({ addresses, config, configFile: 'dns.yaml', view: { view: appView(1, 'eu-london') }, stats, log, onUnexpectedExit: (c) => exits.push(c) });
    await udp.ready;
  });

  afterAll(async () => {
    await udp?.close();
  });

  it('answers over IPv4 and IPv6 from the view it started with, counting into the owner\'s shared counters', async () => {
    expect(udp.boundFor({ host: '127.0.0.1', port })).toEqual({ port, label: `udp 127.0.0.1:${port}` });
    expect(await ask(port)).toBe('192.0.2.10');
    expect(await ask(port, '::1')).toBe('192.0.2.10');
    expect(stats.total({ reason: 'learned_latency' })).toBe(2); // counted before the answer is sent
    await waitFor(() => stats.durationCount === 2, { what: 'the batch durations (observed once sendmmsg returns)' });
    expect(udp.servedVersion()).toBe(1);
  });

  it('takes a new view while idle in poll(), with no traffic to wake it', async () => {
    const t0 = Date.now();
    udp.setView({ view: appView(2, 'us-east') });
    await waitFor(() => udp.servedVersion() === 2, { timeoutMs: 10_000, what: 'the thread to install view 2' });
    const took = Date.now() - t0;
    expect(await ask(port)).toBe('203.0.113.30');
    expect(took).toBeLessThan(5000); // an eventfd wake-up, not a poll timeout (there is none)
  });

  it('keeps answering from the installed view while a large new one is indexed', async () => {
    // 200,000 learned subnets: indexing takes a while. The thread answers what is queued every
    // PACE_EVERY subnets, so queries sent meanwhile get answers (from view 2) all along instead
    // of waiting for the whole build.
    const subnets: Record<string, Record<string, number>> = {};
    for (let i = 0; i < 200_000; i++) subnets[`11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`] = { 'us-west': 1 };
    const big = view('example.com', [record('app.example.com', threeOrigins(), { subnets: { ...subnets, '10.0.0.0/8': { 'us-west': 1 } } })], '3', 3);
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.connect(port, '127.0.0.1', () => r()));
    const arrivals: { at: number; value: string | undefined }[] = [];
    sock.on('message', (m) => arrivals.push({ at: performance.now(), value: decodeResponse(m).answers[0]?.value }));
    let id = 0;
    const query = () => sock.send(buildQuery({ id: ++id & 0xffff, name: 'app.example.com', edns: { ecs: { address: '10.1.2.0', source: 24 } } }));
    // In the form a cluster worker holds it (skeleton + compact tables, as its primary sends it).
    const whole = splitCompactView(toCompactView(big));
    const ticker = setInterval(query, 2);
    udp.setView(whole);
    // From here: setView posts the view's parts from this thread (0.2-0.3 s of structured clone for
    // 200k subnets), during which this thread sends no queries; that silence is the sender's, not the
    // UDP thread's, so the build and its gaps are timed from when queries flow again.
    const t0 = performance.now();
    try {
      await waitFor(() => udp.servedVersion() === 3, { timeoutMs: 60_000, intervalMs: 5, what: 'the 200k-subnet view to be installed' });
    } finally {
      clearInterval(ticker);
    }
    const built = performance.now() - t0;
    sock.close();
    const during = arrivals.filter((a) => a.at > t0 && a.at < t0 + built);
    const gaps = during.slice(1).map((a, i) => a.at - during[i]!.at);
    const maxGap = Math.max(...gaps, during.length > 0 ? during[0]!.at - t0 : built);
    // A thread blocked for the whole build would leave one gap as long as the build itself.
    expect(built).toBeGreaterThan(100);
    expect(during.filter((a) => a.value === '203.0.113.30').length).toBeGreaterThan(5); // view 2 answered meanwhile
    expect(maxGap, `longest silence ${maxGap.toFixed(0)} ms of a ${built.toFixed(0)} ms build`).toBeLessThan(built / 2);
    expect(await ask(port)).toBe('198.51.100.20');
  });

  it('counts a packet it cannot read, and answers the next one', async () => {
    const before = stats.malformedDropped;
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.send(Buffer.from([1, 2, 3]), port, '127.0.0.1', () => r()));
    s.close();
    expect(await ask(port)).toBe('198.51.100.20');
    expect(stats.malformedDropped).toBe(before + 1);
  });

  it('stops promptly while idle (well within the 5 s terminate grace), and the port is free again', async () => {
    const t0 = Date.now();
    await udp.close();
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(exits).toEqual([]); // asked to stop: not an unexpected exit
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.bind({ port, address: '127.0.0.1', exclusive: true }, () => resolve());
    });
    probe.close();
  });

  it('rejects `ready` with the reason when it cannot bind', async () => {
    const holder = dgram.createSocket('udp4');
    await new Promise<void>((r) => holder.bind({ port: 0, address: '127.0.0.1', exclusive: true }, () => r()));
    try {
      const taken = holder.address().port;
      const failing = startBatchedUdp({ addresses: [{ host: '127.0.0.1', port: taken }], config, configFile: 'dns.yaml', view: null, stats: new DnsStats(new SharedArrayBuffer(DnsStats.BYTES)), log, onUnexpectedExit: () => {} });
      await expect(failing.ready).rejects.toThrow(new RegExp(`bind 127\\.0\\.0\\.1:${taken}: errno 98`));
      await failing.close();
    } finally {
      holder.close();
    }
  });
});
