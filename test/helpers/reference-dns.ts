// Reference DNS servers for comparisons, started on loopback from the Debian packages: knot (knotd)
// and gdnsd, each in its own temp dir, serving one zone file, stopped by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildQuery, decodeResponse, udpExchange } from '../../dns/testing/packets.ts';
import { waitFor } from './wait.ts';

export interface ReferenceServer {
  name: string;
  port: number;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function launch(name: string, cmd: string, args: string[], port: number, fdLimit?: number): ReferenceServer {
  // A raised open-files limit is set by the shell, which then execs the server (same PID).
  const child = fdLimit
    ? spawn('/bin/sh', ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  return {
    name,
    port,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Resolves once the server answers `probe` (SOA of the zone) authoritatively. */
async function ready(s: ReferenceServer, zone: string): Promise<ReferenceServer> {
  await waitFor(
    async () => {
      if (s.child.exitCode !== null) throw new Error(`${s.name} exited: ${s.output()}`);
      const d = decodeResponse(await udpExchange(s.port, buildQuery({ name: zone, qtype: 6 }), { timeoutMs: 300 }));
      return d.rcode === 0 && d.aa;
    },
    { timeoutMs: 20_000, what: `${s.name} to serve ${zone} on port ${s.port}` },
  );
  return s;
}

/**
 * knotd with ECS support on (as sluice has) and no identity/version/NSID (sluice discloses none), one
 * UDP and one TCP worker. Everything else is knot's default.
 */
export async function startKnot(dir: string, port: number, zone: string, zoneText: string, opts: { fdLimit?: number } = {}): Promise<ReferenceServer> {
  mkdirSync(join(dir, 'db'), { recursive: true });
  writeFileSync(join(dir, `${zone}.zone`), zoneText);
  writeFileSync(
    join(dir, 'knot.conf'),
    [
      'server:',
      `    rundir: "${dir}"`,
      `    listen: 127.0.0.1@${port}`,
      '    udp-workers: 1',
      '    tcp-workers: 1',
      '    background-workers: 1',
      '    edns-client-subnet: on',
      '    identity: ""',
      '    version: ""',
      '    nsid: ""',
      'database:',
      `    storage: "${join(dir, 'db')}"`,
      'log:',
      '  - target: stderr',
      '    any: warning',
      'zone:',
      `  - domain: ${zone}`,
      `    file: "${join(dir, `${zone}.zone`)}"`,
      `    storage: "${dir}"`,
      '',
    ].join('\n'),
  );
  return ready(launch('knot', 'knotd', ['-c', join(dir, 'knot.conf')], port, opts.fdLimit), zone);
}

/** gdnsd 3 with one UDP and one TCP thread and the zone file as is. */
export async function startGdnsd(dir: string, port: number, zone: string, zoneText: string): Promise<ReferenceServer> {
  mkdirSync(join(dir, 'zones'), { recursive: true });
  writeFileSync(join(dir, 'zones', zone), zoneText);
  writeFileSync(join(dir, 'config'), `options => {\n  listen => [ 127.0.0.1:${port} ]\n  run_dir => ${dir}/run\n  state_dir => ${dir}/state\n  udp_threads => 1\n  tcp_threads => 1\n}\n`);
  return ready(launch('gdnsd', 'gdnsd', ['-c', dir, 'start'], port), zone);
}
