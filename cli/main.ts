// `sluice <subcommand> ...`: one binary, a subcommand per component. Each component's folder has a
// command.ts exporting `run(argv)`; it is imported only when asked for, so `sluice dns` never loads the
// solver and `sluice solve` never opens a socket.
import { ConfigError } from '../lib/config-error.ts';
import { UsageError } from '../lib/cli-args.ts';

type Runner = (argv: string[]) => Promise<number>;

const SUBCOMMANDS: Record<string, { summary: string; load: () => Promise<Runner> }> = {
  'control-plane': { summary: 'REST API, store, health checks and the scheduler loop', load: async () => (await import('../api/command.ts')).run },
  agent: { summary: 'learn client RTT and demand from the kernel; serve /metrics', load: async () => (await import('../agent/command.ts')).run },
  dns: { summary: 'authoritative DNS with per-client-subnet weighted answers', load: async () => (await import('../dns/command.ts')).run },
  'edge-sync': { summary: 'apply per-edge weights to IPVS, HAProxy or nginx', load: async () => (await import('../edge-sync/command.ts')).run },
  solve: { summary: 'run one scheduling decision on a JSON problem (no server)', load: async () => (await import('../scheduler/solve-command.ts')).run },
  simulate: { summary: 'drive the scheduler core with a simulated world; CSV and SVG out', load: async () => (await import('../scheduler/simulate-command.ts')).run },
  'prometheus-rules': { summary: 'print Prometheus recording rules that pre-aggregate the scheduler inputs', load: async () => (await import('../scheduler/rules-command.ts')).run },
  replay: { summary: 'run recorded cycles (the decision log) with other settings; CSV and SVG out', load: async () => (await import('../scheduler/replay-command.ts')).run },
  status: { summary: 'the state of a running control plane in the terminal, refreshed live', load: async () => (await import('./status-command.ts')).run },
  lab: { summary: 'the whole loop on real parts in network namespaces (root): up, status, down', load: async () => (await import('../test/lab/command.ts')).run },
  demo: { summary: 'the whole loop on one machine, live in the terminal', load: async () => (await import('./demo-command.ts')).run },
};

function usage(): string {
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((k) => k.length));
  const lines = Object.entries(SUBCOMMANDS).map(([name, s]) => `  ${name.padEnd(width)}  ${s.summary}`);
  return `usage: sluice <subcommand> [options]\n\nsubcommands:\n${lines.join('\n')}\n\nRun "sluice <subcommand> --help" for its options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub) {
    process.stderr.write(`sluice: unknown subcommand "${name}"\n\n${usage()}\n`);
    return 2;
  }
  try {
    const run = await sub.load();
    return await run(rest);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`sluice ${name}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
