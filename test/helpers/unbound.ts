// A real validating resolver for tests: unbound (Debian package `unbound`), started here in the
// foreground on a loopback port with the trust anchors and stub zones the test gives it, stopped by
// PID. val-permissive-mode is off, so a bogus answer is SERVFAIL, not an answer without AD.
//
// With `clientSubnet`, unbound's subnetcache module forwards the ECS option a client sends (dig
// +subnet) to the authorities on 127.0.0.1, so steering by client subnet can be checked through the
// resolver; its cache is then kept per subnet, as the ECS scope in our answers asks.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { startDaemon, unlessExited } from './daemon.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freeServerPort } from './ports.ts';
import { waitFor } from './wait.ts';

const run = promisify(execFile);

export interface UnboundOptions {
  /** zone -> port on 127.0.0.1 serving it. */
  stubs: Record<string, number>;
  /** Lines as unbound's `trust-anchor:` takes them: "example.com. DS 12345 13 2 ..." or "... DNSKEY 257 3 13 ...". */
  trustAnchors: string[];
  clientSubnet?: boolean;
  /** Zones unbound would otherwise answer itself (RFC 6761 names such as "test."). */
  unblock?: string[];
  /**
   * Seconds of clock skew tolerated at a signature's inception and expiration. unbound's default is
   * 10 % of the signature's validity, at least an hour: a test that replays an answer seconds after
   * its signature expired sets this low so that expiry is checked to the second.
   */
  sigSkew?: number;
}

export interface Unbound {
  port: number;
  /** dig through the resolver; returns the parsed answer. */
  dig(name: string, type?: string, extra?: string[]): Promise<DigResult>;
  log(): string;
  stop(): Promise<void>;
}

export interface DigResult {
  status: string;
  flags: string[];
  ad: boolean;
  /** Answer-section lines: [name, ttl, class, type, data...]. */
  answers: string[][];
  authority: string[][];
  text: string;
}

/** Parses dig's default output (header, flags, sections). */
export function parseDig(text: string): DigResult {
  const status = /status: (\w+)/.exec(text)?.[1] ?? 'NONE';
  const flags = (/;; flags: ([^;]*);/.exec(text)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  const section = (title: string) => {
    const m = new RegExp(`;; ${title} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(text);
    return m ? m[1]!.split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.split(/\s+/)) : [];
  };
  return { status, flags, ad: flags.includes('ad'), answers: section('ANSWER'), authority: section('AUTHORITY'), text };
}

export async function dig(port: number, name: string, type = 'A', extra: string[] = []): Promise<DigResult> {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), name, type, '+time=3', '+tries=2', ...extra], { timeout: 20_000 });
  return parseDig(stdout);
}

export async function startUnbound(opts: UnboundOptions): Promise<Unbound> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-unbound-'));
  const port = await freeServerPort();
  const lines = [
    'server:',
    `  interface: 127.0.0.1@${port}`,
    `  port: ${port}`,
    '  username: ""',
    '  chroot: ""',
    `  directory: "${dir}"`,
    `  pidfile: "${dir}/unbound.pid"`,
    '  use-syslog: no',
    `  logfile: "${dir}/unbound.log"`,
    '  verbosity: 1',
    '  log-servfail: yes',
    '  num-threads: 1',
    '  so-reuseport: no',
    '  do-not-query-localhost: no',
    '  access-control: 127.0.0.0/8 allow',
    '  val-permissive-mode: no',
    '  qname-minimisation: no',
    '  trust-anchor-signaling: no',
    '  root-key-sentinel: no',
    ...opts.trustAnchors.map((t) => `  trust-anchor: "${t}"`),
    ...(opts.unblock ?? []).map((z) => `  local-zone: "${z}" nodefault`),
    ...(opts.sigSkew !== undefined ? [`  val-sig-skew-min: ${opts.sigSkew}`, `  val-sig-skew-max: ${opts.sigSkew}`] : []),
    ...(opts.clientSubnet
      ? ['  module-config: "subnetcache validator iterator"', '  send-client-subnet: 127.0.0.1', '  client-subnet-always-forward: yes', '  max-client-subnet-ipv4: 24', '  max-client-subnet-ipv6: 56']
      : ['  module-config: "validator iterator"']),
    ...Object.entries(opts.stubs).flatMap(([zone, p]) => ['stub-zone:', `  name: "${zone}"`, `  stub-addr: 127.0.0.1@${p}`]),
  ];
  const conf = join(dir, 'unbound.conf');
  writeFileSync(conf, `${lines.join('\n')}\n`);
  const daemon = startDaemon('unbound', ['-d', '-c', conf], dir);
  const log = () => {
    let file = '';
    try {
      file = readFileSync(join(dir, 'unbound.log'), 'utf8');
    } catch {
      /* not yet */
    }
    return `${daemon.output()}${file}`.slice(-8000);
  };
  try {
    // Ready when it answers anything at all (a refusal of a name it does not serve is enough).
    const answers = waitFor(async () => (await dig(port, 'localhost', 'A', ['+time=1', '+tries=1'])).status !== 'NONE', { timeoutMs: 15_000, intervalMs: 100, what: 'unbound to answer' });
    await unlessExited(daemon, 'unbound', answers, log);
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  return { port, dig: (name, type, extra) => dig(port, name, type, extra), log, stop: daemon.stop };
}
