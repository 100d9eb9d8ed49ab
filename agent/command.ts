// `sluice agent --config FILE [--listen HOST:PORT]`: learn client RTT and demand from the kernel, serve
// Prometheus metrics. SIGTERM/SIGINT stop it cleanly (server closed, worker and netlink socket released).
import { parseCommandLine, UsageError } from '../lib/cli-args.ts';
import { loadingFilesOf, loadServerTls } from '../lib/tls.ts';
import { createLogger } from '../lib/log.ts';
import { parseHostPort } from '../model/addresses.ts';
import { Agent } from './agent.ts';
import { loadConfigOffThread } from '../lib/config-off-thread.ts';
import type { AgentConfig } from './config.ts';
import type { Collector } from './collector.ts';

const USAGE = `usage: sluice agent --config FILE [--listen HOST:PORT] [--once]

Reads the kernel's TCP table (netlink sock_diag; no root needed), learns client RTT per subnet and
demand per service port, and serves /metrics, /metrics/subnets, /api/v1/latency and /healthz.

  --config FILE        agent YAML config (see examples/agent.yaml)
  --listen HOST:PORT   overrides the config's listen address
  --once               poll the kernel once in this process, print a JSON summary, exit (no server)`;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, { config: { type: 'string', short: 'c' }, listen: { type: 'string' }, once: { type: 'boolean' } }, USAGE);
  if (!args) return 0;
  const file = args.values.config;
  if (!file) throw new UsageError(`--config is required\n\n${USAGE}`);
  // The YAML parser and zod run in a worker that ends once the config is valid: they never stay
  // resident in the agent (see lib/config-off-thread.ts).
  const config = await loadConfigOffThread<AgentConfig>(new URL('./config.ts', import.meta.url), 'loadAgentConfig', file);
  if (args.values.listen !== undefined) {
    const hp = parseHostPort(args.values.listen);
    if (!hp) throw new UsageError(`--listen: expected HOST:PORT such as 127.0.0.1:9465, got "${args.values.listen}"`);
    config.listen = hp;
  }
  if (args.values.once) return pollOnce(config);
  const log = createLogger('agent');
  const tls = config.tls ? loadingFilesOf(file, () => loadServerTls(config.tls!, 'tls')) : undefined;
  const agent = new Agent(config, log, tls);
  let bound;
  try {
    bound = await agent.start();
  } catch (err) {
    log.error({ err: (err as Error).message }, 'agent failed to start');
    await agent.stop().catch(() => {});
    return 1;
  }
  log.info({ node: config.node, listen: `${tls ? 'https' : 'http'}://${bound.host}:${bound.port}`, service_ports: config.service_ports, upstreams: config.upstreams.length, poll_interval_ms: config.poll_interval }, 'agent started');
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info({ signal }, 'stopping');
  await agent.stop();
  return 0;
}

/**
 * `--once`: one dump + learn in this process (for a quick look, and for the benchmark against ss). A
 * collector that cannot open or dump (netlink refused, no such interface on this OS) is one line on
 * stderr and exit 1, as the daemon reports it, not a stack trace.
 */
async function pollOnce(config: AgentConfig): Promise<number> {
  const { createCollector, portFilterFor } = await import('./collectors.ts');
  const { Poller } = await import('./poller.ts');
  let collector: Collector;
  try {
    collector = await createCollector(config.collector, portFilterFor(config));
  } catch (err) {
    process.stderr.write(`sluice agent: cannot read the TCP table with the ${config.collector} collector: ${oneLine(err)}\n`);
    return 1;
  }
  try {
    const poller = new Poller(config, collector);
    const r = poller.poll();
    process.stdout.write(`${JSON.stringify({ node: config.node, complete: r.complete, poll_ms: r.durationSeconds * 1000, sockets: r.sockets, subnets_tracked: r.subnetsTracked, connections_by_port: r.connectionsByPort, errors: r.errors })}\n`);
    return r.complete ? 0 : 1;
  } catch (err) {
    process.stderr.write(`sluice agent: the poll failed (${collector.name}): ${oneLine(err)}\n`);
    return 1;
  } finally {
    collector.close();
  }
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
}
