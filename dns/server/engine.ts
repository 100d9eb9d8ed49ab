// Wiring shared by every serving process: config -> geolocator + Responder, view -> index.
import { ConfigError } from '../../lib/config-file.ts';
import type { Logger } from '../../lib/log.ts';
import type { DnsView } from '../../model/views.ts';
import { GeoLocator } from '../answer/geo.ts';
import { Responder } from '../answer/respond.ts';
import type { DnsStats } from '../answer/stats.ts';
import { buildViewIndex, type Authority, type ViewIndex } from '../answer/view-index.ts';
import type { DnsConfig } from '../config.ts';
import { nameToWireKey, qtypeName } from '../wire/constants.ts';
import { HMAC_SHA256, TsigKeyring } from '../wire/tsig.ts';
import type { TcpLimits } from './tcp.ts';

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

/** `stats`: where to count (default: counters of its own); a batched UDP thread counts into shared memory. */
export function createResponder(config: DnsConfig, geo: GeoLocator | null, log: Logger, stats?: DnsStats): Responder {
  const debug = log.isLevelEnabled('debug');
  return new Responder({
    geo,
    ...(stats ? { stats } : {}),
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

/** Builds the index for a view and logs what it skipped. `pace`: see buildViewIndex. */
export function indexView(view: DnsView, config: DnsConfig, log: Logger, logSummary: boolean, pace?: () => void): ViewIndex {
  const index = buildViewIndex(view, authorityOf(config), Date.now(), pace);
  if (logSummary) {
    for (const w of index.warnings.slice(0, 20)) log.warn({ version: view.version }, `view: ${w}`);
    if (index.warnings.length > 20) log.warn(`view: ${index.warnings.length - 20} more problems not shown`);
    log.info({ version: index.version, weights_version: index.weightsVersion, zones: index.zones.size, records: index.records.size }, 'view installed');
  }
  return index;
}
