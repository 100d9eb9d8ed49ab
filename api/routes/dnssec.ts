// DNSSEC keys through the control plane (issue 16): list a zone's keys, print the DS records for the
// parent, make a key and change a key's schedule (the rollover steps of dns/dnssec/README.md), on the
// same key directory `sluice dns keygen|ds|settime|keys` act on (dns/dnssec/key-admin.ts).
//
// The keys stay files in `dnssec.key_directory`, the directory the `sluice dns` servers read at start
// and on SIGHUP (on the same host, or a volume or copy they share). Private keys are never stored in
// the database or served: a read token sees the public half, the DS and the schedule; an admin token
// may make keys and move their times. Without `dnssec.key_directory` every route answers 404 saying so.
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { applyTimingChanges, dsKeys, dsLine, generateZoneKey, keyRole, keysIn, keyState, parseTimeArg, TIME_HELP, type TimingChanges } from '../../dns/dnssec/key-admin.ts';
import { KeyFileError, normaliseZone, publicKeyText, TIMING_FIELDS, writeKeyFiles, type DnssecKey, type TimingField } from '../../dns/dnssec/keys.ts';
import { ANY_REQUEST, ApiError, fieldError, problemResponses, type ProblemCode } from '../errors.ts';

export interface DnssecRouteOptions {
  /** The key directory shared with the dns servers; undefined: DNSSEC keys are not managed here. */
  keyDirectory: string | undefined;
  now?: () => number;
}

const ZoneName = z
  .string()
  .max(253)
  .regex(/^(?=.{1,253}\.?$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/, 'a DNS zone name such as example.com')
  .describe('the zone, e.g. example.com (a trailing dot is allowed)');

const Time = z.string().max(64).nullable().describe(`${TIME_HELP}; null unsets it`);

// API field -> BIND timing field (keys.ts), in the order of a key's life.
const TIMING_KEYS = { created: 'Created', publish: 'Publish', activate: 'Activate', inactive: 'Inactive', delete: 'Delete', sync_publish: 'SyncPublish', sync_delete: 'SyncDelete' } as const satisfies Record<string, TimingField>;
type SettableTiming = Exclude<keyof typeof TIMING_KEYS, 'created'>;

const TimingInput = z.strictObject({
  publish: Time.optional().describe('DNSKEY published from'),
  activate: Time.optional().describe('signs from'),
  inactive: Time.optional().describe('stops signing at'),
  delete: Time.optional().describe('DNSKEY removed at'),
  sync_publish: Time.optional().describe('CDS/CDNSKEY (RFC 7344) published from (KSK/CSK)'),
  sync_delete: Time.optional().describe('CDS/CDNSKEY removed at'),
});

const Timestamp = z.string().nullable().describe('RFC 3339 UTC; null: never');

const DnssecKeyView = z.object({
  zone: z.string(),
  key_tag: z.number().int(),
  role: z.enum(['csk', 'ksk', 'zsk']).describe('csk: a key-signing key in a zone with no ZSK (it signs everything)'),
  flags: z.number().int().describe('257 key-signing (KSK/CSK), 256 zone-signing'),
  algorithm: z.literal(13).describe('ECDSAP256SHA256'),
  published: z.boolean().describe('in the DNSKEY RRset now'),
  signing: z.boolean().describe('signs now'),
  cds_published: z.boolean().describe('its CDS/CDNSKEY are published now'),
  timing: z.object(Object.fromEntries(Object.keys(TIMING_KEYS).map((k) => [k, Timestamp])) as Record<keyof typeof TIMING_KEYS, typeof Timestamp>),
  revision: z.string().describe("changes whenever the key's schedule does: send it as If-Match (quoted) to PATCH only the schedule you read"),
  dnskey: z.string().describe('the DNSKEY record (the .key file)'),
  ds: z.string().nullable().describe('the DS record for the parent zone (SHA-256, TTL 3600); null for a ZSK'),
});

const DsView = z.object({
  zone: z.string(),
  items: z.array(
    z.object({
      key_tag: z.number().int(),
      published: z.boolean(),
      signing: z.boolean(),
      ds: z.string().describe('"<zone>. <ttl> IN DS <tag> 13 2 <SHA-256 hex>"'),
    }),
  ),
});

const READ: readonly ProblemCode[] = ['unauthorized', 'validation_failed', 'not_found', ...ANY_REQUEST];
const WRITE: readonly ProblemCode[] = ['unauthorized', 'forbidden', 'validation_failed', 'invalid_json', 'unsupported_media_type', 'payload_too_large', 'not_found', 'conflict', ...ANY_REQUEST];
const PATCH: readonly ProblemCode[] = [...WRITE, 'precondition_failed'];

export function dnssecRoutes(opts: DnssecRouteOptions) {
  const nowSeconds = () => Math.floor((opts.now ?? Date.now)() / 1000);
  return async function register(app: FastifyInstance): Promise<void> {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const params = z.object({ zone: ZoneName });

    r.get('/api/v1/dnssec/zones/:zone/keys', {
      schema: {
        tags: ['dnssec'],
        summary: "A zone's DNSSEC keys and what each does now",
        params,
        response: { 200: z.object({ zone: z.string(), items: z.array(DnssecKeyView) }), ...problemResponses(READ) },
      },
      handler: async (req) => {
        const zone = normaliseZone(req.params.zone);
        const now = nowSeconds();
        const keys = readKeys(keyDirectory(), zone);
        return { zone, items: keys.map((k) => keyView(k, keys, now)) };
      },
    });

    r.get('/api/v1/dnssec/zones/:zone/ds', {
      schema: {
        tags: ['dnssec'],
        summary: 'The DS records to put in the parent zone',
        description: 'One per key-signing key (KSK or CSK) not yet deleted, as `sluice dns ds` prints them. During a double-DS KSK rollover both keys are listed: the parent needs both until the old key is gone.',
        params,
        querystring: z.strictObject({ ttl: z.coerce.number().int().min(0).max(2_147_483_647).default(3600).describe('TTL written in the records') }),
        response: { 200: DsView, ...problemResponses(READ) },
      },
      handler: async (req) => {
        const zone = normaliseZone(req.params.zone);
        const now = nowSeconds();
        const keys = dsKeys(readKeys(keyDirectory(), zone), now);
        if (keys.length === 0) throw new ApiError('not_found', `zone ${zone} has no key-signing key (KSK or CSK); make one with POST /api/v1/dnssec/zones/${zone}/keys`, [fieldError('zone', 'no key-signing key', 'params')]);
        return { zone, items: keys.map((k) => ({ key_tag: k.tag, ...pick(keyState(k, now)), ds: dsLine(k, req.query.ttl) })) };
      },
    });

    r.post('/api/v1/dnssec/zones/:zone/keys', {
      schema: {
        tags: ['dnssec'],
        summary: 'Make a DNSSEC key (sluice dns keygen)',
        description:
          'A new ECDSA P-256 key in the key directory (private file mode 0600). Default schedule: published and signing now, and for a KSK/CSK its CDS/CDNSKEY now; set `publish`/`activate` to null to pre-publish or hold it back (dns/dnssec/README.md, "Key rollover"). ' +
          'The dns servers pick it up within their dnssec.key_check_interval (or on SIGHUP). The answer holds the DS for the parent (KSK/CSK).',
        params,
        body: TimingInput.extend({ type: z.enum(['csk', 'ksk', 'zsk']).default('csk').describe('csk: one key signs all; ksk + zsk: a split pair') }),
        response: { 201: DnssecKeyView, ...problemResponses(WRITE) },
      },
      handler: async (req, reply) => {
        const dir = keyDirectory();
        const zone = normaliseZone(req.params.zone);
        const now = nowSeconds();
        const { type, ...times } = req.body;
        // Read first: a directory holding a bad key refuses before a new key is added to it.
        const existing = readKeys(dir, zone);
        const changes = timingChanges(times, now);
        let key: DnssecKey;
        try {
          key = generateZoneKey(dir, zone, type, changes, now);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ApiError('conflict', `a key with the same tag already exists for ${zone}; ask again (a new key gets a new tag)`);
          throw keyError(err);
        }
        reply.code(201).header('etag', `"${revision(key)}"`);
        return keyView(key, [...existing, key], now);
      },
    });

    r.patch('/api/v1/dnssec/zones/:zone/keys/:key_tag', {
      schema: {
        tags: ['dnssec'],
        summary: "Change a key's schedule (sluice dns settime)",
        description: 'Only the times given change. The dns servers re-read the keys within their dnssec.key_check_interval (or on SIGHUP): set times at least that far ahead when every server must act at once. With If-Match (the key\'s revision, quoted) the change applies only to the schedule you read: two operators stepping one rollover cannot undo each other.',
        params: params.extend({ key_tag: z.coerce.number().int().min(0).max(65535) }),
        headers: z.object({ 'if-match': z.string().optional().describe('the revision from a previous read, quoted ("*": any)') }),
        body: TimingInput,
        response: { 200: DnssecKeyView, ...problemResponses(PATCH) },
      },
      handler: async (req, reply) => {
        const dir = keyDirectory();
        const zone = normaliseZone(req.params.zone);
        const now = nowSeconds();
        const keys = readKeys(dir, zone);
        const matching = keys.filter((k) => k.tag === req.params.key_tag);
        if (matching.length === 0) throw new ApiError('not_found', `zone ${zone} has no key ${req.params.key_tag}`, [fieldError('key_tag', 'no such key', 'params')]);
        if (matching.length > 1) throw new ApiError('conflict', `zone ${zone} has ${matching.length} keys with tag ${req.params.key_tag}; change them with sluice dns settime --key FILE`, [fieldError('key_tag', 'ambiguous', 'params')]);
        const key = matching[0]!;
        const ifMatch = req.headers['if-match'];
        if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== `"${revision(key)}"`) {
          throw new ApiError('precondition_failed', `key ${key.tag} of ${zone} is at revision "${revision(key)}", not ${ifMatch}: its schedule changed since you read it`, [fieldError('if-match', 'stale revision', 'headers')]);
        }
        applyTimingChanges(key.timing, timingChanges(req.body, now));
        try {
          writeKeyFiles(key, false);
        } catch (err) {
          throw keyError(err);
        }
        reply.header('etag', `"${revision(key)}"`);
        return keyView(key, keys, now);
      },
    });
  };

  function keyDirectory(): string {
    if (opts.keyDirectory === undefined) throw new ApiError('not_found', 'DNSSEC keys are not managed by this control plane: set dnssec.key_directory in its config (the directory the dns servers read), or use sluice dns keygen|ds|settime|keys where the keys are', [fieldError('zone', 'no dnssec.key_directory', 'params')]);
    return opts.keyDirectory;
  }
}

/** The zone's keys; an empty or missing directory is no keys, a bad or unprotected key file an error naming it. */
function readKeys(dir: string, zone: string): DnssecKey[] {
  try {
    return keysIn(dir, zone);
  } catch (err) {
    if (err instanceof KeyFileError && /ENOENT|no such file/i.test(err.message) && err.file === dir) return [];
    throw keyError(err);
  }
}

/** A key directory the control plane cannot use is its own configuration's fault, not the client's. */
function keyError(err: unknown): Error {
  if (err instanceof KeyFileError) return new ApiError('internal', `DNSSEC key directory: ${err.message}`);
  return err as Error;
}

function timingChanges(times: Partial<Record<SettableTiming, string | null | undefined>>, now: number): TimingChanges {
  const changes: TimingChanges = {};
  for (const [field, value] of Object.entries(times) as [SettableTiming, string | null | undefined][]) {
    if (value === undefined) continue;
    if (value === null) {
      changes[TIMING_KEYS[field]] = null;
      continue;
    }
    const t = parseTimeArg(value, now);
    if (t === undefined) throw new ApiError('validation_failed', `${field} "${value}": ${TIME_HELP}`, [fieldError(field, TIME_HELP)]);
    changes[TIMING_KEYS[field]] = t;
  }
  return changes;
}

/** A short digest of the key's schedule: what If-Match compares. */
function revision(k: DnssecKey): string {
  return createHash('sha256').update(JSON.stringify(TIMING_FIELDS.map((f) => k.timing[f] ?? null))).digest('hex').slice(0, 16);
}

function pick(s: { published: boolean; signing: boolean }): { published: boolean; signing: boolean } {
  return { published: s.published, signing: s.signing };
}

function keyView(k: DnssecKey, zoneKeys: readonly DnssecKey[], now: number): z.infer<typeof DnssecKeyView> {
  const timing = Object.fromEntries(Object.entries(TIMING_KEYS).map(([api, field]) => [api, k.timing[field] === undefined ? null : new Date(k.timing[field]! * 1000).toISOString()])) as Record<keyof typeof TIMING_KEYS, string | null>;
  const role = keyRole(k, zoneKeys);
  return {
    zone: k.zone,
    key_tag: k.tag,
    role,
    flags: k.flags,
    algorithm: 13,
    ...keyState(k, now),
    timing,
    revision: revision(k),
    dnskey: publicKeyText(k).split('\n').find((l) => l !== '' && !l.startsWith(';'))!,
    ds: role === 'zsk' ? null : dsLine(k, 3600),
  };
}
