import { describe, expect, it } from 'vitest';
import { configProblem, loadYaml } from '../test/helpers/config-cases.ts';
import { loadAgentConfig } from './config.ts';

const load = (yaml: string) => loadYaml(loadAgentConfig, yaml);
const problem = (yaml: string) => configProblem(loadAgentConfig, yaml);

describe('agent config', () => {
  it('loads examples/agent.yaml with every key', () => {
    const c = loadAgentConfig(new URL('../examples/agent.yaml', import.meta.url).pathname);
    expect(c).toMatchObject({
      node: 'origin-eu-1',
      listen: { host: '127.0.0.1', port: 9465 },
      service_ports: [80, 443],
      upstreams: [{ host: '192.0.2.10', port: 443 }, { host: '2001:db8::10', port: 443 }],
      poll_interval: 10_000,
      min_connection_age: 5000,
      ipv4_prefix: 24,
      ipv6_prefix: 48,
      ewma_alpha: 0.3,
      max_subnets: 100_000,
      subnet_ttl: 168 * 3_600_000,
      min_samples: 5,
      subnet_series_budget: 1000,
      subnet_aggregation: { ipv4_prefixes: [16, 20], ipv6_prefixes: [32, 40], exact_share: 0.5 },
    });
  });

  it('defaults to the documented values', () => {
    const c = load('service_ports: [443]\n');
    expect(c).toMatchObject({ poll_interval: 10_000, min_connection_age: 5000, ipv4_prefix: 24, ipv6_prefix: 48, ewma_alpha: 0.3, max_subnets: 100_000, subnet_ttl: 604_800_000, min_samples: 5, include_loopback: false });
  });

  it('names the file, the key and the expectation for bad values', () => {
    expect(problem('service_ports: [443]\newma_alpha: 1.5\n')).toMatch(/ewma_alpha: .*<= ?1/);
    expect(problem('service_ports: [443]\nipv4_prefix: 33\n')).toMatch(/ipv4_prefix/);
    expect(problem('service_ports: [443]\npoll_interval: soon\n')).toMatch(/poll_interval: expected a duration/);
    expect(problem('service_ports: [70000]\n')).toMatch(/service_ports\[0\]/);
    expect(problem('upstreams: [origin.example.com:443]\n')).toMatch(/upstreams\[0\]: an upstream must be an IP address/);
    expect(problem('service_ports: [443]\nmax_subnet: 5\n')).toMatch(/unknown key.*max_subnet/);
    expect(problem('node: x\n')).toMatch(/nothing to learn/);
    expect(problem('service_ports: [443]\nmin_samples: 0\n')).toMatch(/min_samples/);
    expect(problem('service_ports: [443]\nsubnet_aggregation: {ipv4_prefixes: [20, 16]}\n')).toMatch(/subnet_aggregation\.ipv4_prefixes: aggregation prefixes must be ascending/);
    expect(problem('service_ports: [443]\nipv4_prefix: 16\nsubnet_aggregation: {ipv4_prefixes: [16]}\n')).toMatch(/shorter than ipv4_prefix/);
    expect(problem('service_ports: [443]\nsubnet_aggregation: {exact_share: 2}\n')).toMatch(/subnet_aggregation\.exact_share/);
  });

  it('tls: the endpoints over HTTPS, Prometheus web.config names', () => {
    expect(load('service_ports: [443]\ntls: {cert_file: /a.crt, key_file: /a.key, client_ca_file: /ca.pem, client_auth_type: RequireAndVerifyClientCert}\n').tls).toEqual({
      cert_file: '/a.crt',
      key_file: '/a.key',
      client_ca_file: '/ca.pem',
      client_auth_type: 'RequireAndVerifyClientCert',
      min_version: 'TLS12',
      reload_interval: 10_000,
    });
    expect(problem('service_ports: [443]\ntls: {cert_file: /a.crt, key_file: /a.key, client_ca_file: /ca.pem}\n')).toMatch(/tls\.client_auth_type: client_ca_file is set but client_auth_type is NoClientCert/);
    expect(problem('service_ports: [443]\ntls: {key_file: /a.key}\n')).toMatch(/tls\.cert_file: /);
  });

  it('bounds durations to what a timer can hold, wants a unit, and says what it expected', () => {
    // 30 days overflows Node's timers (2^31-1 ms): setTimeout would fire at once and the agent spin.
    expect(problem('service_ports: [443]\npoll_interval: 30d\n')).toMatch(/poll_interval: "30d" is longer than a timer can wait: at most 24\.8 days/);
    expect(problem('service_ports: [443]\npoll_interval: 10000\n')).toMatch(/poll_interval: a bare number is ambiguous; write the unit, e.g. "10000ms" or "10s"/);
    expect(problem('service_ports: [443]\npoll_interval: 1e400\n')).toMatch(/poll_interval: expected a duration: a number with a unit such as "500ms".*got Infinity/);
    expect(problem('service_ports: [443]\nmin_connection_age: .inf\n')).toMatch(/min_connection_age: expected a duration/);
    expect(problem('service_ports: [443]\npoll_interval: "1e400s"\n')).toMatch(/poll_interval: expected a duration such as/);
    // A time-to-live is compared with timestamps, never scheduled: a month is fine.
    expect(load('service_ports: [443]\nsubnet_ttl: 30d\nmin_connection_age: 0\n')).toMatchObject({ subnet_ttl: 30 * 86_400_000, min_connection_age: 0 });
  });
});
