// `sluice status`: the terminal view of a running control plane — per load balancer, origins with load
// against target and max, shares, health votes, the overrides in force and the last decisions —
// redrawn every --interval (like `sluice demo`), or printed once with --once.
import { parseCommandLine, UsageError } from '../lib/cli-args.ts';
import { parseDuration } from '../model/primitives.ts';
import { StatusClient } from './status/read.ts';
import { renderStatus } from './status/render.ts';

const USAGE = `usage: sluice status [--api URL] [--load-balancer NAME|ID] [--once] [--interval 2s] [--decisions N]

The state of a running control plane, refreshed live (token from SLUICE_TOKEN).
  --api URL              the control plane (default http://127.0.0.1:8080)
  --load-balancer X      only this load balancer (name or id)
  --once                 print once and exit (exit 1 if the control plane cannot be read)
  --interval D           refresh period (default 2s)
  --decisions N          decisions shown per load balancer (default 5)`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv, { api: { type: 'string' }, 'load-balancer': { type: 'string' }, once: { type: 'boolean' }, interval: { type: 'string' }, decisions: { type: 'string' } }, USAGE);
  if (!parsed) return 0;
  const v = parsed.values;
  const intervalMs = parseDuration(v.interval ?? '2s');
  if (intervalMs === null || intervalMs < 100) throw new UsageError(`--interval ${v.interval}: expected a duration of at least 100ms, e.g. "2s"\n\n${USAGE}`);
  const decisions = Number(v.decisions ?? 5);
  if (!Number.isInteger(decisions) || decisions < 1 || decisions > 500) throw new UsageError(`--decisions ${v.decisions}: expected an integer from 1 to 500\n\n${USAGE}`);
  const client = new StatusClient(v.api ?? 'http://127.0.0.1:8080', process.env.SLUICE_TOKEN);
  if (v.once) {
    try {
      process.stdout.write(renderStatus(await client.read(v['load-balancer'], decisions), new Date()));
      return 0;
    } catch (err) {
      process.stderr.write(`sluice status: ${(err as Error).message}\n`);
      return 1;
    }
  }
  let stop = false;
  const onSignal = () => (stop = true);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  while (!stop) {
    let frame: string;
    try {
      frame = renderStatus(await client.read(v['load-balancer'], decisions), new Date());
    } catch (err) {
      frame = `sluice status  ${new Date().toISOString()}\n\ncannot read the control plane: ${(err as Error).message}\n(retrying every ${v.interval ?? '2s'})\n`;
    }
    process.stdout.write(`\x1b[H\x1b[2J${frame}`);
    const until = Date.now() + intervalMs;
    while (!stop && Date.now() < until) await new Promise((r) => setTimeout(r, Math.min(200, until - Date.now())));
  }
  return 0;
}
