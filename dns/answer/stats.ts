// Query accounting on the hot path: plain typed-array increments, no label hashing per query. The
// metrics module turns these into prom-client counters at scrape time. Nothing here is per subnet.
import { REASONS } from './choose.ts';
import { RCODE } from '../wire/constants.ts';

export const QTYPE_LABELS = ['A', 'AAAA', 'SOA', 'NS', 'ANY', 'OTHER', 'NONE'] as const;
export const RCODE_LABELS = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'NOTAUTH', 'BADVERS'] as const;
export const RESPONSE_REASONS = [...REASONS, 'authority', 'nodata', 'nxdomain', 'refused', 'malformed', 'badvers', 'notimp', 'tsig', 'no_view'] as const;
export type ResponseReason = (typeof RESPONSE_REASONS)[number];

export const REASON_INDEX: Record<ResponseReason, number> = Object.fromEntries(RESPONSE_REASONS.map((r, i) => [r, i])) as Record<ResponseReason, number>;

/** Outcomes of checking a TSIG-signed query (RFC 8945 §5.2). */
export const TSIG_RESULTS = ['verified', 'badkey', 'badsig', 'badtime', 'formerr'] as const;
export type TsigResult = (typeof TSIG_RESULTS)[number];

/** Seconds; fixed buckets so an observation is one comparison loop and one increment. */
export const DURATION_BUCKETS = [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01] as const;

export function qtypeIndex(qtype: number): number {
  switch (qtype) {
    case 1: return 0;
    case 28: return 1;
    case 6: return 2;
    case 2: return 3;
    case 255: return 4;
    default: return 5;
  }
}

export function rcodeIndex(rcode: number): number {
  switch (rcode) {
    case RCODE.NOERROR: return 0;
    case RCODE.FORMERR: return 1;
    case RCODE.SERVFAIL: return 2;
    case RCODE.NXDOMAIN: return 3;
    case RCODE.NOTIMP: return 4;
    case RCODE.REFUSED: return 5;
    case RCODE.NOTAUTH: return 6;
    default: return 7;
  }
}

const NQ = QTYPE_LABELS.length;
const NR = RCODE_LABELS.length;
const NS = RESPONSE_REASONS.length;

/** Scalar counters, by slot in DnsStats' scalar array. */
const SCALAR = { malformedDropped: 0, malformedFormerr: 1, truncated: 2, durationSum: 3, durationCount: 4, sendErrors: 5 } as const;
const NSCALARS = 6;

/**
 * All counters live in one buffer of float64 slots, so a serving thread can count into a
 * SharedArrayBuffer that its process reads at scrape time (dns/server/udp-batched): no message per
 * scrape, nothing to ask a thread that is blocked in poll(). Counters only ever grow and a float64
 * store is one aligned 8-byte write, so a reader sees each value either before or after a write.
 */
export class DnsStats {
  static readonly BYTES = (NQ * NR * NS + DURATION_BUCKETS.length + 1 + TSIG_RESULTS.length + NSCALARS) * 8;
  /** [qtype][rcode][reason] answered queries. */
  readonly queries: Float64Array;
  readonly durationBuckets: Float64Array;
  /** Signed queries by outcome, indexed like TSIG_RESULTS. */
  readonly tsig: Float64Array;
  private readonly scalars: Float64Array;
  /** The memory every counter lives in (hand a SharedArrayBuffer's to another thread). */
  readonly buffer: ArrayBufferLike;

  /** `buffer`: DnsStats.BYTES long, e.g. a SharedArrayBuffer shared with the thread that counts. */
  constructor(buffer: ArrayBufferLike = new ArrayBuffer(DnsStats.BYTES)) {
    if (buffer.byteLength < DnsStats.BYTES) throw new RangeError(`DnsStats needs ${DnsStats.BYTES} bytes, got ${buffer.byteLength}`);
    this.buffer = buffer;
    this.queries = new Float64Array(buffer, 0, NQ * NR * NS);
    this.durationBuckets = new Float64Array(buffer, this.queries.byteLength, DURATION_BUCKETS.length + 1);
    this.tsig = new Float64Array(buffer, this.queries.byteLength + this.durationBuckets.byteLength, TSIG_RESULTS.length);
    this.scalars = new Float64Array(buffer, this.queries.byteLength + this.durationBuckets.byteLength + this.tsig.byteLength, NSCALARS);
  }

  /** Packets we could not read: dropped (no usable header, or a response). */
  get malformedDropped(): number { return this.scalars[SCALAR.malformedDropped]!; }
  set malformedDropped(v: number) { this.scalars[SCALAR.malformedDropped] = v; }
  /** Packets answered FORMERR. */
  get malformedFormerr(): number { return this.scalars[SCALAR.malformedFormerr]!; }
  set malformedFormerr(v: number) { this.scalars[SCALAR.malformedFormerr] = v; }
  get truncated(): number { return this.scalars[SCALAR.truncated]!; }
  set truncated(v: number) { this.scalars[SCALAR.truncated] = v; }
  get durationSum(): number { return this.scalars[SCALAR.durationSum]!; }
  get durationCount(): number { return this.scalars[SCALAR.durationCount]!; }
  /** UDP answers the kernel would not send (counted by the socket layer, not the responder). */
  get sendErrors(): number { return this.scalars[SCALAR.sendErrors]!; }
  set sendErrors(v: number) { this.scalars[SCALAR.sendErrors] = v; }

  count(qtypeIdx: number, rcode: number, reason: ResponseReason): void {
    this.queries[(qtypeIdx * NR + rcodeIndex(rcode)) * NS + REASON_INDEX[reason]]! += 1;
  }

  countTsig(result: TsigResult): void {
    this.tsig[TSIG_RESULTS.indexOf(result)]! += 1;
  }

  /** `count` queries that each took `seconds` (a batched path observes a whole batch at once). */
  observe(seconds: number, count = 1): void {
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    this.durationBuckets[i]! += count;
    this.scalars[SCALAR.durationSum]! += seconds * count;
    this.scalars[SCALAR.durationCount]! += count;
  }

  /** Non-zero query counters with their labels. */
  *entries(): Generator<{ qtype: string; rcode: string; reason: string; value: number }> {
    for (let q = 0; q < NQ; q++)
      for (let r = 0; r < NR; r++)
        for (let s = 0; s < NS; s++) {
          const v = this.queries[(q * NR + r) * NS + s]!;
          if (v > 0) yield { qtype: QTYPE_LABELS[q]!, rcode: RCODE_LABELS[r]!, reason: RESPONSE_REASONS[s]!, value: v };
        }
  }

  total(filter: { qtype?: string; rcode?: string; reason?: string } = {}): number {
    let sum = 0;
    for (const e of this.entries()) {
      if (filter.qtype && e.qtype !== filter.qtype) continue;
      if (filter.rcode && e.rcode !== filter.rcode) continue;
      if (filter.reason && e.reason !== filter.reason) continue;
      sum += e.value;
    }
    return sum;
  }
}
