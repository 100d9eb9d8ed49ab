// `npm run bench -- startup [--runs N]`: how long each sluice subcommand takes from exec to ready, beside
// a peer that does the same job, started the same way in the same run:
//   node -e 0                     bare Node.js start-up (the floor every sluice command pays)
//   sluice --help                 Node + the CLI's module loading
//   sluice solve (tiny example)   whole process, JSON in and out
//   sluice edge-sync --dry-run    whole process on the sample EdgeConfig
//   sluice agent  → /healthz 200  (first kernel poll done)  vs  prometheus-node-exporter → /metrics 200
//   sluice dns    → first answer  (static view, one process) vs  gdnsd → first answer
//   sluice control-plane → /readyz 200 (SQLite store open) vs  prometheus → /-/ready 200
// Each is run --runs times (default 5), interleaved with its peer, median reported. Readiness is probed
// every 10 ms. The machine is shared: the load average at the start is recorded with the result.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildQuery, decodeResponse, udpExchange } from '../dns/testing/packets.ts';
import { freePort } from '../test/helpers/ports.ts';
import { httpOk, machineLoad, median, REPO_ROOT, round1, SLUICE_BIN, stopServer, timeProcess, timeToReady } from './lib/processes.ts';
import { recordResult } from './lib/results.ts';

const node = process.execPath;

async function dnsAnswers(port: number): Promise<boolean> {
  const d = decodeResponse(await udpExchange(port, buildQuery({ name: 'app.example.com' }), { timeoutMs: 200 }));
  return d.rcode === 0 && d.answers.length >= 1;
}

type Timer = (dir: string) => Promise<number>;

/** One server kind: start, wait until ready, stop; returns ms to ready. */
function server(name: string, args: (dir: string, port: number) => { cmd: string; argv: string[] }, ready: (port: number) => Promise<boolean>): Timer {
  return async (dir) => {
    const port = await freePort();
    const { cmd, argv } = args(dir, port);
    const { ms, server: s } = await timeToReady(name, cmd, argv, () => ready(port));
    await stopServer(s);
    return ms;
  };
}

const agent = (bin: string) => server('sluice agent', (dir, port) => {
  // A service port nothing listens on: the agent's own start-up, first poll included, nothing else.
  writeFileSync(join(dir, 'agent.yaml'), `node: bench\nservice_ports: [1]\npoll_interval: 1s\n`);
  return { cmd: node, argv: [bin, 'agent', '--config', join(dir, 'agent.yaml'), '--listen', `127.0.0.1:${port}`] };
}, (port) => httpOk(`http://127.0.0.1:${port}/healthz`));

const nodeExporter = server('node_exporter', (_dir, port) => ({ cmd: 'prometheus-node-exporter', argv: [`--web.listen-address=127.0.0.1:${port}`] }), (port) => httpOk(`http://127.0.0.1:${port}/metrics`));

const dns = (bin: string) => server('sluice dns', (dir, port) => {
  writeFileSync(join(dir, 'dns.yaml'), `listen: ["127.0.0.1:${port}"]\nview_file: ${join(REPO_ROOT, 'examples/dns-view.json')}\nworkers: 1\nlog_level: warn\n`);
  return { cmd: node, argv: [bin, 'dns', '--config', join(dir, 'dns.yaml')] };
}, dnsAnswers);

const gdnsd = server('gdnsd', (dir, port) => {
  const gd = join(dir, `gdnsd-${port}`);
  mkdirSync(join(gd, 'zones'), { recursive: true });
  writeFileSync(join(gd, 'config'), `options => {\n  listen => [ 127.0.0.1:${port} ]\n  run_dir => ${gd}/run\n  state_dir => ${gd}/state\n  udp_threads => 1\n  tcp_threads => 1\n}\nplugins => {\n  weighted => {\n    app => {\n      eu = [ 192.0.2.10, 50 ]\n      use = [ 203.0.113.30, 30 ]\n    }\n  }\n}\n`);
  writeFileSync(join(gd, 'zones', 'example.com'), '$TTL 3600\n@ SOA ns1 hostmaster 1 3600 600 1209600 30\n@ NS ns1\nns1 A 127.0.0.1\napp 30 DYNA weighted!app\n');
  return { cmd: 'gdnsd', argv: ['-c', gd, 'start'] };
}, dnsAnswers);

const controlPlane = (bin: string) => server('sluice control-plane', (dir, port) => {
  const data = join(dir, `cp-${port}`);
  writeFileSync(join(dir, 'cp.yaml'), `listen: 127.0.0.1:${port}\ndata_dir: ${data}\nlog_level: warn\n`);
  return { cmd: node, argv: [bin, 'control-plane', '--config', join(dir, 'cp.yaml')] };
}, (port) => httpOk(`http://127.0.0.1:${port}/readyz`));

const prometheus = server('prometheus', (dir, port) => {
  const pd = join(dir, `prom-${port}`);
  mkdirSync(pd, { recursive: true });
  writeFileSync(join(pd, 'prometheus.yml'), 'global:\n  scrape_interval: 15s\nscrape_configs: []\n');
  return { cmd: 'prometheus', argv: [`--config.file=${join(pd, 'prometheus.yml')}`, `--storage.tsdb.path=${join(pd, 'data')}`, `--web.listen-address=127.0.0.1:${port}`] };
}, (port) => httpOk(`http://127.0.0.1:${port}/-/ready`));

const oneShot = (cmd: string, args: string[]): Timer => async () => timeProcess(cmd, args);

/** Rows of (sluice, peer) measured in turn; a null peer means the row stands alone. `bin` is the
 * `sluice` command measured: this checkout's, or a baseline's (--baseline DIR). */
const rows = (bin: string): [string, Timer, string | null, Timer | null][] => [
  ['cli --help', oneShot(node, [bin, '--help']), 'node -e 0', oneShot(node, ['-e', '0'])],
  ['solve (example)', oneShot(node, [bin, 'solve', 'examples/solve-three-regions.json']), null, null],
  ['edge-sync --dry-run', oneShot(node, [bin, 'edge-sync', '--config', 'examples/edge-sync-dry-run.yaml', '--dry-run']), null, null],
  ['agent /healthz', agent(bin), 'node_exporter /metrics', nodeExporter],
  ['dns first answer', dns(bin), 'gdnsd first answer', gdnsd],
  ['control-plane /readyz', controlPlane(bin), 'prometheus /-/ready', prometheus],
];

export async function main(args: string[]): Promise<void> {
  const rIdx = args.indexOf('--runs');
  const runs = rIdx >= 0 ? Number(args[rIdx + 1]) : 5;
  // --baseline DIR: another checkout (e.g. main before a change) measured in the same run, interleaved
  // with this one, so a before/after comparison sees the same machine load.
  const bIdx = args.indexOf('--baseline');
  const baselineBin = bIdx >= 0 ? join(resolve(args[bIdx + 1]!), 'bin/sluice.js') : null;
  const load = machineLoad();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-startup-'));
  const table: Record<string, unknown>[] = [];
  const ratios: Record<string, number> = {};
  const ours = rows(SLUICE_BIN);
  const theirs = baselineBin ? rows(baselineBin) : null;
  try {
    for (const [k, [name, mine, peerName, peer]] of ours.entries()) {
      const a: number[] = [];
      const p: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < runs; i++) {
        a.push(await mine(dir));
        if (peer) p.push(await peer(dir));
        if (theirs) b.push(await theirs[k]![1](dir));
      }
      const row = {
        what: name,
        sluice_ms: round1(median(a)),
        peer: peerName,
        peer_ms: peer ? round1(median(p)) : null,
        ...(theirs ? { baseline_ms: round1(median(b)), baseline_runs_ms: b.map(round1) } : {}),
        runs_ms: a.map(round1),
        peer_runs_ms: p.map(round1),
      };
      table.push(row);
      if (row.peer_ms) ratios[name] = row.sluice_ms / row.peer_ms;
      if (theirs) ratios[`${name} vs baseline`] = row.sluice_ms / median(b);
      process.stdout.write(`${name}: ${row.sluice_ms} ms${peer ? ` vs ${peerName} ${row.peer_ms} ms (x${(row.sluice_ms / row.peer_ms!).toFixed(1)})` : ''}${theirs ? `; baseline ${round1(median(b))} ms` : ''}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const summary = table.map((r) => `${r.what} ${r.sluice_ms} ms${r.peer ? ` (${r.peer} ${r.peer_ms} ms)` : ''}${theirs ? ` [baseline ${r.baseline_ms} ms]` : ''}`).join('; ');
  recordResult(
    'startup',
    { comparison: 'sluice subcommands, exec to ready, vs a peer doing the same job (node, node_exporter, gdnsd, prometheus)', ratios, details: { runs, loadavg_at_start: load, baseline: baselineBin, rows: table } },
    `${summary}; load ${load}`,
  );
}
