// The scale harness's simulated agents and edges (exporter.ts Exporter) served from a process of their
// own: `node --import tsx bench/scale/exporter-process.ts '{"subnets":…,"origins":…,"edges":…,"budget":…,
// "seed":…}'` prints `listening PORT ENTRIES` once serving; GET /stats answers what it served so far
// (ExporterStats). Started by exporter.ts startExporterProcess (why a process of its own: see there).
import { createServer } from 'node:http';
import { DEFAULT_AGGREGATION, simulateAgents } from './agents.ts';
import { Exporter, type ExporterSpec, type ExporterStats } from './exporter.ts';
import { buildWorld, coldStartAssignment } from './world.ts';

const spec = JSON.parse(process.argv[2] ?? '{}') as ExporterSpec;
const w = buildWorld({ subnets: spec.subnets, origins: spec.origins, edges: spec.edges, seed: spec.seed });
const agents = simulateAgents(w, coldStartAssignment(w), spec.budget, DEFAULT_AGGREGATION);
const exporter = new Exporter(w, agents);
const entries = agents.reduce((n, a) => n + a.exported.length, 0);
// The plans' tables are not needed once the exposition entries are built: let them go (at 1M they are
// hundreds of MB of this process' heap).
agents.length = 0;
let scrapes = 0;
const server = createServer((req, res) => {
  if (req.url === '/stats') {
    const cpu = process.cpuUsage();
    const stats: ExporterStats = { bytes: exporter.bytes, render_ms: Math.round(exporter.renderMs), cpu_ms: Math.round((cpu.user + cpu.system) / 1000), scrapes };
    return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
  }
  const m = /^\/(origin|edge)\/(\d+)$/.exec(req.url ?? '');
  if (!m) return void res.writeHead(404).end();
  scrapes++;
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(m[1] === 'origin' ? exporter.origin(Number(m[2])) : exporter.edge(Number(m[2])));
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port} ${entries}\n`);
});
// Ends with its parent: stdin closes when the parent goes.
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
