// edge-sync against a REAL nginx (Debian package): own prefix, pid file, error log and loopback ports,
// in front of two local origin HTTP servers that count requests. Driven through the real CLI
// (`sluice edge-sync --once` with a static EdgeConfig file) and through the adapter directly.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NginxDataPlane } from '../edge-sync/config.ts';
import { ApplyError, isNoop } from '../edge-sync/dataplane.ts';
import { NginxAdapter } from '../edge-sync/nginx/adapter.ts';
import { type CountingOrigin, edgeConfig, sendRequests, startCountingOrigin } from '../edge-sync/testing/fixtures.ts';
import { childPids, startNginx } from '../edge-sync/testing/processes.ts';
import type { EdgeConfig } from '../model/views.ts';
import { isRoot, unavailable } from './helpers/env.ts';
import { freePort } from './helpers/ports.ts';
import { runSluice } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';

const skip = unavailable({ tools: { nginx: 'nginx' } });
const N = 2000;

describe.skipIf(skip)('edge-sync with a real nginx', () => {
  let dir: string;
  let a: CountingOrigin;
  let b: CountingOrigin;
  let fe: number;
  let conf: string;
  let upstreams: string;
  let accessLog: string;
  let nginx: Awaited<ReturnType<typeof startNginx>>;
  let adapter: NginxAdapter;
  let yaml: string;
  let edgeFile: string;

  const split = (wa: number, wb: number, extra: { bHealthy?: boolean } = {}) =>
    edgeConfig([{ lb: 'web', port: fe, origins: [{ name: 'origin-a', port: a.port, weight: wa }, { name: 'origin-b', port: b.port, weight: wb, healthy: extra.bHealthy ?? true }] }]);

  /** Applies through the real CLI (one pass) and waits until every old worker has gone. */
  const applyViaCli = async (cfg: EdgeConfig) => {
    writeFileSync(edgeFile, JSON.stringify(cfg));
    const oldWorkers = childPids(nginx.masterPid);
    const res = await runSluice(['edge-sync', '--config', yaml, '--once']);
    expect(res.code, res.stderr).toBe(0);
    await waitFor(() => {
      const now = childPids(nginx.masterPid);
      return now.length > 0 && oldWorkers.every((p) => !now.includes(p));
    }, { timeoutMs: 10_000, what: 'nginx workers replaced after reload' });
    return res;
  };

  const measure = async (n = N) => {
    const counts = await sendRequests(fe, n, { concurrency: 16, deadlineMs: 60_000 });
    expect([...counts.values()].reduce((x, y) => x + y, 0)).toBe(n);
    return { a: (counts.get('origin-a') ?? 0) / n, b: (counts.get('origin-b') ?? 0) / n, counts };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slc-edge-nginx-'));
    a = await startCountingOrigin('origin-a');
    b = await startCountingOrigin('origin-b');
    fe = await freePort();
    conf = join(dir, 'nginx.conf');
    upstreams = join(dir, 'upstreams.conf');
    accessLog = join(dir, 'sluice-access.log');
    const pid = join(dir, 'nginx.pid');
    // nginx must start with a valid upstream; sluice takes the file over on its first pass.
    writeFileSync(upstreams, `upstream web_${fe} {\n    server 127.0.0.1:${a.port};\n}\n`);
    writeFileSync(
      conf,
      `${isRoot() ? 'user root;\n' : ''}worker_processes 2;
pid ${pid};
error_log ${join(dir, 'error.log')} notice;
events { worker_connections 256; }
http {
    log_format sluice '$server_addr:$server_port $upstream_addr';
    access_log ${accessLog} sluice;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    include ${upstreams};
    server {
        listen 127.0.0.1:${fe};
        location / { proxy_pass http://web_${fe}; }
    }
}
`,
    );
    nginx = await startNginx(dir, conf, pid);
    const dp = { type: 'nginx', upstream_file: upstreams, args: ['-p', dir, '-c', conf], access_log: accessLog };
    adapter = new NginxAdapter(NginxDataPlane.parse(dp));
    edgeFile = join(dir, 'edge.json');
    yaml = join(dir, 'edge-sync.yaml');
    writeFileSync(yaml, `config_file: ${edgeFile}\ndataplane:\n${Object.entries(dp).map(([k, v], i) => `  ${i === 0 ? '' : ''}${k}: ${JSON.stringify(v)}`).join('\n')}\nmetrics:\n  enabled: false\n`);
  });

  afterAll(async () => {
    await nginx?.stop();
    await a?.close();
    await b?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('applies 80/20 (weight=800/200, validated with nginx -t, reloaded): 2,000 requests within ±3 %', async () => {
    await applyViaCli(split(0.8, 0.2));
    const file = readFileSync(upstreams, 'utf8');
    expect(file).toContain(`server 127.0.0.1:${a.port} weight=800;`);
    expect(file).toContain(`server 127.0.0.1:${b.port} weight=200;`);
    await adapter.readStats(adapter.planPoolsFor(split(0.8, 0.2))); // read past earlier log lines
    const r = await measure();
    expect(Math.abs(r.a - 0.8)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(r.b - 0.2)).toBeLessThanOrEqual(0.03);
  });

  it('then 30/70, and the per-listener / per-origin demand read from the access log matches', async () => {
    await applyViaCli(split(0.3, 0.7));
    const pools = adapter.planPoolsFor(split(0.3, 0.7));
    const before = await adapter.readStats(pools);
    const r = await measure();
    expect(Math.abs(r.a - 0.3)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(r.b - 0.7)).toBeLessThanOrEqual(0.03);
    // nginx writes the access log line after the response; poll until every request is in.
    const after = await waitFor(async () => {
      const s = await adapter.readStats(pools);
      return (s.listeners[0]?.value ?? 0) - (before.listeners[0]?.value ?? 0) >= N ? s : null;
    }, { timeoutMs: 5000, what: 'access log lines' });
    expect((after.listeners[0]?.value ?? 0) - (before.listeners[0]?.value ?? 0)).toBe(N);
    const origin = (s: typeof after, name: string) => s.origins.find((o) => o.origin === name)?.value ?? 0;
    expect(origin(after, 'origin-a') - origin(before, 'origin-a')).toBe(r.counts.get('origin-a'));
    expect(origin(after, 'origin-b') - origin(before, 'origin-b')).toBe(r.counts.get('origin-b'));
  });

  it('is idempotent: the same config again plans nothing, rewrites nothing and does not reload', async () => {
    const plan = await adapter.plan(split(0.3, 0.7));
    expect(isNoop(plan)).toBe(true);
    const mtime = statSync(upstreams).mtimeMs;
    const workers = childPids(nginx.masterPid).sort();
    writeFileSync(edgeFile, JSON.stringify(split(0.3, 0.7)));
    const res = await runSluice(['edge-sync', '--config', yaml, '--once']);
    expect(res.code).toBe(0);
    expect(statSync(upstreams).mtimeMs).toBe(mtime);
    expect(childPids(nginx.masterPid).sort()).toEqual(workers);
  });

  it('an unhealthy origin is marked down (quiesced): it gets no new requests', async () => {
    await applyViaCli(split(0.3, 0.7, { bHealthy: false }));
    expect(readFileSync(upstreams, 'utf8')).toContain(`server 127.0.0.1:${b.port} down;`);
    const r = await measure(300);
    expect(r.counts.get('origin-a')).toBe(300);
  });

  it('a candidate nginx rejects is never left on disk: old file restored, error raised, no reload', async () => {
    const bad = new NginxAdapter(NginxDataPlane.parse({ type: 'nginx', upstream_file: upstreams, args: ['-p', dir, '-c', conf], upstream_directives: ['no_such_directive 1'] }));
    const before = readFileSync(upstreams, 'utf8');
    const workers = childPids(nginx.masterPid).sort();
    const plan = await bad.plan(split(0.5, 0.5));
    expect(plan.files).toHaveLength(1);
    const err = await bad.apply(plan).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    expect(String((err as Error).message)).toMatch(/no_such_directive/);
    expect(readFileSync(upstreams, 'utf8')).toBe(before);
    expect(childPids(nginx.masterPid).sort()).toEqual(workers);
  });

  it('--dry-run prints the upstream diff and touches nothing', async () => {
    writeFileSync(edgeFile, JSON.stringify(split(0.5, 0.5)));
    const before = readFileSync(upstreams, 'utf8');
    const res = await runSluice(['edge-sync', '--config', yaml, '--dry-run']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`+     server 127.0.0.1:${a.port} weight=500;  # origin origin-a`);
    expect(readFileSync(upstreams, 'utf8')).toBe(before);
  });

  it('every share 0: the listener is held and the weights in force stay', async () => {
    const plan = await adapter.plan(split(0, 0));
    expect(plan.held).toHaveLength(1);
    expect(plan.held[0]!.reason).toMatch(/black-hol/);
    expect(plan.files).toEqual([]);
  });
});
