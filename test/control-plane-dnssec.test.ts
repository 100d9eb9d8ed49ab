// DNSSEC keys through the control plane (api/routes/dnssec.ts): a key made by POST is the files
// `sluice dns` reads; the DS served by GET .../ds is the one `sluice dns ds` prints, and BIND's delv,
// trusting only that DS, fully validates what a real `sluice dns` serves from the key directory.
// Schedules change through PATCH (If-Match guarded); private keys are never served; a bad key
// directory is the server's problem (500 naming the file, and no key added to it), a control plane without one says how to
// configure it; a read token may look but not make keys. A key made through the API reaches a running
// `sluice dns` without a signal (dnssec.key_check_interval).
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { delv, writeDelvAnchor } from './helpers/delv.ts';
import { unavailable } from './helpers/env.ts';
import { http, startInProcess, type InProcessControlPlane } from './helpers/control-plane.ts';
import { freeServerPort } from './helpers/ports.ts';
import { runSluice, startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';
import { GEOIP_TEST_DB, origin, PLACES, record, view } from '../dns/testing/fixtures.ts';
import { buildQuery, decodeResponse, udpExchange } from '../dns/testing/packets.ts';
import { parseRrsig } from '../dns/testing/dnssec.ts';
import { DNSSEC_TYPE } from '../dns/dnssec/wire.ts';

const ADMIN = 'dnssec-admin-token-0123456789';
const READER = 'dnssec-reader-token-0123456789';

describe('DNSSEC keys through the API', () => {
  let cp: InProcessControlPlane;
  let keys: string;
  const call = (method: string, path: string, init: { body?: unknown; token?: string; headers?: Record<string, string> } = {}) =>
    http(`${cp.url}${path}`, { method, ...(init.body !== undefined ? { body: init.body } : {}), headers: { authorization: `Bearer ${init.token ?? ADMIN}`, ...init.headers } });

  beforeAll(async () => {
    keys = join(mkdtempSync(join(tmpdir(), 'sluice-cp-dnssec-')), 'keys'); // not made yet: the first POST makes it
    cp = await startInProcess({ admin_tokens: [ADMIN], read_tokens: [READER], server: { dnssec: { keyDirectory: keys } } });
  });
  afterAll(async () => {
    await cp?.close();
    rmSync(join(keys, '..'), { recursive: true, force: true });
  });

  it('makes a CSK as keygen would: files with the private half 0600 in a 0700 directory, the DS the CLI prints', async () => {
    expect((await call('GET', '/api/v1/dnssec/zones/example.com/keys')).json).toEqual({ zone: 'example.com', items: [] });
    expect((await call('GET', '/api/v1/dnssec/zones/example.com/ds')).status).toBe(404);
    const made = await call('POST', '/api/v1/dnssec/zones/Example.COM./keys', { body: {} });
    expect(made.status, JSON.stringify(made.json)).toBe(201);
    expect(made.json).toMatchObject({ zone: 'example.com', role: 'csk', flags: 257, algorithm: 13, published: true, signing: true, cds_published: true });
    expect(made.headers.get('etag')).toBe(`"${made.json.revision}"`);
    expect(JSON.stringify(made.json)).not.toMatch(/PrivateKey/);
    const stem = join(keys, `Kexample.com.+013+${String(made.json.key_tag).padStart(5, '0')}`);
    expect(statSync(`${stem}.private`).mode & 0o777).toBe(0o600);
    expect(statSync(keys).mode & 0o777).toBe(0o700);
    expect(readFileSync(`${stem}.key`, 'utf8')).toContain(made.json.dnskey);

    const cli = await runSluice(['dns', 'ds', '--dir', keys, '--zone', 'example.com']);
    expect(cli.code, cli.stderr).toBe(0);
    const ds = await call('GET', '/api/v1/dnssec/zones/example.com/ds', { token: READER });
    expect(ds.status).toBe(200);
    expect(ds.json.items.map((i: { ds: string }) => i.ds)).toEqual(cli.stdout.split('\n').filter((l) => / IN DS /.test(l)));
    expect(ds.json.items[0].ds).toBe(made.json.ds);
    expect((await call('GET', '/api/v1/dnssec/zones/example.com/ds?ttl=86400')).json.items[0].ds).toMatch(/^example\.com\. 86400 IN DS \d+ 13 2 [0-9A-F]{64}$/);
  });

  it('a ZSK beside a KSK: roles follow the pair; a pre-published ZSK is published but does not sign', async () => {
    const ksk = await call('POST', '/api/v1/dnssec/zones/split.example/keys', { body: { type: 'ksk' } });
    const zsk = await call('POST', '/api/v1/dnssec/zones/split.example/keys', { body: { type: 'zsk', activate: null } });
    expect(zsk.status).toBe(201);
    expect(zsk.json).toMatchObject({ role: 'zsk', flags: 256, published: true, signing: false, cds_published: false, ds: null });
    expect(zsk.json.timing.activate).toBeNull();
    const list = await call('GET', '/api/v1/dnssec/zones/split.example/keys');
    expect(list.json.items.map((k: { key_tag: number; role: string }) => [k.key_tag, k.role]).sort()).toEqual([[ksk.json.key_tag, 'ksk'], [zsk.json.key_tag, 'zsk']].sort());
    // Only the KSK goes to the parent.
    expect((await call('GET', '/api/v1/dnssec/zones/split.example/ds')).json.items.map((i: { key_tag: number }) => i.key_tag)).toEqual([ksk.json.key_tag]);
  });

  it('PATCH moves a schedule (settime): the file changes, a stale If-Match is 412, a bad time names the field', async () => {
    const key = (await call('POST', '/api/v1/dnssec/zones/roll.example/keys', { body: { type: 'zsk' } })).json;
    const path = `/api/v1/dnssec/zones/roll.example/keys/${key.key_tag}`;
    const stopped = await call('PATCH', path, { body: { inactive: 'now', delete: '+1d' }, headers: { 'if-match': `"${key.revision}"` } });
    expect(stopped.status, JSON.stringify(stopped.json)).toBe(200);
    expect(stopped.json).toMatchObject({ published: true, signing: false });
    expect(Date.parse(stopped.json.timing.delete) - Date.parse(stopped.json.timing.inactive)).toBe(86_400_000);
    expect(readFileSync(join(keys, `Kroll.example.+013+${String(key.key_tag).padStart(5, '0')}.private`), 'utf8')).toMatch(/^Inactive: \d{14}$/m);
    const stale = await call('PATCH', path, { body: { inactive: null }, headers: { 'if-match': `"${key.revision}"` } });
    expect(stale.status).toBe(412);
    expect(stale.json.field).toBe('if-match');
    const bad = await call('PATCH', path, { body: { activate: 'next tuesday' } });
    expect(bad.status).toBe(400);
    expect(bad.json.field).toBe('activate');
    const back = await call('PATCH', path, { body: { inactive: null, delete: null } });
    expect(back.json).toMatchObject({ signing: true, timing: { inactive: null, delete: null } });
    expect((await call('PATCH', '/api/v1/dnssec/zones/roll.example/keys/1', { body: {} })).status).toBe(404);
  });

  it('refuses what it should: a read token writing, a zone name that is not one, unknown fields', async () => {
    const ro = await call('POST', '/api/v1/dnssec/zones/example.com/keys', { body: {}, token: READER });
    expect(ro.status).toBe(403);
    for (const zone of ['..%2F..%2Fetc', 'a..b', `${'x'.repeat(64)}.com`]) {
      const r = await call('POST', `/api/v1/dnssec/zones/${zone}/keys`, { body: {} });
      expect(r.status, zone).toBe(400);
      expect(r.json.field, zone).toBe('zone');
    }
    expect((await call('POST', '/api/v1/dnssec/zones/example.com/keys', { body: { type: 'rsa' } })).json.field).toBe('type');
    expect((await call('POST', '/api/v1/dnssec/zones/example.com/keys', { body: { private_key: 'x' } })).json.field).toBe('private_key');
    expect(readdirSync(keys).filter((f) => !f.startsWith('K'))).toEqual([]);
  });

  it('an unprotected private key in the directory is a 500 naming the file, not a half-listed key set', async () => {
    const made = (await call('POST', '/api/v1/dnssec/zones/leaky.example/keys', { body: {} })).json;
    const priv = join(keys, `Kleaky.example.+013+${String(made.key_tag).padStart(5, '0')}.private`);
    chmodSync(priv, 0o644);
    try {
      const r = await call('GET', '/api/v1/dnssec/zones/example.com/keys');
      expect(r.status).toBe(500);
      expect(r.json.detail).toContain(priv);
      expect(r.json.detail).toMatch(/chmod 600/);
      // Nor is a key added to a directory the servers would refuse.
      const before = readdirSync(keys).length;
      expect((await call('POST', '/api/v1/dnssec/zones/example.com/keys', { body: {} })).status).toBe(500);
      expect(readdirSync(keys)).toHaveLength(before);
    } finally {
      chmodSync(priv, 0o600);
    }
  });
});

describe('a control plane without dnssec.key_directory', () => {
  let cp: InProcessControlPlane;
  beforeAll(async () => (cp = await startInProcess()));
  afterAll(() => cp?.close());

  it('answers 404 saying how to configure it', async () => {
    const r = await http(`${cp.url}/api/v1/dnssec/zones/example.com/ds`);
    expect(r.status).toBe(404);
    expect(r.json.detail).toContain('dnssec.key_directory');
  });
});

const skipDelv = unavailable({ tools: { delv: 'bind9-dnsutils' } });

describe.skipIf(skipDelv)('a key made through the API signs what sluice dns serves (delv trusts the API\'s DS)', () => {
  let cp: InProcessControlPlane;
  let dir: string;
  let proc: SluiceProcess;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-cp-dnssec-e2e-'));
    cp = await startInProcess({ server: { dnssec: { keyDirectory: join(dir, 'keys') } } });
  });
  afterAll(async () => {
    await proc?.stop();
    await cp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fully validated: A, the DNSKEY set and a compact NXDOMAIN', async () => {
    const made = await http(`${cp.url}/api/v1/dnssec/zones/example.com/keys`, { method: 'POST', body: {} });
    expect(made.status).toBe(201);
    const ds = (await http(`${cp.url}/api/v1/dnssec/zones/example.com/ds`)).json.items[0].ds as string;
    writeDelvAnchor(join(dir, 'anchor.conf'), ds);
    port = await freeServerPort();
    writeFileSync(join(dir, 'view.json'), JSON.stringify(view('example.com', [record('app.example.com', [origin('a', ['192.0.2.10'], PLACES.frankfurt)], { ttl: 5 })], '1', 1)));
    writeFileSync(
      join(dir, 'dns.yaml'),
      [
        `listen: ["127.0.0.1:${port}"]`,
        'view_file: view.json',
        'authority: { primary_ns: ns1.example.com, nameservers: [{ name: ns1.example.com, addresses: [127.0.0.1] }] }',
        `geoip: { database: ${JSON.stringify(fileURLToPath(GEOIP_TEST_DB))} }`,
        // Re-reads the keys when the directory changes: a key made through the API needs no SIGHUP.
        'dnssec: { key_directory: keys, key_check_interval: 200ms }',
        'workers: 1',
      ].join('\n'),
    );
    proc = startSluice(['dns', '--config', join(dir, 'dns.yaml')]);
    await waitFor(async () => decodeResponse(await udpExchange(port, buildQuery({ name: 'app.example.com' }), { timeoutMs: 300 })).answers.length === 1, { timeoutMs: 45_000, what: `sluice dns on ${port}: ${proc?.output()}` });
    for (const [name, type] of [['app.example.com', 'A'], ['example.com', 'DNSKEY'], ['nope.example.com', 'A']] as const) {
      const r = await delv(port, join(dir, 'anchor.conf'), 'example.com', name, type);
      expect(r.validated, `${name} ${type}: ${r.output}`).toBe(true);
    }
    // The control cannot pass by accident: a DS for a key the server does not hold fails.
    const other = mkdtempSync(join(tmpdir(), 'sluice-cp-dnssec-other-'));
    try {
      const k = await runSluice(['dns', 'keygen', '--zone', 'example.com', '--dir', other]);
      writeDelvAnchor(join(dir, 'wrong.conf'), k.stdout.split('\n').find((l) => / IN DS /.test(l))!);
      expect((await delv(port, join(dir, 'wrong.conf'), 'example.com', 'app.example.com')).validated).toBe(false);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
    expect(existsSync(join(dir, 'keys'))).toBe(true);
  });

  it('a ZSK made through the API signs the answers without a SIGHUP (the key directory is watched), still fully validated', async () => {
    const zsk = await http(`${cp.url}/api/v1/dnssec/zones/example.com/keys`, { method: 'POST', body: { type: 'zsk' } });
    expect(zsk.status).toBe(201);
    const signers = async () => {
      const d = decodeResponse(await udpExchange(port, buildQuery({ name: 'app.example.com', edns: { dnssecOk: true } }), { timeoutMs: 500 }));
      return d.answers.filter((a) => a.type === DNSSEC_TYPE.RRSIG).map((a) => parseRrsig(a.data).keyTag);
    };
    await waitFor(async () => JSON.stringify(await signers()) === JSON.stringify([zsk.json.key_tag]), { timeoutMs: 20_000, what: `app.example.com signed by the new ZSK ${zsk.json.key_tag}: ${proc?.output()}` });
    expect(proc.output()).toMatch(/DNSSEC key directory changed/);
    for (const [name, type] of [['app.example.com', 'A'], ['example.com', 'DNSKEY']] as const) {
      const r = await delv(port, join(dir, 'anchor.conf'), 'example.com', name, type);
      expect(r.validated, `${name} ${type}: ${r.output}`).toBe(true);
    }
  });
});
