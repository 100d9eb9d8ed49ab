// `npm run bench -- connections`: what connection awareness costs, against the same work without it,
// in the same run.
//
//   decide()   at 100k sources × 20 origins (bench/solver.bench.ts's instances, a second cycle with
//              weights in force): with every source carrying connection state (effective shares,
//              survival, measured pinned shares) and a DNS point, vs the same problem without.
//   agent      one poll's bookkeeping over 50k established inbound connections: the learner (what the
//              agent did already) vs the learner + the turnover table (lifetimes, connection-seconds,
//              Kaplan–Meier survivors per subnet).
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { buildClassifyConfig } from '../agent/classify.ts';
import type { SocketRecord } from '../agent/collector.ts';
import { Learner } from '../agent/learning/learner.ts';
import { ConnectionTurnover } from '../agent/learning/turnover.ts';
import { TCP_STATE } from '../agent/netlink/constants.ts';
import { decide } from '../scheduler/core/decide.ts';
import type { SchedulingProblem } from '../scheduler/core/types.ts';
import { seededRandom as rng } from '../lib/prng.ts';
import { recordResult } from './lib/results.ts';
import { benchProblem } from './solver.bench.ts';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(runs: number, f: () => void): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    f();
    out.push(performance.now() - t);
  }
  return out;
}

/** The same problem with connection state on every source (as the loop gives DNS subnets). */
function withConnections(p: SchedulingProblem, seed: number): SchedulingProblem {
  const r = rng(seed);
  const ids = p.origins.map((o) => o.id);
  const survival = Object.fromEntries(ids.map((id) => [id, 0.75]));
  const meanSurvival = Object.fromEntries(ids.map((id) => [id, 0.87]));
  return {
    ...p,
    sources: p.sources.map((s) => {
      const inForce = p.current[s.id] ?? {};
      return { ...s, pick: r(), connections: { effective: inForce, survival, mean_survival: meanSurvival, pinned: { end: Object.fromEntries(Object.entries(inForce).map(([k, v]) => [k, 0.7 * v])), mean: Object.fromEntries(Object.entries(inForce).map(([k, v]) => [k, 0.85 * v])) } } };
    }),
  };
}

function sockets(n: number, r: () => number): SocketRecord[] {
  return Array.from({ length: n }, (_, i) => ({ id: i + 1, family: 4 as const, state: TCP_STATE.ESTABLISHED, localAddr: '203.0.113.1', localPort: 443, remoteAddr: `10.${(i >> 12) & 255}.${(i >> 4) & 255}.${1 + (i & 15)}`, remotePort: 40000, rttUs: 20_000 + r() * 5000, minRttUs: 19_000, lastAckRecvMs: 0, bytesAcked: 1000 * i, bytesReceived: 100 * i }));
}

export async function main(): Promise<void> {
  const load = loadavg()[0]!;
  // decide(): first cycle to get weights in force, then the measured second cycles.
  const base = benchProblem(100_000, 20, 3);
  base.current = decide(base).weights;
  const aware = withConnections(base, 4);
  decide(base);
  decide(aware); // warm both paths
  // Alternated, so a load spike from another process on this shared machine hits both alike.
  const plain: number[] = [];
  const connected: number[] = [];
  for (let i = 0; i < 5; i++) {
    plain.push(...time(1, () => decide(base)));
    connected.push(...time(1, () => decide(aware)));
  }
  const decideRatio = median(connected) / median(plain);

  // Agent bookkeeping per poll at 50k connections, connections turning over (5 % per poll): the
  // learner's ingest and the turnover table's, timed separately in the same polls (the first two polls
  // fill the tables and are not counted).
  const r = rng(5);
  const opts = { classify: buildClassifyConfig({ servicePorts: [443], upstreams: [], includeLoopback: false }), ipv4Prefix: 24, ipv6Prefix: 48, alpha: 0.3, minConnectionAgeMs: 0, maxSubnets: 100_000, subnetTtlMs: 3_600_000, minSamples: 1 };
  let socks = sockets(50_000, r);
  let nextId = 1_000_000;
  const learnerOnly: number[] = [];
  const turnoverOnly: number[] = [];
  const learner = new Learner(opts);
  const turnover = new ConnectionTurnover({ pollSeconds: 1, horizonSeconds: 15, offsetSeconds: 1 });
  for (let k = 0; k < 14; k++) {
    socks = socks.map((s) => (r() < 0.05 ? { ...s, id: nextId++ } : s));
    const t0 = performance.now();
    learner.ingest(socks, k * 1000, true);
    const t1 = performance.now();
    turnover.ingest(socks, k * 1000, true, (s) => learner.subnetOf(s.remoteAddr, s.family));
    const t2 = performance.now();
    if (k >= 2) {
      learnerOnly.push(t1 - t0);
      turnoverOnly.push(t2 - t1);
    }
  }
  const withTurnover = learnerOnly.map((l, i) => l + turnoverOnly[i]!);
  const agentRatio = median(withTurnover) / median(learnerOnly);

  const summary = `decide() 100k x 20 with connection state ${median(connected).toFixed(0)} ms vs ${median(plain).toFixed(0)} ms without (x${decideRatio.toFixed(2)}); agent poll bookkeeping at 50k connections: learner + turnover ${median(withTurnover).toFixed(1)} ms vs learner ${median(learnerOnly).toFixed(1)} ms (x${agentRatio.toFixed(2)}; turnover ${median(turnoverOnly).toFixed(1)} ms); load average ${load.toFixed(1)}`;
  process.stdout.write(`${summary}\n`);
  recordResult(
    'connections',
    {
      comparison: 'decide() with connection state vs without; agent learner + turnover vs learner alone',
      ratios: { decide_with_over_without: decideRatio, agent_turnover_over_learner: agentRatio },
      details: { decide_ms: { without: plain, with: connected }, agent_poll_ms: { learner: learnerOnly, turnover: turnoverOnly, learner_and_turnover: withTurnover }, loadavg: load },
    },
    summary,
  );
}
