// The terraform role modules' templates, rendered from module inputs the way their main.tf calls
// templatefile() (test/deploy-terraform.test.ts checks that the keys passed there are exactly the
// ones the templates read). The rendered sluice configs must pass the subcommands' own config
// schemas; the cloud-init documents must be coherent with the systemd units and install.sh; and the
// rendered control-plane and DNS configs are then run for real on loopback: the control plane
// starts, deploy/bootstrap-topology.sh registers the example topology through its API,
// deploy/resolve-edge-id.sh fills an edge's id in, sluice edge-sync from that config fills a real
// HAProxy started from the rendered haproxy.cfg, and sluice dns answers dig from the rendered
// config, steering a client subnet by the geo mapping the module rendered. (The tests of that
// block run in order: each uses what the previous one registered or wrote.)
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { gunzipSync, gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { AgentConfig } from '../agent/config.ts';
import { ControlPlaneConfig } from '../api/config.ts';
import { DnsConfig } from '../dns/config.ts';
import { EdgeSyncConfig } from '../edge-sync/config.ts';
import { validateConfig } from '../lib/config-file.ts';
import { HttpGetter } from '../lib/http-get.ts';
import { secretModeProblem } from '../lib/secret-file.ts';
import { makeTestPki } from '../lib/testing/pki.ts';
import { TlsClientConfig } from '../lib/tls-config.ts';
import { ClientTls } from '../lib/tls-client.ts';
import { EdgeInput } from '../model/edge.ts';
import { LoadBalancerInput } from '../model/load-balancer.ts';
import { OriginInput } from '../model/origin.ts';
import { jsonencode, renderTemplate, type Value } from '../terraform/tools/template.ts';
import { unavailable } from './helpers/env.ts';
import { freePort } from './helpers/ports.ts';
import { REPO_ROOT, runSluice, startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { startHaproxy } from '../edge-sync/testing/processes.ts';
import { waitFor } from './helpers/wait.ts';

const MODULES = join(REPO_ROOT, 'terraform/modules');
const DEPLOY = join(REPO_ROOT, 'deploy');
const read = (p: string) => readFileSync(p, 'utf8');
const tpl = (module: string, name: string) => read(join(MODULES, module, 'templates', name));
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

// The hosts' TLS material, made by openssl (lib/testing/pki.ts): rendered into every cloud-init, and
// used for real when the rendered configs run on loopback (127.0.0.1 in the certificate).
const PKI = makeTestPki();
const HOST = PKI.issue('host', { cn: 'sluice-host', ou: 'sluice-read', sans: ['127.0.0.1', '10.10.1.10', '10.10.1.30'], usage: 'both' });
const TLS = { tls_ca_pem: read(PKI.ca), tls_cert_pem: read(HOST.cert), tls_key_pem: read(HOST.key) };
afterAll(() => PKI.remove());

const ADMIN_TOKEN = 'admin-0123456789abcdef0123456789abcdef';
const READ_TOKEN = 'read-0123456789abcdef0123456789abcdef';
const REPORT_TOKEN = 'report-0123456789abcdef0123456789abcd';
const PACKAGE = 'https://example.com/releases/sluice-0.1.0.tgz';

// ---- the modules' main.tf locals, for example inputs -------------------------------------------

function installArgv(roles: string, extra: string[] = [], sha = ''): string[] {
  return ['/usr/local/sbin/sluice-install', '--package', PACKAGE, '--roles', roles, ...extra, '--node-version', '20.18.1', ...(sha ? ['--sha256', sha] : [])];
}

interface ControlPlaneInputs {
  privateIp: string;
  apiPort: number;
  dnsPort: number;
  zone: string;
  useRecordingRules: boolean;
  geo: { cidr: string; lat: number; lon: number }[];
  agentTargets: string[];
  edgeTargets: string[];
  bootstrap: Value | null;
  /** Several replicas on one PostgreSQL (null: SQLite). */
  postgres?: { url: string; password: string; pool_size: number; ssl_mode: string; ca_pem: string } | null;
  controlPlaneUrls?: string[];
}

function renderControlPlane(i: ControlPlaneInputs) {
  const geoLocations = i.geo.map((m) => ({ cidr: m.cidr, location: { lat: m.lat, lon: m.lon } }));
  const pgIn = i.postgres ?? null;
  const controlPlaneConfig = renderTemplate(tpl('sluice-control-plane', 'control-plane.yaml.tftpl'), {
    replica_id: 'sluice-cp',
    postgres: pgIn === null ? null : { url: pgIn.url, pool_size: pgIn.pool_size, ssl_mode: pgIn.ssl_mode, has_ca: pgIn.ca_pem !== '' },
    api_port: i.apiPort,
    admin_token_sha256: sha256(ADMIN_TOKEN),
    read_token_sha256: sha256(READ_TOKEN),
    report_token_sha256: sha256(REPORT_TOKEN),
    scheduler_interval: '15s',
    use_recording_rules: i.useRecordingRules,
    geo_cidr_mappings: geoLocations,
  });
  const dnsConfig = renderTemplate(tpl('sluice-control-plane', 'dns.yaml.tftpl'), {
    private_ip: i.privateIp,
    dns_port: i.dnsPort,
    control_plane_urls: i.controlPlaneUrls && i.controlPlaneUrls.length > 0 ? i.controlPlaneUrls : [`https://${i.privateIp}:${i.apiPort}`],
    dns_zone: i.zone,
    nameserver: `ns1.${i.zone}`,
    dns_cidr_mappings: geoLocations,
  });
  const topology = i.bootstrap as { load_balancer: { name: string }; origins: { name: string; target_rps: number; max_rps: number }[] } | null;
  const capacityRules =
    topology === null
      ? ''
      : renderTemplate(tpl('sluice-control-plane', 'capacity-rules.yml.tftpl'), {
          load_balancer: topology.load_balancer.name,
          origins: topology.origins.map((o) => ({ name: o.name, target_rps: o.target_rps, max_rps: o.max_rps })),
        });
  const cloudInit = renderTemplate(tpl('sluice-control-plane', 'cloud-init.yaml.tftpl'), {
    install_script: read(join(DEPLOY, 'install.sh')),
    install_argv: installArgv('control-plane,dns'),
    api_url: `https://${i.privateIp}:${i.apiPort}`,
    ...TLS,
    control_plane_config: controlPlaneConfig,
    dns_config: dnsConfig,
    read_token: READ_TOKEN,
    admin_token: ADMIN_TOKEN,
    postgres_password: pgIn?.password ?? '',
    postgres_ca_pem: pgIn?.ca_pem ?? '',
    prometheus_args: 'ARGS="--web.listen-address=127.0.0.1:9090 --storage.tsdb.retention.time=15d"\n',
    prometheus_config: read(join(DEPLOY, 'prometheus/prometheus.yml')),
    prometheus_recording_rules: read(join(DEPLOY, 'prometheus/rules/sluice-recording.yml')),
    prometheus_alert_rules: read(join(DEPLOY, 'prometheus/rules/sluice-alerts.yml')),
    prometheus_capacity_rules: capacityRules,
    control_plane_targets: jsonencode([{ targets: [`${i.privateIp}:${i.apiPort}`], labels: { host: 'sluice-cp' } }]),
    dns_targets: jsonencode([{ targets: [`${i.privateIp}:9153`], labels: { host: 'sluice-cp' } }]),
    agent_targets: jsonencode(i.agentTargets.map((t) => ({ targets: [t], labels: {} }))),
    edge_sync_targets: jsonencode(i.edgeTargets.map((t) => ({ targets: [t], labels: {} }))),
    bootstrap_script: read(join(DEPLOY, 'bootstrap-topology.sh')),
    bootstrap_topology: i.bootstrap === null ? '' : jsonencode(i.bootstrap),
  });
  return { controlPlaneConfig, dnsConfig, cloudInit };
}

function renderAgent(node: string, ip: string, servicePorts: number[], upstreams: string[]) {
  return renderTemplate(tpl('sluice-origin', 'agent.yaml.tftpl'), { node, private_ip: ip, agent_port: 9465, service_ports: servicePorts, upstreams, poll_interval: '5s', min_samples: 5 });
}

function renderOrigin(name: string, region: string, ip: string, demoApp: boolean) {
  const agentConfig = renderAgent(name, ip, [80], []);
  const cloudInit = renderTemplate(tpl('sluice-origin', 'cloud-init.yaml.tftpl'), {
    install_script: read(join(DEPLOY, 'install.sh')),
    install_argv: installArgv('agent'),
    agent_config: agentConfig,
    ...TLS,
    demo_app: demoApp,
    demo_page: `<!doctype html><title>${name}</title><h1>origin ${name} (${region})</h1>\n`,
    demo_site: `server {\n  listen 80 default_server;\n  root /var/www/html;\n  keepalive_timeout 0;\n  location / { add_header X-Sluice-Origin ${name} always; }\n}\n`,
  });
  return { agentConfig, cloudInit };
}

function renderEdge(dataplane: 'haproxy' | 'ipvs', edgeId: string, listeners: { port: number; mode: string }[] = [{ port: 80, mode: 'http' }]) {
  const name = 'edge-eus';
  const ip = '10.10.1.30';
  const apiUrl = 'https://10.10.1.10:8080';
  const agentConfig = renderAgent(name, ip, listeners.map((l) => l.port), ['10.20.1.10:80', '10.30.1.10:80']);
  const edgeSyncConfig = renderTemplate(tpl('sluice-edge', 'edge-sync.yaml.tftpl'), {
    name,
    api_url: apiUrl,
    edge_id: edgeId === '' ? `unresolved-${name}` : edgeId,
    dataplane,
    private_ip: ip,
    metrics_port: 9310,
  });
  const haproxyConfig = renderTemplate(tpl('sluice-edge', 'haproxy.cfg.tftpl'), { load_balancer: 'web', listeners });
  const cloudInit = renderTemplate(tpl('sluice-edge', 'cloud-init.yaml.tftpl'), {
    install_script: read(join(DEPLOY, 'install.sh')),
    resolve_script: read(join(DEPLOY, 'resolve-edge-id.sh')),
    install_argv: installArgv('agent,edge-sync', ['--edge-dataplane', dataplane]),
    agent_config: agentConfig,
    edge_sync_config: edgeSyncConfig,
    haproxy_config: haproxyConfig,
    edge_token: REPORT_TOKEN,
    ...TLS,
    dataplane,
    api_url: apiUrl,
    name,
    resolve_edge_id: edgeId === '',
  });
  return { agentConfig, edgeSyncConfig, haproxyConfig, cloudInit };
}

/** The example's topology (examples/azure-three-regions/hosts.tf, local.topology), with enable_edge. */
function exampleTopology(origins: { name: string; region: string; ip: string; port: number; lat: number; lon: number }[]) {
  return {
    load_balancer: { name: 'web', dns: { zone: 'sluice.internal', hostname: 'app.sluice.internal', ttl: 30, answers: 1 }, listeners: [{ vip: '10.10.1.30', port: 80, protocol: 'http' }], policy: 'latency', max_latency_ms: 400, min_samples: 5, max_shift: 0.02 },
    origins: origins.map((o) => ({ name: o.name, region: o.region, addresses: [o.ip], port: o.port, location: { lat: o.lat, lon: o.lon }, target_rps: 20, max_rps: 30, health_check: { type: 'http', path: '/', interval_ms: 5000, timeout_ms: 2000 } })),
    edges: [{ name: 'edge-eus', region: 'eastus', address: '10.10.1.30', location: { lat: 37.37, lon: -79.82 } }],
  };
}

const AZURE_ORIGINS = [
  { name: 'origin-weu', region: 'westeurope', ip: '10.20.1.10', port: 80, lat: 52.37, lon: 4.89 },
  { name: 'origin-sea', region: 'southeastasia', ip: '10.30.1.10', port: 80, lat: 1.28, lon: 103.83 },
];
const GEO = [
  { cidr: '10.10.1.0/24', lat: 37.37, lon: -79.82 },
  { cidr: '10.30.1.0/24', lat: 1.28, lon: 103.83 },
];

// ---- cloud-init structure -------------------------------------------------------------------------

interface CloudConfig {
  packages?: string[];
  groups?: string[];
  users?: (string | { name: string; primary_group?: string; system?: boolean; shell?: string })[];
  write_files: { path: string; content: string; owner?: string; permissions?: string; defer?: boolean }[];
  runcmd: (string | string[])[];
}

function parseCloudConfig(text: string, opts: { runcmd: boolean } = { runcmd: true }): CloudConfig {
  expect(text.startsWith('#cloud-config\n')).toBe(true);
  const doc = parseYaml(text) as CloudConfig;
  expect(Array.isArray(doc.write_files)).toBe(true);
  expect(Array.isArray(doc.runcmd)).toBe(opts.runcmd);
  return doc;
}

const fileAt = (doc: CloudConfig, path: string) => {
  const f = doc.write_files.find((w) => w.path === path);
  expect(f, path).toBeDefined();
  return f!;
};

/** What every role's cloud-init must get right, whatever the role. */
function checkCommon(doc: CloudConfig, roles: string[]) {
  const install = doc.runcmd[0];
  expect(Array.isArray(install)).toBe(true);
  expect((install as string[]).slice(0, 5)).toEqual(['/usr/local/sbin/sluice-install', '--package', PACKAGE, '--roles', roles.join(',')]);
  expect(fileAt(doc, '/usr/local/sbin/sluice-install').content).toBe(read(join(DEPLOY, 'install.sh')));
  expect(fileAt(doc, '/usr/local/sbin/sluice-install').permissions).toBe('0755');

  const unitUsers: Record<string, string> = { 'control-plane': 'sluice-cp', agent: 'sluice-agent', dns: 'sluice-dns', 'edge-sync': 'sluice-edge' };
  const enabled = doc.runcmd.filter((c): c is string[] => Array.isArray(c) && c[0] === 'systemctl' && c[1] === 'enable').map((c) => /^sluice-(.+)\.service$/.exec(c[3]!)?.[1]);
  expect(enabled.sort()).toEqual([...roles].sort());
  for (const role of roles) {
    // The unit reads /etc/sluice/<role>.yaml as its user: the file exists, belongs to that group, and
    // is not world-readable; the user and group are created by cloud-init before the deferred write.
    const unit = read(join(DEPLOY, 'systemd', `sluice-${role}.service`));
    expect(unit).toContain(`ExecStart=/usr/local/bin/sluice ${role} --config /etc/sluice/${role}.yaml`);
    const config = fileAt(doc, `/etc/sluice/${role}.yaml`);
    expect(config.owner).toBe(`root:${unitUsers[role]}`);
    expect(config.permissions).toBe('0640');
    expect(config.defer).toBe(true);
    expect(doc.groups).toContain(unitUsers[role]);
    const user = doc.users?.find((u) => typeof u === 'object' && u.name === unitUsers[role]);
    expect(user, unitUsers[role]).toMatchObject({ primary_group: unitUsers[role], system: true, shell: '/usr/sbin/nologin' });
  }
  // Files owned by a group other than root's are written late, when the group exists.
  for (const f of doc.write_files) if (f.owner && f.owner !== 'root:root') expect(f.defer, f.path).toBe(true);
}

/** Azure: custom_data is at most 64 KiB once base64-encoded; the VM module sends it gzipped
 * (terraform's base64gzip), which cloud-init decompresses. The round trip is checked too. */
const azureCustomDataFits = (text: string) => {
  const sent = gzipSync(Buffer.from(text)).toString('base64');
  return sent.length <= 65535 && gunzipSync(Buffer.from(sent, 'base64')).toString() === text;
};

describe('control plane cloud-init', () => {
  const rendered = renderControlPlane({ privateIp: '10.10.1.10', apiPort: 8080, dnsPort: 53, zone: 'sluice.internal', useRecordingRules: true, geo: GEO, agentTargets: ['10.20.1.10:9465', '10.30.1.10:9465'], edgeTargets: ['10.10.1.30:9310'], bootstrap: exampleTopology(AZURE_ORIGINS) });
  const doc = parseCloudConfig(rendered.cloudInit);

  it('renders a control-plane.yaml that ControlPlaneConfig accepts, with token hashes only', () => {
    const config = validateConfig(ControlPlaneConfig, parseYaml(fileAt(doc, '/etc/sluice/control-plane.yaml').content), 'control-plane.yaml');
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(config.data_dir).toBe('/var/lib/sluice/control-plane');
    expect(config.auth.admin_tokens).toEqual([`sha256:${sha256(ADMIN_TOKEN)}`]);
    expect(config.auth.read_tokens).toEqual([`sha256:${sha256(READ_TOKEN)}`]);
    expect(config.auth.report_tokens).toEqual([`sha256:${sha256(REPORT_TOKEN)}`]);
    expect(rendered.controlPlaneConfig).not.toContain(REPORT_TOKEN);
    expect(rendered.controlPlaneConfig).not.toContain(ADMIN_TOKEN);
    expect(rendered.controlPlaneConfig).not.toContain(READ_TOKEN);
    // HTTPS with the host's certificate; client certificates (OU) map to roles beside the tokens.
    expect(config.tls).toMatchObject({ cert_file: '/etc/sluice/tls/host.crt', key_file: '/etc/sluice/tls/control-plane.key', client_ca_file: '/etc/sluice/tls/ca.crt', client_auth_type: 'VerifyClientCertIfGiven' });
    expect(config.auth.client_certificates).toEqual({ admin_ous: ['sluice-admin'], report_ous: ['sluice-report'], read_ous: ['sluice-read'] });
    expect(config.insecure).toBe(false);
    expect(config.scheduler.prometheus?.url).toBe('http://127.0.0.1:9090');
    expect(config.scheduler.prometheus?.queries.edge_demand).toContain('sluice:edge_demand:rate1m');
    expect(config.scheduler.geoip.cidr_mappings).toEqual([
      { cidr: '10.10.1.0/24', location: { lat: 37.37, lon: -79.82 } },
      { cidr: '10.30.1.0/24', location: { lat: 1.28, lon: 103.83 } },
    ]);
  });

  it('writes the CA, the host certificate and one key copy per service user, root-owned 0640 (what sluice\'s permission check accepts)', () => {
    expect(fileAt(doc, '/etc/sluice/tls/ca.crt')).toMatchObject({ content: read(PKI.ca), permissions: '0644' });
    expect(fileAt(doc, '/etc/sluice/tls/host.crt')).toMatchObject({ content: read(HOST.cert), permissions: '0644' });
    for (const [path, owner] of [
      ['/etc/sluice/tls/control-plane.key', 'root:sluice-cp'],
      ['/etc/sluice/tls/dns.key', 'root:sluice-dns'],
      ['/etc/prometheus/tls/prometheus.key', 'root:prometheus'],
    ] as const) {
      const f = fileAt(doc, path);
      expect(f).toMatchObject({ content: read(HOST.key), owner, permissions: '0640', defer: true });
      expect(secretModeProblem({ mode: 0o100000 | Number.parseInt(f.permissions!, 8), uid: 0, isFile: () => true }, 'linux'), path).toBeNull();
    }
    expect(fileAt(doc, '/etc/prometheus/tls/ca.crt').content).toBe(read(PKI.ca));
    expect(fileAt(doc, '/etc/prometheus/tls/prometheus.crt').content).toBe(read(HOST.cert));
    // Prometheus reaches the API and the DNS metrics where the certificate names them.
    expect(JSON.parse(fileAt(doc, '/etc/prometheus/targets/control-plane.yml').content)[0].targets).toEqual(['10.10.1.10:8080']);
    expect(JSON.parse(fileAt(doc, '/etc/prometheus/targets/dns.yml').content)[0].targets).toEqual(['10.10.1.10:9153']);
  });

  it('with postgres: every replica points at the database, the password only in a sluice-cp-readable file, DNS follows all replicas', () => {
    const urls = ['https://10.10.1.10:8080', 'https://10.10.1.11:8080', 'https://10.10.1.12:8080'];
    const ha = renderControlPlane({
      privateIp: '10.10.1.11', apiPort: 8080, dnsPort: 53, zone: 'sluice.internal', useRecordingRules: true, geo: [], agentTargets: [], edgeTargets: [], bootstrap: null,
      postgres: { url: 'postgres://sluice@db.internal:5432/sluice', password: 'pg-secret-xyz', pool_size: 10, ssl_mode: 'verify-full', ca_pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' },
      controlPlaneUrls: urls,
    });
    const d = parseCloudConfig(ha.cloudInit);
    const config = validateConfig(ControlPlaneConfig, parseYaml(fileAt(d, '/etc/sluice/control-plane.yaml').content), 'control-plane.yaml');
    expect(config.replica_id).toBe('sluice-cp');
    expect(config.postgres).toMatchObject({ url: 'postgres://sluice@db.internal:5432/sluice', password_file: '/etc/sluice/postgres.password', pool_size: 10, ssl: { mode: 'verify-full', ca_file: '/etc/sluice/postgres-ca.pem' } });
    expect(ha.controlPlaneConfig).not.toContain('pg-secret-xyz');
    expect(fileAt(d, '/etc/sluice/postgres.password')).toMatchObject({ owner: 'root:sluice-cp', permissions: '0640', content: 'pg-secret-xyz' });
    expect(fileAt(d, '/etc/sluice/postgres-ca.pem').content).toContain('BEGIN CERTIFICATE');
    const dnsConfig = validateConfig(DnsConfig, parseYaml(fileAt(d, '/etc/sluice/dns.yaml').content), 'dns.yaml');
    expect(dnsConfig.api?.urls).toEqual(urls);
  });

  it('without recording rules the scheduler keeps its default queries', () => {
    const plain = renderControlPlane({ privateIp: '10.10.1.10', apiPort: 8080, dnsPort: 53, zone: 'sluice.internal', useRecordingRules: false, geo: [], agentTargets: [], edgeTargets: [], bootstrap: null });
    const config = validateConfig(ControlPlaneConfig, parseYaml(plain.controlPlaneConfig), 'control-plane.yaml');
    expect(config.scheduler.prometheus?.queries).toEqual({});
    expect(config.scheduler.geoip.cidr_mappings).toEqual([]);
    const d = parseCloudConfig(plain.cloudInit);
    expect(d.write_files.map((f) => f.path)).not.toContain('/etc/sluice/admin.token');
    expect(d.write_files.map((f) => f.path)).not.toContain('/etc/prometheus/rules/sluice-capacity.yml');
    expect(d.runcmd.some((c) => Array.isArray(c) && c.includes('/usr/local/sbin/sluice-bootstrap'))).toBe(false);
  });

  it('renders a dns.yaml that DnsConfig accepts, bound to the private address (not 0.0.0.0: systemd-resolved holds 127.0.0.53:53)', () => {
    const config = validateConfig(DnsConfig, parseYaml(fileAt(doc, '/etc/sluice/dns.yaml').content), 'dns.yaml');
    expect(config.listen).toEqual([{ host: '10.10.1.10', port: 53 }]);
    expect(config.api?.urls).toEqual(['https://10.10.1.10:8080']);
    expect(config.api?.token_file).toBe('/etc/sluice/dns.token');
    expect(config.api?.tls).toMatchObject({ ca_file: '/etc/sluice/tls/ca.crt', cert_file: '/etc/sluice/tls/host.crt', key_file: '/etc/sluice/tls/dns.key' });
    expect(config.metrics).toMatchObject({ listen: { host: '10.10.1.10', port: 9153 }, tls: { key_file: '/etc/sluice/tls/dns.key', client_auth_type: 'RequireAndVerifyClientCert' } });
    expect(fileAt(doc, '/etc/sluice/dns.token')).toMatchObject({ content: READ_TOKEN, owner: 'root:sluice-dns', permissions: '0640' });
    expect(config.geoip.cidr_mappings).toHaveLength(2);
    // Inside the unit's StateDirectory, the one path sluice-dns.service may write.
    expect(config.view_cache?.file).toBe('/var/lib/sluice/dns/view.cache');
    expect(readFileSync(join(REPO_ROOT, 'deploy/systemd/sluice-dns.service'), 'utf8')).toMatch(/^ReadWritePaths=\/var\/lib\/sluice\/dns$/m);
  });

  it('installs sluice, then starts the control plane, registers the topology, starts DNS and restarts Prometheus', () => {
    checkCommon(doc, ['control-plane', 'dns']);
    const steps = doc.runcmd.map((c) => (Array.isArray(c) ? c.slice(0, 4).join(' ') : c));
    expect(steps).toEqual([
      expect.stringContaining('/usr/local/sbin/sluice-install'),
      'systemctl enable --now sluice-control-plane.service',
      'env CURL_CA_BUNDLE=/etc/sluice/tls/ca.crt /usr/local/sbin/sluice-bootstrap https://10.10.1.10:8080',
      'systemctl enable --now sluice-dns.service',
      'systemctl restart prometheus.service',
    ]);
    expect(fileAt(doc, '/etc/sluice/admin.token')).toMatchObject({ content: ADMIN_TOKEN, permissions: '0600' });
    expect(fileAt(doc, '/usr/local/sbin/sluice-bootstrap').content).toBe(read(join(DEPLOY, 'bootstrap-topology.sh')));
  });

  it('the bootstrap topology is what the API accepts (load balancer, origin and edge schemas)', () => {
    const topo = JSON.parse(fileAt(doc, '/etc/sluice/bootstrap.json').content) as ReturnType<typeof exampleTopology>;
    expect(LoadBalancerInput.safeParse(topo.load_balancer).success).toBe(true);
    for (const o of topo.origins) expect(OriginInput.safeParse(o).error?.message ?? 'ok', o.name).toBe('ok');
    for (const e of topo.edges) expect(EdgeInput.safeParse(e).error?.message ?? 'ok', e.name).toBe('ok');
  });

  it('installs deploy/prometheus as is, its token for Prometheus only, and target files for every scrape job', () => {
    expect(fileAt(doc, '/etc/prometheus/prometheus.yml').content).toBe(read(join(DEPLOY, 'prometheus/prometheus.yml')));
    expect(fileAt(doc, '/etc/prometheus/rules/sluice-alerts.yml').content).toBe(read(join(DEPLOY, 'prometheus/rules/sluice-alerts.yml')));
    expect(fileAt(doc, '/etc/prometheus/rules/sluice-recording.yml').content).toBe(read(join(DEPLOY, 'prometheus/rules/sluice-recording.yml')));
    expect(fileAt(doc, '/etc/prometheus/sluice-read.token')).toMatchObject({ content: READ_TOKEN, owner: 'root:prometheus', permissions: '0640' });
    expect(doc.packages).toContain('prometheus');
    expect(fileAt(doc, '/etc/default/prometheus').content).toContain('--web.listen-address=127.0.0.1:9090');
    // Every file_sd glob in prometheus.yml matches a target file the cloud-init writes.
    const prom = parseYaml(read(join(DEPLOY, 'prometheus/prometheus.yml'))) as { scrape_configs: { job_name: string; file_sd_configs?: { files: string[] }[] }[] };
    const written = doc.write_files.map((f) => f.path);
    for (const job of prom.scrape_configs) {
      for (const glob of (job.file_sd_configs ?? []).flatMap((c) => c.files)) {
        const re = new RegExp(`^/etc/prometheus/${glob.replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`);
        expect(written.some((p) => re.test(p)), `${job.job_name}: ${glob}`).toBe(true);
      }
    }
    // Capacities from the bootstrap topology, as series for the dashboard and the over-target alerts.
    const capacity = parseYaml(fileAt(doc, '/etc/prometheus/rules/sluice-capacity.yml').content) as { groups: { rules: { record: string; expr: string; labels: Record<string, string> }[] }[] };
    expect(capacity.groups[0]!.rules.map((r) => `${r.labels.origin} ${r.labels.bound} ${r.expr}`)).toEqual(['origin-weu target vector(20)', 'origin-weu max vector(30)', 'origin-sea target vector(20)', 'origin-sea max vector(30)']);
    const agents = JSON.parse(fileAt(doc, '/etc/prometheus/targets/agents.yml').content) as { targets: string[] }[];
    expect(agents.flatMap((t) => t.targets)).toEqual(['10.20.1.10:9465', '10.30.1.10:9465']);
  });

  it('fits in Azure custom_data (64 KiB base64)', () => {
    expect(azureCustomDataFits(rendered.cloudInit)).toBe(true);
  });
});

describe('origin cloud-init', () => {
  it('renders an agent.yaml that AgentConfig accepts, named after the origin, listening on the private address', () => {
    const { cloudInit } = renderOrigin('origin-weu', 'westeurope', '10.20.1.10', true);
    const doc = parseCloudConfig(cloudInit);
    const config = validateConfig(AgentConfig, parseYaml(fileAt(doc, '/etc/sluice/agent.yaml').content), 'agent.yaml');
    expect(config.node).toBe('origin-weu');
    expect(config.listen).toEqual({ host: '10.20.1.10', port: 9465 });
    expect(config.service_ports).toEqual([80]);
    expect(config.include_loopback).toBe(false);
    expect(config.tls).toMatchObject({ cert_file: '/etc/sluice/tls/host.crt', key_file: '/etc/sluice/tls/agent.key', client_ca_file: '/etc/sluice/tls/ca.crt', client_auth_type: 'RequireAndVerifyClientCert' });
    expect(fileAt(doc, '/etc/sluice/tls/agent.key')).toMatchObject({ content: read(HOST.key), owner: 'root:sluice-agent', permissions: '0640', defer: true });
    expect(fileAt(doc, '/etc/sluice/tls/ca.crt').content).toBe(read(PKI.ca));
    checkCommon(doc, ['agent']);
    expect(doc.packages).toContain('nginx');
    expect(fileAt(doc, '/etc/nginx/sites-available/default').content).toContain('keepalive_timeout 0;');
    expect(azureCustomDataFits(cloudInit)).toBe(true);
  });

  it('without the demo app it installs no nginx and touches no nginx file', () => {
    const doc = parseCloudConfig(renderOrigin('origin-sea', 'southeastasia', '10.30.1.10', false).cloudInit);
    expect(doc.packages).not.toContain('nginx');
    expect(doc.write_files.map((f) => f.path).filter((p) => p.includes('nginx') || p.includes('www'))).toEqual([]);
    expect(doc.runcmd.flat()).not.toContain('nginx.service');
  });
});

describe('edge cloud-init', () => {
  for (const dataplane of ['haproxy', 'ipvs'] as const) {
    it(`${dataplane}: renders edge-sync.yaml and agent.yaml the schemas accept`, () => {
      const r = renderEdge(dataplane, '');
      const doc = parseCloudConfig(r.cloudInit);
      const config = validateConfig(EdgeSyncConfig, parseYaml(fileAt(doc, '/etc/sluice/edge-sync.yaml').content), 'edge-sync.yaml');
      expect(config.edge).toBe('edge-eus');
      expect(config.api?.token_file).toBe('/etc/sluice/edge.token');
      // The edge reports its health checks with the report token (a vote in the quorum).
      expect(config.health.report).toBe(true);
      expect(fileAt(doc, '/etc/sluice/edge.token')).toMatchObject({ content: REPORT_TOKEN, permissions: '0640' });
      expect(config.api?.url).toBe('https://10.10.1.10:8080');
      expect(config.api?.tls).toMatchObject({ ca_file: '/etc/sluice/tls/ca.crt', cert_file: '/etc/sluice/tls/host.crt', key_file: '/etc/sluice/tls/edge-sync.key' });
      expect(config.metrics.tls).toMatchObject({ key_file: '/etc/sluice/tls/edge-sync.key', client_auth_type: 'RequireAndVerifyClientCert' });
      expect(fileAt(doc, '/etc/sluice/tls/edge-sync.key')).toMatchObject({ owner: 'root:sluice-edge', permissions: '0640' });
      expect(fileAt(doc, '/etc/sluice/tls/agent.key')).toMatchObject({ owner: 'root:sluice-agent', permissions: '0640' });
      expect(config.dataplane.map((d) => d.type)).toEqual([dataplane]);
      const agent = validateConfig(AgentConfig, parseYaml(fileAt(doc, '/etc/sluice/agent.yaml').content), 'agent.yaml');
      expect(agent.node).toBe('edge-eus');
      expect(agent.upstreams).toEqual([
        { host: '10.20.1.10', port: 80 },
        { host: '10.30.1.10', port: 80 },
      ]);
      checkCommon(doc, ['agent', 'edge-sync']);
      expect(doc.runcmd[0]).toContain('--edge-dataplane');
      expect(doc.runcmd[0]).toContain(dataplane);
      expect(doc.packages).toContain(dataplane === 'haproxy' ? 'haproxy' : 'ipvsadm');
      expect(doc.write_files.some((f) => f.path === '/etc/haproxy/haproxy.cfg')).toBe(dataplane === 'haproxy');
      // The id is found by name at boot, before edge-sync starts.
      // curl in the script verifies the control plane with the sluice CA.
      const resolve = doc.runcmd.findIndex((c) => Array.isArray(c) && c.includes('/usr/local/sbin/sluice-resolve-edge-id'));
      expect(resolve).toBeGreaterThan(0);
      expect((doc.runcmd[resolve] as string[]).slice(0, 2)).toEqual(['env', 'CURL_CA_BUNDLE=/etc/sluice/tls/ca.crt']);
      expect(resolve).toBeLessThan(doc.runcmd.findIndex((c) => Array.isArray(c) && c[3] === 'sluice-edge-sync.service'));
    });
  }

  it('a known edge_id is rendered as is and nothing is resolved at boot', () => {
    const doc = parseCloudConfig(renderEdge('haproxy', 'edg_123').cloudInit);
    const config = validateConfig(EdgeSyncConfig, parseYaml(fileAt(doc, '/etc/sluice/edge-sync.yaml').content), 'edge-sync.yaml');
    expect(config.api?.edge_id).toBe('edg_123');
    expect(doc.runcmd.flat()).not.toContain('/usr/local/sbin/sluice-resolve-edge-id');
  });

  it.skipIf(unavailable({ tools: { haproxy: 'haproxy' } }))('the rendered haproxy.cfg passes `haproxy -c`, with one backend per listener named as edge-sync expects', () => {
    const r = renderEdge('haproxy', '', [
      { port: 80, mode: 'http' },
      { port: 443, mode: 'tcp' },
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'slc-haproxy-'));
    try {
      // Only the socket path is moved (to the temp dir): `haproxy -c` checks that its directory exists.
      const file = join(dir, 'haproxy.cfg');
      writeFileSync(file, r.haproxyConfig.replace('/run/haproxy/admin.sock', join(dir, 'admin.sock')));
      const check = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
      expect(check.status, check.stdout + check.stderr).toBe(0);
      const sync = validateConfig(EdgeSyncConfig, parseYaml(r.edgeSyncConfig), 'edge-sync.yaml');
      const dp = sync.dataplane[0]!;
      expect(dp.type === 'haproxy' && dp.backend_name).toBe('{load_balancer}_{port}');
      expect(r.haproxyConfig).toMatch(/^backend web_80\n {2}mode http$/m);
      expect(r.haproxyConfig).toMatch(/^backend web_443\n {2}mode tcp$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('traffic generator cloud-init (example)', () => {
  it('renders, and its scripts pass bash -n', () => {
    const text = renderTemplate(read(join(REPO_ROOT, 'terraform/examples/azure-three-regions/templates/traffic-generator.yaml.tftpl')), {
      dns_server: '10.10.1.10',
      hostname: 'app.sluice.internal',
      api_url: 'https://10.10.1.10:8080',
      ca_pem: read(PKI.ca),
      origins: AZURE_ORIGINS.map((o) => ({ name: o.name, ip: o.ip })),
    });
    const doc = parseCloudConfig(text, { runcmd: false });
    const scripts = doc.write_files.filter((f) => f.path.startsWith('/usr/local/bin/'));
    expect(scripts.map((s) => s.path).sort()).toEqual(['/usr/local/bin/generate-traffic', '/usr/local/bin/test-cluster']);
    for (const s of scripts) {
      const r = spawnSync('bash', ['-n'], { input: s.content, encoding: 'utf8' });
      expect(r.status, `${s.path}: ${r.stderr}`).toBe(0);
      if (!unavailable({ tools: { shellcheck: 'shellcheck' } })) {
        const lint = spawnSync('shellcheck', ['-S', 'style', '-'], { input: s.content, encoding: 'utf8' });
        expect(lint.stdout, s.path).toBe('');
      }
    }
    expect(fileAt(doc, '/usr/local/bin/generate-traffic').content).toContain('dig +short +time=1 +tries=1 @10.10.1.10 app.sluice.internal A');
    expect(fileAt(doc, '/usr/local/bin/generate-traffic').content).toContain("'%{header_json}'");
    expect(fileAt(doc, '/usr/local/bin/test-cluster').content).toContain('curl -fsS -m 3 http://10.30.1.10/');
  });
});

// ---- the rendered configs, run ---------------------------------------------------------------------

describe.skipIf(unavailable({ tools: { dig: 'dnsutils', jq: 'jq', curl: 'curl', haproxy: 'haproxy' } }))('rendered configs run on loopback', () => {
  let dir: string;
  let cp: SluiceProcess | undefined;
  let dns: SluiceProcess | undefined;
  const origins: Server[] = [];
  let api = '';
  let dnsPort = 0;
  // Loopback stand-ins for the Azure origins (health-checked for real), same names and locations.
  const LOCAL_ORIGINS = AZURE_ORIGINS.map((o, i) => ({ ...o, ip: `127.0.0.${i + 2}`, port: 0 }));

  // The API is HTTPS (the rendered config's tls block, with the test PKI's files): verified with its CA.
  const client = new HttpGetter(new ClientTls(TlsClientConfig.parse({ ca_file: PKI.ca }), 'test'));
  const getJson = async (path: string) => {
    const res = await client.get(api + path, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
    expect(res.status, path).toBe(200);
    return JSON.parse(res.body) as { items: { id: string; name: string }[] };
  };
  /** The rendered TLS paths (/etc/sluice/tls/...) pointed at the test PKI's files (keys 0600). */
  const localTls = (block: Record<string, string>) => {
    const map: Record<string, string> = { '/etc/sluice/tls/ca.crt': PKI.ca, '/etc/sluice/tls/host.crt': HOST.cert };
    for (const [k, v] of Object.entries(block)) if (typeof v === 'string' && v.startsWith('/etc/sluice/tls/')) block[k] = map[v] ?? HOST.key;
    return block;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slc-deploy-'));
    for (const o of LOCAL_ORIGINS) {
      const srv = createServer((_req, res) => res.end(`${o.name}\n`));
      await new Promise<void>((resolve) => srv.listen(0, o.ip, resolve));
      o.port = (srv.address() as { port: number }).port;
      origins.push(srv);
    }
    const apiPort = await freePort();
    dnsPort = await freePort();
    api = `https://127.0.0.1:${apiPort}`;
    const rendered = renderControlPlane({ privateIp: '127.0.0.1', apiPort, dnsPort, zone: 'sluice.internal', useRecordingRules: true, geo: GEO, agentTargets: [], edgeTargets: [], bootstrap: null });

    // The rendered file, with only what differs on a test host: loopback listener, temp data dir.
    const cpDoc = parseYaml(rendered.controlPlaneConfig) as Record<string, unknown>;
    cpDoc.listen = `127.0.0.1:${apiPort}`;
    cpDoc.data_dir = join(dir, 'data');
    localTls(cpDoc.tls as Record<string, string>);
    writeFileSync(join(dir, 'control-plane.yaml'), stringifyYaml(cpDoc));
    cp = startSluice(['control-plane', '--config', join(dir, 'control-plane.yaml')]);
    await waitFor(() => cp!.output().includes('listening on'), { timeoutMs: 20_000, what: `control plane start: ${cp.output()}` });

    writeFileSync(join(dir, 'admin.token'), ADMIN_TOKEN);
    writeFileSync(join(dir, 'read.token'), READ_TOKEN, { mode: 0o600 });
    writeFileSync(join(dir, 'topology.json'), JSON.stringify(exampleTopology(LOCAL_ORIGINS)));
  });

  afterAll(async () => {
    client.close();
    await dns?.stop();
    await cp?.stop();
    for (const s of origins) await new Promise((r) => s.close(r));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // The origins above answer from this very process: a script run with spawnSync would freeze them, the
  // control plane's health checks would time out, and under load they would be marked down. Scripts
  // therefore run asynchronously, and so does dig below.
  const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('close', (status) => resolve({ status, stdout, stderr }));
    });
  // As cloud-init runs them: curl trusts the sluice CA through CURL_CA_BUNDLE.
  const bootstrap = () => run('bash', [join(DEPLOY, 'bootstrap-topology.sh'), api, join(dir, 'admin.token'), join(dir, 'topology.json')], { BOOTSTRAP_WAIT: '20', CURL_CA_BUNDLE: PKI.ca });

  it('bootstrap-topology.sh registers the load balancer, origins and edge through the API, idempotently', async () => {
    const first = await bootstrap();
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/created load balancer web \(\S+\)/);
    expect(first.stdout).toContain('created origin origin-weu');
    expect(first.stdout).toContain('created edge edge-eus');
    const second = await bootstrap();
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/load balancer web exists/);
    expect(second.stdout).not.toContain('created');
    const lbs = await getJson('/api/v1/load-balancers');
    expect(lbs.items.map((l) => l.name)).toEqual(['web']);
    const registered = await getJson(`/api/v1/load-balancers/${lbs.items[0]!.id}/origins`);
    expect(registered.items.map((o) => o.name).sort()).toEqual(['origin-sea', 'origin-weu']);
  });

  it('bootstrap-topology.sh fails loudly with a token the API refuses', async () => {
    writeFileSync(join(dir, 'wrong.token'), 'not-the-admin-token-at-all');
    const r = await run('bash', [join(DEPLOY, 'bootstrap-topology.sh'), api, join(dir, 'wrong.token'), join(dir, 'topology.json')], { CURL_CA_BUNDLE: PKI.ca });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/HTTP 401/);
  });

  it('resolve-edge-id.sh writes the registered id into the rendered edge-sync.yaml, which stays valid', async () => {
    const edges = await getJson('/api/v1/edges');
    const id = edges.items.find((e) => e.name === 'edge-eus')!.id;
    const file = join(dir, 'edge-sync.yaml');
    writeFileSync(file, renderEdge('haproxy', '').edgeSyncConfig);
    const r = await run('bash', [join(DEPLOY, 'resolve-edge-id.sh'), api, join(dir, 'read.token'), 'edge-eus', file], { RESOLVE_WAIT: '10', CURL_CA_BUNDLE: PKI.ca });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`edge edge-eus is ${id}`);
    const config = validateConfig(EdgeSyncConfig, parseYaml(read(file)), file);
    expect(config.api?.edge_id).toBe(id);
    expect(read(file).replace(id, 'unresolved-edge-eus')).toBe(renderEdge('haproxy', '').edgeSyncConfig);
  });

  it('sluice edge-sync, from the rendered edge-sync.yaml, puts both origins into HAProxy started from the rendered haproxy.cfg', async () => {
    const r = renderEdge('haproxy', '');
    // What differs on a test host: loopback listener and socket in the temp dir. The backend keeps the
    // name the load balancer's listener (port 80) gives it, which is what edge-sync looks for.
    const fePort = await freePort();
    const sock = join(dir, 'admin.sock');
    const cfgPath = join(dir, 'haproxy.cfg');
    writeFileSync(cfgPath, r.haproxyConfig.replace('bind :80', `bind 127.0.0.1:${fePort}`).replace('/run/haproxy/admin.sock', sock));
    const haproxy = await startHaproxy(cfgPath, sock);
    try {
      const sync = parseYaml(read(join(dir, 'edge-sync.yaml'))) as { api: Record<string, unknown>; state_file: string; dataplane: Record<string, unknown>[]; metrics: Record<string, unknown> };
      sync.api.url = api;
      sync.api.token_file = join(dir, 'read.token');
      localTls(sync.api.tls as Record<string, string>);
      localTls(sync.metrics.tls as Record<string, string>);
      sync.state_file = join(dir, 'edge-sync-state.json');
      sync.dataplane[0]!.admin_socket = sock;
      sync.dataplane[0]!.config_file = cfgPath;
      sync.metrics.listen = `127.0.0.1:${await freePort()}`;
      writeFileSync(join(dir, 'edge-sync-run.yaml'), stringifyYaml(sync));
      // What follows asserts that both origins serve; that holds once the control plane sees both healthy
      // (an origin it has marked down is rightly given weight 0).
      await waitFor(
        async () => {
          const res = await client.get(`${api}/api/v1/health`, { headers: { authorization: `Bearer ${READ_TOKEN}` }, signal: AbortSignal.timeout(5000) });
          const items = (JSON.parse(res.body) as { items: { healthy: boolean }[] }).items;
          return items.every((h) => h.healthy);
        },
        { timeoutMs: 30_000, intervalMs: 200, what: `both origins healthy in the control plane (${cp!.output().split('\n').filter((l) => l.includes('healthy')).slice(-4).join(' | ')})` },
      );
      const once = await runSluice(['edge-sync', '--config', join(dir, 'edge-sync-run.yaml'), '--once']);
      expect(once.code, once.stderr).toBe(0);
      // No weights are published yet (no Prometheus here), so the origins' static weights apply: both serve.
      const seen = new Set<string>();
      await waitFor(
        async () => {
          const res = await fetch(`http://127.0.0.1:${fePort}/`, { signal: AbortSignal.timeout(5000) });
          seen.add((await res.text()).trim());
          return seen.has('origin-weu') && seen.has('origin-sea');
        },
        { timeoutMs: 15_000, intervalMs: 100, what: `both origins behind HAProxy (seen ${[...seen].join(', ')})` },
      );
      const rewritten = read(cfgPath);
      for (const o of LOCAL_ORIGINS) expect(rewritten).toContain(`${o.ip}:${o.port}`);
    } finally {
      await haproxy.stop();
    }
  });

  it('sluice dns runs from the rendered dns.yaml and steers each client subnet by the rendered geo mapping', async () => {
    const rendered = renderControlPlane({ privateIp: '127.0.0.1', apiPort: Number(new URL(api).port), dnsPort, zone: 'sluice.internal', useRecordingRules: true, geo: GEO, agentTargets: [], edgeTargets: [], bootstrap: null });
    const dnsDoc = parseYaml(rendered.dnsConfig) as { api: { token_file: string; tls: Record<string, string> }; metrics: { listen: string; tls: Record<string, string> }; view_cache: { file: string } };
    dnsDoc.api.token_file = join(dir, 'read.token');
    dnsDoc.view_cache.file = join(dir, 'dns-view.cache');
    localTls(dnsDoc.api.tls);
    localTls(dnsDoc.metrics.tls);
    dnsDoc.metrics.listen = `127.0.0.1:${await freePort()}`;
    writeFileSync(join(dir, 'dns.yaml'), stringifyYaml(dnsDoc));
    dns = startSluice(['dns', '--config', join(dir, 'dns.yaml')]);
    const dig = async (subnet: string) => (await run('dig', ['@127.0.0.1', '-p', String(dnsPort), 'app.sluice.internal', 'A', '+short', '+time=1', '+tries=1', `+subnet=${subnet}`])).stdout.trim();
    // Origins become healthy after `rise` checks; until then there is nothing to answer.
    // East US clients (10.10.1.0/24): West Europe is nearer than Singapore. Singapore clients: Singapore.
    await waitFor(async () => (await dig('10.10.1.0/24')) === '127.0.0.2', { timeoutMs: 30_000, intervalMs: 250, what: `east-us answer; dns output: ${dns!.output().slice(-2000)}` });
    await waitFor(async () => (await dig('10.30.1.0/24')) === '127.0.0.3', { timeoutMs: 10_000, intervalMs: 250, what: 'singapore answer' });
  });
});
