// Signing for the DNS benchmark's servers, the way each is meant to be set up:
//   sluice: a CSK made by `sluice dns keygen` (signed online, signature cache by RRset content);
//   PowerDNS: the bind backend with its DNSSEC database (`pdnsutil create-bind-db`) and
//   `pdnsutil secure-zone` — its LUA records are then signed online, per answer, with PowerDNS's own
//   signature cache.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Makes a CSK for `zone` in `dir`/keys with the real CLI; returns the config fragment to add. */
export function sluiceKeys(sluiceBin: string, dir: string, zone: string): string {
  const keys = join(dir, 'keys');
  mkdirSync(keys, { recursive: true, mode: 0o700 });
  execFileSync(process.execPath, [sluiceBin, 'dns', 'keygen', '--zone', zone, '--dir', keys], { stdio: 'ignore' });
  return `dnssec: { key_directory: ${JSON.stringify(keys)} }\n`;
}

/** Turns a PowerDNS bind-backend config dir into a signed one (pdns.conf gets bind-dnssec-db). */
export function securePdnsZone(pdnsDir: string, zone: string): void {
  const db = join(pdnsDir, 'dnssec.sqlite3');
  appendFileSync(join(pdnsDir, 'pdns.conf'), `\nbind-dnssec-db=${db}\n`);
  execFileSync('pdnsutil', [`--config-dir=${pdnsDir}`, 'create-bind-db', db], { stdio: 'ignore' });
  execFileSync('pdnsutil', [`--config-dir=${pdnsDir}`, 'secure-zone', zone], { stdio: 'ignore' });
}
