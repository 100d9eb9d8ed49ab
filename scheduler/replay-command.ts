// `sluice replay`: the problems recorded in the decision log (decision records carry `inputs.problem`)
// run through the decision core again with other settings (replay/replay.ts), and the recorded and the
// replayed run compared: loads against capacity, largest utilisation, demand-weighted RTT, traffic
// moved. Writes DIR/<name>.csv and DIR/<name>.svg (the simulator's formats: both runs in one chart).
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parseCommandLine, UsageError } from '../lib/cli-args.ts';
import { recordedCycles, replay, type ReplayChanges, type RunSummary } from './replay/replay.ts';
import { toCsv } from './simulate/csv.ts';
import { toSvg } from './simulate/svg.ts';

const USAGE = `usage: sluice replay (--file DECISIONS.json | --api URL) [--load-balancer ID] [changes] [--out DIR] [--name NAME]

Runs recorded scheduling cycles (the decision log) through the decision core with changed settings and
compares the recorded and the replayed run. With no change it checks that the record reproduces exactly.
  --file FILE            decision records as JSON: an array, or a page from GET /api/v1/decisions
  --api URL              read them from a control plane (every page); token from SLUICE_TOKEN
  --load-balancer ID     only this load balancer's records (required when there are several)
changes:
  --policy P             latency, balance, weighted or failover
  --max-shift X          largest change of one weight per cycle, (0, 1]
  --gain X               (0, 1]
  --deadband X           [0, 0.5]
  --max-latency-ms X     > 0
  --stickiness-ms X      >= 0
  --capacity ORIGIN=F    scale an origin's target_rps and max_rps by F > 0 (repeatable)
  --out DIR              output directory (default: current directory)
  --name NAME            name of the replayed run and the files (default: replay)`;

type DecisionRecord = Parameters<typeof recordedCycles>[0][number] & { load_balancer_id: string };

const positiveUpTo1 = z.coerce.number().gt(0).max(1);
const CHANGES = {
  policy: z.enum(['latency', 'balance', 'weighted', 'failover']),
  'max-shift': positiveUpTo1,
  gain: positiveUpTo1,
  deadband: z.coerce.number().min(0).max(0.5),
  'max-latency-ms': z.coerce.number().gt(0),
  'stickiness-ms': z.coerce.number().min(0),
} as const;

function option<K extends keyof typeof CHANGES>(values: Record<string, unknown>, key: K): z.output<(typeof CHANGES)[K]> | undefined {
  const raw = values[key];
  if (raw === undefined) return undefined;
  const r = CHANGES[key].safeParse(raw);
  if (!r.success) throw new UsageError(`--${key} ${String(raw)}: ${r.error.issues[0]!.message}\n\n${USAGE}`);
  return r.data as z.output<(typeof CHANGES)[K]>;
}

async function fromApi(base: string, lb: string | undefined): Promise<DecisionRecord[]> {
  const out: DecisionRecord[] = [];
  let cursor: string | null = null;
  const token = process.env.SLUICE_TOKEN;
  do {
    const url = new URL('/api/v1/decisions', base);
    url.searchParams.set('limit', '500');
    if (lb) url.searchParams.set('load_balancer_id', lb);
    if (cursor) url.searchParams.set('cursor', cursor);
    const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (!res.ok) throw new UsageError(`${url}: HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const page = (await res.json()) as { items: DecisionRecord[]; next_cursor: string | null };
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

function fromFile(path: string): DecisionRecord[] {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`${path}: ${(err as Error).message}`);
  }
  const items = Array.isArray(doc) ? doc : (doc as { items?: unknown }).items;
  if (!Array.isArray(items)) throw new UsageError(`${path}: expected an array of decision records, or an object with "items"`);
  return items as DecisionRecord[];
}

function line(label: string, s: RunSummary): string {
  return `  ${label.padEnd(10)} ${String(s.cycles).padStart(6)} cycles  max util ${(s.max_utilisation * 100).toFixed(1).padStart(6)} %  mean max util ${(s.mean_max_utilisation * 100).toFixed(1).padStart(6)} %  above max ${String(s.cycles_above_max).padStart(4)}  RTT ${s.mean_rtt_ms.toFixed(2).padStart(8)} ms  moved ${s.moved_rps_total.toFixed(1).padStart(10)} rps\n`;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(
    argv,
    {
      file: { type: 'string' },
      api: { type: 'string' },
      'load-balancer': { type: 'string' },
      policy: { type: 'string' },
      'max-shift': { type: 'string' },
      gain: { type: 'string' },
      deadband: { type: 'string' },
      'max-latency-ms': { type: 'string' },
      'stickiness-ms': { type: 'string' },
      capacity: { type: 'string', multiple: true },
      out: { type: 'string' },
      name: { type: 'string' },
    },
    USAGE,
  );
  if (!parsed) return 0;
  const v = parsed.values;
  if ((v.file === undefined) === (v.api === undefined)) throw new UsageError(`give exactly one of --file or --api\n\n${USAGE}`);
  const capacity: Record<string, number> = {};
  for (const c of v.capacity ?? []) {
    const m = /^([^=]+)=(.+)$/.exec(c);
    const f = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(f) || f <= 0) throw new UsageError(`--capacity ${c}: expected ORIGIN=FACTOR with a factor > 0\n\n${USAGE}`);
    capacity[m[1]!] = f;
  }
  const changes: ReplayChanges = {
    policy: option(v, 'policy'),
    max_shift: option(v, 'max-shift'),
    gain: option(v, 'gain'),
    deadband: option(v, 'deadband'),
    max_latency_ms: option(v, 'max-latency-ms'),
    stickiness_ms: option(v, 'stickiness-ms'),
    ...(Object.keys(capacity).length > 0 ? { capacity } : {}),
  };
  const all = v.file !== undefined ? fromFile(v.file) : await fromApi(v.api!, v['load-balancer']);
  const lbs = [...new Set(all.map((d) => d.load_balancer_id))];
  const lb = v['load-balancer'] ?? (lbs.length === 1 ? lbs[0] : undefined);
  if (lb === undefined) throw new UsageError(`the records cover ${lbs.length} load balancers (${lbs.join(', ') || 'none'}): choose one with --load-balancer`);
  const { cycles, skipped } = recordedCycles(all.filter((d) => d.load_balancer_id === lb));
  if (cycles.length === 0) throw new UsageError(`no decision record of load balancer ${lb} carries its problem (inputs.problem): nothing to replay (${skipped} record(s) without one: holds, audit records, or problems above the recorded size)`);
  const name = v.name ?? 'replay';
  const r = replay(cycles, changes, name);

  const dir = v.out ?? '.';
  mkdirSync(dir, { recursive: true });
  const csvPath = join(dir, `${name}.csv`);
  const svgPath = join(dir, `${name}.svg`);
  writeFileSync(csvPath, toCsv([r.recorded, r.replayed]));
  const changed = Object.entries(changes).filter(([, x]) => x !== undefined).map(([k, x]) => `${k} ${typeof x === 'object' ? JSON.stringify(x) : x}`).join(', ') || 'no change';
  writeFileSync(svgPath, toSvg([r.recorded, r.replayed], { title: `${lb}: recorded (solid) vs replayed with ${changed} (dashed)` }));

  process.stdout.write(`load balancer ${lb}: ${cycles.length} recorded cycle(s) replayed with ${changed}${skipped > 0 ? ` (${skipped} record(s) without a problem skipped)` : ''}\n`);
  process.stdout.write(line('recorded', r.summary.recorded));
  process.stdout.write(line(name, r.summary.replayed));
  process.stdout.write(
    r.firstDifference === null
      ? `identical to the record: ${r.identical}/${cycles.length} cycles\n`
      : `identical to the record: ${r.identical}/${cycles.length} cycles; first difference at cycle ${r.firstDifference.cycle} (decision ${r.firstDifference.record}): ${r.firstDifference.what}\n`,
  );
  process.stdout.write(`wrote ${csvPath}\nwrote ${svgPath}\n`);
  return 0;
}
