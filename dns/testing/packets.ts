// Test and benchmark support: builds raw queries (including ones dns2 cannot build, such as an IPv6
// ECS /56) and decodes responses independently of the server's writer, following compression
// pointers, so tests check the bytes a resolver would see.
import { createHmac } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { bytesToIp, ipToBytes } from '../../model/primitives.ts';
import { nameToWireKey, TYPE } from '../wire/constants.ts';

export interface QuerySpec {
  id?: number;
  name: string;
  qtype?: number;
  qclass?: number;
  rd?: boolean;
  /** Omit for a query without OPT. */
  edns?: { udpSize?: number; version?: number; dnssecOk?: boolean; compactOk?: boolean; ecs?: { address: string; source: number }; extraOptions?: Buffer };
}

/** Wire bytes of a query. The qname keeps the case given (for case-preservation tests). */
export function buildQuery(spec: QuerySpec): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(spec.id ?? 0x1234, 0);
  header.writeUInt16BE(spec.rd === false ? 0 : 0x0100, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(spec.edns ? 1 : 0, 10);
  parts.push(header);
  const key = nameToWireKey(spec.name.toLowerCase());
  // Restore the original case label by label.
  const name = Buffer.from(key, 'latin1');
  const labels = spec.name.replace(/\.$/, '').split('.');
  let off = 0;
  for (const l of labels) {
    if (!l) break;
    name.write(l, off + 1, 'latin1');
    off += 1 + l.length;
  }
  parts.push(name);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(spec.qtype ?? TYPE.A, 0);
  q.writeUInt16BE(spec.qclass ?? 1, 2);
  parts.push(q);
  if (spec.edns) {
    const opts: Buffer[] = [];
    if (spec.edns.ecs) opts.push(ecsOption(spec.edns.ecs.address, spec.edns.ecs.source));
    if (spec.edns.extraOptions) opts.push(spec.edns.extraOptions);
    const rdata = Buffer.concat(opts);
    const opt = Buffer.alloc(11);
    opt[0] = 0;
    opt.writeUInt16BE(TYPE.OPT, 1);
    opt.writeUInt16BE(spec.edns.udpSize ?? 1232, 3);
    opt[5] = 0;
    opt[6] = spec.edns.version ?? 0;
    opt.writeUInt16BE((spec.edns.dnssecOk ? 0x8000 : 0) | (spec.edns.compactOk ? 0x4000 : 0), 7);
    opt.writeUInt16BE(rdata.length, 9);
    parts.push(opt, rdata);
  }
  return Buffer.concat(parts);
}

/** ECS option bytes (RFC 7871 §6): the address truncated to ceil(source/8) bytes. */
export function ecsOption(address: string, source: number): Buffer {
  const bytes = ipToBytes(address)!;
  const n = (source + 7) >> 3;
  const out = Buffer.alloc(8 + n);
  out.writeUInt16BE(8, 0);
  out.writeUInt16BE(4 + n, 2);
  out.writeUInt16BE(bytes.length === 4 ? 1 : 2, 4);
  out[6] = source;
  out[7] = 0;
  Buffer.from(bytes.subarray(0, n)).copy(out, 8);
  if (source & 7) out[8 + n - 1]! &= (0xff << (8 - (source & 7))) & 0xff;
  return out;
}

/** Sets the header's OPCODE (NOTIFY = 4, UPDATE = 5, …) of a built query, in place. */
export function withOpcode(msg: Buffer, opcode: number): Buffer {
  msg.writeUInt16BE((msg.readUInt16BE(2) & ~0x7800) | (opcode << 11), 2);
  return msg;
}

/** A dotted name in uncompressed wire format. */
export function wireName(dotted: string): Buffer {
  const labels = dotted.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

export interface TsigSpec {
  keyName: string;
  /** Base64 secret; omit to send a MAC of `macLength` arbitrary bytes (an unknown key). */
  secret?: string;
  algorithm?: string;
  /** Seconds since the epoch; default now. */
  timeSigned?: number;
  fudge?: number;
  macLength?: number;
}

/**
 * Appends a TSIG record (RFC 8945 §4.2) and increments ARCOUNT. With a secret the MAC is computed
 * here, independently of dns/wire/tsig.ts: HMAC-SHA256 over the message as it stands, then the
 * TSIG variables (key name, class ANY, TTL 0, algorithm, time, fudge, error 0, other length 0).
 */
export function signQuery(msg: Buffer, t: TsigSpec): Buffer {
  const key = wireName(t.keyName.toLowerCase());
  const alg = wireName((t.algorithm ?? 'hmac-sha256').toLowerCase());
  const time = Buffer.alloc(8);
  const timeSigned = t.timeSigned ?? Math.floor(Date.now() / 1000);
  time.writeUInt16BE(Math.floor(timeSigned / 2 ** 32), 0);
  time.writeUInt32BE(timeSigned >>> 0, 2);
  time.writeUInt16BE(t.fudge ?? 300, 6);
  const classTtl = Buffer.from([0, 255, 0, 0, 0, 0]);
  const errorOther = Buffer.alloc(4);
  let mac: Buffer;
  if (t.secret !== undefined) {
    mac = createHmac('sha256', Buffer.from(t.secret, 'base64')).update(msg).update(key).update(classTtl).update(alg).update(time).update(errorOther).digest();
    if (t.macLength !== undefined) mac = mac.subarray(0, t.macLength);
  } else mac = Buffer.alloc(t.macLength ?? 32, 0x5a);
  const macSize = Buffer.alloc(2);
  macSize.writeUInt16BE(mac.length, 0);
  const origId = msg.subarray(0, 2);
  const rdata = Buffer.concat([alg, time, macSize, mac, origId, errorOther.subarray(0, 2), Buffer.alloc(2)]);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(TYPE.TSIG, 0);
  head.writeUInt16BE(255, 2);
  head.writeUInt16BE(rdata.length, 8);
  const out = Buffer.concat([msg, key, head, rdata]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

export interface DecodedTsig {
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
  /** Offset of the TSIG record: the answer without it is [0, start). */
  start: number;
}

/**
 * Checks a signed answer's MAC (RFC 8945 §4.3.1, §5.3): HMAC over the request MAC (length first),
 * the answer without its TSIG (ARCOUNT - 1), then the TSIG variables. Independent of the server's code.
 */
export function answerMacValid(answer: Buffer, requestMac: Buffer, secret: string): boolean {
  const d = decodeResponse(answer);
  const t = d.tsig!;
  const body = Buffer.from(answer.subarray(0, t.start));
  body.writeUInt16BE(body.readUInt16BE(10) - 1, 10);
  const vars = Buffer.alloc(6 + 6 + 2 + 2 + 2);
  vars.writeUInt16BE(255, 0);
  vars.writeUInt16BE(Math.floor(t.timeSigned / 2 ** 32), 6);
  vars.writeUInt32BE(t.timeSigned >>> 0, 8);
  vars.writeUInt16BE(t.fudge, 12);
  vars.writeUInt16BE(t.error, 14);
  vars.writeUInt16BE(t.other.length, 16);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(requestMac.length, 0);
  const expected = createHmac('sha256', Buffer.from(secret, 'base64'))
    .update(len)
    .update(requestMac)
    .update(body)
    .update(wireName(t.keyName))
    .update(vars.subarray(0, 6))
    .update(wireName(t.algorithm))
    .update(vars.subarray(6))
    .update(t.other)
    .digest();
  return expected.equals(t.mac);
}

export interface DecodedRr {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: Buffer;
  /** A/AAAA as text, NS/CNAME as a name, SOA fields, else undefined. */
  value?: string;
  soa?: { mname: string; rname: string; serial: number; minimum: number };
}

export interface Decoded {
  id: number;
  qr: boolean;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  rcode: number;
  /** Header RCODE plus OPT's extended bits. */
  fullRcode: number;
  question: { name: string; rawName: string; type: number; class: number } | null;
  answers: DecodedRr[];
  authority: DecodedRr[];
  additional: DecodedRr[];
  opt: { udpSize: number; version: number; extRcode: number; dnssecOk: boolean; compactOk: boolean; ecs?: { family: number; source: number; scope: number; address: Buffer } } | null;
  /** OPT was the last record of the additional section (RFC 6891 does not require it; we do it). */
  optLast: boolean;
  /** The TSIG record (kept out of `additional`); it must be the very last record. */
  tsig: DecodedTsig | null;
}

export function readName(buf: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let off = start;
  let end = -1;
  for (let hops = 0; hops < 64; hops++) {
    if (off >= buf.length) throw new Error('name runs past the end');
    const len = buf[off]!;
    if (len === 0) {
      if (end < 0) end = off + 1;
      return { name: labels.join('.'), end };
    }
    if ((len & 0xc0) === 0xc0) {
      const ptr = ((len & 0x3f) << 8) | buf[off + 1]!;
      if (ptr >= off) throw new Error(`forward compression pointer ${ptr} at ${off}`);
      if (end < 0) end = off + 2;
      off = ptr;
      continue;
    }
    labels.push(buf.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  throw new Error('compression loop');
}

export function decodeResponse(buf: Buffer): Decoded {
  const flags = buf.readUInt16BE(2);
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)] as const;
  let off = 12;
  let question: Decoded['question'] = null;
  if (counts[0] > 0) {
    const n = readName(buf, off);
    question = { name: n.name.toLowerCase(), rawName: n.name, type: buf.readUInt16BE(n.end), class: buf.readUInt16BE(n.end + 2) };
    off = n.end + 4;
  }
  const sections: DecodedRr[][] = [[], [], []];
  let opt: Decoded['opt'] = null;
  let optLast = false;
  let tsig: DecodedTsig | null = null;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      if (tsig) throw new Error('TSIG is not the last record');
      const start = off;
      const n = readName(buf, off);
      off = n.end;
      const type = buf.readUInt16BE(off);
      const klass = buf.readUInt16BE(off + 2);
      const ttl = buf.readUInt32BE(off + 4);
      const rdlen = buf.readUInt16BE(off + 8);
      const data = buf.subarray(off + 10, off + 10 + rdlen);
      if (off + 10 + rdlen > buf.length) throw new Error('record runs past the end');
      const rr: DecodedRr = { name: n.name.toLowerCase(), type, class: klass, ttl, data };
      if (type === TYPE.A) rr.value = [...data].join('.');
      if (type === TYPE.AAAA) rr.value = bytesToIp(data);
      if (type === TYPE.NS || type === TYPE.CNAME) rr.value = readName(buf, off + 10).name.toLowerCase();
      if (type === TYPE.SOA) {
        const m = readName(buf, off + 10);
        const r = readName(buf, m.end);
        rr.soa = { mname: m.name, rname: r.name, serial: buf.readUInt32BE(r.end), minimum: buf.readUInt32BE(r.end + 16) };
      }
      if (type === TYPE.OPT && s === 2) {
        opt = { udpSize: klass, extRcode: ttl >>> 24, version: (ttl >>> 16) & 0xff, dnssecOk: (ttl & 0x8000) !== 0, compactOk: (ttl & 0x4000) !== 0 };
        let o = 0;
        while (o + 4 <= data.length) {
          const code = data.readUInt16BE(o);
          const len = data.readUInt16BE(o + 2);
          if (code === 8) opt.ecs = { family: data.readUInt16BE(o + 4), source: data[o + 6]!, scope: data[o + 7]!, address: Buffer.from(data.subarray(o + 8, o + 4 + len)) };
          o += 4 + len;
        }
        optLast = i === counts[3] - 1 || (i === counts[3] - 2 && isTsigAt(buf, off + 10 + rdlen));
      } else if (type === TYPE.TSIG && s === 2) {
        const alg = readName(buf, off + 10);
        let o = alg.end;
        const macLen = buf.readUInt16BE(o + 8);
        const mac = Buffer.from(buf.subarray(o + 10, o + 10 + macLen));
        o += 10 + macLen;
        const otherLen = buf.readUInt16BE(o + 4);
        tsig = {
          keyName: n.name.toLowerCase(),
          algorithm: alg.name.toLowerCase(),
          timeSigned: buf.readUInt16BE(alg.end) * 2 ** 32 + buf.readUInt32BE(alg.end + 2),
          fudge: buf.readUInt16BE(alg.end + 6),
          mac,
          originalId: buf.readUInt16BE(o),
          error: buf.readUInt16BE(o + 2),
          other: Buffer.from(buf.subarray(o + 6, o + 6 + otherLen)),
          start,
        };
      } else sections[s]!.push(rr);
      off += 10 + rdlen;
    }
  }
  if (off !== buf.length) throw new Error(`${buf.length - off} trailing bytes`);
  const rcode = flags & 0xf;
  return {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    rcode,
    fullRcode: ((opt?.extRcode ?? 0) << 4) | rcode,
    question,
    answers: sections[0]!,
    authority: sections[1]!,
    additional: sections[2]!,
    opt,
    optLast,
    tsig,
  };
}

function isTsigAt(buf: Buffer, off: number): boolean {
  try {
    const n = readName(buf, off);
    return buf.readUInt16BE(n.end) === TYPE.TSIG;
  } catch {
    return false;
  }
}

/** One UDP exchange; rejects after timeoutMs. */
export function udpExchange(port: number, msg: Buffer, opts: { host?: string; timeoutMs?: number } = {}): Promise<Buffer> {
  const host = opts.host ?? '127.0.0.1';
  const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no UDP answer from ${host}:${port} within ${opts.timeoutMs ?? 2000} ms`));
    }, opts.timeoutMs ?? 2000);
    sock.on('message', (m) => {
      clearTimeout(timer);
      sock.close();
      resolve(m);
    });
    sock.send(msg, port, host);
  });
}

/** One TCP exchange (2-byte length framing). */
export function tcpExchange(port: number, msg: Buffer, opts: { host?: string; timeoutMs?: number } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const conn = net.connect({ port, host: opts.host ?? '127.0.0.1' });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error('no TCP answer'));
    }, opts.timeoutMs ?? 2000);
    conn.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    conn.on('connect', () => {
      const framed = Buffer.alloc(2 + msg.length);
      framed.writeUInt16BE(msg.length, 0);
      msg.copy(framed, 2);
      conn.write(framed);
    });
    conn.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(timer);
        conn.end();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
  });
}
