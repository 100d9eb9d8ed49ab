// deploy/systemd units and deploy/*.sh: every subcommand has a hardened unit whose ExecStart runs
// `sluice <subcommand> --config /etc/sluice/<subcommand>.yaml` as the user install.sh creates, with
// capabilities only where the job needs one; systemd itself (systemd-analyze verify, security
// --offline) accepts them; the scripts pass bash -n and shellcheck and reject bad arguments.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unavailable } from './helpers/env.ts';
import { REPO_ROOT } from './helpers/sluice-process.ts';

const UNIT_DIR = join(REPO_ROOT, 'deploy/systemd');
const SCRIPTS = ['install.sh', 'bootstrap-topology.sh', 'resolve-edge-id.sh'].map((f) => join(REPO_ROOT, 'deploy', f));

/** systemd unit file -> section -> key -> values (a key may repeat). */
export function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = sections.get(section[1]!) ?? new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`not a unit file line: ${raw}`);
    current.set(kv[1]!, [...(current.get(kv[1]!) ?? []), kv[2]!]);
  }
  return sections;
}

const UNITS = {
  'control-plane': { user: 'sluice-cp', caps: '' },
  agent: { user: 'sluice-agent', caps: '' },
  dns: { user: 'sluice-dns', caps: 'CAP_NET_BIND_SERVICE' },
  'edge-sync': { user: 'sluice-edge', caps: '' },
} as const;

const HARDENING: Record<string, string> = {
  NoNewPrivileges: 'yes',
  ProtectSystem: 'strict',
  ProtectHome: 'yes',
  PrivateTmp: 'yes',
  PrivateDevices: 'yes',
  ProtectKernelTunables: 'yes',
  ProtectKernelModules: 'yes',
  ProtectControlGroups: 'yes',
  RestrictSUIDSGID: 'yes',
  LockPersonality: 'yes',
  SystemCallArchitectures: 'native',
};

const last = (m: Map<string, string[]> | undefined, key: string): string | undefined => m?.get(key)?.at(-1);

describe('systemd units', () => {
  it('there is one unit per long-running subcommand, and no other', () => {
    const units = readdirSync(UNIT_DIR).filter((f) => f.endsWith('.service'));
    expect(units.sort()).toEqual(Object.keys(UNITS).map((u) => `sluice-${u}.service`).sort());
  });

  for (const [sub, want] of Object.entries(UNITS)) {
    describe(`sluice-${sub}.service`, () => {
      const unit = parseUnit(readFileSync(join(UNIT_DIR, `sluice-${sub}.service`), 'utf8'));
      const svc = unit.get('Service');

      it(`runs "sluice ${sub} --config /etc/sluice/${sub}.yaml" as ${want.user}`, () => {
        expect(svc?.get('ExecStart')).toEqual([`/usr/local/bin/sluice ${sub} --config /etc/sluice/${sub}.yaml`]);
        expect(last(svc, 'User')).toBe(want.user);
        expect(last(svc, 'Group')).toBe(want.user);
        expect(last(unit.get('Install'), 'WantedBy')).toBe('multi-user.target');
        expect(unit.get('Unit')?.get('Wants')).toContain('network-online.target');
      });

      it('restarts on failure but not on a config error (exit 2)', () => {
        expect(last(svc, 'Restart')).toBe('on-failure');
        expect(last(svc, 'RestartSec')).toMatch(/^\d+s$/);
        expect(last(svc, 'RestartPreventExitStatus')).toBe('2');
      });

      it('is hardened', () => {
        for (const [k, v] of Object.entries(HARDENING)) expect(last(svc, k), k).toBe(v);
        expect(svc?.get('SystemCallFilter')).toEqual(['@system-service', '~@privileged']);
        expect(last(svc, 'StateDirectory')).toBe(`sluice/${sub}`);
        expect(last(svc, 'ReadWritePaths')).toBe(`/var/lib/sluice/${sub}`);
      });

      it(want.caps ? `has ${want.caps} and nothing else` : 'has no capability at all', () => {
        expect(last(svc, 'CapabilityBoundingSet')).toBe(want.caps);
        expect(last(svc, 'AmbientCapabilities')).toBe(want.caps);
      });
    });
  }

  it('only the agent may open netlink sockets (sock_diag); the IPVS drop-in adds it for ipvsadm', () => {
    for (const sub of Object.keys(UNITS)) {
      const families = last(parseUnit(readFileSync(join(UNIT_DIR, `sluice-${sub}.service`), 'utf8')).get('Service'), 'RestrictAddressFamilies');
      expect(families?.includes('AF_NETLINK'), sub).toBe(sub === 'agent');
    }
    const ipvs = parseUnit(readFileSync(join(UNIT_DIR, 'sluice-edge-sync.service.d/ipvs.conf'), 'utf8')).get('Service');
    expect(last(ipvs, 'CapabilityBoundingSet')).toBe('CAP_NET_ADMIN');
    expect(last(ipvs, 'AmbientCapabilities')).toBe('CAP_NET_ADMIN');
    expect(last(ipvs, 'RestrictAddressFamilies')).toContain('AF_NETLINK');
    const haproxy = parseUnit(readFileSync(join(UNIT_DIR, 'sluice-edge-sync.service.d/haproxy.conf'), 'utf8')).get('Service');
    expect(last(haproxy, 'SupplementaryGroups')).toBe('haproxy');
    expect(haproxy?.has('CapabilityBoundingSet')).toBe(false);
  });

  it('install.sh creates exactly the users the units run as', () => {
    const script = readFileSync(SCRIPTS[0]!, 'utf8');
    for (const [sub, want] of Object.entries(UNITS)) expect(script).toMatch(new RegExp(`\\b${sub}\\) echo ${want.user} ;;`));
  });
});

describe.skipIf(unavailable({ tools: { 'systemd-analyze': 'systemd' } }))('systemd-analyze', () => {
  let dir: string;
  beforeAll(() => {
    // ExecStart must name an existing executable for verify; everything else is checked as written.
    // Drop-ins are appended to a copy of the edge-sync unit, which is how systemd merges them.
    dir = mkdtempSync(join(tmpdir(), 'slc-units-'));
    for (const f of readdirSync(UNIT_DIR).filter((f) => f.endsWith('.service'))) {
      writeFileSync(join(dir, f), readFileSync(join(UNIT_DIR, f), 'utf8').replaceAll('/usr/local/bin/sluice', '/bin/true'));
    }
    mkdirSync(join(dir, 'with-dropins'));
    for (const d of readdirSync(join(UNIT_DIR, 'sluice-edge-sync.service.d'))) {
      const merged = readFileSync(join(dir, 'sluice-edge-sync.service'), 'utf8') + '\n' + readFileSync(join(UNIT_DIR, 'sluice-edge-sync.service.d', d), 'utf8');
      writeFileSync(join(dir, 'with-dropins', `sluice-edge-sync-${d.replace('.conf', '')}.service`), merged);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const unitPaths = () => [...readdirSync(dir).filter((f) => f.endsWith('.service')).map((f) => join(dir, f)), ...readdirSync(join(dir, 'with-dropins')).map((f) => join(dir, 'with-dropins', f))];

  it('verify reports no error or unknown directive', () => {
    const r = spawnSync('systemd-analyze', ['verify', ...unitPaths()], { encoding: 'utf8' });
    expect(r.stderr.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('verify does catch a misspelt directive (so the check is real)', () => {
    const bad = join(dir, 'bad.service');
    writeFileSync(bad, '[Service]\nExecStart=/bin/true\nProtectSystem=strict\nNoNewPrivilege=yes\n');
    try {
      expect(spawnSync('systemd-analyze', ['verify', bad], { encoding: 'utf8' }).stderr).toContain("Unknown key 'NoNewPrivilege'");
    } finally {
      rmSync(bad);
    }
  });

  it('security --offline rates every unit, drop-ins included, "OK" (exposure below 3.0)', () => {
    const scores: Record<string, number> = {};
    for (const p of unitPaths()) {
      const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', p], { encoding: 'utf8' });
      const m = /Overall exposure level for \S+: (\d+\.\d)/.exec(r.stdout + r.stderr);
      expect(m, r.stdout + r.stderr).not.toBeNull();
      scores[p.split('/').at(-1)!] = Number(m![1]);
    }
    console.log('systemd-analyze security exposure:', scores);
    for (const [unit, score] of Object.entries(scores)) expect(score, unit).toBeLessThan(3.0);
  });
});

describe('the npm package', () => {
  it('ships what install.sh installs from it (units, drop-ins, the CLI entry point)', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const files = new Set((JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
    expect(files).toContain('bin/sluice.js');
    for (const f of readdirSync(UNIT_DIR).filter((f) => f.endsWith('.service'))) expect(files).toContain(`deploy/systemd/${f}`);
    for (const f of readdirSync(join(UNIT_DIR, 'sluice-edge-sync.service.d'))) expect(files).toContain(`deploy/systemd/sluice-edge-sync.service.d/${f}`);
    // install.sh refers to exactly these paths inside the package.
    const script = readFileSync(SCRIPTS[0]!, 'utf8');
    expect(script).toContain('"$APP/deploy/systemd/sluice-$role.service"');
    expect(script).toContain('"$APP/deploy/systemd/sluice-edge-sync.service.d/$dp.conf"');
    expect(script).toContain('"$APP/bin/sluice.js"');
  });
});

describe('deploy scripts', () => {
  it('pass bash -n', () => {
    for (const s of SCRIPTS) {
      const r = spawnSync('bash', ['-n', s], { encoding: 'utf8' });
      expect(r.status, `${s}: ${r.stderr}`).toBe(0);
    }
  });

  it.skipIf(unavailable({ tools: { shellcheck: 'shellcheck' } }))('pass shellcheck (all severities)', () => {
    const r = spawnSync('shellcheck', ['-S', 'style', ...SCRIPTS], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  const install = (...args: string[]) => spawnSync('bash', [SCRIPTS[0]!, ...args], { encoding: 'utf8' });

  it('install.sh --help prints its usage', () => {
    const r = install('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--package');
    expect(r.stdout).toContain('Exit codes');
  });

  it('install.sh rejects bad arguments with exit 2 before touching anything', () => {
    expect(install().stderr).toContain('--package is required');
    expect(install().status).toBe(2);
    expect(install('--package', 'x.tgz', '--roles', 'agent,web').stderr).toContain('unknown role "web"');
    expect(install('--package', 'x.tgz', '--edge-dataplane', 'nginx').stderr).toContain('unknown --edge-dataplane "nginx"');
    expect(install('--package', 'x.tgz', '--sha256', 'abc').stderr).toContain('64 lower-case hex');
    expect(install('--package', 'x.tgz', '--node-version', 'latest').status).toBe(2);
    expect(install('--bogus').stderr).toContain('unknown option "--bogus"');
    expect(install('--package', 'x.tgz', '--roles', 'agent', '--edge-dataplane', 'haproxy').stderr).toContain('needs the edge-sync role');
  });

  it('bootstrap-topology.sh and resolve-edge-id.sh print usage and exit 2 without arguments', () => {
    for (const s of SCRIPTS.slice(1)) {
      const r = spawnSync('bash', [s], { encoding: 'utf8' });
      expect(r.status, s).toBe(2);
      expect(r.stderr).toMatch(/TOKEN_FILE/);
    }
  });
});
