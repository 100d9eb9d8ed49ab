// A real, signed parent zone for DNSSEC tests: Knot DNS (Debian package `knot`) serving `zone`,
// signing it itself (its own keys, ECDSA P-256), delegating `child` to a server on loopback and
// holding the child's DS records. Changing the DS set rewrites the zone file and reloads it, as a
// registry would publish a new DS. A validating resolver anchored at the parent's KSK then follows
// the real chain: parent DNSKEY -> child DS -> child DNSKEY -> answers.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { startDaemon, unlessExited } from './daemon.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freeServerPort } from './ports.ts';
import { dig } from './unbound.ts';
import { waitFor } from './wait.ts';

const run = promisify(execFile);

export interface KnotParent {
  port: number;
  /** The parent's KSK as a trust-anchor line ("test. DNSKEY 257 3 13 ..."). */
  trustAnchor: string;
  /** Publishes exactly these DS lines for the child (as `sluice dns ds` prints them) and waits until knot serves them. */
  setDs(lines: string[]): Promise<void>;
  stop(): Promise<void>;
}

export async function startKnotParent(opts: { zone: string; child: string; childNs: string; ttl: number }): Promise<KnotParent> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-knot-'));
  mkdirSync(join(dir, 'db'));
  const port = await freeServerPort();
  const conf = join(dir, 'knot.conf');
  writeFileSync(
    conf,
    [
      'server:',
      `  listen: 127.0.0.1@${port}`,
      `  rundir: ${dir}`,
      'database:',
      `  storage: ${join(dir, 'db')}`,
      'log:',
      '  - target: stderr',
      '    any: info',
      'policy:',
      '  - id: parent',
      '    algorithm: ecdsap256sha256',
      '    ksk-lifetime: 0',
      '    zsk-lifetime: 0',
      `    dnskey-ttl: ${opts.ttl}`,
      `    zone-max-ttl: ${opts.ttl}`,
      'template:',
      '  - id: default',
      `    storage: ${dir}`,
      '    dnssec-signing: on',
      '    dnssec-policy: parent',
      '    zonefile-sync: -1',
      // The zone file is edited without bumping its serial; knot signs and numbers the result itself.
      '    zonefile-load: difference-no-serial',
      '    journal-content: all',
      'zone:',
      `  - domain: ${opts.zone}.`,
      `    file: ${opts.zone}.zone`,
    ].join('\n') + '\n',
  );
  const zoneFile = join(dir, `${opts.zone}.zone`);
  const relativeChild = opts.child.slice(0, -(opts.zone.length + 1));
  const writeZone = (ds: string[]) =>
    writeFileSync(
      zoneFile,
      [
        `$TTL ${opts.ttl}`,
        `@ SOA ns1.${opts.zone}. hostmaster.${opts.zone}. 1 60 60 600 ${opts.ttl}`,
        `@ NS ns1.${opts.zone}.`,
        'ns1 A 127.0.0.1',
        `${relativeChild} NS ${opts.childNs}.`,
        `${opts.childNs}. A 127.0.0.1`,
        // "zone. TTL IN DS ..." from sluice: keep the record, use the parent's TTL.
        ...ds.map((l) => l.trim().split(/\s+/)).map(([owner, , , , ...rest]) => `${owner} ${opts.ttl} IN DS ${rest.join(' ')}`),
      ].join('\n') + '\n',
    );
  writeZone([]);
  const daemon = startDaemon('knotd', ['-c', conf], dir);
  const stop = daemon.stop;
  const dnskeys = async () => (await dig(port, `${opts.zone}.`, 'DNSKEY', ['+norec', '+time=1', '+tries=1'])).answers.filter((a) => a[3] === 'DNSKEY');
  try {
    const signed = waitFor(async () => ((await dnskeys()).some((a) => a[4] === '257') ? dnskeys() : null), { timeoutMs: 20_000, intervalMs: 100, what: `knot to serve a signed ${opts.zone}.` });
    const keys = await unlessExited(daemon, 'knotd', signed);
    const ksk = keys.find((a) => a[4] === '257')!;
    return {
      port,
      trustAnchor: `${opts.zone}. DNSKEY ${ksk.slice(4).join(' ')}`,
      async setDs(lines: string[]) {
        writeZone(lines);
        await run('knotc', ['-c', conf, 'zone-reload', `${opts.zone}.`]);
        const want = lines.map((l) => l.trim().split(/\s+/)[4]).sort();
        await waitFor(
          async () => {
            const got = (await dig(port, opts.child, 'DS', ['+norec', '+dnssec'])).answers.filter((a) => a[3] === 'DS').map((a) => a[4]).sort();
            return JSON.stringify(got) === JSON.stringify(want);
          },
          { timeoutMs: 15_000, intervalMs: 100, what: `knot to serve DS ${want.join(',')} for ${opts.child}: ${daemon.output()}` },
        );
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
