// DNSSEC metrics of a process whose queries are answered by two signers — its own and a serving
// thread's, whose counters live in shared memory: counters are summed, the next signature expiry is
// the earliest either served since the last scrape, and a scrape resets it.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { nameToWireKey, TYPE } from '../wire/constants.ts';
import { memoryKey, testSigner } from '../testing/dnssec.ts';
import { registerDnssecMetrics } from './metrics.ts';
import { DnssecStats } from './stats.ts';

describe('registerDnssecMetrics', () => {
  it('adds a serving thread\'s shared counters and expiries to the process\'s own', async () => {
    const keys = [memoryKey('example.com'), memoryKey('example.net')];
    const clock = { ms: Date.UTC(2026, 0, 1) };
    const own = testSigner(keys, clock);
    const thread = testSigner(keys, clock, { stats: new DnssecStats(new SharedArrayBuffer(DnssecStats.BYTES)), policy: { validity: 1000, refreshBefore: 100, inceptionOffset: 0 } });
    const registry = new Registry();
    registerDnssecMetrics(registry, own, [thread.stats]);
    const sign = (s: typeof own, zone: string, ip: number) => s.rrsigs(s.zone(nameToWireKey(zone))!, nameToWireKey(`a.${zone}`), TYPE.A, 30, [Buffer.from([192, 0, 2, ip])]);
    sign(own, 'example.com', 1);
    sign(thread, 'example.com', 2);
    sign(thread, 'example.com', 2);
    sign(thread, 'example.net', 3);
    const text = await registry.metrics();
    const value = (re: RegExp) => Number(re.exec(text)?.[1]);
    expect(value(/^sluice_dns_dnssec_signatures_total (\S+)$/m)).toBe(3);
    expect(value(/^sluice_dns_dnssec_cache_hits_total (\S+)$/m)).toBe(1);
    expect(value(/^sluice_dns_dnssec_cache_entries (\S+)$/m)).toBe(3);
    const now = clock.ms / 1000;
    // The thread's signatures are valid 1000 s, the process's 7 days: the earliest wins, per zone.
    expect(value(/^sluice_dns_dnssec_next_signature_expiry_timestamp_seconds\{zone="example.com"\} (\S+)$/m)).toBe(now + 1000);
    expect(value(/^sluice_dns_dnssec_next_signature_expiry_timestamp_seconds\{zone="example.net"\} (\S+)$/m)).toBe(now + 1000);
    expect(await registry.metrics()).not.toMatch(/^sluice_dns_dnssec_next_signature_expiry_timestamp_seconds\{/m);
  });
});

describe('key gauges', () => {
  it('label a key csk alone in its zone, ksk and zsk beside each other; age from Created, Inactive as given', async () => {
    const created = Date.UTC(2026, 0, 1) / 1000;
    const clock = { ms: (created + 600) * 1000 };
    const csk = memoryKey('example.com', 'csk', { Created: created, Publish: created, Activate: created });
    const ksk = memoryKey('example.net', 'ksk', { Created: created, Publish: created, Activate: created });
    const zsk = memoryKey('example.net', 'zsk', { Created: created - 60, Publish: created, Activate: created, Inactive: created + 3600 });
    const registry = new Registry();
    registerDnssecMetrics(registry, testSigner([csk, ksk, zsk], clock));
    const text = await registry.metrics();
    const age = (zone: string, tag: number, role: string) => Number(new RegExp(`^sluice_dns_dnssec_key_age_seconds\\{zone="${zone}",key_tag="${tag}",role="${role}"\\} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(age('example.com', csk.tag, 'csk')).toBe(600);
    expect(age('example.net', ksk.tag, 'ksk')).toBe(600);
    expect(age('example.net', zsk.tag, 'zsk')).toBe(660);
    expect(text).toMatch(new RegExp(`^sluice_dns_dnssec_key_inactive_timestamp_seconds\\{zone="example.net",key_tag="${zsk.tag}",role="zsk"\\} ${created + 3600}$`, 'm'));
    expect(text).not.toMatch(new RegExp(`key_inactive_timestamp_seconds\\{[^}]*key_tag="${ksk.tag}"`));
  });
});
