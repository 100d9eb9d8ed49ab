// `sluice dns` as a real process (two cluster workers, UDP+TCP on 127.0.0.1 and ::1), queried with
// dig from dnsutils, once per UDP path (batched recvmmsg threads, node:dgram). The view comes from a
// static file here; test/dns-api.test.ts covers the API.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unavailable } from './helpers/env.ts';
import { freePort, freeServerPort } from './helpers/ports.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { UDP_IO_PATHS } from './helpers/udp-io.ts';
import { waitFor } from './helpers/wait.ts';
import { GEOIP_TEST_DB, origin, PLACES, record, threeOrigins, view } from '../dns/testing/fixtures.ts';
import { buildQuery, decodeResponse, udpExchange } from '../dns/testing/packets.ts';

const run = promisify(execFile);
const skip = unavailable({ tools: { dig: 'dnsutils' } });

const WEIGHTS = { 'eu-london': 0.5, 'us-east': 0.3, 'us-west': 0.2 };
const ADDR: Record<string, string> = { '192.0.2.10': 'eu-london', '203.0.113.30': 'us-east', '198.51.100.20': 'us-west' };

describe.skipIf(skip).each(UDP_IO_PATHS)('sluice dns with dig (udp_io: %s)', (io) => {
  let dir: string;
  let port: number;
  let metricsPort: number;
  let proc: SluiceProcess;

  const dig = async (...args: string[]): Promise<string> => (await run('dig', ['@127.0.0.1', '-p', String(port), '+tries=2', '+time=2', ...args], { maxBuffer: 64 << 20 })).stdout;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-dns-dig-'));
    port = await freeServerPort(['127.0.0.1', '::1']);
    metricsPort = await freePort();
    const many = Array.from({ length: 40 }, (_, i) => `2001:db8:99::${(i + 1).toString(16)}`);
    const v = view('example.com', [
      record('app.example.com', threeOrigins(), { subnets: { '10.0.0.0/8': WEIGHTS, '192.168.7.0/24': { 'us-east': 1 } } }),
      record('cold.example.com', threeOrigins()),
      // What an agent's aggregation exports (agent/learning/export-plan.ts): a coarse prefix for the
      // subnets beyond its budget, and an exact /24 inside it whose RTTs disagree.
      record('agg.example.com', threeOrigins(), { subnets: { '172.16.0.0/16': { 'us-west': 1 }, '172.16.2.0/24': { 'eu-london': 1 } } }),
      record('big.example.com', [origin('big', many, PLACES.frankfurt)], { answers: 40 }),
      record('v6.example.com', threeOrigins(), { subnets: { '2001:db8:aaaa::/48': { 'eu-london': 0.25, 'us-west': 0.75 } } }),
    ], '7', 7);
    writeFileSync(join(dir, 'view.json'), JSON.stringify(v));
    writeFileSync(
      join(dir, 'dns.yaml'),
      [
        `listen: ["127.0.0.1:${port}", "[::1]:${port}"]`,
        'view_file: view.json',
        'authority: { primary_ns: ns1.example.com, hostmaster: hostmaster@example.com, nameservers: [{ name: ns1.example.com, addresses: [127.0.0.1] }] }',
        // The MaxMind test database lives beside the repository (../shared from the repo root).
        `geoip: { database: ${JSON.stringify(fileURLToPath(GEOIP_TEST_DB))} }`,
        'workers: 2',
        `udp_io: ${io}`,
        `metrics: { listen: "127.0.0.1:${metricsPort}" }`,
      ].join('\n'),
    );
    proc = startSluice(['dns', '--config', join(dir, 'dns.yaml')]);
    // Ready when a query is answered from the view (not SERVFAIL) by whichever worker gets it.
    await waitFor(
      async () => {
        const d = decodeResponse(await udpExchange(port, buildQuery({ name: 'app.example.com' }), { timeoutMs: 300 }));
        return d.rcode === 0 && d.answers.length === 1;
      },
      { timeoutMs: 20_000, what: `sluice dns to answer on port ${port}; output: ${proc?.output()}` },
    );
    // Every worker listening (the first answer may come from the first one ready).
    await waitFor(() => proc.output().includes('sluice dns ready'), { timeoutMs: 20_000, what: 'all workers ready' });
  });

  afterAll(async () => {
    await proc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('splits 10,000 distinct ECS subnets within ±2 % of the published weights', async () => {
    // dig's batch mode: four processes of 2,500 queries each instead of 10,000 processes.
    const files = [0, 1, 2, 3].map((b) => {
      const lines = Array.from({ length: 2500 }, (_, k) => {
        const i = b * 2500 + k;
        return `app.example.com +subnet=10.${i >> 8}.${i & 255}.0/24`;
      });
      const f = join(dir, `batch-${b}.txt`);
      writeFileSync(f, `${lines.join('\n')}\n`);
      return f;
    });
    // Generous retries: on a 2-core CI box other test files may starve this one for a few seconds.
    const outputs = await Promise.all(files.map((f) => dig('+short', '+tries=4', '-f', f)));
    const lines = outputs.join('\n').split('\n').filter((l) => l.trim() !== '');
    // dig prints ";; ..." for a retried (lost) UDP query; every query must end with exactly one address.
    const answers = lines.filter((l) => !l.startsWith(';;'));
    const notes = lines.filter((l) => l.startsWith(';;'));
    expect(answers, notes.slice(0, 5).join('\n')).toHaveLength(10_000);
    expect(notes.length, notes.slice(0, 5).join('\n')).toBeLessThan(50);
    const counts: Record<string, number> = {};
    for (const a of answers) {
      const who = ADDR[a.trim()] ?? `unexpected ${a}`;
      counts[who] = (counts[who] ?? 0) + 1;
    }
    for (const [id, w] of Object.entries(WEIGHTS)) expect(Math.abs(counts[id]! / 10_000 - w), `${id}: ${counts[id]}`).toBeLessThanOrEqual(0.02);
  });

  it('echoes ECS with the right scope, and answers the same subnet the same way', async () => {
    const a = await dig('app.example.com', '+subnet=10.20.30.0/24');
    expect(a).toMatch(/CLIENT-SUBNET: 10\.20\.30\.0\/24\/24/);
    expect(a).toMatch(/flags: qr aa/);
    const again = await dig('app.example.com', '+subnet=10.20.30.0/24', '+short');
    expect(a).toContain(again.trim());
    // A single-origin learned /24.
    expect(await dig('app.example.com', '+subnet=192.168.7.0/24')).toMatch(/CLIENT-SUBNET: 192\.168\.7\.0\/24\/24[\s\S]*IN\s+A\s+203\.0\.113\.30/);
  });

  it('answers from the longest learned prefix, with a scope that leaves nested learned subnets out', async () => {
    // Inside the /16, outside the /24: the /16's origin; 172.16.9 and 172.16.2 share 20 bits, so 21.
    expect(await dig('agg.example.com', '+subnet=172.16.9.0/24')).toMatch(/CLIENT-SUBNET: 172\.16\.9\.0\/24\/21[\s\S]*IN\s+A\s+198\.51\.100\.20/);
    // Far from the /24 in the /16 (172.16.200 shares 16 bits): the /16 itself, shared by every resolver client there.
    expect(await dig('agg.example.com', '+subnet=172.16.200.0/24')).toMatch(/CLIENT-SUBNET: 172\.16\.200\.0\/24\/17[\s\S]*IN\s+A\s+198\.51\.100\.20/);
    // The exact /24.
    expect(await dig('agg.example.com', '+subnet=172.16.2.0/24')).toMatch(/CLIENT-SUBNET: 172\.16\.2\.0\/24\/24[\s\S]*IN\s+A\s+192\.0\.2\.10/);
    // A client revealing only /16: the bits that would tell it from the /24 are hidden, so scope 24.
    expect(await dig('agg.example.com', '+subnet=172.16.0.0/16')).toMatch(/CLIENT-SUBNET: 172\.16\.0\.0\/16\/24[\s\S]*IN\s+A\s+198\.51\.100\.20/);
  });

  it('cold start: London gets the London origin, Milton (US) the nearest US origin', async () => {
    expect((await dig('cold.example.com', '+subnet=81.2.69.0/24', '+short')).trim()).toBe('192.0.2.10');
    expect((await dig('cold.example.com', '+subnet=216.160.83.0/24', '+short')).trim()).toBe('198.51.100.20');
    const aaaa = await dig('cold.example.com', 'AAAA', '+subnet=81.2.69.0/24');
    expect(aaaa).toMatch(/IN\s+AAAA\s+2001:db8:10::10/);
  });

  it('IPv6 ECS /56 (7 address bytes): echoed and used', async () => {
    const out = await dig('v6.example.com', 'AAAA', '+subnet=2001:db8:aaaa:5600::/56');
    expect(out).toMatch(/CLIENT-SUBNET: 2001:db8:aaaa:5600::\/56\/56/);
    expect(out).toMatch(/IN\s+AAAA\s+2001:db8:(10::10|20::20)/);
  });

  it('SOA and NS at the apex, NXDOMAIN and NODATA with the SOA, REFUSED outside', async () => {
    expect(await dig('example.com', 'SOA', '+norec')).toMatch(/status: NOERROR[\s\S]*flags: qr aa;[\s\S]*SOA\s+ns1\.example\.com\. hostmaster\.example\.com\. 7 /);
    expect(await dig('example.com', 'NS')).toMatch(/IN\s+NS\s+ns1\.example\.com\.[\s\S]*ADDITIONAL SECTION:\s*\nns1\.example\.com\.\s+\d+\s+IN\s+A\s+127\.0\.0\.1/);
    const nx = await dig('nothing.example.com');
    expect(nx).toMatch(/status: NXDOMAIN[\s\S]*AUTHORITY: 1[\s\S]*AUTHORITY SECTION:\s*\nexample\.com\.\s+30\s+IN\s+SOA/);
    const nodata = await dig('app.example.com', 'MX');
    expect(nodata).toMatch(/status: NOERROR[\s\S]*ANSWER: 0, AUTHORITY: 1/);
    expect(await dig('www.example.net')).toMatch(/status: REFUSED/);
    expect(await dig('www.example.net')).not.toMatch(/flags: qr aa/);
  });

  it('answers over TCP, and over IPv6', async () => {
    const tcp = await dig('+tcp', 'app.example.com', '+subnet=10.20.30.0/24');
    expect(tcp).toMatch(/\(TCP\)/);
    expect(tcp).toMatch(/CLIENT-SUBNET: 10\.20\.30\.0\/24\/24/);
    const v6 = (await run('dig', ['@::1', '-p', String(port), '+short', 'cold.example.com', '+subnet=81.2.69.0/24'])).stdout;
    expect(v6.trim()).toBe('192.0.2.10');
  });

  it('truncates over UDP (TC) and dig retries over TCP for the full answer', async () => {
    const udp = await dig('big.example.com', 'AAAA', '+noedns', '+ignore');
    expect(udp).toMatch(/flags: qr aa tc/);
    expect(udp).toMatch(/ANSWER: 0/);
    const retried = await dig('big.example.com', 'AAAA', '+noedns');
    expect(retried).toMatch(/Truncated, retrying in TCP mode/);
    expect(retried).toMatch(/ANSWER: 40/);
  });

  it('BADVERS for EDNS version 1 (dig then retries with version 0)', async () => {
    const out = await dig('app.example.com', '+edns=1', '+noednsnegotiation');
    expect(out).toMatch(/status: BADVERS/);
  });

  it('reloads the view file on SIGHUP and every worker answers from the new view, without restart', async () => {
    const v = view('example.com', [
      record('app.example.com', threeOrigins(), { subnets: { '10.0.0.0/8': WEIGHTS, '192.168.7.0/24': { 'us-west': 1 } } }),
      record('cold.example.com', threeOrigins()),
    ], '8', 8);
    writeFileSync(join(dir, 'view.json'), JSON.stringify(v));
    const pid = proc.child.pid!;
    process.kill(pid, 'SIGHUP');
    await waitFor(async () => {
      for (let i = 0; i < 8; i++) if ((await dig('app.example.com', '+subnet=192.168.7.0/24', '+short')).trim() !== '198.51.100.20') return false;
      return true;
    }, { timeoutMs: 10_000, what: 'answers from the reloaded view' });
    expect(proc.child.exitCode).toBeNull();
    expect(proc.child.pid).toBe(pid);
  });

  it('counts queries by type, rcode and reason (metrics of the workers merged by the primary)', async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const learned = /sluice_dns_queries_total\{qtype="A",rcode="NOERROR",reason="learned_latency"\} (\d+)/.exec(text);
    expect(Number(learned?.[1])).toBeGreaterThanOrEqual(10_000);
    expect(text).toMatch(/sluice_dns_queries_total\{qtype="A",rcode="NXDOMAIN",reason="nxdomain"\} [1-9]/);
    expect(text).toMatch(/sluice_dns_queries_total\{qtype="A",rcode="NOERROR",reason="geo_fallback"\} [1-9]/);
    expect(text).toMatch(/sluice_dns_view_version 8/);
    expect(text).toMatch(/sluice_dns_view_updates_total 2/);
    expect(text).toMatch(/sluice_dns_query_duration_seconds_count [1-9]/);
    expect(text).toMatch(/sluice_dns_truncated_total [1-9]/);
    expect(text).not.toMatch(/10\.20\.30/); // nothing per subnet
  });

  it('a worker killed with SIGKILL is replaced, and the other keeps answering meanwhile (runs last)', async () => {
    const primary = proc.child.pid!;
    const before = childrenOf(primary);
    expect(before.length).toBe(2);
    process.kill(before[0]!, 'SIGKILL');
    // With udp_io: recvmmsg every worker owns an SO_REUSEPORT socket, and queries already queued on
    // the killed worker's socket die with it (a resolver retries them; the dgram path shares one
    // socket held by the primary). Once the process is gone, the survivor gets every query.
    await waitFor(() => !isRunning(before[0]!), { timeoutMs: 10_000, what: `worker ${before[0]} to be gone` });
    for (let i = 0; i < 20; i++) expect((await dig('cold.example.com', '+subnet=81.2.69.0/24', '+short')).trim()).toBe('192.0.2.10');
    await waitFor(() => {
      const now = childrenOf(primary);
      return now.length === 2 && !now.includes(before[0]!);
    }, { timeoutMs: 15_000, what: 'a replacement worker' });
    expect(proc.child.exitCode).toBeNull();
  });
});

/**
 * Some thread of the process is still alive. Not just the main one: after SIGKILL the thread-group
 * leader can already be a zombie while the UDP thread is still exiting, and the process's sockets
 * (its SO_REUSEPORT member, which the kernel keeps handing queries to) close only with the last thread.
 */
function isRunning(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).some((tid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** Cluster workers of `ppid`: its child processes running the sluice CLI (tsx's esbuild child is not one). */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== ppid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('sluice.js')) out.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return out;
}
