// Starting a control plane for tests: in-process (fast, for API behaviour) or as the real CLI process
// (for durability and start-up behaviour).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { tokenSets, type ReportToken } from '../../api/auth.ts';
import { buildServer, type ServerOptions } from '../../api/server.ts';
import { openSqliteStore, type SqliteStore } from '../../api/store/sqlite.ts';
import { checkResponse, watchControlPlane } from './openapi-contract.ts';
import { startSluice, type SluiceProcess } from './sluice-process.ts';
import { waitFor } from './wait.ts';

export function tempDir(prefix = 'sluice-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface InProcessControlPlane {
  app: FastifyInstance;
  store: SqliteStore;
  url: string;
  close(): Promise<void>;
}

export async function startInProcess(
  opts: { admin_tokens?: string[]; read_tokens?: string[]; report_tokens?: ReportToken[]; bodyLimitBytes?: number; server?: Partial<Omit<ServerOptions, 'store' | 'tokens'>> } = {},
): Promise<InProcessControlPlane> {
  const dir = tempDir();
  const store = openSqliteStore(dir.path);
  const app = await buildServer({
    store,
    tokens: tokenSets({ admin_tokens: opts.admin_tokens ?? [], read_tokens: opts.read_tokens ?? [], report_tokens: opts.report_tokens ?? [] }),
    docs: false,
    ...(opts.bodyLimitBytes ? { bodyLimitBytes: opts.bodyLimitBytes } : {}),
    ...opts.server,
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const unwatch = watchControlPlane(url);
  return {
    app,
    store,
    url,
    async close() {
      unwatch();
      await app.close();
      await store.close();
      dir.remove();
    },
  };
}

/** Runs `sluice control-plane` on a kernel-chosen port and resolves once it prints its address. */
export async function startControlPlaneProcess(args: string[]): Promise<{ proc: SluiceProcess; url: string }> {
  const proc = startSluice(['control-plane', '--listen', '127.0.0.1:0', ...args], { env: { SLUICE_LOG_LEVEL: 'warn' } });
  const url = await waitFor(
    () => {
      if (proc.child.exitCode !== null) throw new Error(`control plane exited early:\n${proc.output()}`);
      return /listening on (https?:\/\/\S+)/.exec(proc.output())?.[1];
    },
    { timeoutMs: 20_000, what: 'control plane to listen' },
  );
  watchControlPlane(url);
  return { proc, url };
}

export const SAMPLE = {
  loadBalancer: {
    name: 'app',
    dns: { zone: 'example.com', hostname: 'app.example.com', ttl: 20 },
    listeners: [{ vip: '192.0.2.10', port: 443, protocol: 'tcp' }],
    policy: 'latency',
    max_latency_ms: 300,
  },
  origins: [
    { name: 'us-east', region: 'us-east', addresses: ['198.51.100.1', '2001:db8::1'], port: 443, location: { lat: 40.7, lon: -74 }, target_rps: 180, max_rps: 200 },
    { name: 'eu-west', region: 'eu-west', addresses: ['198.51.100.2'], port: 443, location: { lat: 52.4, lon: 4.9 }, target_rps: 400, max_rps: 500, health_check: { type: 'http', path: '/health', interval_ms: 1000, timeout_ms: 500 } },
    { name: 'ap-southeast', region: 'ap-southeast', addresses: ['198.51.100.3'], port: 443, location: { lat: 1.35, lon: 103.8 }, target_rps: 300, max_rps: 300, admin_state: 'drain' },
  ],
  edges: [
    { name: 'sfo', region: 'us-west', address: '203.0.113.5', location: { lat: 37.6, lon: -122.4 } },
    { name: 'ams', region: 'eu-west', address: '2001:db8:1::5', location: { lat: 52.3, lon: 4.8 } },
  ],
} as const;

/**
 * One request with fetch. A response from a control plane these helpers started is checked against
 * openapi/openapi.json (see openapi-contract.ts) and a violation fails the calling test.
 */
export async function http(url: string, init: { method?: string; body?: unknown; headers?: Record<string, string>; rawBody?: string } = {}) {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  let body: string | undefined = init.rawBody;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, { method: init.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  checkResponse(url, { method: init.method ?? 'GET', status: res.status, headers: res.headers, text });
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json: json as any };
}

/**
 * A real `sluice control-plane` for the data planes' end-to-end tests: loopback on `port`, SQLite in
 * `dir/data`, two tokens, no health checks and no scheduler (the test publishes what it needs). Its
 * data and port survive a restart, so a test can stop it and start it again with `start()`.
 */
export function dataPlaneControlPlane(dir: string, port: number, tokens: { admin: string; read: string }) {
  const config = join(dir, 'cp.yaml');
  writeFileSync(
    config,
    [
      `listen: 127.0.0.1:${port}`,
      `data_dir: ${JSON.stringify(join(dir, 'data'))}`,
      `auth: { admin_tokens: [${tokens.admin}], read_tokens: [${tokens.read}] }`,
      'health_checks: { enabled: false }',
      'scheduler: { enabled: false }',
    ].join('\n'),
  );
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    /** Starts the process and resolves once it serves the DNS view to the read token. */
    async start(): Promise<SluiceProcess> {
      const proc = startSluice(['control-plane', '--config', config]);
      await waitFor(async () => (await fetch(`${url}/api/v1/dns/view`, { headers: { authorization: `Bearer ${tokens.read}` } }).catch(() => null))?.status === 200, {
        timeoutMs: 30_000,
        what: `the control plane; output: ${proc.output()}`,
      });
      return proc;
    },
    /** One REST call with the admin token; throws with the status and body unless 2xx. */
    async call(method: string, path: string, body?: unknown): Promise<{ id: string }> {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${tokens.admin}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return JSON.parse(text) as { id: string };
    },
  };
}
