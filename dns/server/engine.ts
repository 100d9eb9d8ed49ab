// Wiring shared by every serving process: config -> geolocator + Responder, view -> index.
import { ConfigError } from '../../lib/config-file.ts';
import type { Logger } from '../../lib/log.ts';
import type { DnsView } from '../../model/views.ts';
import { GeoLocator } from '../answer/geo.ts';
import { Responder } from '../answer/respond.ts';
import type { DnsStats } from '../answer/stats.ts';
import { buildViewIndex, type Authority, type LearnedTables, type ViewIndex } from '../answer/view-index.ts';
import { parseSubnets, updateViewIndex, type ParsedSubnets } from '../answer/view-index-update.ts';
import { checkChanges, expandSubnets } from '../../model/view-codec.ts';
import type { CompactDnsView, CompactSubnets, DnsRecordChange } from '../../model/view-changes.ts';
import type { ViewDelta } from '../view-changes.ts';
import type { DnsConfig } from '../config.ts';
import { nameToWireKey, qtypeName } from '../wire/constants.ts';
import { HMAC_SHA256, TsigKeyring } from '../wire/tsig.ts';
import type { TcpLimits } from './tcp.ts';
import { KeyFileError, loadKeyDirectory, type DnssecKey } from '../dnssec/keys.ts';
import { OnlineSigner } from '../dnssec/online.ts';
import type { DnssecStats } from '../dnssec/stats.ts';

export function authorityOf(config: DnsConfig): Authority {
  const a = config.authority;
  return {
    primaryNs: a.primary_ns,
    hostmaster: a.hostmaster,
    nameservers: a.nameservers,
    soaTtl: a.soa_ttl,
    nsTtl: a.ns_ttl,
    negativeTtl: a.negative_ttl,
    refresh: a.refresh,
    retry: a.retry,
    expire: a.expire,
  };
}

export function openGeo(config: DnsConfig, configFile: string): GeoLocator | null {
  const g = config.geoip;
  if (!g.database && g.cidr_mappings.length === 0) return null;
  try {
    return GeoLocator.open(g.database, g.cidr_mappings, g.cache_size);
  } catch (err) {
    throw new ConfigError(configFile, [{ key: 'geoip.database', message: `cannot open the MaxMind database: ${(err as Error).message}` }]);
  }
}

/**
 * The zones' signing keys from `dnssec.key_directory`; a key that is unreadable, unprotected or does
 * not match itself is a config error at start (exit 2), so a server never comes up half-signed.
 */
export function loadKeys(config: DnsConfig, configFile: string): Map<string, DnssecKey[]> {
  try {
    return loadKeyDirectory(config.dnssec!.key_directory);
  } catch (err) {
    if (err instanceof KeyFileError) throw new ConfigError(configFile, [{ key: 'dnssec.key_directory', message: err.message }]);
    throw err;
  }
}

/** The online signer for `dnssec:` (undefined without it). `stats`: shared memory, for a serving thread. */
export function createSigner(config: DnsConfig, configFile: string, stats?: DnssecStats): OnlineSigner | undefined {
  const d = config.dnssec;
  if (!d) return undefined;
  return new OnlineSigner(loadKeys(config, configFile), {
    policy: { validity: d.signature_validity / 1000, refreshBefore: d.refresh_before / 1000, inceptionOffset: d.inception_offset / 1000 },
    cacheSize: d.cache_size,
    dnskeyTtl: d.dnskey_ttl,
    ...(stats ? { stats } : {}),
  });
}

/** Re-reads the keys (SIGHUP); a bad key directory is logged and the keys in force stay. */
export function reloadKeys(signer: OnlineSigner | undefined, config: DnsConfig, configFile: string, log: Logger): void {
  if (!signer) return;
  try {
    const keys = loadKeys(config, configFile);
    signer.setKeys(keys);
    log.info({ zones: [...keys.keys()], keys: [...keys.values()].reduce((n, k) => n + k.length, 0) }, 'DNSSEC keys loaded');
  } catch (err) {
    log.error({ err: (err as Error).message }, 'cannot reload the DNSSEC keys; keeping the ones in force');
  }
}

/**
 * `stats`: where to count (default: counters of its own); a batched UDP thread counts into shared
 * memory. `signer`: online DNSSEC signing (createSigner), one per responder.
 */
export function createResponder(config: DnsConfig, geo: GeoLocator | null, log: Logger, stats?: DnsStats, signer?: OnlineSigner): Responder {
  const debug = log.isLevelEnabled('debug');
  return new Responder({
    geo,
    ...(stats ? { stats } : {}),
    ...(signer ? { dnssec: signer } : {}),
    limits: { ipv4: config.ecs.ipv4_scope_max, ipv6: config.ecs.ipv6_scope_max },
    udpPayloadSize: config.udp_payload_size,
    tsigKeys: new TsigKeyring(config.tsig_keys.map((k) => ({ name: nameToWireKey(k.name), algorithm: HMAC_SHA256, secret: Buffer.from(k.secret, 'base64') }))),
    ...(debug
      ? {
          onDecision: (q, rec, choice) =>
            log.debug(
              {
                qname: rec.hostname,
                qtype: qtypeName(q.qtype),
                reason: choice.reason,
                origin: choice.set ? rec.origins[choice.set.slots[choice.slot]!]!.id : null,
                ecs: q.ecs ? `${q.ecsFamily === 1 ? 'v4' : 'v6'}/${q.ecsSource}` : null,
                scope: q.ecs ? choice.scope : null,
              },
              'answer',
            ),
        }
      : {}),
  });
}

export function tcpLimitsOf(config: DnsConfig): TcpLimits {
  const t = config.tcp;
  return { maxConnections: t.max_connections, idleTimeoutMs: t.idle_timeout, messageTimeoutMs: t.message_timeout, maxUnsent: t.max_unsent };
}

/** Builds the index for a view and logs what it skipped. `pace`, `tables`: see buildViewIndex. */
export function indexView(view: DnsView, config: DnsConfig, log: Logger, logSummary: boolean, pace?: () => void, tables?: LearnedTables): ViewIndex {
  const index = buildViewIndex(view, authorityOf(config), Date.now(), pace, tables);
  if (logSummary) {
    for (const w of index.warnings.slice(0, 20)) log.warn({ version: view.version }, `view: ${w}`);
    if (index.warnings.length > 20) log.warn(`view: ${index.warnings.length - 20} more problems not shown`);
    log.info({ version: index.version, weights_version: index.weightsVersion, zones: index.zones.size, records: index.records.size }, 'view installed');
  }
  return index;
}

/**
 * The view without its learned subnets: what a process keeps once its index holds them (a delta's
 * base: record positions, load balancer ids, every other field). A million subnets are then held once
 * per server (by whoever fetched the view), not once more per index.
 */
export function skeletonOf(view: DnsView | CompactDnsView): DnsView {
  // Every record copied without its table, empty or not: telling a million-key table from an empty
  // one costs V8 the enumeration of all its keys (Object.keys, even for-in: measured ~300 ms at 1M,
  // and this runs per delta in serving.ts install).
  return { ...view, zones: view.zones.map((z) => ({ zone: z.zone, records: z.records.map((r) => ({ ...r, subnets: {} })) })) };
}

/**
 * A compact view (model/view-changes.ts, as a cluster primary sends it) as its skeleton and its
 * records' tables, without expanding a table into an object (view-index.ts LearnedTables).
 */
export function splitCompactView(c: CompactDnsView): { view: DnsView; tables: CompactSubnets[][] } {
  return { view: skeletonOf(c), tables: c.zones.map((z) => z.records.map((r) => r.subnets)) };
}

/**
 * A delta applied by a process or thread that keeps only its index and the view's skeleton: the index
 * updated in place (view-index-update.ts), the skeleton moved on. Null when that cannot be done here —
 * `held` or the index is not the delta's base, a rebuilt record's table is missing, or the index
 * refuses the update (nothing changed) — and the caller asks for the whole view. Throws
 * ViewDecodeError when the delta is malformed (nothing changed).
 */
export function applyViewDelta(held: DnsView | null, index: ViewIndex | null, delta: ViewDelta, config: DnsConfig, log: Logger): { view: DnsView; index: ViewIndex; parsed: (ParsedSubnets | undefined)[] } | null {
  if (!held || held.version !== delta.from || !index || index.version !== delta.from) return null;
  checkChanges(held, delta.changes);
  const parsed = delta.parsed ?? parseChanges(delta.changes);
  // The view after the delta as far as the index update reads it: the changed records' names, and
  // the rebuilt records whole.
  const zones = held.zones.map((z) => ({ zone: z.zone, records: [...z.records] }));
  for (const c of delta.changes) {
    if (!c.meta) continue;
    const table = delta.tables?.find((t) => t.zone === c.zone && t.record === c.record);
    if (!table) return null;
    zones[c.zone]!.records[c.record] = { ...c.meta, subnets: expandSubnets(table.subnets, `tables[${c.zone}/${c.record}]`) };
  }
  const next: DnsView = { version: delta.header.version, seq: delta.header.seq, weights_version: delta.header.weights_version, zones };
  let updated: ViewIndex;
  try {
    updated = updateViewIndex(index, next, delta.changes, authorityOf(config), Date.now(), parsed);
  } catch (err) {
    log.warn({ err: (err as Error).message, version: next.version }, 'cannot apply the delta to the index; asking for the whole view');
    return null;
  }
  return { view: skeletonOf(next), index: updated, parsed };
}

/** Each change's subnets parsed (none for a record the delta rebuilds: its table is read whole). Throws ViewDecodeError. */
export function parseChanges(changes: DnsRecordChange[]): (ParsedSubnets | undefined)[] {
  return changes.map((c, i) => (c.meta ? undefined : parseSubnets(c, `records[${i}].set`)));
}

/**
 * `delta` as a serving thread gets it once its owner has parsed it: the parsed subnets (typed arrays:
 * a cheap clone) instead of the changes' strings, which are left empty.
 */
export function withParsed(delta: ViewDelta, parsed: (ParsedSubnets | undefined)[]): ViewDelta {
  const changes = delta.changes.map((c, i) => (parsed[i] ? { ...c, set: { maps: [], cidrs: [], map: [] }, removed: [] } : c));
  return { ...delta, changes, parsed };
}

/**
 * ParsedSubnets as they cross a cluster's IPC channel, which is JSON (its 'advanced' serialization
 * would carry typed arrays as they are, but it made every TCP connection the primary hands a worker
 * cost both ~7 KB more RSS: test/dns-tcp.test.ts, +36 MB at 5,000 connections): each typed array's
 * bytes in base64 (both ends run on one machine: one byte order), the maps as JSON texts.
 */
export interface WireParsedSubnets {
  bytes: string;
  prefix: string;
  map: string;
  mapTexts: string[];
  names: string[];
  invalid: string[];
}

/**
 * A delta as a cluster primary hands it to its workers: its subnets parsed once here (`wire`), so no
 * worker parses 20k CIDR strings again, and its weight maps as JSON texts (ParsedSubnets.mapTexts),
 * which a worker and its UDP thread look up instead of deserialising and canonicalising each map
 * again. A delta whose subnets do not parse crosses as it came, and each worker refuses it as before
 * (ViewDelta, nothing changed). The worker turns it back with fromWire.
 */
export function preParsed(delta: ViewDelta): ViewDelta {
  if (delta.parsed || delta.wire) return delta;
  let parsed;
  try {
    parsed = parseChanges(delta.changes);
  } catch {
    return delta;
  }
  const b64 = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
  const wire = parsed.map((p, i) => p && { bytes: b64(p.bytes), prefix: b64(p.prefix), map: b64(p.map), mapTexts: delta.mapTexts?.[i] ?? p.maps.map((m) => JSON.stringify(m)), names: p.names, invalid: p.invalid });
  // mapTexts cross inside `wire` only (not twice).
  return { ...withParsed(delta, parsed), parsed: undefined, wire, mapTexts: undefined };
}

/**
 * The delta preParsed sent, with its ParsedSubnets back. A base64 text of the wrong length decodes to
 * arrays of inconsistent lengths, which the index update refuses (asking for the whole view).
 */
export function fromWire(delta: ViewDelta): ViewDelta {
  if (!delta.wire) return delta;
  const decode = <T>(text: unknown, Type: { new (n: number): T & ArrayBufferView; BYTES_PER_ELEMENT: number }): T => {
    const b = Buffer.from(typeof text === 'string' ? text : '', 'base64');
    const out = new Type(Math.floor(b.length / Type.BYTES_PER_ELEMENT));
    new Uint8Array(out.buffer).set(b.subarray(0, out.byteLength));
    return out;
  };
  const parsed = delta.wire.map((w): ParsedSubnets | undefined =>
    w ? { bytes: decode(w.bytes, Uint8Array), prefix: decode(w.prefix, Uint16Array), map: decode(w.map, Int32Array), maps: [], mapTexts: w.mapTexts, names: w.names, invalid: w.invalid } : undefined,
  );
  return { ...delta, wire: undefined, parsed };
}
