// The scheduler's section of the control plane config (`scheduler:`), key by key.
import { describe, expect, it } from 'vitest';
import { configProblem, loadYaml } from '../test/helpers/config-cases.ts';
import { SchedulerConfig } from './config.ts';
import { DEFAULT_MERGE_RESOLUTION_MS } from './solver/merge.ts';

describe('scheduler config', () => {
  it('defaults: 15 s cycles, 5 s input timeout, 8 hold cycles, a week of latency, embedded scraping', () => {
    const c = loadYaml(SchedulerConfig, '');
    expect(c).toMatchObject({ enabled: true, interval: 15_000, input_timeout: 5_000, hold_cycles: 8, latency_ttl: 168 * 3_600_000, scrape: { targets: [], timeout: 2_000 } });
    expect(c.prometheus).toBeUndefined();
    expect(c.lease_ttl).toBeUndefined(); // the loop then uses 3 x interval
    expect(c.merge_resolution_ms).toBe(DEFAULT_MERGE_RESOLUTION_MS);
    expect(loadYaml(SchedulerConfig, 'merge_resolution_ms: 0\n').merge_resolution_ms).toBe(0);
  });

  it('a Prometheus section takes its defaults and per-load-balancer query overrides', () => {
    const c = loadYaml(SchedulerConfig, 'prometheus:\n  url: http://127.0.0.1:9090\n  load_balancers:\n    web: {queries: {origin_load: "sum(rate(x[1m])) by (origin)"}}\n');
    expect(c.prometheus).toMatchObject({ url: 'http://127.0.0.1:9090', timeout: 5_000, window: 60_000, stale: 120_000 });
    expect(c.prometheus!.load_balancers.web!.queries.origin_load).toContain('rate(x[1m])');
  });

  it('shards instead of one url, a shard_hold, and recording rules', () => {
    const c = loadYaml(SchedulerConfig, 'prometheus:\n  shards:\n    - {name: west, url: http://w:9090}\n    - {name: east, url: http://e:9090, headers: {X-Scope-OrgID: east}}\n  shard_hold: 30s\n  recording_rules: true\n');
    expect(c.prometheus).toMatchObject({ shards: [{ name: 'west', url: 'http://w:9090', headers: {} }, { name: 'east', headers: { 'X-Scope-OrgID': 'east' } }], shard_hold: 30_000, recording_rules: true });
    expect(c.prometheus!.url).toBeUndefined();
    expect(loadYaml(SchedulerConfig, 'prometheus: {url: "http://p:9090"}\n').prometheus).toMatchObject({ shard_hold: 0, recording_rules: false });
  });

  it('TLS for Prometheus and for scraping (Prometheus tls_config names)', () => {
    const c = loadYaml(SchedulerConfig, 'prometheus:\n  url: https://prometheus:9090\n  tls: {ca_file: /ca.pem, cert_file: /s.crt, key_file: /s.key, server_name: prometheus.internal}\n');
    expect(c.prometheus!.tls).toEqual({ ca_file: '/ca.pem', cert_file: '/s.crt', key_file: '/s.key', server_name: 'prometheus.internal', min_version: 'TLS12' });
    expect(loadYaml(SchedulerConfig, 'scrape: {targets: ["https://a:9465"], tls: {ca_file: /ca.pem}}\n').scrape.tls).toMatchObject({ ca_file: '/ca.pem' });
  });

  it.each([
    ['interval: 100ms\n', /:1:1: interval: must be at least 200ms/],
    ['interval: 2 minutes\n', /interval: expected a duration/],
    ['hold_cycles: 1.5\n', /hold_cycles: /],
    ['hold_cycles: 5000\n', /hold_cycles: /],
    ['merge_resolution_ms: -1\n', /merge_resolution_ms: expected a number of ms in \[0, 50\]/],
    ['merge_resolution_ms: fast\n', /merge_resolution_ms: expected a number of ms in \[0, 50\]/],
    ['prometheus: {url: localhost}\n', /prometheus\.url: /],
    ['prometheus:\n  url: http://p:9090\n  queries: {edge_demands: x}\n', /:3:13: prometheus\.queries: unknown key\(s\) "edge_demands"/],
    ['prometheus:\n  url: http://p:9090\n  queries: {origin_load: ""}\n', /prometheus\.queries\.origin_load: /],
    ['scrape: {targets: [127.0.0.1:9465]}\n', /scrape\.targets\[0\]: /],
    ['prometheus: {url: "http://p:9090"}\nscrape: {targets: ["http://a:9465"]}\n', /scrape\.targets: set either prometheus\.url or scrape\.targets, not both/],
    ['geoip:\n  cidr_mappings:\n    - {cidr: 10.0.0.0/8, location: {lat: 91, lon: 0}}\n', /geoip\.cidr_mappings\[0\]\.location\.lat: /],
    ['prometheus: {url: "http://p:9090", tls: {ca_file: /ca.pem}}\n', /prometheus\.url: prometheus\.tls is set, so Prometheus must be reached over https:\/\//],
    ['scrape: {targets: ["https://a:9465", "http://b:9465"], tls: {ca_file: /ca.pem}}\n', /scrape\.targets\[1\]: scrape\.tls is set, so every target must be https:\/\//],
    ['prometheus: {url: "https://p:9090", tls: {cert_file: /c.crt}}\n', /prometheus\.tls\.key_file: set cert_file and key_file together/],
    ['prometheus: {timeout: 5s}\n', /prometheus\.url: set exactly one of prometheus\.url \(one server\) and prometheus\.shards \(several\)/],
    ['prometheus: {url: "http://p:9090", shards: [{name: a, url: "http://a:9090"}]}\n', /prometheus\.shards: set exactly one of prometheus\.url/],
    ['prometheus: {shards: []}\n', /prometheus\.shards: /],
    ['prometheus: {shards: [{name: a, url: "http://a:9090"}, {name: a, url: "http://b:9090"}]}\n', /prometheus\.shards\[1\]\.name: shard name "a" is used twice/],
    ['prometheus: {shards: [{name: "a b", url: "http://a:9090"}]}\n', /prometheus\.shards\[0\]\.name: letters, digits/],
    ['prometheus: {shards: [{name: a, url: "https://a:9090"}, {name: b, url: "http://b:9090"}], tls: {ca_file: /ca.pem}}\n', /prometheus\.shards\[1\]\.url: prometheus\.tls is set, so every shard must be reached over https:\/\//],
    ['prometheus: {url: "http://p:9090", recording_rules: yes}\n', /prometheus\.recording_rules: /],
  ])('rejects %j: %s', (yaml, expected) => {
    expect(configProblem(SchedulerConfig, yaml)).toMatch(expected);
  });
});
