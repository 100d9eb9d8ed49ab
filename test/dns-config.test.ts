// The example config loads, and bad configs stop `sluice dns` before it listens (exit code 2) with a
// message that names the file, the key and what was expected. Schema rows: dns/config.test.ts.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDnsConfig } from '../dns/config.ts';
import { readViewFile } from '../dns/view-source.ts';
import { REPO_ROOT, runSluice } from './helpers/sluice-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-dns-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dns config', () => {
  it('loads examples/dns.yaml, resolving relative paths against the file, and its sample view', () => {
    const c = loadDnsConfig(join(REPO_ROOT, 'examples/dns.yaml'));
    expect(c.listen).toEqual([{ host: '127.0.0.1', port: 5353 }]);
    expect(c.view_file).toBe(join(REPO_ROOT, 'examples/dns-view.json'));
    expect(c.geoip.database).toBe(join(REPO_ROOT, '../shared/data/geoip/GeoIP2-City-Test.mmdb'));
    expect(c.ecs).toEqual({ ipv4_scope_max: 24, ipv6_scope_max: 56 });
    const v = readViewFile(c.view_file!);
    expect(v.zones[0]!.records.map((r) => r.hostname)).toEqual(['app.example.com', 'static.example.com']);
  });

  // The key-by-key cases live in dns/config.test.ts; here, that each kind of failure stops the real
  // command before it listens: a schema error, a database that cannot be opened, an unreadable view,
  // a DNSSEC key directory that cannot be read.
  it.each([
    ['listen: ["localhost:53"]\nview_file: v.json\n', /dns\.yaml:1:10: listen\[0\]: expected an IP address and port/],
    ['view_file: v.json\ntcp: { idle_timeout: soon }\n', /dns\.yaml:2:\d+: tcp\.idle_timeout: expected a duration/],
    ['view_file: v.json\ngeoip: { database: /nonexistent/City.mmdb }\n', /dns\.yaml: geoip\.database: cannot open the MaxMind database/],
    ['view_file: missing.json\n', /dns\.yaml: view_file: .*missing\.json/],
    ['view_file: bad.json\n', /dns\.yaml: view_file: .*bad\.json: not a DnsView: zones/],
    ['view_file: v.json\ndnssec: { key_directory: nokeys }\n', /dns\.yaml: dnssec\.key_directory: .*nokeys: cannot read the key directory/],
    ['api: { url: "http://127.0.0.1:9" }\nview_cache: { file: no-such-dir/view.cache }\n', /dns\.yaml: view_cache\.file: directory .*no-such-dir is not writable \(ENOENT\)/],
  ])('rejects %j with a clear message and exit code 2', async (yaml, message) => {
    const file = join(dir, 'dns.yaml');
    writeFileSync(file, yaml);
    writeFileSync(join(dir, 'v.json'), JSON.stringify({ version: '1', weights_version: 1, zones: [] }));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ version: '1', weights_version: 1, zones: 'nope' }));
    const r = await runSluice(['dns', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('refuses to start with a private key others can read (exit 2, naming the file and the fix)', async () => {
    const keys = join(dir, 'open-keys');
    const gen = await runSluice(['dns', 'keygen', '--zone', 'example.com', '--dir', keys]);
    expect(gen.code, gen.stderr).toBe(0);
    const priv = gen.stdout.split('\n')[1]!;
    chmodSync(priv, 0o644);
    writeFileSync(join(dir, 'dnssec.yaml'), `view_file: v.json\ndnssec: { key_directory: ${keys} }\n`);
    const r = await runSluice(['dns', '--config', join(dir, 'dnssec.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`dnssec.yaml: dnssec.key_directory: ${priv}: permissions 0644 are too open`);
    expect(r.stderr).toContain('chmod 600');
  });
});
