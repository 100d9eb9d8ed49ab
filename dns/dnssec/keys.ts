// DNSSEC signing keys on disk, in BIND's key file format, so keys move between sluice and the usual
// tools (dnssec-settime, dnssec-dsfromkey, ldns) and an operator can read them:
//
//   K<zone>.+013+<tag>.key      the public DNSKEY as a zone-file line (not secret)
//   K<zone>.+013+<tag>.private  "Private-key-format: v1.3", the private scalar, and the key's timing
//                               metadata (Created, Publish, Activate, Inactive, Delete, SyncPublish,
//                               SyncDelete; UTC YYYYMMDDHHMMSS)
//
// The timing metadata is the whole rollover state machine: at time t a key is *published* (in the
// DNSKEY RRset) from Publish until Delete, *signing* from Activate until Inactive (and only while
// published), and its CDS/CDNSKEY are published from SyncPublish until SyncDelete (KSKs only). A
// rollover is a schedule of these times (dns/README.md, "Key rollover").
//
// Private key files are refused when group or others may read or write them, or when someone other
// than us (or root) owns them — as OpenSSH refuses "unprotected private key files". A key that does
// not parse, or whose private half does not match its public half, is an error naming the file: a
// zone must never be served signed with a key other than the one its DS points at.
import { createECDH, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { nameToWireKey } from '../wire/constants.ts';
import { ALGORITHM_ECDSAP256SHA256, dnskeyRdata, FLAGS_KSK, FLAGS_ZSK, keyTag } from './wire.ts';

export const TIMING_FIELDS = ['Created', 'Publish', 'Activate', 'Inactive', 'Delete', 'SyncPublish', 'SyncDelete'] as const;
export type TimingField = (typeof TIMING_FIELDS)[number];
/** Seconds since the epoch per field; absent = never. */
export type KeyTiming = Partial<Record<TimingField, number>>;

export interface DnssecKey {
  /** Lower-case zone name without the trailing dot ("example.com"). */
  zone: string;
  zoneKey: string;
  /** 257 (KSK, or CSK when the zone has no active ZSK) or 256 (ZSK). */
  flags: number;
  algorithm: number;
  tag: number;
  /** The DNSKEY RDATA. */
  rdata: Buffer;
  privateKey: KeyObject;
  timing: KeyTiming;
  /** Path without the .key/.private suffix. */
  path: string;
}

export class KeyFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'KeyFileError';
  }
}

/** "K<zone>.+013+<tag>", BIND's file name stem. */
export function keyStem(zone: string, tag: number): string {
  return `K${zone}.+${String(ALGORITHM_ECDSAP256SHA256).padStart(3, '0')}+${String(tag).padStart(5, '0')}`;
}

export function isPublished(k: DnssecKey, now: number): boolean {
  const from = k.timing.Publish ?? k.timing.Created;
  return from !== undefined && from <= now && !(k.timing.Delete !== undefined && k.timing.Delete <= now);
}

export function isSigning(k: DnssecKey, now: number): boolean {
  const t = k.timing;
  return isPublished(k, now) && t.Activate !== undefined && t.Activate <= now && !(t.Inactive !== undefined && t.Inactive <= now);
}

/** CDS/CDNSKEY for this key are published (KSK/CSK only, RFC 7344). */
export function isSynced(k: DnssecKey, now: number): boolean {
  const t = k.timing;
  return k.flags === FLAGS_KSK && isPublished(k, now) && t.SyncPublish !== undefined && t.SyncPublish <= now && !(t.SyncDelete !== undefined && t.SyncDelete <= now);
}

/** The next time after `now` at which any timing event of these keys happens (Infinity when none). */
export function nextEvent(keys: readonly DnssecKey[], now: number): number {
  let next = Infinity;
  for (const k of keys) for (const f of TIMING_FIELDS) {
    const t = k.timing[f];
    if (t !== undefined && t > now && t < next) next = t;
  }
  return next;
}

/** UTC YYYYMMDDHHMMSS <-> seconds since the epoch. */
export function formatKeyTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export function parseKeyTime(text: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text.trim());
  if (!m) return null;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return Number.isFinite(ms) ? ms / 1000 : null;
}

/** Refuses a private key file that others could read or write, or that someone else owns. */
export function checkPrivateKeyFile(file: string): void {
  const st = statSync(file);
  if (!st.isFile()) throw new KeyFileError(file, 'not a regular file');
  const mode = st.mode & 0o777;
  if (mode & 0o077) {
    throw new KeyFileError(
      file,
      `permissions ${mode.toString(8).padStart(4, '0')} are too open: a private key must be readable by its owner only (chmod 600 ${JSON.stringify(file)})`,
    );
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
    throw new KeyFileError(file, `owned by uid ${st.uid}, not by us (uid ${uid}) or root: refusing a private key someone else controls`);
  }
}

/** Generates a P-256 key pair; returns the DNSKEY public key (x || y) and the private key. */
export function generateKeyPair(): { publicKey: Buffer; privateKey: KeyObject } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { publicKey: publicKeyBytes(privateKey), privateKey };
}

function publicKeyBytes(privateKey: KeyObject): Buffer {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
}

export function makeKey(zone: string, flags: number, privateKey: KeyObject, timing: KeyTiming, dir: string): DnssecKey {
  const z = normaliseZone(zone);
  const rdata = dnskeyRdata(flags, publicKeyBytes(privateKey));
  const tag = keyTag(rdata);
  return { zone: z, zoneKey: nameToWireKey(z), flags, algorithm: ALGORITHM_ECDSAP256SHA256, tag, rdata, privateKey, timing, path: join(dir, keyStem(z, tag)) };
}

export function normaliseZone(zone: string): string {
  return zone.toLowerCase().replace(/\.$/, '');
}

/** The .key file's text: comments as BIND writes them, then the DNSKEY line. */
export function publicKeyText(k: DnssecKey): string {
  const role = k.flags === FLAGS_KSK ? 'key-signing' : 'zone-signing';
  const lines = [`; This is a ${role} key, keyid ${k.tag}, for ${k.zone}.`];
  for (const f of TIMING_FIELDS) {
    const t = k.timing[f];
    if (t !== undefined) lines.push(`; ${f}: ${formatKeyTime(t)} (${new Date(t * 1000).toUTCString()})`);
  }
  lines.push(`${k.zone}. IN DNSKEY ${k.flags} 3 ${k.algorithm} ${k.rdata.subarray(4).toString('base64')}`);
  return `${lines.join('\n')}\n`;
}

export function privateKeyText(k: DnssecKey): string {
  const d = Buffer.from(k.privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const lines = ['Private-key-format: v1.3', `Algorithm: ${k.algorithm} (ECDSAP256SHA256)`, `PrivateKey: ${d.toString('base64')}`];
  for (const f of TIMING_FIELDS) {
    const t = k.timing[f];
    if (t !== undefined) lines.push(`${f}: ${formatKeyTime(t)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Writes both files. The private file is created with mode 0600 before any secret is written, and
 * replaced through a rename so a reader never sees half a key. `exclusive`: fail if it exists.
 */
export function writeKeyFiles(k: DnssecKey, exclusive: boolean): void {
  writeAtomically(`${k.path}.private`, privateKeyText(k), 0o600, exclusive);
  writeAtomically(`${k.path}.key`, publicKeyText(k), 0o644, exclusive);
}

function writeAtomically(file: string, text: string, mode: number, exclusive: boolean): void {
  if (exclusive) {
    const fd = openSync(file, 'wx', mode);
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    return;
  }
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** Reads one key from its path stem (or either file's path). */
export function readKey(pathOrStem: string): DnssecKey {
  const stem = pathOrStem.replace(/\.(key|private)$/, '');
  const pubFile = `${stem}.key`;
  const privFile = `${stem}.private`;
  const pub = parsePublicKeyFile(pubFile, readText(pubFile));
  checkPrivateKeyFile(privFile);
  const priv = parsePrivateKeyFile(privFile, readText(privFile));
  // The public point is derived from the private scalar, not taken from the .key file (a JWK's x/y
  // are trusted as given), so a private file that belongs to another key is caught here.
  let derived: Buffer;
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(priv.d);
    derived = ecdh.getPublicKey().subarray(1); // uncompressed point: 0x04 || x || y
  } catch (err) {
    throw new KeyFileError(privFile, `not a P-256 private key (${(err as Error).message})`);
  }
  if (!derived.equals(pub.publicKey)) throw new KeyFileError(privFile, `the private key does not belong to the public key in ${basename(pubFile)}`);
  const privateKey = createPrivateKey({
    key: { kty: 'EC', crv: 'P-256', d: priv.d.toString('base64url'), x: derived.subarray(0, 32).toString('base64url'), y: derived.subarray(32).toString('base64url') },
    format: 'jwk',
  });
  const rdata = dnskeyRdata(pub.flags, pub.publicKey);
  const zone = normaliseZone(pub.zone);
  return { zone, zoneKey: nameToWireKey(zone), flags: pub.flags, algorithm: ALGORITHM_ECDSAP256SHA256, tag: keyTag(rdata), rdata, privateKey, timing: priv.timing, path: stem };
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new KeyFileError(file, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (err as Error).message);
  }
}

export function parsePublicKeyFile(file: string, text: string): { zone: string; flags: number; publicKey: Buffer } {
  const line = text.split('\n').map((l) => l.replace(/;.*$/, '').trim()).find((l) => l !== '');
  // owner [TTL] [class] DNSKEY flags protocol algorithm base64...
  const m = line && /^(\S+)\s+(?:\d+\s+)?(?:IN\s+)?DNSKEY\s+(\d+)\s+(\d+)\s+(\d+)\s+(.+)$/i.exec(line);
  if (!m) throw new KeyFileError(file, 'expected a line "<zone>. IN DNSKEY <flags> 3 13 <base64 key>"');
  const flags = Number(m[2]);
  if (flags !== FLAGS_KSK && flags !== FLAGS_ZSK) throw new KeyFileError(file, `DNSKEY flags ${flags}: expected 257 (KSK/CSK) or 256 (ZSK)`);
  if (Number(m[3]) !== 3) throw new KeyFileError(file, `DNSKEY protocol ${m[3]}: expected 3`);
  if (Number(m[4]) !== ALGORITHM_ECDSAP256SHA256) throw new KeyFileError(file, `algorithm ${m[4]}: sluice signs with 13 (ECDSAP256SHA256) only`);
  const publicKey = Buffer.from(m[5]!.replace(/\s+/g, ''), 'base64');
  if (publicKey.length !== 64) throw new KeyFileError(file, `public key is ${publicKey.length} bytes; a P-256 key is 64`);
  return { zone: m[1]!, flags, publicKey };
}

export function parsePrivateKeyFile(file: string, text: string): { d: Buffer; timing: KeyTiming } {
  const fields = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith(';')) continue;
    const colon = line.indexOf(':');
    if (colon < 0) throw new KeyFileError(file, `unreadable line "${line.slice(0, 40)}"`);
    fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const format = fields.get('Private-key-format');
  if (!format || !/^v1\.[23]$/.test(format)) throw new KeyFileError(file, `Private-key-format "${format ?? ''}": expected v1.3`);
  const alg = fields.get('Algorithm');
  if (!alg || Number.parseInt(alg, 10) !== ALGORITHM_ECDSAP256SHA256) throw new KeyFileError(file, `Algorithm "${alg ?? ''}": expected 13 (ECDSAP256SHA256)`);
  const d = Buffer.from(fields.get('PrivateKey') ?? '', 'base64');
  if (d.length !== 32) throw new KeyFileError(file, `PrivateKey is ${d.length} bytes; a P-256 private key is 32`);
  const timing: KeyTiming = {};
  for (const f of TIMING_FIELDS) {
    const v = fields.get(f);
    if (v === undefined) continue;
    const t = parseKeyTime(v);
    if (t === null) throw new KeyFileError(file, `${f} "${v}": expected UTC YYYYMMDDHHMMSS`);
    timing[f] = t;
  }
  return { d, timing };
}

/**
 * Every key in a directory (K*.private with its .key), by zone. Any unreadable, unprotected or
 * mismatched key is an error: a half-loaded key set could publish a DNSKEY set the parent's DS does
 * not match, and that takes the zone down for validating resolvers.
 */
export function loadKeyDirectory(dir: string): Map<string, DnssecKey[]> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new KeyFileError(dir, `cannot read the key directory: ${(err as Error).message}`);
  }
  const byZone = new Map<string, DnssecKey[]>();
  for (const n of names.filter((f) => /^K.+\.\+\d{3}\+\d{5}\.private$/.test(f)).sort()) {
    const k = readKey(join(dir, n));
    const list = byZone.get(k.zone) ?? [];
    list.push(k);
    byZone.set(k.zone, list);
  }
  return byZone;
}
