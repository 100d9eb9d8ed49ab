// A real Prometheus (Debian package `prometheus`) for tests: temp config and storage, a kernel-chosen
// loopback port, stopped by PID. Optionally over TLS on both sides: its own web UI/API served with
// --web.config.file (tls_server_config, client certificates required), and jobs scraping https://
// targets with a tls_config.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpGetter } from '../../lib/http-get.ts';
import { TlsClientConfig } from '../../lib/tls-config.ts';
import { ClientTls } from '../../lib/tls-client.ts';
import { freePort } from './ports.ts';
import { waitFor } from './wait.ts';

export interface ScrapeJob {
  job: string;
  targets: string[];
  metricsPath?: string;
  /** Scrape over https:// with this tls_config (Prometheus' names). */
  tls?: { ca_file: string; cert_file?: string; key_file?: string; server_name?: string };
  /** Target groups with their own labels (e.g. `__metrics_path__`, `instance`), beside `targets`. */
  groups?: { targets: string[]; labels: Record<string, string> }[];
  /** URL parameters of the scrape (federation: `match[]`). */
  params?: Record<string, string[]>;
  /** Keep the scraped series' own labels (federation). */
  honorLabels?: boolean;
}

/** Serve Prometheus' own API over HTTPS, requiring client certificates signed by `clientCa`. */
export interface PrometheusWebTls {
  cert: string;
  key: string;
  clientCa: string;
  /** The certificate this helper presents for its own readiness checks and queries. */
  client: { ca: string; cert: string; key: string };
}

export interface RunningPrometheus {
  url: string;
  process: ChildProcess;
  log(): string;
  /** Instant query through the HTTP API; returns the result vector. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** The active scrape targets: job, URL, health and last error. */
  targets(): Promise<{ job: string; scrapeUrl: string; health: string; lastError: string }[]>;
  stop(): Promise<void>;
}

export async function startPrometheus(jobs: ScrapeJob[], opts: { scrapeInterval?: string; scrapeTimeout?: string; web?: PrometheusWebTls; /** A rules file's text, loaded with rule_files:. */ rules?: string; /** More command-line flags (e.g. `--storage.tsdb.retention.time=10m`). */ args?: string[]; /** Run it at this nice level (every thread of it: started under nice(1)). */ nice?: number } = {}): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-prom-'));
  if (opts.rules !== undefined) writeFileSync(join(dir, 'rules.yml'), opts.rules);
  const port = await freePort();
  const config = [
    'global:',
    `  scrape_interval: ${opts.scrapeInterval ?? '1s'}`,
    `  evaluation_interval: ${opts.scrapeInterval ?? '1s'}`,
    ...(opts.scrapeTimeout ? [`  scrape_timeout: ${opts.scrapeTimeout}`] : []),
    ...(opts.rules !== undefined ? ['rule_files:', `  - ${JSON.stringify(join(dir, 'rules.yml'))}`] : []),
    'scrape_configs:',
    ...jobs.flatMap((j) => [
      `  - job_name: ${JSON.stringify(j.job)}`,
      `    metrics_path: ${JSON.stringify(j.metricsPath ?? '/metrics')}`,
      ...(j.tls ? ['    scheme: https', `    tls_config: ${JSON.stringify(j.tls)}`] : []),
      ...(j.params ? [`    params: ${JSON.stringify(j.params)}`] : []),
      ...(j.honorLabels ? ['    honor_labels: true'] : []),
      `    static_configs: ${JSON.stringify([...(j.targets.length ? [{ targets: j.targets }] : []), ...(j.groups ?? [])])}`,
    ]),
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), `${config}\n`);
  const web = opts.web;
  if (web) {
    writeFileSync(
      join(dir, 'web.yml'),
      ['tls_server_config:', `  cert_file: ${web.cert}`, `  key_file: ${web.key}`, `  client_ca_file: ${web.clientCa}`, '  client_auth_type: RequireAndVerifyClientCert', ''].join('\n'),
    );
  }
  const args = [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, ...(web ? [`--web.config.file=${join(dir, 'web.yml')}`] : []), ...(opts.args ?? [])];
  const child = spawn(opts.nice === undefined ? 'prometheus' : 'nice', opts.nice === undefined ? args : ['-n', String(opts.nice), 'prometheus', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const client = new HttpGetter(web ? new ClientTls(TlsClientConfig.parse({ ca_file: web.client.ca, cert_file: web.client.cert, key_file: web.client.key }), 'test') : undefined);
  const get = async (url: string) => {
    const r = await client.get(url);
    return { ok: r.status === 200, json: () => JSON.parse(r.body) as unknown };
  };
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const url = `${web ? 'https' : 'http'}://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited: ${log.slice(-2000)}`);
        return (await get(`${url}/-/ready`)).ok;
      },
      { timeoutMs: 30_000, what: 'prometheus ready' },
    );
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    process: child,
    log: () => log,
    async query(expr: string) {
      const res = await get(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = res.json() as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] }; error?: string };
      if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error}`);
      return body.data.result;
    },
    async targets() {
      const body = (await get(`${url}/api/v1/targets?state=active`)).json() as { data: { activeTargets: { labels: { job: string }; scrapeUrl: string; health: string; lastError: string }[] } };
      return body.data.activeTargets.map((t) => ({ job: t.labels.job, scrapeUrl: t.scrapeUrl, health: t.health, lastError: t.lastError }));
    },
    async stop() {
      client.close();
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
