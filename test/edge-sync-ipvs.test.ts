// IPVS: this machine's kernel has no ip_vs, so by default the test checks what edge-sync would do:
// the `ipvsadm -Ln` parser on a table in ipvsadm's own format, the commands generated against it and
// the ipvsadm-restore file, against expectations computed here from the inputs. The adapter's process
// plumbing runs against a FAKE ipvsadm (a shell script that serves the table and records stdin) — it
// is a fake because the real one cannot run here, and says so.
//
// Every table written here is one the kernel could hold: a real server added with direct routing
// (-g, "Route") or tunnelling (-i, "Tunnel") sits on the service's port, because ipvsadm stores it
// there whatever port is asked (those methods forward the packet unchanged). Only masquerading
// ("Masq") maps VIP:80 to origin:8080.
//
// On a host with ip_vs, `SLUICE_IPVS_REAL=1 npx vitest run test/edge-sync-ipvs.test.ts` (as root)
// also applies the same configs for real with ipvsadm inside a network namespace the test creates.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpvsDataPlane, type IpvsDataPlane as IpvsDataPlaneConfig } from '../edge-sync/config.ts';
import { isNoop } from '../edge-sync/dataplane.ts';
import { IpvsAdapter } from '../edge-sync/ipvs/adapter.ts';
import { loadEdgeSyncConfig } from '../edge-sync/config.ts';
import { planIpvs, refuseUnmappablePorts, restoreFile } from '../edge-sync/ipvs/commands.ts';
import { parseEdgeConfig } from '../edge-sync/source.ts';
import { parseIpvsList, parseIpvsStats } from '../edge-sync/ipvs/parse.ts';
import { desiredPools } from '../edge-sync/plan/desired.ts';
import { edgeConfig } from '../edge-sync/testing/fixtures.ts';
import { unavailable } from './helpers/env.ts';

const VIP = '192.0.2.10';
const VIP6 = '2001:db8::10';
// Shares chosen so the integer weights are exact on the default total of 1000: share · 1000.
const cfg = edgeConfig([
  { lb: 'web', vip: VIP, port: 80, protocol: 'tcp', origins: [
    { name: 'eu', address: '10.1.0.1', port: 8080, weight: 0.75 },
    { name: 'us', address: '10.2.0.1', port: 8080, weight: 0.25 },
  ] },
  { lb: 'dns', vip: VIP6, port: 53, protocol: 'udp', origins: [
    { name: 'eu6', address: '2001:db8:1::1', port: 53, weight: 0.6 },
    { name: 'us6', address: '2001:db8:2::1', port: 53, weight: 0.4, healthy: false },
  ] },
]);

// What the kernel has now, in `ipvsadm -Ln` format: the web service exists with a stale weight for
// eu, a real server that left the config, and the wrong scheduler; an unrelated service sluice never
// applied must be left alone; a service from the previous config that is gone must be deleted.
const TABLE = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  ${VIP}:80 wlc
  -> 10.1.0.1:8080                Masq    500    12         40
  -> 10.9.9.9:8080                Masq    100    0          3
TCP  198.51.100.7:22 rr
  -> 10.0.0.22:22                 Route   1      1          0
TCP  ${VIP}:8443 wrr
  -> 10.1.0.1:8443                Masq    1      0          0
`;

// The same table after sluice applied cfg.
const APPLIED = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  ${VIP}:80 wrr
  -> 10.1.0.1:8080                Masq    750    12         40
  -> 10.2.0.1:8080                Masq    250    0          0
UDP  [${VIP6}]:53 wrr
  -> [2001:db8:1::1]:53           Masq    1000   0          0
  -> [2001:db8:2::1]:53           Masq    0      0          0
`;

const previous = edgeConfig([{ lb: 'old', vip: VIP, port: 8443, protocol: 'tcp', origins: [{ name: 'eu', address: '10.1.0.1', port: 8443, weight: 1 }] }]);
const opts = { scheduler: 'wrr', forwarding: 'masq' as const, persistence: null };

describe('IPVS: ipvsadm -Ln parsing', () => {
  it('reads services, schedulers, persistence, IPv6 and real servers', () => {
    const t = parseIpvsList(`${TABLE}UDP  [${VIP6}]:53 wrr persistent 300\n  -> [2001:db8:1::1]:53            Tunnel  7      0          0\nFWM  7 rr\n`);
    expect(t.map((s) => `${s.protocol} ${s.address} ${s.scheduler}`)).toEqual([`TCP ${VIP}:80 wlc`, 'TCP 198.51.100.7:22 rr', `TCP ${VIP}:8443 wrr`, `UDP [${VIP6}]:53 wrr`, 'FWM 7 rr']);
    expect(t[0]!.reals).toEqual([
      { address: '10.1.0.1', port: 8080, forward: 'Masq', weight: 500, activeConn: 12, inactConn: 40 },
      { address: '10.9.9.9', port: 8080, forward: 'Masq', weight: 100, activeConn: 0, inactConn: 3 },
    ]);
    expect(t[3]!.persistent).toBe(300);
    expect(t[3]!.reals[0]).toMatchObject({ address: '2001:db8:1::1', port: 53, forward: 'Tunnel', weight: 7 });
  });

  it('rejects output it does not understand instead of guessing', () => {
    expect(() => parseIpvsList('TCP  1.2.3.4:80 wrr\n  -> 10.0.0.1:80 Masq heavy 0 0\n')).toThrow(/cannot parse real server/);
    expect(() => parseIpvsList('something else entirely\n')).toThrow(/unexpected line/);
  });

  it('reads --stats --exact and refuses K/M-suffixed numbers', () => {
    const s = parseIpvsStats(`IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  ${VIP}:80                       1200     9000        0   540000        0
  -> 10.1.0.1:8080                    900     6750        0   405000        0
  -> 10.2.0.1:8080                    300     2250        0   135000        0
`);
    expect(s).toEqual([{ protocol: 'TCP', address: `${VIP}:80`, conns: 1200, reals: [{ address: '10.1.0.1:8080', conns: 900 }, { address: '10.2.0.1:8080', conns: 300 }] }]);
    expect(() => parseIpvsStats(`TCP  ${VIP}:80  12K 0 0 0 0\n`)).toThrow(/--exact/);
  });
});

describe('IPVS: generated commands and restore file', () => {
  const pools = desiredPools(cfg, { poolName: 'x', weightTotal: 1000 });
  const removable = new Set([`TCP ${VIP}:8443`]);

  it('changes only what differs, adds before deleting, leaves unknown services alone', () => {
    const { commands } = planIpvs(pools, parseIpvsList(TABLE), opts, removable);
    const web = `-t ${VIP}:80`;
    const dns = `-u [${VIP6}]:53`;
    expect(commands).toEqual([
      // web exists: add the missing real server
      `-a ${web} -r 10.2.0.1:8080 -m -w ${0.25 * 1000}`,
      // new: the IPv6 UDP service; us6 is unhealthy -> weight 0 (quiesced), eu6 takes all 1000 units
      `-A ${dns} -s wrr`,
      `-a ${dns} -r [2001:db8:1::1]:53 -m -w ${1000}`,
      `-a ${dns} -r [2001:db8:2::1]:53 -m -w 0`,
      // edits: scheduler first, then the weight that changed
      `-E ${web} -s wrr`,
      `-e ${web} -r 10.1.0.1:8080 -m -w ${0.75 * 1000}`,
      // deletions last
      `-d ${web} -r 10.9.9.9:8080`,
      `-D -t ${VIP}:8443`,
    ]);
    expect(commands.join('\n')).not.toContain('198.51.100.7');
  });

  it('is idempotent: against the table it produces, it generates nothing', () => {
    expect(planIpvs(pools, parseIpvsList(APPLIED), opts, removable)).toEqual({ changes: [], commands: [] });
  });

  it('edits the forwarding method and persistence when they drift (same port: route -> masq is an edit)', () => {
    // The dns listener's origins serve the VIP's port (53), so a real server added with -g is stored
    // on :53 like the masq one wanted: only the forwarding flag differs.
    const table = `UDP  [${VIP6}]:53 wrr\n  -> [2001:db8:1::1]:53 Route 1000 0 0\n  -> [2001:db8:2::1]:53 Masq 0 0 0\n`;
    const dnsOnly = pools.filter((p) => p.port === 53);
    const { commands } = planIpvs(dnsOnly, parseIpvsList(table), { ...opts, persistence: 300 }, new Set());
    expect(commands).toEqual([`-E -u [${VIP6}]:53 -s wrr -p 300`, `-e -u [${VIP6}]:53 -r [2001:db8:1::1]:53 -m -w 1000`]);
  });

  it('moving from route to masq with mapped ports adds the origin-port reals, then removes the VIP-port ones', () => {
    // What the kernel holds after `-a -t VIP:80 -r 10.1.0.1:8080 -g`: the real server on :80.
    const table = `TCP  ${VIP}:80 wrr\n  -> 10.1.0.1:80 Route 750 0 0\n  -> 10.2.0.1:80 Route 250 0 0\n`;
    const webOnly = pools.filter((p) => p.port === 80);
    expect(planIpvs(webOnly, parseIpvsList(table), opts, new Set()).commands).toEqual([
      `-a -t ${VIP}:80 -r 10.1.0.1:8080 -m -w 750`,
      `-a -t ${VIP}:80 -r 10.2.0.1:8080 -m -w 250`,
      `-d -t ${VIP}:80 -r 10.1.0.1:80`,
      `-d -t ${VIP}:80 -r 10.2.0.1:80`,
    ]);
  });

  it.each(['route', 'tunnel'] as const)('refuses a listener %s cannot map (origin port != VIP port), saying why, and plans the rest', (forwarding) => {
    const { pools: checked, problems } = refuseUnmappablePorts(pools, forwarding);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^TCP ${VIP}:80: IPVS ${forwarding} \\(-${forwarding === 'route' ? 'g' : 'i'}\\) forwards packets unchanged, so it cannot map listener port 80 to eu \\(port 8080\\), us \\(port 8080\\).*use forwarding: masq`));
    const { commands } = planIpvs(checked, parseIpvsList(TABLE), { ...opts, forwarding }, new Set());
    expect(commands.filter((c) => c.includes(`${VIP}:80 `))).toEqual([]);
    expect(commands).toContain(`-a -u [${VIP6}]:53 -r [2001:db8:1::1]:53 ${forwarding === 'route' ? '-g' : '-i'} -w 1000`);
    expect(refuseUnmappablePorts(pools, 'masq').problems).toEqual([]);
  });

  it('writes a complete ipvsadm-restore file of the managed services (a refused listener as the kernel has it)', () => {
    const { pools: checked } = refuseUnmappablePorts(pools, 'tunnel');
    expect(restoreFile(checked, parseIpvsList(TABLE), { ...opts, forwarding: 'tunnel' })).toBe(
      [
        '# Managed by sluice edge-sync: the IPVS services of this edge. Load with: ipvsadm -R < this-file',
        // Refused (tunnel cannot map 80 -> 8080): kept exactly as the kernel holds it.
        `-A -t ${VIP}:80 -s wlc`,
        `-a -t ${VIP}:80 -r 10.1.0.1:8080 -m -w 500`,
        `-a -t ${VIP}:80 -r 10.9.9.9:8080 -m -w 100`,
        `-A -u [${VIP6}]:53 -s wrr`,
        `-a -u [${VIP6}]:53 -r [2001:db8:1::1]:53 -i -w 1000`,
        `-a -u [${VIP6}]:53 -r [2001:db8:2::1]:53 -i -w 0`,
        '',
      ].join('\n'),
    );
    expect(restoreFile(pools, parseIpvsList(TABLE), opts)).toContain(`-a -t ${VIP}:80 -r 10.2.0.1:8080 -m -w 250`);
  });
});

describe('IPVS adapter process plumbing (FAKE ipvsadm: this kernel has no ip_vs)', () => {
  let dir: string;
  let adapter: IpvsAdapter;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'slc-edge-ipvs-'));
    writeFileSync(join(dir, 'table.txt'), TABLE);
    const fake = join(dir, 'fake-ipvsadm');
    writeFileSync(fake, `#!/bin/sh\n# FAKE ipvsadm for tests: serves a table, records what -R receives.\ncase "$*" in\n  "-Ln") cat ${dir}/table.txt ;;\n  "-R") cat > ${dir}/applied.txt ;;\n  *) echo "fake ipvsadm: unexpected $*" >&2; exit 2 ;;\nesac\n`);
    chmodSync(fake, 0o755);
    adapter = new IpvsAdapter(IpvsDataPlane.parse({ type: 'ipvs', ipvsadm: fake, restore_file: join(dir, 'ipvs.rules') }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('pipes exactly the planned commands to one `ipvsadm -R` and writes the restore file', async () => {
    const plan = await adapter.plan(cfg, previous);
    await adapter.apply(plan);
    const sent = readFileSync(join(dir, 'applied.txt'), 'utf8').trim().split('\n');
    expect(sent).toEqual(planIpvs(desiredPools(cfg, { poolName: 'x', weightTotal: 1000 }), parseIpvsList(TABLE), opts, new Set([`TCP ${VIP}:8443`])).commands);
    expect(readFileSync(join(dir, 'ipvs.rules'), 'utf8')).toContain(`-a -t ${VIP}:80 -r 10.2.0.1:8080 -m -w 250`);
    // Once the kernel table matches (and the unrelated service is still there), nothing is left to do.
    writeFileSync(join(dir, 'table.txt'), `${APPLIED}TCP  198.51.100.7:22 rr\n  -> 10.0.0.22:22 Route 1 1 0\n`);
    const again = await adapter.plan(cfg, cfg);
    expect(again.preview).toEqual([]);
    expect(isNoop(again)).toBe(true);
  });

  it('hard_moves keeps the two IPVS sysctls at 1, like any other drift (sysctl files in a temp dir: no ip_vs here)', async () => {
    const sysctls = join(dir, 'sys');
    execFileSync('mkdir', ['-p', sysctls]);
    writeFileSync(join(sysctls, 'expire_quiescent_template'), '0\n');
    writeFileSync(join(sysctls, 'expire_nodest_conn'), '1\n');
    const fake = join(dir, 'fake-ipvsadm');
    const hard = new IpvsAdapter(IpvsDataPlane.parse({ type: 'ipvs', ipvsadm: fake, hard_moves: true, sysctl_dir: sysctls }));
    const plan = await hard.plan(cfg, cfg);
    expect(plan.preview).toEqual([`echo 1 > ${sysctls}/expire_quiescent_template`]);
    expect(isNoop(plan)).toBe(false);
    await hard.apply(plan);
    expect(readFileSync(join(sysctls, 'expire_quiescent_template'), 'utf8').trim()).toBe('1');
    expect(isNoop(await hard.plan(cfg, cfg))).toBe(true);
    // Off by default: the sysctls are not even read.
    expect(IpvsDataPlane.parse({ type: 'ipvs' }).hard_moves).toBe(false);
  });
});

describe('IPVS refusal through the adapter (FAKE ipvsadm: this kernel has no ip_vs)', () => {
  let dir: string;
  const fakeFor = (table: string) => {
    writeFileSync(join(dir, 'table.txt'), table);
    const fake = join(dir, 'fake-ipvsadm');
    writeFileSync(fake, `#!/bin/sh\n# FAKE ipvsadm for tests: serves a table, records what -R receives.\ncase "$*" in\n  "-Ln") cat ${dir}/table.txt ;;\n  "-R") cat > ${dir}/applied.txt ;;\n  *) echo "fake ipvsadm: unexpected $*" >&2; exit 2 ;;\nesac\n`);
    chmodSync(fake, 0o755);
    return fake;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'slc-edge-ipvs-refuse-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a tunnel listener with mapped ports is held and reported; the others are applied; apply fails saying why', async () => {
    const adapter = new IpvsAdapter(IpvsDataPlane.parse({ type: 'ipvs', ipvsadm: fakeFor(''), forwarding: 'tunnel' }));
    const plan = await adapter.plan(cfg);
    expect(plan.problems.join()).toMatch(/cannot map listener port 80/);
    expect(plan.held.map((h) => h.pool)).toEqual([`TCP ${VIP}:80`]);
    await expect(adapter.apply(plan)).rejects.toThrow(/forwards packets unchanged/);
    const sent = readFileSync(join(dir, 'applied.txt'), 'utf8');
    expect(sent).toContain(`-A -u [${VIP6}]:53 -s wrr`);
    expect(sent).not.toContain(`${VIP}:80`);
  });

  it('examples/edge-sync.yaml applies the sample EdgeConfig without a problem (no unmappable forwarding)', async () => {
    const example = loadEdgeSyncConfig(new URL('../examples/edge-sync.yaml', import.meta.url).pathname);
    const ipvs = example.dataplane.find((d) => d.type === 'ipvs');
    expect(ipvs).toBeDefined();
    const sample = parseEdgeConfig(JSON.parse(readFileSync(new URL('../examples/edge-config.json', import.meta.url), 'utf8')), 'examples/edge-config.json');
    // The sample maps VIP port 80 to origin port 8080: exactly what route/tunnel cannot do.
    expect(sample.listeners.some((l) => l.origins.some((o) => o.port !== l.port))).toBe(true);
    const adapter = new IpvsAdapter({ ...(ipvs as IpvsDataPlaneConfig), ipvsadm: [fakeFor('')], restore_file: undefined });
    const plan = await adapter.plan(sample);
    expect(plan.problems).toEqual([]);
    expect(plan.held).toEqual([]);
    expect(plan.preview.length).toBeGreaterThan(0);
  });
});

// Real IPVS, opt-in: needs root, the ip_vs module and ipvsadm. The table lives in a namespace the
// test creates, so the host's own virtual services are never touched.
const REAL = process.env.SLUICE_IPVS_REAL === '1';
if (!REAL) process.stderr.write('SKIPPED real-IPVS apply: set SLUICE_IPVS_REAL=1 on a host with ip_vs (see edge-sync/README.md)\n');
const realSkip = REAL ? unavailable({ tools: { ipvsadm: 'ipvsadm', ip: 'iproute2' }, root: true }) : 'SLUICE_IPVS_REAL is not 1';

describe.skipIf(realSkip)('IPVS for real (SLUICE_IPVS_REAL=1)', () => {
  const ns = `slc-${process.pid}-ipvs`;
  let adapter: IpvsAdapter;
  beforeAll(() => {
    execFileSync('modprobe', ['ip_vs']);
    execFileSync('ip', ['netns', 'add', ns]);
    adapter = new IpvsAdapter(IpvsDataPlane.parse({ type: 'ipvs', ipvsadm: ['ip', 'netns', 'exec', ns, 'ipvsadm'] }));
  });
  afterAll(() => {
    execFileSync('ip', ['netns', 'delete', ns]);
  });

  it('applies the config, reads back the same table, and a second pass changes nothing', async () => {
    await adapter.apply(await adapter.plan(cfg));
    const table = parseIpvsList(execFileSync('ip', ['netns', 'exec', ns, 'ipvsadm', '-Ln'], { encoding: 'utf8' }));
    const web = table.find((s) => s.address === `${VIP}:80`);
    expect(web?.scheduler).toBe('wrr');
    expect(Object.fromEntries(web!.reals.map((r) => [`${r.address}:${r.port}`, r.weight]))).toEqual({ '10.1.0.1:8080': 750, '10.2.0.1:8080': 250 });
    const dns = table.find((s) => s.protocol === 'UDP');
    expect(Object.fromEntries(dns!.reals.map((r) => [r.address, r.weight]))).toEqual({ '2001:db8:1::1': 1000, '2001:db8:2::1': 0 });
    expect(isNoop(await adapter.plan(cfg))).toBe(true);
  });

  it('a weight change is a single -e edit', async () => {
    const next = edgeConfig([
      { lb: 'web', vip: VIP, port: 80, protocol: 'tcp', origins: [{ name: 'eu', address: '10.1.0.1', port: 8080, weight: 0.3 }, { name: 'us', address: '10.2.0.1', port: 8080, weight: 0.7 }] },
      { lb: 'dns', vip: VIP6, port: 53, protocol: 'udp', origins: [{ name: 'eu6', address: '2001:db8:1::1', port: 53, weight: 0.6 }, { name: 'us6', address: '2001:db8:2::1', port: 53, weight: 0.4, healthy: false }] },
    ]);
    const plan = await adapter.plan(next);
    expect(plan.preview.map((l) => l.replace(/^.*ipvsadm /, ''))).toEqual([`-e -t ${VIP}:80 -r 10.1.0.1:8080 -m -w 300`, `-e -t ${VIP}:80 -r 10.2.0.1:8080 -m -w 700`]);
    await adapter.apply(plan);
    expect(isNoop(await adapter.plan(next))).toBe(true);
  });
});
