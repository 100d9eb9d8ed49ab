// `sluice edge-sync` YAML config. Validated with zod; a bad file is reported as FILE: key: expectation
// by lib/config-file.ts before anything is touched.
import { hostname } from 'node:os';
import { z } from 'zod';
import { loadConfigFile } from '../lib/config-file.ts';
import { TlsClientConfig, TlsServerConfig } from '../lib/tls-config.ts';
import { notHttps } from '../lib/tls-client.ts';
import { Duration, HostPort } from '../model/primitives.ts';

const Command = z.array(z.string().min(1)).min(1).describe('argv, no shell: ["nginx", "-s", "reload"]');
const PoolName = z.string().min(1).max(200).describe('template: {load_balancer}, {load_balancer_id}, {port}, {vip}, {protocol}');

export const HaproxyDataPlane = z.strictObject({
  type: z.literal('haproxy'),
  name: z.string().min(1).default('haproxy'),
  admin_socket: z.string().min(1).describe('stats socket with "level admin": a unix socket path, or HOST:PORT'),
  config_file: z.string().min(1).optional().describe('the haproxy.cfg whose backend server lines are kept in sync, so a reload keeps the weights'),
  backend_name: PoolName.default('{load_balancer}_{port}'),
  server_options: z.string().default('').describe('appended to every server line / add server, e.g. "check inter 2s"'),
  weight_total: z.number().int().min(1).max(256).default(256).describe('shares of one backend are apportioned over this many units (<= 256, so every server stays within 0..256)'),
  binary: z.string().min(1).default('haproxy'),
  validate: z.boolean().default(true).describe('check the rewritten haproxy.cfg with `haproxy -c` before it replaces the old one'),
  hard_moves: z.boolean().default(false).describe('when a server goes to weight 0 (unhealthy, disabled, share 0) or is removed, also end its established sessions (`shutdown sessions server`): clients reconnect to the others at once instead of staying until they close'),
  timeout: Duration.default(5000),
});

export const NginxDataPlane = z.strictObject({
  type: z.literal('nginx'),
  name: z.string().min(1).default('nginx'),
  upstream_file: z.string().min(1).describe('file sluice owns and rewrites: one upstream block per listener; include it from nginx.conf'),
  context: z.enum(['http', 'stream', 'all']).default('all').describe('which listeners this file serves: http = protocol http/https (include it in http {}), stream = tcp/udp (include it in stream {})'),
  upstream_name: PoolName.default('{load_balancer}_{port}'),
  upstream_directives: z.array(z.string()).default([]).describe('extra lines inside every upstream block, e.g. "keepalive 32;"'),
  server_options: z.string().default('').describe('appended to every server line, e.g. "max_fails=2 fail_timeout=5s"'),
  binary: z.string().min(1).default('nginx'),
  args: z.array(z.string()).default([]).describe('passed to every nginx call before -t / -s reload, e.g. ["-c", "/etc/nginx/nginx.conf"]'),
  test_command: Command.optional().describe('default: [binary, ...args, "-t"]'),
  reload_command: Command.optional().describe('default: [binary, ...args, "-s", "reload"]'),
  weight_total: z.number().int().min(1).max(100_000).default(1000),
  access_log: z.string().min(1).optional().describe('access log written with the sluice log_format (see README): per-listener and per-origin demand'),
  stub_status_url: z.string().url().optional().describe('http://127.0.0.1:8081/nginx_status: server-wide totals'),
  timeout: Duration.default(15_000),
});

export const IpvsDataPlane = z.strictObject({
  type: z.literal('ipvs'),
  name: z.string().min(1).default('ipvs'),
  ipvsadm: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .default('ipvsadm')
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .describe('the ipvsadm binary, or an argv prefix such as ["ip", "netns", "exec", "lb", "ipvsadm"]'),
  restore_file: z.string().min(1).optional().describe('an ipvsadm-restore file of the full desired table, rewritten on every change (load it at boot)'),
  scheduler: z.enum(['wrr', 'wlc', 'rr', 'lc', 'sh', 'dh', 'lblc', 'lblcr', 'sed', 'nq', 'mh', 'fo', 'ovf', 'twos']).default('wrr'),
  forwarding: z.enum(['masq', 'route', 'tunnel']).default('masq').describe('masq = NAT (-m), route = direct routing (-g), tunnel = IPIP (-i)'),
  persistence: Duration.optional().describe('ipvsadm -p (seconds, rounded up)'),
  weight_total: z.number().int().min(1).max(65_535).default(1000),
  hard_moves: z.boolean().default(false).describe('set net.ipv4.vs.expire_quiescent_template=1 (persistent clients leave a server at weight 0) and expire_nodest_conn=1 (connections to a removed server are dropped, so its clients reconnect)'),
  sysctl_dir: z.string().min(1).default('/proc/sys/net/ipv4/vs').describe('where the IPVS sysctls are written (hard_moves)'),
  timeout: Duration.default(10_000),
});

export const DataPlaneConfig = z.discriminatedUnion('type', [HaproxyDataPlane, NginxDataPlane, IpvsDataPlane]);
export type HaproxyDataPlane = z.output<typeof HaproxyDataPlane>;
export type NginxDataPlane = z.output<typeof NginxDataPlane>;
export type IpvsDataPlane = z.output<typeof IpvsDataPlane>;
export type DataPlaneConfig = z.output<typeof DataPlaneConfig>;

export const ApiConfig = z.strictObject({
  url: z.string().url().optional().describe('control plane base URL, e.g. http://cp.example.net:8080'),
  urls: z.array(z.string().url()).min(1).max(16).optional().describe("every control-plane replica's base URL, nearest first; on failure the next is tried at once (instead of url)"),
  token: z.string().min(1).optional().describe('omit only for a control plane without tokens (it then listens on loopback only)'),
  token_file: z.string().min(1).optional().describe('read the bearer token from this file (preferred over token; refused when group- or world-readable)'),
  tls: TlsClientConfig.optional().describe('for https:// URLs: CA bundle, server-name pin, client certificate (mTLS)'),
  edge_id: z.string().min(1),
  wait: Duration.default(30_000).describe('long-poll wait sent as ?wait=<seconds>'),
  timeout: Duration.optional().describe('per-request timeout; default wait + 15s'),
});

export const RetryConfig = z.strictObject({
  initial: Duration.default(1000),
  max: Duration.default(60_000),
  multiplier: z.number().min(1).max(10).default(2),
  jitter: z.number().min(0).max(1).default(0.2).describe('± fraction of each delay, so a fleet of edges does not retry in lock-step'),
});

export const EdgeSyncConfig = z
  .strictObject({
    edge: z.string().min(1).optional().describe('the `edge` metric label; default: the edge name in the EdgeConfig'),
    api: ApiConfig.optional(),
    config_file: z.string().min(1).optional().describe('a static EdgeConfig JSON instead of the API (dry runs, tests, air-gapped edges)'),
    state_file: z.string().min(1).optional().describe('remembers the last applied EdgeConfig so listeners removed while sluice was down are cleaned up'),
    // One data plane or a list; normalised to a list first so errors name dataplane[i].key.
    dataplane: z.preprocess((v) => (v === undefined || v === null || Array.isArray(v) ? v : [v]), z.array(DataPlaneConfig).min(1)),
    metrics: z
      .strictObject({
        listen: HostPort.default({ host: '127.0.0.1', port: 9310 }),
        poll_interval: Duration.default(5000).describe('how often data-plane statistics are read'),
        enabled: z.boolean().default(true),
        tls: TlsServerConfig.optional().describe('serve /metrics over HTTPS (Prometheus scrape tls_config); with client_ca_file, client certificates'),
      })
      .prefault({}),
    retry: RetryConfig.prefault({}),
    health: z
      .strictObject({
        report: z.boolean().default(true).describe("report what this edge sees of each origin to the control plane (a vote in its quorum, and this edge's own reachability); needs api"),
        poll_interval: Duration.refine((ms) => ms >= 50, 'must be at least 50ms').default(1000).describe("how often the data planes' health state is read (and a changed verdict reported)"),
        report_interval: Duration.default(5000).describe('an unchanged report is sent again after this long (heartbeat; keep it well under the control plane\'s health.stale_after)'),
        timeout: Duration.default(3000).describe('per report request'),
        local_fallback: z.boolean().default(true).describe('while no control-plane replica accepts reports, drop the origins this edge sees down from its own weights'),
      })
      .prefault({}),
    resync_interval: Duration.default(30_000).describe('with a static config_file: how often drift is checked and repaired'),
    dry_run: z.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    if (!c.api === !c.config_file) ctx.addIssue({ code: 'custom', path: ['api'], message: 'set exactly one of api (control plane) or config_file (static EdgeConfig JSON)' });
    if (c.api && !c.api.url === !c.api.urls) ctx.addIssue({ code: 'custom', path: ['api', 'url'], message: 'set api.url (one control plane) or api.urls (its replicas), not both' });
    if (c.api?.token && c.api.token_file) ctx.addIssue({ code: 'custom', path: ['api', 'token_file'], message: 'set token or token_file, not both' });
    if (c.api?.tls) notHttps(c.api.url ? [c.api.url] : (c.api.urls ?? [])).forEach((i) => ctx.addIssue({ code: 'custom', path: ['api', ...(c.api!.url ? ['url'] : ['urls', i])], message: 'api.tls is set, so the control plane must be reached over https://' }));
    if (c.retry.max < c.retry.initial) ctx.addIssue({ code: 'custom', path: ['retry', 'max'], message: 'must be >= retry.initial' });
    // The control plane holds a long poll for up to `wait`: a shorter timeout abandons every poll.
    if (c.api?.timeout !== undefined && c.api.timeout <= c.api.wait) {
      ctx.addIssue({ code: 'custom', path: ['api', 'timeout'], message: `must be longer than api.wait (${c.api.wait}ms): a long poll is held for up to wait, so a shorter timeout abandons every poll (default: wait + 15s)` });
    }
    const names = c.dataplane.map((d) => d.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) ctx.addIssue({ code: 'custom', path: ['dataplane'], message: `two data planes are named "${dup}"; give each a distinct name` });
  });
export type EdgeSyncConfig = z.output<typeof EdgeSyncConfig>;

export function loadEdgeSyncConfig(file: string): EdgeSyncConfig {
  return loadConfigFile(EdgeSyncConfig, file);
}

export function defaultEdgeLabel(): string {
  return hostname();
}
