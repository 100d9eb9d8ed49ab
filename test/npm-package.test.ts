// The npm package, as an operator installs it: `npm pack` (which builds dist/ through the prepare
// script), then the tarball installed into an empty directory with `npm install --omit=dev`, and the
// installed `sluice` run: --help, a solve, one kernel poll, the agent serving /healthz (its collector
// worker thread runs compiled JavaScript) and `sluice dns` answering through its batched UDP thread (a
// cluster worker that starts a worker thread of its own). No TypeScript tooling may be in that install,
// so a thread that tried to load a .ts module would fail; and a stack trace from the installed package
// must name the .ts line (source maps shipped and used).
//
// The install is offline, from the npm cache `npm ci` filled: the directory gets a lockfile made of the
// repository's own (the production entries, the tarball as the one dependency), so npm needs no registry
// metadata. Install scripts are skipped: the only one that does work is better-sqlite3's native build
// (prebuilt download or a ~2 minute compile), a property of that package rather than of this one, and
// none of the commands run here opens SQLite. koffi (the agent's netlink access) ships prebuilt binaries
// and is exercised by `agent --once`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQuery, decodeResponse, udpExchange } from '../dns/testing/packets.ts';
import { freePort, freeServerPort } from './helpers/ports.ts';
import { REPO_ROOT } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';

interface Lock {
  packages: Record<string, { dev?: boolean; link?: boolean }>;
}

let dir = '';
let app = '';
let sluice = '';

function run(args: string[], opts: { timeout?: number } = {}) {
  return spawnSync(process.execPath, [sluice, ...args], { cwd: app, encoding: 'utf8', timeout: opts.timeout ?? 30_000 });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-pkg-'));
  const pack = spawnSync('npm', ['pack', '--pack-destination', dir, '--json'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 180_000 });
  expect(pack.status, pack.stderr).toBe(0);
  const tarball = join(dir, (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as { filename: string }[])[0]!.filename);

  app = join(dir, 'app');
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; bin: Record<string, string> };
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as Lock;
  const spec = `file:${tarball}`;
  const packages: Record<string, unknown> = {
    '': { name: 'sluice-install', dependencies: { sluice: spec } },
    'node_modules/sluice': { version: pkg.version, resolved: spec, dependencies: pkg.dependencies, bin: pkg.bin },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path && !entry.dev && !entry.link) packages[path] = entry;
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'sluice-install', private: true, dependencies: { sluice: spec } }));
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify({ name: 'sluice-install', lockfileVersion: 3, requires: true, packages }));
  const install = (mode: string) => spawnSync('npm', ['install', '--omit=dev', mode, '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: app, encoding: 'utf8', timeout: 300_000 });
  let r = install('--offline');
  if (r.status !== 0 && /ENOTCACHED/.test(r.stderr)) {
    // A cache that misses a tarball (not filled by `npm ci` of this lock): fetch what is missing.
    process.stderr.write('npm-package test: npm cache incomplete, installing with --prefer-offline\n');
    r = install('--prefer-offline');
  }
  expect(r.status, r.stderr).toBe(0);
  sluice = join(app, 'node_modules/sluice/bin/sluice.js');
}, 480_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the npm package installed without dev dependencies', () => {
  it('holds the compiled tree and no TypeScript tooling', () => {
    const modules = readdirSync(join(app, 'node_modules'));
    for (const dev of ['tsx', 'typescript', 'esbuild', 'vitest', 'highs']) expect(modules).not.toContain(dev);
    const root = join(app, 'node_modules/sluice');
    expect(existsSync(join(root, 'dist/cli/main.js'))).toBe(true);
    expect(existsSync(join(root, 'dist/agent/worker.js.map'))).toBe(true);
    expect(existsSync(join(root, 'dist/examples/demo.yaml'))).toBe(true); // read by `sluice demo` from dist/
    expect(existsSync(join(root, 'dist/agent/learning/learner.test.js'))).toBe(false);
    expect(existsSync(join(root, 'dist/bench'))).toBe(false);
  });

  it('sluice --help lists the subcommands', () => {
    const r = run(['--help']);
    expect(r.status, r.stderr).toBe(0);
    for (const sub of ['control-plane', 'agent', 'dns', 'edge-sync', 'solve', 'simulate']) expect(r.stdout).toContain(`  ${sub}`);
  });

  it('sluice solve decides the shipped example', () => {
    const r = run(['solve', join(app, 'node_modules/sluice/examples/solve-three-regions.json'), '--compact']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { status: string; weights: Record<string, Record<string, number>> };
    expect(out.status).toBe('ok');
    for (const shares of Object.values(out.weights)) expect(Object.values(shares).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
  });

  it('sluice agent --once reads the kernel TCP table through koffi', () => {
    writeFileSync(join(app, 'agent.yaml'), 'node: pkg-test\nservice_ports: [1]\n');
    const r = run(['agent', '--config', join(app, 'agent.yaml'), '--once']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { node: string; complete: boolean };
    expect(out).toMatchObject({ node: 'pkg-test', complete: true });
  });

  it('sluice agent serves /healthz once its compiled collector worker has polled', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [sluice, 'agent', '--config', join(app, 'agent.yaml'), '--listen', `127.0.0.1:${port}`], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200, { timeoutMs: 20_000, what: `agent /healthz (${out})` });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('sluice dns answers through its compiled batched UDP thread (udp_io: recvmmsg)', async () => {
    const port = await freeServerPort();
    const view = join(app, 'node_modules/sluice/examples/dns-view.json');
    writeFileSync(join(app, 'dns.yaml'), `listen: ["127.0.0.1:${port}"]\nview_file: ${view}\nworkers: 1\nudp_io: recvmmsg\nlog_level: warn\n`);
    const child = spawn(process.execPath, [sluice, 'dns', '--config', join(app, 'dns.yaml')], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const answer = await waitFor(
        async () => {
          const d = decodeResponse(await udpExchange(port, buildQuery({ name: 'app.example.com' }), { timeoutMs: 500 }));
          return d.rcode === 0 && d.answers.length >= 1 ? d : undefined;
        },
        { timeoutMs: 30_000, what: `sluice dns first answer (${out})` },
      );
      expect(answer.answers.length).toBeGreaterThanOrEqual(1);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION|Cannot find (module|package) 'tsx'/);
  });

  it('finds its own root from the compiled tree (the `sluice` command the lab starts, examples)', () => {
    const module = join(app, 'node_modules/sluice/dist/lib/runtime.js');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(module)}).then((m) => console.log(m.RUNNING_COMPILED, m.PACKAGE_ROOT.pathname))`], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe(`true ${join(app, 'node_modules/sluice')}/`);
  });

  it('a stack trace from the installed package names the TypeScript line', () => {
    const module = join(app, 'node_modules/sluice/dist/lib/config-file.js');
    const script = `import(${JSON.stringify(module)}).then((m) => { try { m.loadConfigFile(null, '/nonexistent/sluice.yaml'); } catch (e) { console.log(e.stack); } })`;
    const r = spawnSync(process.execPath, ['--enable-source-maps', '-e', script], { encoding: 'utf8' });
    expect(r.stdout).toContain('cannot read the file');
    expect(r.stdout).toMatch(/lib\/config-file\.ts:\d+:\d+/);
  });
});
