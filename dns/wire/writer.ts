// Builds DNS messages for everything off the fast path (SOA, NS, negative answers, errors). Names are
// compressed (RFC 1035 §4.1.4) against the question and every name written before; the question is
// copied byte for byte from the query, so its case is preserved.
import { CLASS_IN, HEADER_LEN, OPT_CODE_ECS, TYPE } from './constants.ts';
import type { Query } from './query.ts';

export class MessageWriter {
  readonly buf: Buffer;
  off = HEADER_LEN;
  an = 0;
  ns = 0;
  ar = 0;
  private readonly names = new Map<string, number>();

  constructor(size = 65_535) {
    this.buf = Buffer.alloc(size);
  }

  reset(): void {
    this.off = HEADER_LEN;
    this.an = this.ns = this.ar = 0;
    this.names.clear();
  }

  /** Copies the question from the query and remembers its name's suffixes for compression. */
  question(query: Buffer, q: Query): void {
    query.copy(this.buf, HEADER_LEN, HEADER_LEN, q.questionEnd);
    const key = q.nameKey;
    for (let i = 0; i < key.length - 1; i += key.charCodeAt(i) + 1) this.names.set(key.slice(i), HEADER_LEN + i);
    this.off = q.questionEnd;
  }

  u8(v: number): void {
    this.buf[this.off++] = v;
  }

  u16(v: number): void {
    this.buf.writeUInt16BE(v, this.off);
    this.off += 2;
  }

  u32(v: number): void {
    this.buf.writeUInt32BE(v >>> 0, this.off);
    this.off += 4;
  }

  /** A lower-case dotted name ("" = root), compressed against names already written. */
  name(dotted: string): void {
    const labels = dotted === '' ? [] : dotted.split('.');
    for (let i = 0; i < labels.length; i++) {
      const suffix = wireOf(labels, i);
      const at = this.names.get(suffix);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.off < 0x4000) this.names.set(suffix, this.off);
      const label = labels[i]!;
      this.u8(label.length);
      this.off += this.buf.write(label, this.off, 'latin1');
    }
    this.u8(0);
  }

  /** Raw bytes (an RDATA built elsewhere, already in wire form). */
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.off);
    this.off += b.length;
  }

  /** Starts an RR; returns the offset of RDLENGTH to patch with endRr. */
  startRr(owner: string | number, type: number, ttl: number): number {
    if (typeof owner === 'number') this.u16(0xc000 | owner);
    else this.name(owner);
    this.u16(type);
    this.u16(CLASS_IN);
    this.u32(ttl);
    const rdlenAt = this.off;
    this.off += 2;
    return rdlenAt;
  }

  endRr(rdlenAt: number): void {
    this.buf.writeUInt16BE(this.off - rdlenAt - 2, rdlenAt);
  }

  address(owner: string | number, bytes: Uint8Array, ttl: number): void {
    const at = this.startRr(owner, bytes.length === 4 ? TYPE.A : TYPE.AAAA, ttl);
    this.buf.set(bytes, this.off);
    this.off += bytes.length;
    this.endRr(at);
  }

  /** The OPT pseudo-record (RFC 6891 §6.1.2), last in the additional section, echoing ECS when asked. */
  opt(q: Query, udpSize: number, extRcode: number, ecsScope: number | null, compactOk = false): void {
    this.u8(0); // root owner
    this.u16(TYPE.OPT);
    this.u16(udpSize);
    this.u8(extRcode);
    this.u8(0); // version 0
    // RFC 3225: copy DO. CO (RFC 9824 §5.1) only when we answered with compact denial's NXDOMAIN signal.
    this.u16((q.dnssecOk ? 0x8000 : 0) | (compactOk ? 0x4000 : 0));
    const rdlenAt = this.off;
    this.off += 2;
    if (q.ecs && ecsScope !== null) writeEcs(this.buf, this.off, q, ecsScope), (this.off += 8 + q.ecsAddrLen);
    this.endRr(rdlenAt);
    this.ar++;
  }

  /** Appends a finished record (the unsigned TSIG of a BADKEY answer) to the additional section. */
  record(bytes: Buffer): void {
    bytes.copy(this.buf, this.off);
    this.off += bytes.length;
    this.ar++;
  }

  /** Writes the header (counts from this writer) and returns a copy of the message. */
  finish(id: number, flags: number, qdcount: number): Buffer {
    const b = this.buf;
    b.writeUInt16BE(id, 0);
    b.writeUInt16BE(flags, 2);
    b.writeUInt16BE(qdcount, 4);
    b.writeUInt16BE(this.an, 6);
    b.writeUInt16BE(this.ns, 8);
    b.writeUInt16BE(this.ar, 10);
    return Buffer.from(b.subarray(0, this.off));
  }
}

/** ECS option echo (RFC 7871 §7.2.1): family, source and address as asked, our scope. Returns bytes written. */
export function writeEcs(buf: Buffer, off: number, q: Query, scope: number): number {
  buf.writeUInt16BE(OPT_CODE_ECS, off);
  buf.writeUInt16BE(4 + q.ecsAddrLen, off + 2);
  buf.writeUInt16BE(q.ecsFamily, off + 4);
  buf[off + 6] = q.ecsSource;
  buf[off + 7] = scope;
  for (let i = 0; i < q.ecsAddrLen; i++) buf[off + 8 + i] = q.ecsAddr[i]!;
  return 8 + q.ecsAddrLen;
}

function wireOf(labels: string[], from: number): string {
  let s = '';
  for (let i = from; i < labels.length; i++) s += String.fromCharCode(labels[i]!.length) + labels[i]!;
  return `${s}\x00`;
}
