// The scale harness's simulated agents and edges (real-path.ts Exporter) served from a process of
// their own: `node --import tsx bench/scale/exporter-process.ts '{"subnets":…,"origins":…,"edges":…,
// "budget":…,"seed":…}'` prints `listening PORT ENTRIES` once serving. Used where the measuring process
// blocks its event loop for seconds (the scheduler's read at 100k subnets): an exporter in the same
// process would miss Prometheus' scrapes then, and the series would have holes the measurement made.
import { createServer } from 'node:http';
import { DEFAULT_AGGREGATION, simulateAgents } from './agents.ts';
import { Exporter } from './real-path.ts';
import { buildWorld, coldStartAssignment } from './world.ts';

const spec = JSON.parse(process.argv[2] ?? '{}') as { subnets: number; origins: number; edges: number; budget: number; seed: number };
const w = buildWorld({ subnets: spec.subnets, origins: spec.origins, edges: spec.edges, seed: spec.seed });
const agents = simulateAgents(w, coldStartAssignment(w), spec.budget, DEFAULT_AGGREGATION);
const exporter = new Exporter(w, agents);
const server = createServer((req, res) => {
  const m = /^\/(origin|edge)\/(\d+)$/.exec(req.url ?? '');
  if (!m) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(m[1] === 'origin' ? exporter.origin(Number(m[2])) : exporter.edge(Number(m[2])));
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port} ${agents.reduce((n, a) => n + a.exported.length, 0)}\n`);
});
// Ends with its parent: stdin closes when the parent goes.
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
