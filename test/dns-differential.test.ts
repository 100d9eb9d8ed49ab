// sluice dns against real reference servers: knot (knotd) and gdnsd from Debian, started here on
// loopback with the same zone (dns/testing/battery.ts BATTERY_ZONE). Every query of the battery
// (normal, error, EDNS, ECS, TSIG, malformed) goes to all three; for each, sluice's answer must match
// knot's in RCODE (with OPT's extended bits), opcode and flags, section counts, and OPT/TSIG presence
// — or the query is one of DIFFERENCES below, each with the RFC clause that allows it, listed in
// dns/README.md's table as well. A difference marked `gdnsd` must then match gdnsd exactly.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATTERY, BATTERY_ZONE, batteryView, batteryZoneFile, type BatteryQuery } from '../dns/testing/battery.ts';
import { buildQuery, decodeResponse, tcpExchange, udpExchange } from '../dns/testing/packets.ts';
import { unavailable } from './helpers/env.ts';
import { freeServerPort } from './helpers/ports.ts';
import { startGdnsd, startKnot, type ReferenceServer } from './helpers/reference-dns.ts';
import { REPO_ROOT, startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';

const skip = unavailable({ tools: { knotd: 'knot', gdnsd: 'gdnsd' } });

/**
 * Where sluice answers differently from knot, and why that is allowed. `gdnsd: true`: sluice answers
 * exactly as gdnsd does (checked). Keys are battery query names; dns/README.md lists each one.
 */
export const DIFFERENCES: Record<string, { why: string; gdnsd?: true }> = {
  // OPT on every answer to a query that carried one: knot leaves it out of a FORMERR whenever its
  // parser gave up on the packet.
  'two-opt-records': { why: 'RFC 6891 §6.1.1 (FORMERR) and §7 (the FORMERR carries OPT)', gdnsd: true },
  'edns-option-overruns-opt': { why: 'RFC 6891 §7: a badly formatted option gets FORMERR with OPT', gdnsd: true },
  'opt-rdata-overruns-packet': { why: 'RFC 6891 §7', gdnsd: true },
  'arcount-too-high': { why: 'RFC 1035 §4.1.1 (FORMERR); RFC 6891 §7 (OPT kept)', gdnsd: true },
  'trailing-bytes': { why: 'RFC 1035 §4.1.1 (FORMERR, as knot); RFC 6891 §7 (OPT kept); gdnsd ignores the bytes' },
  'tsig-before-opt': { why: 'RFC 8945 §5.2 (FORMERR, as knot); RFC 6891 §7 (OPT kept); gdnsd ignores TSIG' },
  'tsig-rdata-truncated': { why: 'RFC 8945 §5.2 / RFC 1035 §4.1.1 (FORMERR, as knot); RFC 6891 §7 (OPT kept)' },
  // Kinds of query sluice does not implement at all.
  'opcode-notify': { why: 'RFC 1035 §4.1.1 NOTIMP: sluice is not a secondary (knot refuses it by ACL: NOTAUTH)', gdnsd: true },
  'opcode-update': { why: 'RFC 1035 §4.1.1 NOTIMP: no dynamic update (RFC 2136); knot refuses it by ACL', gdnsd: true },
  'ixfr-udp': { why: 'RFC 1035 §4.1.1 NOTIMP: no zone transfers; knot refuses by ACL (NOTAUTH)', gdnsd: true },
  'axfr-tcp': { why: 'RFC 1035 §4.1.1 NOTIMP: no zone transfers (RFC 5936); knot refuses by ACL', gdnsd: true },
  'qtype-0': { why: 'RFC 6895 §3.1: TYPE 0 is reserved, not a meta-type; NODATA as gdnsd (knot: NOTIMP)', gdnsd: true },
  // Malformed queries knot drops silently.
  'qdcount-2': { why: 'RFC 9619 §4: a QUERY with QDCOUNT > 1 gets FORMERR (knot drops it)', gdnsd: true },
  'header-only': { why: 'RFC 1035 §4.1.1 FORMERR: the header is readable, so the client learns why (knot drops it)', gdnsd: true },
  'question-truncated': { why: 'RFC 1035 §4.1.1 FORMERR (knot drops it)', gdnsd: true },
  'question-pointer': { why: 'RFC 1035 §4.1.1 FORMERR: nothing precedes the question for a pointer to reference (knot drops it)', gdnsd: true },
  'garbage-after-header': { why: 'RFC 1035 §4.1.1 FORMERR (knot drops it)', gdnsd: true },
  // ECS (RFC 7871), where knot and gdnsd disagree.
  'ecs-address-too-long': { why: 'RFC 7871 §6: too many ADDRESS octets SHOULD get FORMERR (knot accepts them)', gdnsd: true },
  'edns-version-1-bad-ecs': { why: 'RFC 6891 §6.1.3: BADVERS first, options are version 0\'s format (knot checks ECS first)', gdnsd: true },
};

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

/** What the comparison looks at, as one line (or "no answer"). Tolerates any bytes. */
export function summarise(b: Buffer | null): string {
  if (!b) return 'no answer';
  if (b.length < 12) return `short answer (${b.length} bytes)`;
  const flags = b.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => b.readUInt16BE(o));
  let ext = 0;
  let opt = false;
  let tsig = false;
  try {
    let off = 12;
    const skipName = () => {
      for (;;) {
        const l = b[off]!;
        if (l === 0) return void off++;
        if ((l & 0xc0) === 0xc0) return void (off += 2);
        off += 1 + l;
      }
    };
    for (let i = 0; i < counts[0]!; i++) (skipName(), (off += 4));
    for (let s = 1; s < 4; s++)
      for (let i = 0; i < counts[s]!; i++) {
        skipName();
        const type = b.readUInt16BE(off);
        if (s === 3 && type === 41) ((opt = true), (ext = b[off + 4]!));
        if (s === 3 && type === 250) tsig = true;
        off += 10 + b.readUInt16BE(off + 8);
      }
  } catch {
    return `undecodable answer (${b.length} bytes)`;
  }
  const rcode = (ext << 4) | (flags & 0xf);
  const set = ([['qr', 0x8000], ['aa', 0x0400], ['tc', 0x0200], ['rd', 0x0100], ['ra', 0x0080], ['z', 0x0040], ['ad', 0x0020], ['cd', 0x0010]] as const).filter(([, m]) => flags & m).map(([n]) => n);
  return `${rcode === 16 ? 'BADVERS' : (RCODES[rcode] ?? `RCODE${rcode}`)} opcode=${(flags >> 11) & 0xf} [${set.join(' ')}] counts=${counts.join('/')}${opt ? ' +OPT' : ''}${tsig ? ' +TSIG' : ''}`;
}

async function ask(port: number, query: BatteryQuery): Promise<Buffer | null> {
  // A missing answer is retried once with a longer wait, so a loaded machine does not read as a drop.
  for (const timeoutMs of [1000, 2500]) {
    try {
      return query.transport === 'tcp' ? await tcpExchange(port, query.packet, { timeoutMs }) : await udpExchange(port, query.packet, { timeoutMs });
    } catch (err) {
      // A server that closes a TCP connection without answering: that is "no answer" at once.
      if (query.transport === 'tcp' && !/no TCP answer/.test((err as Error).message)) return null;
    }
  }
  return null;
}

describe.skipIf(skip)('sluice dns compared with knot and gdnsd', () => {
  let dir: string;
  let knot: ReferenceServer;
  let gdnsd: ReferenceServer;
  let sluice: SluiceProcess;
  let sluicePort: number;
  const results = new Map<string, { sluice: string; knot: string; gdnsd: string }>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-dns-diff-'));
    const z = BATTERY_ZONE;
    for (const d of ['knot', 'gdnsd', 'sluice']) mkdirSync(join(dir, d));
    // Below the ephemeral range: all three bind with SO_REUSEPORT (see freeServerPort).
    const [knotPort, gdnsdPort] = [await freeServerPort(), await freeServerPort()];
    sluicePort = await freeServerPort();
    const { view, configLines } = batteryView();
    writeFileSync(join(dir, 'sluice', 'view.json'), JSON.stringify(view));
    writeFileSync(join(dir, 'sluice', 'dns.yaml'), [`listen: ["127.0.0.1:${sluicePort}"]`, 'view_file: view.json', ...configLines, 'log_level: warn'].join('\n'));
    sluice = startSluice(['dns', '--config', join(dir, 'sluice', 'dns.yaml')]);
    [knot, gdnsd] = await Promise.all([startKnot(join(dir, 'knot'), knotPort, z.zone, batteryZoneFile()), startGdnsd(join(dir, 'gdnsd'), gdnsdPort, z.zone, batteryZoneFile())]);
    await waitFor(async () => decodeResponse(await udpExchange(sluicePort, buildQuery({ name: z.zone, qtype: 6 }), { timeoutMs: 300 })).aa, {
      timeoutMs: 20_000,
      what: `sluice dns to answer; output: ${sluice.output()}`,
    });
    // Twenty queries in flight at a time (each on its own socket): a dropped query costs its timeout once.
    for (let i = 0; i < BATTERY.length; i += 20) {
      await Promise.all(
        BATTERY.slice(i, i + 20).map(async (query) => {
          const [s, k, g] = await Promise.all([ask(sluicePort, query), ask(knot.port, query), ask(gdnsd.port, query)]);
          results.set(query.name, { sluice: summarise(s), knot: summarise(k), gdnsd: summarise(g) });
        }),
      );
    }
  }, 180_000);

  afterAll(async () => {
    await Promise.all([sluice?.stop(), knot?.stop(), gdnsd?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sends a battery of at least 60 queries: normal, error, EDNS, ECS, TSIG and malformed', () => {
    expect(BATTERY.length).toBeGreaterThanOrEqual(60);
    expect(new Set(BATTERY.map((q) => q.name)).size).toBe(BATTERY.length);
    // Both references really answered the battery (not a dead port).
    expect([...results.values()].filter((r) => r.knot.startsWith('NOERROR')).length).toBeGreaterThan(20);
    expect([...results.values()].filter((r) => r.gdnsd.startsWith('NOERROR')).length).toBeGreaterThan(20);
  });

  it('answers every query as knot does, except the documented differences', () => {
    const unexplained: string[] = [];
    for (const [name, r] of results) {
      if (r.sluice !== r.knot && !DIFFERENCES[name]) unexplained.push(`${name}\n    sluice: ${r.sluice}\n    knot:   ${r.knot}\n    gdnsd:  ${r.gdnsd}`);
    }
    expect(unexplained, `differences from knot that dns/README.md does not explain:\n  ${unexplained.join('\n  ')}`).toEqual([]);
  });

  it('lists no difference that is not one (each documented query really differs from knot)', () => {
    const stale = Object.keys(DIFFERENCES).filter((name) => !results.has(name) || results.get(name)!.sluice === results.get(name)!.knot);
    expect(stale).toEqual([]);
  });

  it('answers as gdnsd does wherever a difference from knot says so', () => {
    const notLikeGdnsd = Object.entries(DIFFERENCES)
      .filter(([name, d]) => d.gdnsd && results.get(name)?.sluice !== results.get(name)?.gdnsd)
      .map(([name]) => `${name}: sluice ${results.get(name)?.sluice} / gdnsd ${results.get(name)?.gdnsd}`);
    expect(notLikeGdnsd).toEqual([]);
  });

  it('documents every difference in dns/README.md', () => {
    const readme = readFileSync(join(REPO_ROOT, 'dns/README.md'), 'utf8');
    const missing = Object.keys(DIFFERENCES).filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
