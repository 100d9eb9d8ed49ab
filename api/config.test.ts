// The control plane's config, key by key: what loads, what each default is, and what each mistake says.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../lib/config-file.ts';
import { configProblem, loadYaml } from '../test/helpers/config-cases.ts';
import { ControlPlaneConfig } from './config.ts';

describe('control plane config', () => {
  it('loads examples/control-plane.yaml', () => {
    const c = loadConfigFile(ControlPlaneConfig, fileURLToPath(new URL('../examples/control-plane.yaml', import.meta.url)));
    expect(c).toMatchObject({ listen: { host: '127.0.0.1', port: 8080 }, data_dir: './data', api: { long_poll_max: 60_000 }, health_checks: { enabled: true } });
  });

  it('loads examples/control-plane-ha.yaml (a replica on PostgreSQL)', () => {
    const c = loadConfigFile(ControlPlaneConfig, fileURLToPath(new URL('../examples/control-plane-ha.yaml', import.meta.url)));
    expect(c).toMatchObject({ replica_id: 'cp-a', postgres: { password_file: '/etc/sluice/postgres.password', ssl: { mode: 'verify-full' } }, scheduler: { lease_ttl: 45_000 } });
  });

  it('health by quorum: a majority of at least two, 20 s stale, 10 s hold-down by default; report tokens bound or not', () => {
    expect(loadYaml(ControlPlaneConfig, '').health).toEqual({ quorum: 'majority', min_down: 2, stale_after: 20_000, forget_after: 600_000, hold_down: 10_000, evaluate_interval: 1000, report_interval: 5000, observation_retention: 86_400_000 });
    const c = loadYaml(ControlPlaneConfig, 'health:\n  quorum: 3\n  hold_down: 30s\nauth:\n  report_tokens: ["any-edge-token-0123456789", { token: "edge-a-token-0123456789", edge: edge-a }]\n');
    expect(c.health).toMatchObject({ quorum: 3, hold_down: 30_000 });
    expect(c.auth.report_tokens).toEqual(['any-edge-token-0123456789', { token: 'edge-a-token-0123456789', edge: 'edge-a' }]);
  });

  it('an empty file is the embedded defaults: loopback, ./data, no tokens, the scheduler on', () => {
    expect(loadYaml(ControlPlaneConfig, '')).toMatchObject({
      listen: { host: '127.0.0.1', port: 8080 },
      data_dir: './data',
      auth: { admin_tokens: [], read_tokens: [] },
      api: { body_limit_bytes: 1024 * 1024, long_poll_max: 60_000, long_poll_per_client: 64, header_timeout: 10_000, request_timeout: 30_000, docs: true },
      health_checks: { enabled: true },
      scheduler: { enabled: true, interval: 15_000, hold_cycles: 8 },
    });
  });

  it.each([
    ['listen: somewhere\n', /:1:1: listen: expected HOST:PORT/],
    ['auth:\n  admin_tokens: [short]\n', /:2:18: auth\.admin_tokens\[0\]: tokens must be at least 16 characters/],
    ['auth:\n  read_tokens: ["sha256:abc"]\n', /auth\.read_tokens\[0\]: expected "sha256:" followed by 64 lower-case hex digits/],
    ['api:\n  body_limit_bytes: 10\n', /:2:3: api\.body_limit_bytes: /],
    ['api:\n  long_poll_max: forever\n', /api\.long_poll_max: expected a duration/],
    ['api:\n  colour: blue\n', /:2:3: api: unknown key\(s\) "colour"/],
    ['api:\n  long_poll_max: 60000\n', /api\.long_poll_max: a bare number is ambiguous; write the unit, e\.g\. "60000ms" or "60s"/],
    ['api:\n  long_poll_max: 30d\n', /api\.long_poll_max: "30d" is longer than a timer can wait/],
    ['api:\n  long_poll_per_client: 0\n', /api\.long_poll_per_client: /],
    ['api:\n  header_timeout: 10ms\n', /api\.header_timeout: must be at least 100ms/],
    ['auth:\n  report_tokens: [{ token: short, edge: e }]\n', /auth\.report_tokens\[0\]/],
    ['health:\n  quorum: most\n', /health\.quorum: /],
    ['health:\n  min_down: 0\n', /health\.min_down: /],
    ['health:\n  report_interval: 15s\n', /health\.report_interval: must be at most half of health\.stale_after/],
    ['health:\n  evaluate_interval: 10ms\n', /health\.evaluate_interval: must be at least 50ms/],
    ['health:\n  forget_after: 5s\n', /health\.forget_after: must be at least health\.stale_after/],
    ['api:\n  header_timeout: 1m\n  request_timeout: 30s\n', /api\.header_timeout: must not exceed api\.request_timeout/],
    ['scheduler:\n  decision_retention: 40000d\n', /scheduler\.decision_retention: "40000d" is longer than a retention period may be: at most 3650 days/],
    ['log_level: loud\n', /:1:1: log_level: /],
    ['scheduler:\n  interval: 50ms\n', /:2:3: scheduler\.interval: must be at least 200ms/],
    ['scheduler:\n  hold_cycles: -1\n', /scheduler\.hold_cycles: /],
    ['scheduler:\n  prometheus: {url: "not a url"}\n', /scheduler\.prometheus\.url: /],
    ['scheduler:\n  prometheus: {url: "http://127.0.0.1:9090"}\n  scrape: {targets: ["http://127.0.0.1:9465"]}\n', /scheduler\.scrape\.targets: set either prometheus\.url or scrape\.targets, not both/],
    ['scheduler:\n  geoip: {cidr_mappings: [{cidr: 10.0.0.0/33, location: {lat: 0, lon: 0}}]}\n', /scheduler\.geoip\.cidr_mappings\[0\]\.cidr: /],
    ['health_checks: {enabled: maybe}\n', /health_checks\.enabled: /],
    ['postgres: {url: "mysql://db/sluice"}\n', /postgres\.url: expected a URL such as postgres:\/\//],
    ['postgres: {url: "postgres://s@db/sluice", password_file: /p, password_env: PW}\n', /postgres\.password_env: set password_file or password_env, not both/],
    ['postgres: {url: "postgres://s:secret@db/sluice", password_file: /p}\n', /postgres\.url: the URL has a password and password_file\/password_env is set too/],
    ['postgres: {url: "postgres://s@db/sluice?sslmode=require"}\n', /postgres\.url: set TLS with postgres\.ssl\.mode/],
    ['postgres: {url: "postgres://s@db/sluice", ssl: {mode: verify-full}}\n', /postgres\.ssl\.ca_file: ssl\.mode verify-full needs the CA/],
    ['postgres: {url: "postgres://s@db/sluice", ssl: {mode: sometimes}}\n', /postgres\.ssl\.mode: /],
    ['postgres: {url: "postgres://s@db/sluice", pool_size: 1}\n', /postgres\.pool_size: /],
    ['replica_id: "cp a"\n', /replica_id: letters, digits/],
    ['tls: {cert_file: a.pem}\n', /:1:1: tls\.key_file: /],
    ['tls: {cert_file: a, key_file: b, client_ca_file: c}\n', /tls\.client_auth_type: client_ca_file is set but client_auth_type is NoClientCert/],
    ['tls: {cert_file: a, key_file: b, min_version: TLS10}\n', /tls\.min_version: /],
    ['tls: {cert_file: a, key_file: b}\ninsecure: true\n', /:2:1: insecure: insecure: true allows plain HTTP; it makes no sense with tls set/],
    ['auth: {client_certificates: {read_ous: [sluice-read]}}\n', /:1:8: auth\.client_certificates: client certificate roles need tls\.client_ca_file/],
    ['tls: {cert_file: a, key_file: b}\nauth: {client_certificates: {read_ous: [sluice-read]}}\n', /auth\.client_certificates: client certificate roles need tls\.client_ca_file/],
    ['tls: {cert_file: a, key_file: b, client_ca_file: c, client_auth_type: VerifyClientCertIfGiven}\nauth: {client_certificates: {read_ous: [""]}}\n', /auth\.client_certificates\.read_ous\[0\]: /],
    ['scheduler:\n  prometheus: {url: "http://p:9090", tls: {ca_file: /ca.pem}}\n', /scheduler\.prometheus\.url: prometheus\.tls is set, so Prometheus must be reached over https:\/\//],
    ['dnssec: {key_directory: ""}\n', /dnssec\.key_directory: /],
    ['dnssec: {keys: /etc/keys}\n', /dnssec: unknown key\(s\) "keys"/],
  ])('rejects %j: %s', (yaml, expected) => {
    expect(configProblem(ControlPlaneConfig, yaml)).toMatch(expected);
  });

  it('TLS with client certificate roles loads; insecure is off by default', () => {
    const c = loadYaml(
      ControlPlaneConfig,
      'listen: 0.0.0.0:8443\ntls:\n  cert_file: /etc/sluice/tls/cp.crt\n  key_file: /etc/sluice/tls/cp.key\n  client_ca_file: /etc/sluice/tls/ca.crt\n  client_auth_type: VerifyClientCertIfGiven\nauth:\n  client_certificates: {admin_ous: [sluice-admin], report_ous: [sluice-report], read_ous: [sluice-read]}\n',
    );
    expect(c.tls).toEqual({ cert_file: '/etc/sluice/tls/cp.crt', key_file: '/etc/sluice/tls/cp.key', client_ca_file: '/etc/sluice/tls/ca.crt', client_auth_type: 'VerifyClientCertIfGiven', min_version: 'TLS12', reload_interval: 10_000 });
    expect(c.auth.client_certificates).toEqual({ admin_ous: ['sluice-admin'], report_ous: ['sluice-report'], read_ous: ['sluice-read'] });
    expect(c.insecure).toBe(false);
  });

  it('a postgres block: defaults, and the password never in what is shown', async () => {
    const { pgConnection, redactUrl } = await import('./store/pg-connection.ts');
    const c = loadYaml(ControlPlaneConfig, 'postgres:\n  url: postgres://sluice@db.example.net:5433/sluice\n  password_env: SLUICE_TEST_PW\n');
    expect(c.postgres).toMatchObject({ pool_size: 10, connect_timeout: 5000, statement_timeout: 10_000, idle_in_transaction_timeout: 5000, change_poll: 1000, ssl: { mode: 'disable' } });
    const conn = pgConnection(c.postgres!, 'cp-a', { SLUICE_TEST_PW: 'hunter2-secret' });
    expect(conn.options).toMatchObject({ host: 'db.example.net', port: 5433, database: 'sluice', user: 'sluice', password: 'hunter2-secret', max: 10, ssl: false });
    expect(conn.display).not.toContain('hunter2');
    expect(conn.redact('auth failed for hunter2-secret')).toBe('auth failed for ***');
    expect(redactUrl('postgres://u:pw@h/db')).toBe('postgres://u:***@h/db');
    expect(() => pgConnection(c.postgres!, 'cp-a', {})).toThrow(/postgres\.password_env: the environment variable SLUICE_TEST_PW is not set/);
    const tls = loadYaml(ControlPlaneConfig, 'postgres:\n  url: postgres://sluice@db/sluice\n  ssl: {mode: require}\n');
    expect(pgConnection(tls.postgres!, 'cp-a').options.ssl).toEqual({ rejectUnauthorized: false });
    const missingCa = loadYaml(ControlPlaneConfig, 'postgres:\n  url: postgres://sluice@db/sluice\n  ssl: {mode: verify-ca, ca_file: /nonexistent/ca.pem}\n');
    expect(() => pgConnection(missingCa.postgres!, 'cp-a')).toThrow(/postgres\.ssl\.ca_file: cannot read \/nonexistent\/ca\.pem: ENOENT/);
  });
});
