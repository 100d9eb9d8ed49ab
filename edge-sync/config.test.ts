import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EdgeConfig } from '../model/views.ts';
import { configProblem, loadYaml } from '../test/helpers/config-cases.ts';
import { loadEdgeSyncConfig } from './config.ts';

const examples = fileURLToPath(new URL('../examples/', import.meta.url));
const load = (yaml: string) => loadYaml(loadEdgeSyncConfig, yaml);
const problems = (yaml: string) => configProblem(loadEdgeSyncConfig, yaml);

describe('edge-sync config', () => {
  it('the examples load, and the sample EdgeConfig matches the API contract', () => {
    const c = loadEdgeSyncConfig(join(examples, 'edge-sync.yaml'));
    expect(c.dataplane.map((d) => d.type)).toEqual(['haproxy', 'ipvs']);
    expect(c.api?.wait).toBe(30_000);
    expect(c.metrics.listen).toEqual({ host: '0.0.0.0', port: 9310 });
    expect(loadEdgeSyncConfig(join(examples, 'edge-sync-dry-run.yaml')).dataplane[0]!.type).toBe('nginx');
    expect(EdgeConfig.safeParse(JSON.parse(readFileSync(join(examples, 'edge-config.json'), 'utf8'))).success).toBe(true);
  });

  it('defaults: one data plane object is a list of one; haproxy scale 256, ipvs wrr/masq', () => {
    const c = load('config_file: x.json\ndataplane:\n  type: haproxy\n  admin_socket: /run/h.sock\n');
    expect(c.dataplane[0]).toMatchObject({ type: 'haproxy', weight_total: 256, backend_name: '{load_balancer}_{port}', validate: true });
    expect(load('config_file: x.json\ndataplane: [{type: ipvs}]\n').dataplane[0]).toMatchObject({ scheduler: 'wrr', forwarding: 'masq', ipvsadm: ['ipvsadm'], weight_total: 1000 });
  });

  it('health reports: on, every second, heartbeat 5 s, local fallback on', () => {
    expect(load('config_file: x.json\ndataplane: [{type: ipvs}]\n').health).toEqual({ report: true, poll_interval: 1000, report_interval: 5000, timeout: 3000, local_fallback: true });
    expect(problems('config_file: x.json\ndataplane: [{type: ipvs}]\nhealth:\n  poll_interval: 1ms\n')).toMatch(/health\.poll_interval: must be at least 50ms/);
    expect(problems('config_file: x.json\ndataplane: [{type: ipvs}]\nhealth:\n  vote: yes\n')).toMatch(/health: unknown key\(s\) "vote"/);
  });

  it('bad configs name the key and what was expected', () => {
    expect(problems('dataplane:\n  type: haproxy\n  admin_socket: /s\n')).toMatch(/: api: set exactly one of api .* or config_file/);
    expect(problems('config_file: x\ndataplane:\n  type: f5\n')).toMatch(/dataplane\[0\]\.type: /);
    expect(problems('config_file: x\ndataplane:\n  type: haproxy\n')).toMatch(/dataplane\[0\]\.admin_socket: /);
    expect(problems('config_file: x\ndataplane:\n  type: haproxy\n  admin_socket: /s\n  weight_total: 1000\n')).toMatch(/dataplane\[0\]\.weight_total: .*256/);
    // No token is valid: a control plane without tokens answers on loopback (it refuses to bind elsewhere).
    expect(() => problems('api:\n  url: http://127.0.0.1:8080\n  edge_id: e1\ndataplane: {type: ipvs}\n')).toThrow('expected a config error');
    expect(problems('config_file: x\ndataplane: {type: ipvs, scheduler: fastest}\n')).toMatch(/dataplane\[0\]\.scheduler: /);
    expect(problems('config_file: x\ndataplane: {type: ipvs}\nretry: {initial: 10s, max: 1s}\n')).toMatch(/retry\.max: must be >= retry\.initial/);
    expect(problems('config_file: x\ndataplane: [{type: ipvs}, {type: ipvs}]\n')).toMatch(/two data planes are named "ipvs"/);
    expect(problems('config_file: x\ndataplane: {type: ipvs}\nmetrics: {listen: nowhere}\n')).toMatch(/metrics\.listen: expected HOST:PORT/);
    expect(problems('config_file: x\ndataplane: {type: ipvs}\nbogus: 1\n')).toMatch(/unknown key\(s\) "bogus"/);
    // A per-request timeout shorter than the long-poll wait would abandon every poll.
    expect(problems('api: {url: "http://127.0.0.1:8080", edge_id: e1, wait: 30s, timeout: 10s}\ndataplane: {type: ipvs}\n')).toMatch(/api\.timeout: must be longer than api\.wait \(30000ms\)/);
    expect(problems('api: {url: "http://127.0.0.1:8080", edge_id: e1, wait: 30s, timeout: 30s}\ndataplane: {type: ipvs}\n')).toMatch(/api\.timeout: must be longer than api\.wait/);
    expect(load('api: {url: "http://127.0.0.1:8080", edge_id: e1, wait: 30s, timeout: 35s}\ndataplane: {type: ipvs}\n').api?.timeout).toBe(35_000);
  });

  it('TLS: api.tls (Prometheus tls_config names) needs https:// URLs; metrics.tls (web.config names)', () => {
    const c = load('api: {urls: ["https://cp-a:8443", "https://cp-b:8443"], token_file: /t, edge_id: e1, tls: {ca_file: /ca.pem, cert_file: /e.crt, key_file: /e.key}}\ndataplane: {type: ipvs}\nmetrics: {tls: {cert_file: /m.crt, key_file: /m.key}}\n');
    expect(c.api?.tls).toEqual({ ca_file: '/ca.pem', cert_file: '/e.crt', key_file: '/e.key', min_version: 'TLS12' });
    expect(c.metrics.tls).toMatchObject({ cert_file: '/m.crt', client_auth_type: 'NoClientCert', reload_interval: 10_000 });
    expect(problems('api: {url: "http://cp:8080", edge_id: e1, tls: {ca_file: /ca.pem}}\ndataplane: {type: ipvs}\n')).toMatch(/api\.url: api\.tls is set, so the control plane must be reached over https:\/\//);
    expect(problems('api: {url: "https://cp:8443", edge_id: e1, tls: {key_file: /k}}\ndataplane: {type: ipvs}\n')).toMatch(/api\.tls\.cert_file: set cert_file and key_file together/);
    expect(problems('api: {url: "https://cp:8443", edge_id: e1, token: abc, token_file: /t}\ndataplane: {type: ipvs}\n')).toMatch(/api\.token_file: set token or token_file, not both/);
    expect(problems('config_file: x\ndataplane: {type: ipvs}\nmetrics: {tls: {cert_file: /m.crt, key_file: /m.key, client_auth_type: RequireAndVerifyClientCert}}\n')).toMatch(/metrics\.tls\.client_ca_file: client_auth_type RequireAndVerifyClientCert needs client_ca_file/);
  });

  it('bad configs name the line and column of the key (or of the object missing it)', () => {
    const cases: [yaml: string, expected: RegExp][] = [
      ['config_file: x\ndataplane:\n  type: haproxy\n  admin_socket: /s\n  weight_total: 1000\n', /\.yaml:5:3: dataplane\[0\]\.weight_total: /],
      ['config_file: x\ndataplane: {type: ipvs}\nbogus: 1\n', /\.yaml:3:1: unknown key\(s\) "bogus"/],
      ['config_file: x\ndataplane:\n  - type: ipvs\n  - type: f5\n', /\.yaml:4:5: dataplane\[1\]\.type: /],
      ['config_file: x\ndataplane:\n  type: haproxy\n', /\.yaml:2:1: dataplane\[0\]\.admin_socket: /],
      ['config_file: x\ndataplane: [\n', /\.yaml:3:1: not valid YAML: (?!.*at line)/],
      // A problem of the whole file has no line to give.
      ['dataplane:\n  type: haproxy\n  admin_socket: /s\n', /\.yaml: api: set exactly one/],
    ];
    for (const [yaml, expected] of cases) expect(problems(yaml)).toMatch(expected);
  });
});
