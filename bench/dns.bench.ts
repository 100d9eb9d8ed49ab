// `npm run bench -- dns [--duration SECONDS] [--rounds N] [--latency-runs N] [--profile]`: dnsperf against `sluice dns` (on
// both UDP paths: batched recvmmsg/sendmmsg threads, and node:dgram) and, in the same run on the same
// machine, against gdnsd (weighted plugin) and PowerDNS Authoritative (LUA pickwrandom, shared Lua
// state). All on loopback, random ports, temp dirs; every server started and stopped here by PID.
//
// Two measurements per server, each with and without an ECS option on every query:
//   saturation: dnsperf with many outstanding queries, no rate limit -> queries per second, queries
//     lost, datagrams dropped by the server's and by dnsperf's sockets, server CPU per query;
//   fixed rate: dnsperf -Q 10000 -v -> per-query latencies -> p50 / p99.
// Then: p99 at 10k qps in many short runs alternating sluice / gdnsd / sluice-dgram (medians, and the
// median paired difference: load bursts from the shared machine hit runs, not servers); for sluice,
// saturation while the view (50k subnets) is reloaded every 2 s (no query may be lost); with
// --profile a `perf record` of the batched path at saturation (where the time goes).
// DNSSEC: sluice's zone is signed (a CSK from `sluice dns keygen`), so the same server is measured
// with ECS and the DO bit (dnsperf -D: every answer carries its RRSIG) against ECS alone (the bytes of
// an unsigned zone), and against a second PowerDNS whose zone is `pdnsutil secure-zone`d — its LUA
// answers signed online, with PowerDNS's own signature cache — in adjacent pairs of runs.
// dnsperf runs on the same 2-core machine as the servers, so saturation numbers are "what this box
// does with client and server sharing it"; the ratios are what to compare, with the load average.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { securePdnsZone, sluiceKeys } from './lib/dnssec-peers.ts';
import { dnsperf, medianOf, pairedQpsRatio, round3, type Measurement } from './lib/dnsperf.ts';
import { load1 } from './lib/proc.ts';
import { recordResult } from './lib/results.ts';
import { GEOIP_TEST_DB, origin, PLACES, record, view } from '../dns/testing/fixtures.ts';
import { buildQuery, decodeResponse, udpExchange } from '../dns/testing/packets.ts';
import type { WeightMap } from '../model/views.ts';
import { GeoLocator } from '../dns/answer/geo.ts';
import { Responder } from '../dns/answer/respond.ts';
import { memoryKey, testSigner } from '../dns/testing/dnssec.ts';
import { buildViewIndex } from '../dns/answer/view-index.ts';

const SLUICE_BIN = fileURLToPath(new URL('../bin/sluice.js', import.meta.url));

interface Server {
  name: string;
  port: number;
  child: ChildProcess;
  log: () => string;
}

async function freeUdpTcpPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function start(name: string, cmd: string, args: string[], port: number, cwd?: string): Server {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  return { name, port, child, log: () => out };
}

async function stop(s: Server): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => s.child.once('exit', () => r()));
  process.kill(s.child.pid!, 'SIGTERM');
  const t = setTimeout(() => s.child.pid && s.child.exitCode === null && process.kill(s.child.pid, 'SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** Waits (bounded) until the server answers app.example.com with one A record. */
async function ready(s: Server): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (s.child.exitCode !== null) throw new Error(`${s.name} exited: ${s.log()}`);
    try {
      const d = decodeResponse(await udpExchange(s.port, buildQuery({ name: 'app.example.com' }), { timeoutMs: 300 }));
      if (d.rcode === 0 && d.answers.length >= 1) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${s.name} did not answer within 30 s: ${s.log()}`);
}

const target = (s: Server) => ({ port: s.port, pid: s.child.pid! });

/** sluice's view: three origins and 50,000 learned /24s with varied weights (full per-subnet steering). */
function sluiceView(version = 1) {
  const origins = [
    origin('eu-london', ['192.0.2.10'], PLACES.london),
    origin('us-east', ['203.0.113.30'], PLACES.ashburn),
    origin('us-west', ['198.51.100.20'], PLACES.seattle),
  ];
  const subnets: Record<string, WeightMap> = {};
  for (let i = 0; i < 50_000; i++) {
    const a = ((i * 37) % 100) / 100;
    const b = Math.min(1 - a, ((i * 11) % 50) / 100);
    subnets[`10.${(i >> 8) & 255}.${i & 255}.0/24`] = { 'eu-london': round3(a), 'us-east': round3(b), 'us-west': round3(1 - a - b) };
  }
  subnets['10.1.2.0/24'] = { 'eu-london': 0.5, 'us-east': 0.3, 'us-west': 0.2 };
  return view('example.com', [record('app.example.com', origins, { subnets })], String(version), version);
}

/** The pure core alone (no sockets): ns per query on the fast path, same view as the server. */
function coreNsPerQuery(): Record<string, number> {
  const geo = GeoLocator.open(fileURLToPath(GEOIP_TEST_DB), []);
  const r = new Responder({ geo, limits: { ipv4: 24, ipv6: 56 }, udpPayloadSize: 1232, dnssec: testSigner([memoryKey('example.com')], { ms: Date.now() }) });
  r.setIndex(buildViewIndex(sluiceView(), { primaryNs: undefined, hostmaster: undefined, nameservers: [], soaTtl: 3600, nsTtl: 3600, negativeTtl: 30, refresh: 1, retry: 1, expire: 1 }));
  const remote = { family: 4 as const, v4: 0x7f000001, v6: new Uint8Array(16) };
  const cases = {
    no_ecs: buildQuery({ name: 'app.example.com', edns: {} }),
    ecs: buildQuery({ name: 'app.example.com', edns: { ecs: { address: '10.1.2.0', source: 24 } } }),
    ecs_dnssec: buildQuery({ name: 'app.example.com', edns: { dnssecOk: true, ecs: { address: '10.1.2.0', source: 24 } } }),
  };
  const out: Record<string, number> = {};
  for (const [k, q] of Object.entries(cases)) {
    for (let i = 0; i < 200_000; i++) r.respond(q, 'udp', remote); // warm-up
    const n = 1_000_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) r.respond(q, 'udp', remote);
    out[k] = Math.round(Number(process.hrtime.bigint() - t0) / n);
  }
  return out;
}

/** Seconds between view reloads during the reload-under-load run (each one re-indexes 50k subnets on every thread). */
const RELOAD_EVERY_MS = 2000;

/**
 * dnsperf at saturation (with ECS) while the view file is rewritten with a new version and the server
 * sent SIGHUP every RELOAD_EVERY_MS: every reload is indexed by every serving thread while traffic
 * flows. Reports the dnsperf measurement and how many views were installed meanwhile.
 */
async function reloadUnderLoad(s: Server, viewFile: string, metricsPort: number, queries: string, seconds: number): Promise<Measurement & { reloads: number; views_installed: number; view_version: number }> {
  const scrape = async () => (await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
  const metric = (text: string, name: string) => Number(new RegExp(`^${name} (-?[\\d.e+]+)$`, 'm').exec(text)?.[1] ?? NaN);
  const before = metric(await scrape(), 'sluice_dns_view_updates_total');
  let version = metric(await scrape(), 'sluice_dns_view_version');
  let reloads = 0;
  const run = dnsperf(target(s), queries, seconds, { ecs: true });
  const timer = setInterval(() => {
    writeFileSync(viewFile, JSON.stringify(sluiceView(++version)));
    process.kill(s.child.pid!, 'SIGHUP');
    reloads++;
  }, RELOAD_EVERY_MS);
  let m: Measurement;
  try {
    m = await run;
  } finally {
    clearInterval(timer);
  }
  // The last reload may still be indexing: wait (bounded) for the served version to catch up. (A
  // worker busy indexing may miss the primary's 2 s metrics deadline: its gauge is then absent, NaN.)
  const deadline = Date.now() + 20_000;
  let text = await scrape();
  while (!(metric(text, 'sluice_dns_view_version') >= version) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    text = await scrape();
  }
  return { ...m, reloads, views_installed: metric(text, 'sluice_dns_view_updates_total') - before, view_version: metric(text, 'sluice_dns_view_version') };
}

/**
 * `perf record` of the sluice workers during one saturation run (with ECS), summarised by where the
 * CPU went: the kernel (socket syscalls and loopback delivery), sluice's JavaScript (answering core,
 * I/O loop), V8's garbage collector, koffi, the rest of node/V8. Needs perf and node's --perf-basic-prof.
 */
async function profile(s: Server, queries: string, seconds: number, dir: string): Promise<Record<string, unknown>> {
  const workers = childPids(s.child.pid!);
  const data = join(dir, 'perf.data');
  const rec = spawn('perf', ['record', '-F', '999', '-g', '-o', data, '-p', workers.join(','), '--', 'sleep', String(Math.max(1, seconds - 1))], { stdio: 'ignore' });
  const m = await dnsperf(target(s), queries, seconds, { ecs: true });
  await new Promise((r) => rec.once('exit', r));
  const maps = [s.child.pid!, ...workers].map((pid) => `/tmp/perf-${pid}.map`); // JIT symbols node wrote for perf: removed after the report
  const report = spawnSync('perf', ['report', '-i', data, '--no-children', '--sort', 'dso,sym', '--stdio', '-g', 'none', '--percent-limit', '0'], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout;
  const shares: Record<string, number> = { kernel: 0, sluice_answering_core: 0, sluice_io_loop: 0, v8_gc: 0, koffi: 0, node_v8_other: 0 };
  const top: string[] = [];
  for (const line of report.split('\n')) {
    // "  1.30%  [JIT] tid 16682  [.] JS:*steer file:///…/dns/answer/respond.ts:1:1692" (a dso may contain spaces)
    const mm = /^\s+([\d.]+)%\s+(.+?)\s+\[([.k])\]\s+(.*)$/.exec(line);
    if (!mm) continue;
    const pct = Number(mm[1]);
    const [dso, kind, sym] = [mm[2]!, mm[3]!, mm[4]!.trim()];
    let cat = 'node_v8_other';
    if (kind === 'k') cat = 'kernel';
    else if (/file:\/\/.*\/dns\/(answer|wire)\//.test(sym)) cat = 'sluice_answering_core';
    else if (/file:\/\/.*\/(dns\/server|lib)\//.test(sym)) cat = 'sluice_io_loop';
    else if (/v8::internal::(Heap|Scavenge|Mark|Concurrent|Sweep|Evacuat|MemoryAllocator|GC|Minor|Major|Young|Old|PagedSpace|Page|Mutable|Remembered|Slot)/.test(sym)) cat = 'v8_gc';
    else if (dso.includes('koffi')) cat = 'koffi';
    shares[cat] = round3(shares[cat]! + pct);
    if (top.length < 30) top.push(`${pct.toFixed(2)}% ${dso.startsWith('[JIT]') ? '[JIT]' : dso} ${sym.slice(0, 120)}`);
  }
  for (const f of maps) rmSync(f, { force: true });
  return { dnsperf: m, samples_pct_by_category: shares, top_symbols: top };
}

/** Child processes of `ppid` (the cluster workers of a sluice primary). */
function childPids(ppid: number): number[] {
  return spawnSync('pgrep', ['-P', String(ppid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
}

export async function main(args: string[]): Promise<void> {
  const dIdx = args.indexOf('--duration');
  const seconds = dIdx >= 0 ? Number(args[dIdx + 1]) : 5;
  const rIdx = args.indexOf('--rounds');
  const roundsWanted = rIdx >= 0 ? Number(args[rIdx + 1]) : 3;
  const wantProfile = args.includes('--profile');
  const lIdx = args.indexOf('--latency-runs');
  const latencyRuns = lIdx >= 0 ? Number(args[lIdx + 1]) : 9;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-dns-'));
  const servers: Server[] = [];
  let pdnsSigned: Server | undefined;
  const loadSeen: number[] = [load1()];
  try {
    const queries = join(dir, 'queries.txt');
    writeFileSync(queries, 'app.example.com A\n'.repeat(1000));
    const ports = { gdnsd: await freeUdpTcpPort(), pdns: await freeUdpTcpPort(), pdnsSigned: await freeUdpTcpPort() };
    const workers = availableParallelism();

    // sluice dns on each UDP path: batched recvmmsg/sendmmsg threads, and node:dgram (the fallback).
    const sluice: Record<string, { server: Server; viewFile: string; metricsPort: number }> = {};
    for (const [name, io] of [['sluice', 'recvmmsg'], ['sluice-dgram', 'dgram']] as const) {
      const sd = join(dir, name);
      mkdirSync(sd);
      const port = await freeUdpTcpPort();
      const metricsPort = await freeUdpTcpPort();
      const viewFile = join(sd, 'view.json');
      writeFileSync(viewFile, JSON.stringify(sluiceView()));
      writeFileSync(
        join(sd, 'dns.yaml'),
        `listen: ["127.0.0.1:${port}"]\nview_file: view.json\ngeoip: { database: ${JSON.stringify(fileURLToPath(GEOIP_TEST_DB))} }\nworkers: ${workers}\nudp_io: ${io}\nmetrics: { listen: "127.0.0.1:${metricsPort}" }\nlog_level: warn\n${sluiceKeys(SLUICE_BIN, sd, 'example.com')}`,
      );
      const nodeArgs = wantProfile && io === 'recvmmsg' ? ['--perf-basic-prof'] : [];
      // cwd: the temp dir, where --perf-basic-prof leaves its isolate logs.
      const server = start(name, process.execPath, [...nodeArgs, SLUICE_BIN, 'dns', '--config', join(sd, 'dns.yaml')], port, sd);
      servers.push(server);
      sluice[name] = { server, viewFile, metricsPort };
    }

    // gdnsd, weighted plugin, one UDP thread per core, its largest socket buffers (1 MiB; it leaves the
    // OS default of ~200 KiB otherwise and drops at saturation)
    const gd = join(dir, 'gdnsd');
    mkdirSync(join(gd, 'zones'), { recursive: true });
    writeFileSync(
      join(gd, 'config'),
      `options => {\n  listen => [ 127.0.0.1:${ports.gdnsd} ]\n  run_dir => ${gd}/run\n  state_dir => ${gd}/state\n  udp_threads => ${workers}\n  udp_rcvbuf => 1048576\n  udp_sndbuf => 1048576\n  tcp_threads => 1\n}\nplugins => {\n  weighted => {\n    app => {\n      eu = [ 192.0.2.10, 50 ]\n      use = [ 203.0.113.30, 30 ]\n      usw = [ 198.51.100.20, 20 ]\n    }\n  }\n}\n`,
    );
    writeFileSync(join(gd, 'zones', 'example.com'), '$TTL 3600\n@ SOA ns1 hostmaster 1 3600 600 1209600 30\n@ NS ns1\nns1 A 127.0.0.1\napp 30 DYNA weighted!app\n');
    servers.push(start('gdnsd', 'gdnsd', ['-c', gd, 'start'], ports.gdnsd));

    // PowerDNS Authoritative, bind backend, LUA record, shared Lua state; packet/query caches off so
    // every query runs the Lua (as a per-query weighted choice must).
    const pd = join(dir, 'pdns');
    mkdirSync(pd, { recursive: true });
    writeFileSync(join(pd, 'named.conf'), `zone "example.com" { type master; file "${pd}/example.com.zone"; };\n`);
    writeFileSync(
      join(pd, 'example.com.zone'),
      `$TTL 3600\n@ IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 1209600 30\n@ IN NS ns1.example.com.\nns1 IN A 127.0.0.1\napp 30 IN LUA A "pickwrandom({{50, '192.0.2.10'}, {30, '203.0.113.30'}, {20, '198.51.100.20'}})"\n`,
    );
    writeFileSync(
      join(pd, 'pdns.conf'),
      [
        'launch=bind',
        `bind-config=${pd}/named.conf`,
        'local-address=127.0.0.1',
        `local-port=${ports.pdns}`,
        'enable-lua-records=shared',
        'edns-subnet-processing=yes',
        `socket-dir=${pd}`,
        'daemon=no',
        'guardian=no',
        'disable-syslog=yes',
        'cache-ttl=0',
        'query-cache-ttl=0',
        'negquery-cache-ttl=0',
        'webserver=no',
        'loglevel=3',
      ].join('\n'),
    );
    servers.push(start('pdns', 'pdns_server', [`--config-dir=${pd}`], ports.pdns));

    // The same PowerDNS with its zone signed: the LUA answers are signed online. Measured apart (DNSSEC below).
    const pds = join(dir, 'pdns-signed');
    mkdirSync(pds, { recursive: true });
    writeFileSync(join(pds, 'named.conf'), `zone "example.com" { type master; file "${pd}/example.com.zone"; };\n`);
    writeFileSync(join(pds, 'pdns.conf'), readFileSync(join(pd, 'pdns.conf'), 'utf8').replace(`bind-config=${pd}/`, `bind-config=${pds}/`).replace(`local-port=${ports.pdns}`, `local-port=${ports.pdnsSigned}`).replace(`socket-dir=${pd}`, `socket-dir=${pds}`));
    securePdnsZone(pds, 'example.com');
    pdnsSigned = start('pdns-signed', 'pdns_server', [`--config-dir=${pds}`], ports.pdnsSigned);

    await Promise.all([...servers, pdnsSigned].map(ready));
    // This machine is shared: load bursts from other work would land on whichever server happens to
    // be measured. So servers are measured in turn, round after round, and the median of the rounds
    // is reported (all rounds are kept in the details).
    for (const s of servers) for (const ecs of [false, true]) await dnsperf(target(s), queries, 2, { ecs }); // warm-up (JIT, caches)
    const rounds: Record<string, Record<string, Measurement[]>> = {};
    for (let round = 0; round < roundsWanted; round++) {
      for (const ecs of [false, true]) {
        const tag = ecs ? 'ecs' : 'no_ecs';
        for (const s of servers) {
          const sat = await dnsperf(target(s), queries, seconds, { ecs });
          const fixed = await dnsperf(target(s), queries, seconds, { ecs, rate: 10_000 });
          loadSeen.push(load1());
          const mine = (rounds[s.name] ??= {});
          (mine[`saturation_${tag}`] ??= []).push(sat);
          (mine[`fixed10k_${tag}`] ??= []).push(fixed);
          process.stdout.write(
            `round ${round + 1} ${s.name} ${tag}: ${sat.qps} qps at saturation (lost ${sat.lost}, dropped by server ${sat.server_drops} / by dnsperf ${sat.client_drops}; ` +
              `CPU ${sat.cpu_us_per_query?.user}+${sat.cpu_us_per_query?.sys} µs/query user+sys); at 10k qps p50 ${fixed.p50_ms} ms p99 ${fixed.p99_ms} ms (lost ${fixed.lost}); load ${load1()}\n`,
          );
        }
      }
    }
    const results: Record<string, Record<string, Measurement>> = {};
    for (const [name, byKind] of Object.entries(rounds)) {
      results[name] = {};
      for (const [kind, list] of Object.entries(byKind)) results[name]![kind] = medianOf(list);
    }
    for (const [name, byKind] of Object.entries(results)) {
      process.stdout.write(`median ${name}: ${Object.entries(byKind).map(([k, m]) => `${k} ${m.qps} qps${m.p99_ms !== undefined ? ` p50 ${m.p50_ms} p99 ${m.p99_ms} ms` : ''}`).join('; ')}\n`);
    }

    // Views replaced under load: no query may be lost while every thread re-indexes 50k subnets.
    const reload: Record<string, unknown> = {};
    for (const [name, x] of Object.entries(sluice)) {
      const m = await reloadUnderLoad(x.server, x.viewFile, x.metricsPort, queries, 2 * seconds);
      reload[name] = m;
      process.stdout.write(`reload under load ${name}: ${m.qps} qps, lost ${m.lost} (server dropped ${m.server_drops}, dnsperf ${m.client_drops}); ${m.reloads} reloads sent, ${m.views_installed} installed, serving version ${m.view_version}\n`);
    }
    // Tail latency at 10k qps with ECS: short runs alternating sluice / gdnsd / sluice-dgram, many of
    // them, so a burst of load elsewhere on the machine lands on one run, not on one server; the
    // median over runs of each server's p99, and the median of the paired differences.
    const latency: Record<string, number[]> = { sluice: [], gdnsd: [], 'sluice-dgram': [] };
    for (let i = 0; i < latencyRuns; i++) {
      for (const name of Object.keys(latency)) {
        const s = servers.find((x) => x.name === name)!;
        latency[name]!.push((await dnsperf(target(s), queries, 2, { ecs: true, rate: 10_000 })).p99_ms!);
      }
    }
    const medianOfList = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const p99 = Object.fromEntries(Object.entries(latency).map(([k, xs]) => [k, medianOfList(xs)]));
    const p99PairedExcess = round3(medianOfList(latency.sluice!.map((x, i) => x - latency.gdnsd![i]!)));
    process.stdout.write(`p99 at 10k qps with ECS, median of ${latencyRuns} alternating 2 s runs: ${JSON.stringify(p99)} ms; sluice - gdnsd per pair, median: ${p99PairedExcess} ms\n`);

    // DNSSEC: sluice (batched path) with DO against itself without DO, and against PowerDNS signed
    // online, in adjacent pairs; p99 at 10k qps with and without DO in alternating short runs.
    const sl0 = sluice.sluice!.server;
    await dnsperf(target(pdnsSigned), queries, 2, { ecs: true, dnssec: true }); // warm-up
    const signedSluice = { ...target(sl0), ecs: true, dnssec: true };
    const dnssecVsUnsigned = await pairedQpsRatio(signedSluice, { ...target(sl0), ecs: true }, queries, 8, 3);
    const dnssecVsPdnsSigned = await pairedQpsRatio(signedSluice, { ...target(pdnsSigned), ecs: true, dnssec: true }, queries, 4, 3);
    const dnssecLatency: Record<string, number[]> = { unsigned: [], dnssec: [], 'pdns-signed': [] };
    for (let i = 0; i < Math.max(3, Math.ceil(latencyRuns / 2)); i++) {
      dnssecLatency.unsigned!.push((await dnsperf(target(sl0), queries, 2, { ecs: true, rate: 10_000 })).p99_ms!);
      dnssecLatency.dnssec!.push((await dnsperf(target(sl0), queries, 2, { ecs: true, dnssec: true, rate: 10_000 })).p99_ms!);
      dnssecLatency['pdns-signed']!.push((await dnsperf(target(pdnsSigned), queries, 2, { ecs: true, dnssec: true, rate: 10_000 })).p99_ms!);
      loadSeen.push(load1());
    }
    const dnssecP99 = Object.fromEntries(Object.entries(dnssecLatency).map(([k, xs]) => [k, [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!]));
    process.stdout.write(
      `DNSSEC: sluice DO / unsigned per pair ${dnssecVsUnsigned.ratios.join(' ')} (median ${dnssecVsUnsigned.median}); sluice DO / PowerDNS signed ${dnssecVsPdnsSigned.ratios.join(' ')} (median ${dnssecVsPdnsSigned.median}); p99 @10k ${JSON.stringify(dnssecP99)} ms\n`,
    );

    const prof = wantProfile ? await profile(sluice.sluice!.server, queries, seconds, dir) : undefined;
    if (prof) process.stdout.write(`profile of sluice (recvmmsg) at saturation, % of samples: ${JSON.stringify(prof.samples_pct_by_category)}\n`);

    const core = coreNsPerQuery();
    process.stdout.write(`sluice core (no sockets): ${core.no_ecs} ns/query without ECS, ${core.ecs} ns/query with ECS, ${core.ecs_dnssec} with ECS and DO\n`);
    const r = (a: number | undefined, b: number | undefined) => (a && b ? Math.round((a / b) * 100) / 100 : NaN);
    const sl = results.sluice!;
    const sg = results['sluice-dgram']!;
    const gd2 = results.gdnsd!;
    const pd2 = results.pdns!;
    const ratios = {
      qps_vs_gdnsd_no_ecs: r(sl.saturation_no_ecs!.qps, gd2.saturation_no_ecs!.qps),
      qps_vs_gdnsd_ecs: r(sl.saturation_ecs!.qps, gd2.saturation_ecs!.qps),
      dgram_qps_vs_gdnsd_ecs: r(sg.saturation_ecs!.qps, gd2.saturation_ecs!.qps),
      qps_vs_dgram_ecs: r(sl.saturation_ecs!.qps, sg.saturation_ecs!.qps),
      cpu_per_query_gdnsd_vs_sluice_ecs: r(gd2.saturation_ecs!.cpu_us_per_query!.user + gd2.saturation_ecs!.cpu_us_per_query!.sys, sl.saturation_ecs!.cpu_us_per_query!.user + sl.saturation_ecs!.cpu_us_per_query!.sys),
      qps_vs_pdns_lua_no_ecs: r(sl.saturation_no_ecs!.qps, pd2.saturation_no_ecs!.qps),
      qps_vs_pdns_lua_ecs: r(sl.saturation_ecs!.qps, pd2.saturation_ecs!.qps),
      p99_vs_gdnsd_10k_no_ecs: r(sl.fixed10k_no_ecs!.p99_ms, gd2.fixed10k_no_ecs!.p99_ms),
      p99_vs_gdnsd_10k_ecs: r(sl.fixed10k_ecs!.p99_ms, gd2.fixed10k_ecs!.p99_ms),
      p99_vs_pdns_lua_10k_ecs: r(sl.fixed10k_ecs!.p99_ms, pd2.fixed10k_ecs!.p99_ms),
      dnssec_qps_vs_unsigned_ecs: dnssecVsUnsigned.median,
      dnssec_qps_vs_pdns_signed: dnssecVsPdnsSigned.median,
      dnssec_p99_vs_unsigned_10k: r(dnssecP99.dnssec, dnssecP99.unsigned),
    };
    const cpu = (m: Measurement) => round3(m.cpu_us_per_query!.user + m.cpu_us_per_query!.sys);
    const load = { min: Math.min(...loadSeen), max: Math.max(...loadSeen), median: [...loadSeen].sort((x, y) => x - y)[Math.floor(loadSeen.length / 2)]! };
    const slReload = reload.sluice as Measurement & { reloads: number };
    recordResult(
      'dns',
      {
        comparison:
          'sluice dns (fast path, 50k learned /24s, workers per CPU; UDP batched recvmmsg/sendmmsg threads, and node:dgram) vs gdnsd weighted vs PowerDNS LUA pickwrandom (shared state, caches off); dnsperf on loopback',
        ratios,
        details: {
          seconds_per_run: seconds,
          rounds: roundsWanted,
          workers,
          load_average_1m: load,
          p99_10k_ecs_alternating: { runs: latencyRuns, seconds_per_run: 2, median_p99_ms: p99, sluice_minus_gdnsd_median_ms: p99PairedExcess, all_p99_ms: latency },
          cpu_us_per_query_saturation_ecs: { sluice: cpu(sl.saturation_ecs!), 'sluice-dgram': cpu(sg.saturation_ecs!), gdnsd: cpu(gd2.saturation_ecs!), pdns: cpu(pd2.saturation_ecs!) },
          median: results,
          all_rounds: rounds,
          reload_under_load: { every_ms: RELOAD_EVERY_MS, ...reload },
          dnssec: {
            sluice_do_vs_sluice_unsigned: dnssecVsUnsigned,
            sluice_do_vs_pdns_signed: dnssecVsPdnsSigned,
            p99_10k_ecs_alternating: { median_p99_ms: dnssecP99, all_p99_ms: dnssecLatency },
          },
          ...(prof ? { profile_sluice_recvmmsg: prof } : {}),
          sluice_core_ns_per_query: core,
        },
      },
      `sluice ${sl.saturation_ecs!.qps} qps with ECS = ${ratios.qps_vs_gdnsd_ecs}x gdnsd (${gd2.saturation_ecs!.qps}; node:dgram path ${ratios.dgram_qps_vs_gdnsd_ecs}x), ${ratios.qps_vs_pdns_lua_ecs}x PowerDNS LUA; ` +
        `lost at saturation ${sl.saturation_ecs!.lost} (server drops ${sl.saturation_ecs!.server_drops}); at 10k qps p99 ${p99.sluice} ms (gdnsd ${p99.gdnsd} ms, paired ${p99PairedExcess >= 0 ? '+' : ''}${p99PairedExcess} ms); CPU ${cpu(sl.saturation_ecs!)} µs/query (gdnsd ${cpu(gd2.saturation_ecs!)}); ` +
        `${slReload.reloads} view reloads under load: lost ${slReload.lost}; ` +
        `DNSSEC (DO, signed online) ${dnssecVsUnsigned.median}x unsigned and ${dnssecVsPdnsSigned.median}x PowerDNS signed online (paired qps), p99 @10k ${dnssecP99.dnssec} ms (unsigned ${dnssecP99.unsigned}); load ${load.min}-${load.max}`,
    );
  } finally {
    for (const s of servers) await stop(s).catch(() => undefined);
    if (pdnsSigned) await stop(pdnsSigned).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
