// sluice dns signing online, checked by real validators: unbound (a validating resolver whose only
// trust anchor is the DS `sluice dns keygen` printed) and BIND's delv. Steered answers (learned,
// geolocation, failover), NXDOMAIN and NODATA (compact denial), SOA, NS and DNSKEY must all validate
// (AD set; delv "fully validated"); a tampered signature and a replayed, expired one must be rejected
// (SERVFAIL). Between the validators and sluice sits a UDP proxy (test/helpers/dns-proxy.ts) that
// passes everything through untouched except the two names it attacks.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unavailable } from './helpers/env.ts';
import { delv, writeDelvAnchor } from './helpers/delv.ts';
import { startDnsProxy, type DnsProxy } from './helpers/dns-proxy.ts';
import { freePort, freeServerPort } from './helpers/ports.ts';
import { promtoolCheck } from './helpers/promtool.ts';
import { UDP_IO_PATHS } from './helpers/udp-io.ts';
import { runSluice, startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { dig, startUnbound, type Unbound } from './helpers/unbound.ts';
import { waitFor } from './helpers/wait.ts';
import { parseRrsig } from '../dns/testing/dnssec.ts';
import { GEOIP_TEST_DB, origin, PLACES, record, threeOrigins, view } from '../dns/testing/fixtures.ts';
import { buildQuery, decodeResponse, readName, udpExchange } from '../dns/testing/packets.ts';
import { DNSSEC_TYPE } from '../dns/dnssec/wire.ts';
import type { DnsView } from '../model/views.ts';

const skip = unavailable({ tools: { unbound: 'unbound', delv: 'bind9-dnsutils', dig: 'dnsutils', promtool: 'prometheus' } });

const LONDON = '192.0.2.10';
const US_EAST = '203.0.113.30';
const PRIMARY = '192.0.2.50';
const BACKUP = '198.51.100.60';

function theView(primaryHealthy: boolean, version: string): DnsView {
  return view('example.com', [
    record('app.example.com', threeOrigins(), {
      ttl: 5,
      subnets: { '10.0.0.0/8': { 'eu-london': 0.5, 'us-east': 0.3, 'us-west': 0.2 }, '192.168.7.0/24': { 'us-east': 1 }, '2001:db8:aaaa::/48': { 'eu-london': 1 } },
    }),
    record('fo.example.com', [origin('primary', [PRIMARY], PLACES.frankfurt, { priority: 0, healthy: primaryHealthy }), origin('backup', [BACKUP], PLACES.london, { priority: 1 })], { policy: 'failover', ttl: 1 }),
    record('tampered.example.com', [origin('t', ['192.0.2.77'], PLACES.frankfurt)], { ttl: 5 }),
    record('replayed.example.com', [origin('r', ['192.0.2.88'], PLACES.frankfurt)], { ttl: 5 }),
  ], version, Number(version));
}

describe.skipIf(skip).each(UDP_IO_PATHS)('DNSSEC through real validators (unbound, delv; udp_io: %s)', (io) => {
  let dir: string;
  let port: number;
  let metricsPort: number;
  let proc: SluiceProcess;
  let proxy: DnsProxy;
  let unbound: Unbound;
  let anchorFile: string;
  let dsLine: string;
  /** replayed.example.com's old answer, served by the proxy once set. */
  let replay: Buffer | null = null;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-dnssec-'));
    port = await freeServerPort();
    metricsPort = await freePort();
    mkdirSync(join(dir, 'keys'));
    const keygen = await runSluice(['dns', 'keygen', '--zone', 'example.com', '--dir', join(dir, 'keys')]);
    expect(keygen.code, keygen.stderr).toBe(0);
    dsLine = keygen.stdout.split('\n').find((l) => / IN DS /.test(l))!;
    anchorFile = join(dir, 'anchor.conf');
    writeDelvAnchor(anchorFile, dsLine);
    writeFileSync(join(dir, 'view.json'), JSON.stringify(theView(true, '1')));
    writeFileSync(
      join(dir, 'dns.yaml'),
      [
        `listen: ["127.0.0.1:${port}"]`,
        'view_file: view.json',
        'authority: { primary_ns: ns1.example.com, nameservers: [{ name: ns1.example.com, addresses: [127.0.0.1] }], soa_ttl: 5, ns_ttl: 5, negative_ttl: 5 }',
        `geoip: { database: ${JSON.stringify(fileURLToPath(GEOIP_TEST_DB))} }`,
        // Short validity so that a captured answer expires within the test (and refresh runs for real).
        'dnssec: { key_directory: keys, dnskey_ttl: 5, signature_validity: 12s, refresh_before: 6s }',
        'workers: 2',
        `udp_io: ${io}`,
        `metrics: { listen: "127.0.0.1:${metricsPort}" }`,
      ].join('\n'),
    );
    proc = startSluice(['dns', '--config', join(dir, 'dns.yaml')]);
    await waitFor(async () => decodeResponse(await udpExchange(port, buildQuery({ name: 'app.example.com' }), { timeoutMs: 300 })).answers.length === 1, {
      // A plain two-worker start on the batched path took 17 s at load 48 (and over 20 s at load 50).
      timeoutMs: 45_000,
      what: `sluice dns on ${port}: ${proc?.output()}`,
    });
    proxy = await startDnsProxy(port, (query, answer) => {
      const qname = readName(query, 12).name.toLowerCase();
      if (qname === 'replayed.example.com' && replay) return replay;
      if (qname === 'tampered.example.com') {
        // Flip one bit in the last byte of every RRSIG's signature.
        const d = decodeResponse(answer);
        for (const rr of d.answers) if (rr.type === DNSSEC_TYPE.RRSIG) rr.data[rr.data.length - 1]! ^= 1;
      }
      return answer;
    });
    unbound = await startUnbound({ stubs: { 'example.com': proxy.port }, trustAnchors: [dsLine], clientSubnet: true, sigSkew: 0 });
  }, 90_000);

  afterAll(async () => {
    await unbound?.stop();
    await proxy?.close();
    await proc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const viaResolver = (name: string, type = 'A', subnet?: string) => unbound.dig(name, type, ['+dnssec', ...(subnet ? [`+subnet=${subnet}`] : [])]);
  const addresses = (r: Awaited<ReturnType<typeof viaResolver>>, type = 'A') => r.answers.filter((a) => a[3] === type).map((a) => a[4]);

  it('steered answers validate: learned subnets, geolocation fallback (AD set, delv fully validated)', async () => {
    const learned = await viaResolver('app.example.com', 'A', '192.168.7.0/24');
    expect([learned.status, learned.ad, addresses(learned)], learned.text).toEqual(['NOERROR', true, [US_EAST]]);
    expect(learned.answers.some((a) => a[3] === 'RRSIG')).toBe(true);
    const weighted = await viaResolver('app.example.com', 'A', '10.1.2.0/24');
    expect([weighted.status, weighted.ad, weighted.answers.filter((a) => a[3] === 'A').length]).toEqual(['NOERROR', true, 1]);
    const geo = await viaResolver('app.example.com', 'A', '81.2.69.0/24');
    expect([geo.status, geo.ad, addresses(geo)], geo.text).toEqual(['NOERROR', true, [LONDON]]);
    const v6 = await viaResolver('app.example.com', 'AAAA', '2001:db8:aaaa::/48');
    expect([v6.status, v6.ad, addresses(v6, 'AAAA')], v6.text).toEqual(['NOERROR', true, ['2001:db8:10::10']]);
    for (const [name, type] of [['app.example.com', 'A'], ['app.example.com', 'AAAA']] as const) {
      const r = await delv(proxy.port, anchorFile, 'example.com', name, type);
      expect(r.validated, r.output).toBe(true);
    }
  });

  it('failover validates before and after the primary goes down (a new RRset, signed on the spot)', async () => {
    expect(addresses(await viaResolver('fo.example.com'))).toEqual([PRIMARY]);
    writeFileSync(join(dir, 'view.json'), JSON.stringify(theView(false, '2')));
    proc.child.kill('SIGHUP');
    // TTL 1: the resolver asks again within a second or two; every answer on the way must validate.
    const after = await waitFor(async () => {
      const r = await viaResolver('fo.example.com');
      expect([r.status, r.ad], r.text).toEqual(['NOERROR', true]);
      return addresses(r)[0] === BACKUP ? r : null;
    }, { timeoutMs: 15_000, intervalMs: 300, what: 'the failover answer through the resolver' });
    expect(after.ad).toBe(true);
    const d = await delv(proxy.port, anchorFile, 'example.com', 'fo.example.com');
    expect([d.validated, d.output.includes(BACKUP)], d.output).toEqual([true, true]);
  });

  it('NXDOMAIN and NODATA validate through compact denial; SOA, NS and DNSKEY validate', async () => {
    const nx = await viaResolver('nope.example.com');
    // RFC 9824: a nonexistent name is answered NOERROR + an NSEC listing NXNAME (TYPE128).
    expect([nx.status, nx.ad, nx.answers.length], nx.text).toEqual(['NOERROR', true, 0]);
    expect(nx.authority.some((a) => a[3] === 'NSEC' && a.includes('TYPE128'))).toBe(true);
    const nodata = await viaResolver('app.example.com', 'TXT');
    expect([nodata.status, nodata.ad, nodata.answers.length]).toEqual(['NOERROR', true, 0]);
    for (const type of ['SOA', 'NS', 'DNSKEY']) {
      const r = await viaResolver('example.com', type);
      expect([r.status, r.ad, r.answers.some((a) => a[3] === type)], `${type}: ${r.text}`).toEqual(['NOERROR', true, true]);
    }
    for (const [name, type] of [['nope.example.com', 'A'], ['deep.nope.example.com', 'AAAA'], ['app.example.com', 'TXT'], ['example.com', 'SOA'], ['example.com', 'NS'], ['example.com', 'DNSKEY'], ['ns1.example.com', 'A']] as const) {
      const r = await delv(proxy.port, anchorFile, 'example.com', name, type);
      expect(r.validated, `${name} ${type}: ${r.output}`).toBe(true);
    }
  });

  it('a tampered signature fails validation: SERVFAIL from unbound, "fully validated" never from delv', async () => {
    const r = await viaResolver('tampered.example.com');
    expect(r.status, r.text).toBe('SERVFAIL');
    expect(unbound.log()).toMatch(/validation failure <tampered\.example\.com\. A IN>: signature crypto failed/);
    const d = await delv(proxy.port, anchorFile, 'example.com', 'tampered.example.com');
    expect(d.validated, d.output).toBe(false);
    // The same name straight from sluice validates: it is the tampering that fails.
    const direct = await delv(port, anchorFile, 'example.com', 'tampered.example.com');
    expect(direct.validated, direct.output).toBe(true);
  });

  it('an expired signature fails validation: an answer captured earlier and replayed after it expired', async () => {
    replay = await udpExchange(port, buildQuery({ name: 'replayed.example.com', edns: { dnssecOk: true } }));
    const sig = decodeResponse(replay).answers.find((a) => a.type === DNSSEC_TYPE.RRSIG)!;
    const expiration = parseRrsig(sig.data).expiration;
    // The replayed answer was valid when captured; wait (by the clock, bounded) until it no longer is.
    await waitFor(() => Date.now() / 1000 > expiration + 2, { timeoutMs: 30_000, intervalMs: 200, what: 'the captured signature to expire' });
    const r = await viaResolver('replayed.example.com');
    expect(r.status, r.text).toBe('SERVFAIL');
    expect(unbound.log()).toMatch(/validation failure <replayed\.example\.com\. A IN>: signature expired/);
    // sluice itself has long re-signed it: the fresh answer validates.
    const fresh = await dig(port, 'replayed.example.com', 'A', ['+dnssec', '+norec']);
    expect(fresh.answers.some((a) => a[3] === 'RRSIG' && Number(a[8]) > expiration)).toBe(true);
  }, 60_000);

  it('queries without DO get no DNSSEC records and a real NXDOMAIN', async () => {
    const plain = await dig(port, 'app.example.com', 'A', ['+nodnssec', '+norec']);
    expect(plain.answers.map((a) => a[3])).toEqual(['A']);
    const nx = await dig(port, 'nope.example.com', 'A', ['+nodnssec', '+norec']);
    expect([nx.status, nx.authority.map((a) => a[3])]).toEqual(['NXDOMAIN', ['SOA']]);
    const signed = await dig(port, 'nope.example.com', 'A', ['+dnssec', '+norec']);
    expect([signed.status, signed.authority.map((a) => a[3])]).toEqual(['NOERROR', ['SOA', 'RRSIG', 'NSEC', 'RRSIG']]);
  });

  it('exports signing metrics: signatures, cache hits, sign time, key age, next signature expiry', async () => {
    const scrape = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    // The expiry gauge covers the signatures served since the previous scrape: scrape, answer, scrape.
    await scrape();
    for (let i = 0; i < 4; i++) await dig(port, 'app.example.com', 'A', ['+dnssec', '+norec']);
    const text = await scrape();
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    expect(value(/^sluice_dns_dnssec_signatures_total (\S+)$/m)).toBeGreaterThan(0);
    expect(value(/^sluice_dns_dnssec_cache_hits_total (\S+)$/m)).toBeGreaterThan(0);
    expect(value(/^sluice_dns_dnssec_sign_duration_seconds_count (\S+)$/m)).toBe(value(/^sluice_dns_dnssec_signatures_total (\S+)$/m));
    expect(value(/^sluice_dns_dnssec_signing_keys\{zone="example.com"\} (\S+)$/m)).toBe(1);
    expect(value(/^sluice_dns_dnssec_key_age_seconds\{zone="example.com",key_tag="\d+",role="csk"\} (\S+)$/m)).toBeGreaterThanOrEqual(0);
    const expiry = value(/^sluice_dns_dnssec_next_signature_expiry_timestamp_seconds\{zone="example.com"\} (\S+)$/m);
    expect(expiry).toBeGreaterThan(Date.now() / 1000);
    expect(expiry).toBeLessThanOrEqual(Date.now() / 1000 + 12);
    const lint = await promtoolCheck(text);
    expect([lint.code, lint.problems]).toEqual([0, []]);
  });
});
