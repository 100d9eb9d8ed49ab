// Small builders for DnsView fixtures used by tests and the benchmark.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { DnsRecordView, DnsView, OriginView, WeightMap } from '../../model/views.ts';
import type { Authority } from '../answer/view-index.ts';

/** Places with their coordinates (origins in tests sit in real cities so geo answers are checkable). */
export const PLACES = {
  london: { lat: 51.5074, lon: -0.1278 },
  ashburn: { lat: 39.0438, lon: -77.4874 },
  seattle: { lat: 47.6062, lon: -122.3321 },
  tokyo: { lat: 35.6762, lon: 139.6503 },
  frankfurt: { lat: 50.1109, lon: 8.6821 },
} as const;

export function origin(id: string, addresses: string[], location: { lat: number; lon: number }, extra: Partial<OriginView> = {}): OriginView {
  return {
    id,
    name: id,
    region: extra.region ?? id,
    addresses,
    port: 443,
    location,
    admin_state: 'active',
    healthy: true,
    static_weight: 1,
    priority: 0,
    health_check: null,
    ...extra,
  };
}

export function record(hostname: string, origins: OriginView[], extra: Partial<DnsRecordView> & { subnets?: Record<string, WeightMap> } = {}): DnsRecordView {
  return {
    load_balancer_id: `lb-${hostname.split('.')[0]}`,
    hostname,
    ttl: 30,
    answers: 1,
    policy: 'latency',
    max_latency_ms: 500,
    origins,
    subnets: {},
    ...extra,
  };
}

export function view(zone: string, records: DnsRecordView[], version = '1', weightsVersion: number | null = 1): DnsView {
  return { version, seq: null, weights_version: weightsVersion, zones: [{ zone, records }] };
}

/** SOA/NS settings for core tests: an in-zone nameserver with IPv4 and IPv6 glue, and one outside the zone. */
export const TEST_AUTHORITY: Authority = {
  primaryNs: 'ns1.example.com',
  hostmaster: 'hostmaster@example.com',
  nameservers: [{ name: 'ns1.example.com', addresses: ['192.0.2.53', '2001:db8::53'] }, { name: 'ns.other.net', addresses: [] }],
  soaTtl: 3600,
  nsTtl: 7200,
  negativeTtl: 30,
  refresh: 3600,
  retry: 600,
  expire: 1209600,
};

/** Three origins on three continents' edges: London, Ashburn (US east), Seattle (US west). */
export function threeOrigins(): OriginView[] {
  return [
    origin('eu-london', ['192.0.2.10', '2001:db8:10::10'], PLACES.london, { region: 'eu-west' }),
    origin('us-east', ['203.0.113.30', '2001:db8:30::30'], PLACES.ashburn, { region: 'us-east' }),
    origin('us-west', ['198.51.100.20', '2001:db8:20::20'], PLACES.seattle, { region: 'us-west' }),
  ];
}

/**
 * MaxMind's test database, in the `shared/` folder beside the repository. A git worktree checked out
 * elsewhere finds it beside the main checkout instead (the parent of the common .git directory).
 */
export const GEOIP_TEST_DB = sharedFile('data/geoip/GeoIP2-City-Test.mmdb');

function sharedFile(path: string): URL {
  const beside = new URL(`../../../shared/${path}`, import.meta.url);
  if (existsSync(beside)) return beside;
  try {
    const common = execFileSync('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: new URL('.', import.meta.url), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const main = new URL(`${pathToFileURL(common).href}/../../shared/${path}`);
    if (existsSync(main)) return main;
  } catch {
    // not a git checkout: keep the path beside the repository (the error will name it)
  }
  return beside;
}
