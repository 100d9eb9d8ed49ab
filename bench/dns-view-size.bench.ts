// `npm run bench -- dns-view-size [--size 1m] [--peer 1k] [--rounds 6] [--seconds 5]`: does a DNS server
// answer as fast with a 1M-entry view as with a small one (issue 15: "answer p99 unchanged at 10k qps")?
//
// Two `sluice dns` run side by side (primary + worker + UDP thread each, bench/lib/synthetic-view.ts),
// one on the big view, the peer on a small one. dnsperf sends each 10k qps of ECS queries for a learned
// subnet, in rounds that alternate which server goes first, so both see the same spread of the machine's
// load. Reported: the median over rounds of p50 and p99, the ratio big / peer, and queries lost.
import { loadavg } from 'node:os';
import type { Measurement } from './lib/dnsperf.ts';
import { recordResult } from './lib/results.ts';
import { startServedDns, type ServedDns } from './lib/synthetic-view.ts';

const SIZES: Record<string, number> = { '1k': 1_000, '10k': 10_000, '100k': 100_000, '1m': 1_000_000 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return Math.round(m * 1000) / 1000;
}

function sizeOf(label: string): number {
  const n = SIZES[label] ?? Number(label);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`unknown size ${label} (${Object.keys(SIZES).join(', ')} or a count)`);
  return n;
}

export async function main(args: string[]): Promise<void> {
  const arg = (name: string, dflt: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1]! : dflt;
  };
  const size = arg('--size', '1m');
  const peerSize = arg('--peer', '1k');
  const rounds = Number(arg('--rounds', '6'));
  const seconds = Number(arg('--seconds', '5'));
  const loadStart = loadavg()[0]!;
  const servers: ServedDns[] = [];
  try {
    const big = await startServedDns(sizeOf(size));
    servers.push(big);
    const peer = await startServedDns(sizeOf(peerSize));
    servers.push(peer);
    const runs: { big: Measurement[]; peer: Measurement[] } = { big: [], peer: [] };
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? (['peer', 'big'] as const) : (['big', 'peer'] as const);
      for (const which of order) {
        const m = await (which === 'big' ? big : peer).measure(seconds);
        runs[which].push(m);
        process.stderr.write(`round ${r + 1} ${which}: p50 ${m.p50_ms} ms p99 ${m.p99_ms} ms qps ${m.qps} lost ${m.lost}\n`);
      }
    }
    const summary = (ms: Measurement[]) => ({
      p50_ms: median(ms.map((m) => m.p50_ms!)),
      p99_ms: median(ms.map((m) => m.p99_ms!)),
      p99_ms_each: ms.map((m) => m.p99_ms!),
      qps: median(ms.map((m) => m.qps)),
      lost: ms.reduce((n, m) => n + m.lost, 0),
    });
    const b = summary(runs.big);
    const p = summary(runs.peer);
    const ratio = Math.round((b.p99_ms / p.p99_ms) * 100) / 100;
    const loadEnd = loadavg()[0]!;
    recordResult(
      'dns-view-size',
      {
        comparison: `answer latency of one sluice dns with a ${size} view vs the same server with a ${peerSize} view (the peer), 10k qps ECS, ${rounds} alternating rounds of ${seconds} s`,
        ratios: { p99_big_over_peer: ratio, p50_big_over_peer: Math.round((b.p50_ms / p.p50_ms) * 100) / 100 },
        details: { size, peer_size: peerSize, indexed: { big: big.indexed, peer: peer.indexed }, rss_mb: { big: big.rssMb, peer: peer.rssMb }, big: b, peer: p, loadavg_start: loadStart, loadavg_end: loadEnd },
      },
      `${size} view (${big.indexed} networks, ${big.rssMb} MB) vs ${peerSize} (${peer.indexed}, ${peer.rssMb} MB), 10k qps ECS, median of ${rounds} alternating ${seconds}-s rounds: p50 ${b.p50_ms} vs ${p.p50_ms} ms, p99 ${b.p99_ms} vs ${p.p99_ms} ms (×${ratio}), lost ${b.lost} / ${p.lost}; load ${loadStart.toFixed(1)}–${loadEnd.toFixed(1)}`,
    );
  } finally {
    for (const s of servers) await s.stop();
  }
}
