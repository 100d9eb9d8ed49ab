// One dnsperf run against a server on loopback, with what the kernel saw meanwhile: the server's CPU
// time (user and system, per query), datagrams its sockets dropped, and datagrams dnsperf's own
// sockets dropped (dnsperf shares the 2 cores; a "lost" query may be lost on the client's side).
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { udpDropsOfProcess, udpDropsOnPort } from '../../test/helpers/udp-drops.ts';
import { treeCpu } from './proc.ts';

export interface Measurement {
  qps: number;
  lost: number;
  /** Datagrams the server's sockets dropped during the run (receive queue full). */
  server_drops?: number;
  /** Datagrams dnsperf's sockets dropped (sampled every 200 ms while it ran). */
  client_drops?: number;
  /** Server CPU per answered query, microseconds. */
  cpu_us_per_query?: { user: number; sys: number };
  p50_ms?: number;
  p99_ms?: number;
  mean_ms?: number;
}

/** ECS option for dnsperf -E: code 8, family 1, /24, 10.1.2.0 (a learned subnet in sluice's view). */
const ECS_HEX = '000118000a0102';

export interface DnsperfTarget {
  port: number;
  /** The server's process (its descendants count too) for CPU time. */
  pid: number;
}

export interface DnsperfLoad {
  ecs: boolean;
  /** The DO bit on every query (dnsperf -D): signed zones answer with their RRSIGs. */
  dnssec?: boolean;
  /** Queries per second (fixed rate, per-query latencies); absent: saturation. */
  rate?: number;
}

export async function dnsperf(target: DnsperfTarget, queries: string, seconds: number, opts: DnsperfLoad): Promise<Measurement> {
  // -b: dnsperf's socket buffers (KiB; the kernel caps them at net.core.rmem_max/wmem_max) large enough
  // that the client does not drop answers that arrive while it is off the CPU: a loss should be the server's.
  const args = ['-s', '127.0.0.1', '-p', String(target.port), '-d', queries, '-l', String(seconds), '-t', '2', '-b', '4096'];
  if (opts.ecs) args.push('-E', `8:${ECS_HEX}`);
  if (opts.dnssec) args.push('-D');
  if (opts.rate) args.push('-Q', String(opts.rate), '-c', '4', '-q', '200', '-v');
  else args.push('-c', '8', '-q', '1000');
  // Output to a file, not a pipe: reading megabytes of -v lines while measuring would steal CPU
  // from the servers on a 2-core machine.
  const outFile = join(tmpdir(), `sluice-dnsperf-${process.pid}-${Date.now()}.txt`);
  const fd = openSync(outFile, 'w');
  const dropsBefore = udpDropsOnPort(target.port);
  const cpuBefore = treeCpu(target.pid);
  const child = spawn('dnsperf', args, { stdio: ['ignore', fd, 'inherit'] });
  let clientDrops = 0;
  const sampler = setInterval(() => (clientDrops = Math.max(clientDrops, udpDropsOfProcess(child.pid!))), 200);
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`dnsperf exited with ${code}`))));
    });
  } finally {
    clearInterval(sampler);
    closeSync(fd);
  }
  const cpuAfter = treeCpu(target.pid);
  const stdout = readFileSync(outFile, 'utf8');
  rmSync(outFile, { force: true });
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(stdout)?.[1] ?? NaN);
  const completed = Number(/Queries completed:\s+(\d+)/.exec(stdout)?.[1] ?? NaN);
  const perQuery = (s: number) => round3((s * 1e6) / completed);
  const m: Measurement = {
    qps: Math.round(qps),
    lost,
    server_drops: udpDropsOnPort(target.port) - dropsBefore,
    client_drops: clientDrops,
    cpu_us_per_query: { user: perQuery(cpuAfter.user - cpuBefore.user), sys: perQuery(cpuAfter.sys - cpuBefore.sys) },
  };
  if (opts.rate) {
    const lat = [...stdout.matchAll(/^> \S+ \S+ \S+ ([\d.]+)$/gm)].map((x) => Number(x[1]) * 1000).sort((a, b) => a - b);
    if (lat.length > 0) {
      m.p50_ms = round3(lat[Math.floor(lat.length * 0.5)]!);
      m.p99_ms = round3(lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))]!);
      m.mean_ms = round3(lat.reduce((a, b) => a + b, 0) / lat.length);
    }
  }
  return m;
}

export const round3 = (x: number) => Math.round(x * 1000) / 1000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median of each field over rounds (drops: the total, so none hides). */
export function medianOf(list: Measurement[]): Measurement {
  const m: Measurement = { qps: median(list.map((x) => x.qps)), lost: median(list.map((x) => x.lost)) };
  m.server_drops = list.reduce((a, x) => a + (x.server_drops ?? 0), 0);
  m.client_drops = list.reduce((a, x) => a + (x.client_drops ?? 0), 0);
  if (list.every((x) => x.cpu_us_per_query)) {
    m.cpu_us_per_query = { user: median(list.map((x) => x.cpu_us_per_query!.user)), sys: median(list.map((x) => x.cpu_us_per_query!.sys)) };
  }
  if (list[0]?.p99_ms !== undefined) {
    m.p50_ms = median(list.map((x) => x.p50_ms!));
    m.p99_ms = median(list.map((x) => x.p99_ms!));
    m.mean_ms = median(list.map((x) => x.mean_ms!));
  }
  return m;
}

/**
 * a's saturation qps over b's, measured in adjacent pairs whose order alternates (a b, b a, …): a load
 * burst from other work on the shared machine then lands on both sides of a pair, so the median of
 * the pair ratios is what to trust, not a ratio of medians taken minutes apart.
 */
export async function pairedQpsRatio(
  a: DnsperfTarget & DnsperfLoad,
  b: DnsperfTarget & DnsperfLoad,
  queries: string,
  pairs: number,
  seconds: number,
): Promise<{ median: number; ratios: number[]; a_qps: number[]; b_qps: number[] }> {
  const ratios: number[] = [];
  const aq: number[] = [];
  const bq: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
    const x = (await dnsperf(first, queries, seconds, first)).qps;
    const y = (await dnsperf(second, queries, seconds, second)).qps;
    const [qa, qb] = i % 2 === 0 ? [x, y] : [y, x];
    aq.push(qa);
    bq.push(qb);
    ratios.push(Math.round((qa / qb) * 100) / 100);
  }
  return { median: median(ratios), ratios, a_qps: aq, b_qps: bq };
}
