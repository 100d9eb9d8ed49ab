// The `sluice dns` config schema key by key, as rows (CoreDNS setup_test.go style): the YAML, then
// either the error it must give (line:column, key and what was expected) or what it must load as.
// That a bad file stops the real command with exit code 2 is checked in test/dns-config.test.ts.
import { describe, expect, it } from 'vitest';
import { configProblem, loadYaml } from '../test/helpers/config-cases.ts';
import { DnsConfig, resolvePaths } from './config.ts';

const BASE = 'view_file: v.json\n';
const KEY = Buffer.alloc(32, 7).toString('base64');

/** [what, YAML, expected error (substring or pattern) | check of the loaded config] */
const ROWS: [string, string, RegExp | ((c: DnsConfig) => void)][] = [
  // listen, sources
  ['defaults', BASE, (c) => expect([c.listen, c.workers, c.udp_payload_size, c.tsig_keys]).toEqual([[{ host: '127.0.0.1', port: 5353 }], 1, 1232, []])],
  ['listen without a port', `listen: ["localhost"]\n${BASE}`, /:1:10: listen\[0\]: expected HOST:PORT/],
  ['listen on a host name', `listen: ["localhost:53"]\n${BASE}`, /: listen\[0\]: expected an IP address and port/],
  ['listen on IPv6', `listen: ["[::1]:53"]\n${BASE}`, (c) => expect(c.listen).toEqual([{ host: '::1', port: 53 }])],
  ['neither api nor view_file', 'listen: ["127.0.0.1:53"]\n', /: api: set exactly one of `api` \(control plane\) or `view_file`/],
  ['both api and view_file', `${BASE}api: { url: "http://127.0.0.1:8080" }\n`, /: view_file: set exactly one of/],
  ['an api url that is not one', 'api: { url: "not a url" }\n', /: api\.url:/],
  ['token and token_file', 'api: { url: "http://127.0.0.1:8080", token: a, token_file: /t }\n', /api\.token_file: set token or token_file, not both/],
  ['api durations', 'api: { url: "http://127.0.0.1:8080", wait: 5s, retry: 500ms }\n', (c) => expect([c.api!.wait, c.api!.retry, c.api!.timeout]).toEqual([5_000, 500, 10_000])],
  ['api.first_view_wait', 'api: { url: "http://127.0.0.1:8080", first_view_wait: 2s }\n', (c) => expect(c.api!.first_view_wait).toBe(2_000)],
  // view_cache (serve-stale across restarts: dns/view-cache.ts)
  ['view_cache, relative to the config file', 'api: { url: "http://127.0.0.1:8080" }\nview_cache: { file: cache/view.cache }\n', (c) => expect(c.view_cache).toEqual({ file: '/etc/sluice/cache/view.cache', min_interval: 30_000 })],
  ['view_cache with a view_file', `${BASE}view_cache: { file: v.cache }\n`, /:2:1: view_cache: view_cache keeps views from the control plane: it needs `api`/],
  ['view_cache without a file', 'api: { url: "http://127.0.0.1:8080" }\nview_cache: { min_interval: 1m }\n', /view_cache\.file: /],
  ['view_cache.min_interval not a duration', 'api: { url: "http://127.0.0.1:8080" }\nview_cache: { file: v.cache, min_interval: often }\n', /view_cache\.min_interval: expected a duration such as/],
  ['a misspelt key', `${BASE}workres: 2\n`, /unknown key\(s\) "workres"/],
  // TLS: the API client (Prometheus tls_config names) and the metrics listener (web.config names)
  [
    'api.tls, relative files resolved against the config file',
    'api: { url: "https://cp.example.net:8443", token_file: t, tls: { ca_file: ca.pem, cert_file: dns.crt, key_file: dns.key, server_name: cp.example.net } }\n',
    (c) => expect(c.api!.tls).toEqual({ ca_file: '/etc/sluice/ca.pem', cert_file: '/etc/sluice/dns.crt', key_file: '/etc/sluice/dns.key', server_name: 'cp.example.net', min_version: 'TLS12' }),
  ],
  ['api.tls with an http:// url', 'api: { url: "http://127.0.0.1:8080", tls: { ca_file: ca.pem } }\n', /api\.url: api\.tls is set, so the control plane must be reached over https:\/\//],
  ['api.tls with one http:// replica', 'api: { urls: ["https://a:8443", "http://b:8080"], tls: { ca_file: ca.pem } }\n', /:1:\d+: api\.urls\[1\]: api\.tls is set/],
  ['api.tls with a certificate but no key', 'api: { url: "https://a:8443", tls: { cert_file: dns.crt } }\n', /api\.tls\.key_file: set cert_file and key_file together/],
  ['metrics.tls', `${BASE}metrics: { listen: "127.0.0.1:9153", tls: { cert_file: m.crt, key_file: m.key, client_ca_file: ca.pem, client_auth_type: RequireAndVerifyClientCert } }\n`, (c) => expect(c.metrics!.tls).toMatchObject({ cert_file: '/etc/sluice/m.crt', client_ca_file: '/etc/sluice/ca.pem', client_auth_type: 'RequireAndVerifyClientCert' })],
  ['metrics.tls without a key', `${BASE}metrics: { listen: "127.0.0.1:9153", tls: { cert_file: m.crt } }\n`, /metrics\.tls\.key_file: /],
  // ecs, workers, payload
  ['an IPv4 ECS scope beyond 32', `${BASE}ecs: { ipv4_scope_max: 33 }\n`, /: ecs\.ipv4_scope_max: .*32/],
  ['workers: auto', `${BASE}workers: auto\n`, (c) => expect(c.workers).toBe('auto')],
  ['workers: 0', `${BASE}workers: 0\n`, /workers: /],
  ['a UDP payload below 512', `${BASE}udp_payload_size: 511\n`, /udp_payload_size: .*512/],
  // udp_io (which UDP path serves; dns/server/udp-io.ts decides what auto means here)
  ['udp_io default', BASE, (c) => expect(c.udp_io).toBe('auto')],
  ['udp_io: dgram', `${BASE}udp_io: dgram\n`, (c) => expect(c.udp_io).toBe('dgram')],
  ['udp_io: recvmmsg', `${BASE}udp_io: recvmmsg\n`, (c) => expect(c.udp_io).toBe('recvmmsg')],
  ['an unknown udp_io', `${BASE}udp_io: sendmmsg\n`, /:2:1: udp_io: .*"auto"\|"recvmmsg"\|"dgram"/],
  // tcp (RFC 7766 §6.2.3 limits)
  ['tcp defaults (knot\'s timeouts)', BASE, (c) => expect(c.tcp).toEqual({ max_connections: 2000, idle_timeout: 10_000, message_timeout: 500, max_unsent: 16_384 })],
  ['tcp set', `${BASE}tcp: { max_connections: 50000, idle_timeout: 30s, message_timeout: 2s, max_unsent: 65536 }\n`, (c) => expect(c.tcp).toEqual({ max_connections: 50_000, idle_timeout: 30_000, message_timeout: 2_000, max_unsent: 65_536 })],
  ['tcp.idle_timeout not a duration', `${BASE}tcp: { idle_timeout: soon }\n`, /tcp\.idle_timeout: expected a duration such as/],
  ['tcp.message_timeout too short', `${BASE}tcp: { message_timeout: 50ms }\n`, /tcp\.message_timeout: expected a duration between 100 ms and 600 s/],
  ['tcp.idle_timeout too long for a timer', `${BASE}tcp: { idle_timeout: 48h }\n`, /tcp\.idle_timeout: expected a duration between 100 ms and 3600 s/],
  ['tcp.max_unsent below one answer', `${BASE}tcp: { max_unsent: 100 }\n`, /tcp\.max_unsent: .*512/],
  ['tcp.max_connections 0', `${BASE}tcp: { max_connections: 0 }\n`, /tcp\.max_connections: /],
  ['an unknown tcp key', `${BASE}tcp: { backlog: 5 }\n`, /unknown key\(s\) "backlog"/],
  // tsig_keys (RFC 8945)
  ['a TSIG key', `${BASE}tsig_keys: [{ name: Transfer.Example.com., secret: "${KEY}" }]\n`, (c) => expect(c.tsig_keys).toEqual([{ name: 'Transfer.Example.com.', algorithm: 'hmac-sha256', secret: KEY }])],
  ['a TSIG algorithm not implemented', `${BASE}tsig_keys: [{ name: k, algorithm: hmac-md5, secret: "${KEY}" }]\n`, /tsig_keys\[0\]\.algorithm: .*hmac-sha256/],
  ['a TSIG secret not in base64', `${BASE}tsig_keys: [{ name: k, secret: "not base64!" }]\n`, /tsig_keys\[0\]\.secret: expected the secret in base64/],
  ['a TSIG secret too short', `${BASE}tsig_keys: [{ name: k, secret: "c2hvcnQ=" }]\n`, /tsig_keys\[0\]\.secret: expected at least 16 bytes/],
  ['a TSIG key without a secret', `${BASE}tsig_keys: [{ name: k }]\n`, /tsig_keys\[0\]\.secret: /],
  ['a TSIG key name that is not a name', `${BASE}tsig_keys: [{ name: "a b", secret: "${KEY}" }]\n`, /tsig_keys\[0\]\.name: expected a DNS name/],
  // dnssec
  ['dnssec defaults', `${BASE}dnssec: { key_directory: keys }\n`, (c) => expect(c.dnssec).toMatchObject({ signature_validity: 7 * 86_400_000, refresh_before: 2 * 86_400_000, inception_offset: 3_600_000, dnskey_ttl: 3600, cache_size: 100_000, key_check_interval: 30_000 })],
  ['dnssec validity beyond a timer (an age, never scheduled)', `${BASE}dnssec: { key_directory: keys, signature_validity: 30d, refresh_before: 10d }\n`, (c) => expect(c.dnssec!.signature_validity).toBe(30 * 86_400_000)],
  ['dnssec refresh_before not shorter than the validity', `${BASE}dnssec: { key_directory: keys, refresh_before: 8d }\n`, /dnssec\.refresh_before: must be shorter than dnssec\.signature_validity/],
  ['dnssec refresh_before shorter than a TTL', `${BASE}dnssec: { key_directory: keys, refresh_before: 10m }\n`, /dnssec\.refresh_before: must be at least the longest TTL \(3600s\)/],
  ['dnssec key directory checked every 30 s by default, 0 turns it off', `${BASE}dnssec: { key_directory: keys, key_check_interval: 0 }\n`, (c) => expect(c.dnssec!.key_check_interval).toBe(0)],
  ['dnssec key_check_interval too short', `${BASE}dnssec: { key_directory: keys, key_check_interval: 10ms }\n`, /dnssec\.key_check_interval: must be at least 100ms, or 0/],
  ['dnssec without a key directory', `${BASE}dnssec: { dnskey_ttl: 60 }\n`, /dnssec\.key_directory: /],
  ['the same TSIG key twice', `${BASE}tsig_keys: [{ name: k.example, secret: "${KEY}" }, { name: K.Example., secret: "${KEY}" }]\n`, /:2:\d+: tsig_keys\[1\]\.name: key "K\.Example\." is defined twice/],
];

describe('dns config', () => {
  it.each(ROWS)('%s', (_what, yaml, expected) => {
    if (expected instanceof RegExp) expect(configProblem(DnsConfig, yaml)).toMatch(expected);
    else expected(resolvePaths(loadYaml(DnsConfig, yaml), '/etc/sluice'));
  });
});
