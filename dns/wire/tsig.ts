// TSIG (RFC 8945): checking a signed query and signing its answer with a configured hmac-sha256 key.
//
// The rules, in the order §5.2 gives them:
// - an unknown key or algorithm: NOTAUTH + BADKEY, unsigned (§5.2.1, §5.3.2) — with no keys
//   configured every signed query ends here, so it never gets an ordinary unsigned answer;
// - a MAC longer than the hash, or shorter than max(10, half the hash): FORMERR (§5.2.2.1);
// - a MAC that does not verify: NOTAUTH + BADSIG, unsigned (§5.2.2);
// - a time outside Time Signed ± Fudge: NOTAUTH + BADTIME, signed, Other Data = our time (§5.2.3);
// - otherwise the answer is signed with the same key (§5.3), its MAC covering the request's MAC.
// Truncated MACs of at least half the hash are accepted (§5.2.2.1 rule 4: compare the truncated
// values), so BADTRUNC never arises. Not kept: the per-key "latest Time Signed" replay cache that
// §5.2.3 says a server SHOULD keep (queries are idempotent reads; the fudge window bounds replays).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { TSIG_ERROR, TYPE } from './constants.ts';
import type { Query, TsigFields } from './query.ts';

const CLASS_ANY = 255;
/** "hmac-sha256." in wire format: the only algorithm implemented (RFC 8945 §6: mandatory). */
export const HMAC_SHA256 = '\x0bhmac-sha256\x00';
const SHA256_LEN = 32;
/** Fudge we put in our own TSIG records (the 300 seconds RFC 8945 recommends). */
const OUR_FUDGE = 300;

export interface TsigKey {
  /** Lower-cased uncompressed wire name. */
  name: string;
  algorithm: string;
  secret: Buffer;
}

export type TsigVerdict =
  | { kind: 'ok'; key: TsigKey }
  | { kind: 'formerr'; problem: string }
  | { kind: 'unsigned_error'; error: number }
  | { kind: 'signed_error'; error: number; key: TsigKey };

export class TsigKeyring {
  private readonly byName = new Map<string, TsigKey>();

  constructor(keys: TsigKey[]) {
    for (const k of keys) this.byName.set(k.name, k);
  }

  get size(): number {
    return this.byName.size;
  }

  /** Checks a query whose TSIG the parser has read (q.tsig true, q.status OK). `now` in seconds. */
  verify(msg: Buffer, q: Query, now: number): TsigVerdict {
    const t = q.tsigFields;
    const key = this.byName.get(t.keyName);
    if (!key || key.algorithm !== t.algorithm) return { kind: 'unsigned_error', error: TSIG_ERROR.BADKEY };
    if (t.macLen > SHA256_LEN || t.macLen < SHA256_LEN / 2) return { kind: 'formerr', problem: `TSIG MAC of ${t.macLen} bytes for hmac-sha256` };
    const mac = requestMac(msg, t, key);
    if (!timingSafeEqual(mac.subarray(0, t.macLen), msg.subarray(t.macStart, t.macStart + t.macLen))) {
      return { kind: 'unsigned_error', error: TSIG_ERROR.BADSIG };
    }
    if (Math.abs(now - t.timeSigned) > t.fudge) return { kind: 'signed_error', error: TSIG_ERROR.BADTIME, key };
    return { kind: 'ok', key };
  }
}

/** TSIG variables (RFC 8945 §4.3.3): everything of the record but the MAC and Original ID. */
function variables(keyName: string, algorithm: string, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  const name = Buffer.from(keyName, 'latin1');
  const alg = Buffer.from(algorithm, 'latin1');
  const out = Buffer.alloc(name.length + 6 + alg.length + 12 + other.length);
  let off = name.copy(out, 0);
  off = out.writeUInt16BE(CLASS_ANY, off);
  off = out.writeUInt32BE(0, off); // TTL
  off += alg.copy(out, off);
  off = writeTime(out, off, timeSigned);
  off = out.writeUInt16BE(fudge, off);
  off = out.writeUInt16BE(error, off);
  off = out.writeUInt16BE(other.length, off);
  other.copy(out, off);
  return out;
}

function writeTime(out: Buffer, off: number, seconds: number): number {
  out.writeUInt16BE(Math.floor(seconds / 2 ** 32), off);
  out.writeUInt32BE(seconds >>> 0, off + 2);
  return off + 6;
}

/** The request's MAC (§4.3.3): the message without TSIG, ARCOUNT - 1, ID = Original ID, then the variables. */
function requestMac(msg: Buffer, t: TsigFields, key: TsigKey): Buffer {
  const body = Buffer.from(msg.subarray(0, t.start));
  body.writeUInt16BE(t.originalId, 0);
  body.writeUInt16BE(body.readUInt16BE(10) - 1, 10);
  const other = msg.subarray(t.otherStart, t.otherStart + t.otherLen);
  return createHmac('sha256', key.secret)
    .update(body)
    .update(variables(t.keyName, t.algorithm, t.timeSigned, t.fudge, t.error, other))
    .digest();
}

export interface TsigRecordFields {
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

/** A TSIG RR in wire format (names uncompressed, class ANY, TTL 0). */
export function tsigRecord(f: TsigRecordFields): Buffer {
  const name = Buffer.from(f.keyName, 'latin1');
  const alg = Buffer.from(f.algorithm, 'latin1');
  const rdlen = alg.length + 10 + f.mac.length + 6 + f.other.length;
  const out = Buffer.alloc(name.length + 10 + rdlen);
  let off = name.copy(out, 0);
  off = out.writeUInt16BE(TYPE.TSIG, off);
  off = out.writeUInt16BE(CLASS_ANY, off);
  off = out.writeUInt32BE(0, off);
  off = out.writeUInt16BE(rdlen, off);
  off += alg.copy(out, off);
  off = writeTime(out, off, f.timeSigned);
  off = out.writeUInt16BE(f.fudge, off);
  off = out.writeUInt16BE(f.mac.length, off);
  off += f.mac.copy(out, off);
  off = out.writeUInt16BE(f.originalId, off);
  off = out.writeUInt16BE(f.error, off);
  off = out.writeUInt16BE(f.other.length, off);
  f.other.copy(out, off);
  return out;
}

/** The unsigned TSIG of a BADKEY/BADSIG answer (§5.3.2): the request's fields, no MAC, our error. */
export function unsignedErrorRecord(q: Query, error: number): Buffer {
  const t = q.tsigFields;
  return tsigRecord({ keyName: t.keyName, algorithm: t.algorithm, timeSigned: t.timeSigned, fudge: t.fudge, mac: Buffer.alloc(0), originalId: t.originalId, error, other: Buffer.alloc(0) });
}

/** Bytes a signed answer's TSIG adds (the responder keeps that much room below the size limit). */
export function signedRecordLength(q: Query, error: number): number {
  const t = q.tsigFields;
  return t.keyName.length + 10 + t.algorithm.length + 16 + SHA256_LEN + (error === TSIG_ERROR.BADTIME ? 6 : 0);
}

/**
 * Signs an answer (§4.3.1, §5.3): MAC over the request's MAC (length-prefixed), the answer as it
 * stands (ID = the request's Original ID), and the variables; returns the answer with TSIG appended.
 * BADTIME answers keep the request's Time Signed and carry our time in Other Data (§5.2.3).
 */
export function signAnswer(answer: Buffer, msg: Buffer, q: Query, key: TsigKey, error: number, now: number): Buffer {
  const t = q.tsigFields;
  const requestMacBytes = msg.subarray(t.macStart, t.macStart + t.macLen);
  const macLen = Buffer.alloc(2);
  macLen.writeUInt16BE(t.macLen, 0);
  let other = Buffer.alloc(0);
  let timeSigned = now;
  if (error === TSIG_ERROR.BADTIME) {
    other = Buffer.alloc(6);
    writeTime(other, 0, now);
    timeSigned = t.timeSigned;
  }
  const id = answer.readUInt16BE(0);
  answer.writeUInt16BE(t.originalId, 0);
  const mac = createHmac('sha256', key.secret)
    .update(macLen)
    .update(requestMacBytes)
    .update(answer)
    .update(variables(key.name, key.algorithm, timeSigned, OUR_FUDGE, error, other))
    .digest();
  answer.writeUInt16BE(id, 0);
  const rr = tsigRecord({ keyName: key.name, algorithm: key.algorithm, timeSigned, fudge: OUR_FUDGE, mac, originalId: t.originalId, error, other });
  const out = Buffer.concat([answer, rr]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}
