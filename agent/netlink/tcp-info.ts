// Decodes `struct tcp_info` (linux/tcp.h) from an INET_DIAG_INFO attribute. The struct has grown with
// kernel versions (104 bytes in 2.6, 232+ today); the kernel sends its own size and the attribute length
// says how much arrived. A field is read only when it lies entirely inside that length: fields an
// older kernel does not have are `undefined`, never garbage read past the attribute.
import type { TcpStats } from '../collector.ts';

export interface TcpInfo {
  /** Bytes of tcp_info the kernel sent. */
  length: number;
  state: number;
  caState: number;
  retransmits: number;
  rtoUs?: number;
  lastDataSentMs?: number;
  lastDataRecvMs?: number;
  lastAckRecvMs?: number;
  /** Smoothed RTT (srtt), microseconds. 0 means no sample yet. */
  rttUs?: number;
  rttVarUs?: number;
  sndCwnd?: number;
  totalRetrans?: number;
  bytesAcked?: number;
  bytesReceived?: number;
  segsOut?: number;
  segsIn?: number;
  /** Windowed minimum RTT (kernel >= 4.6), microseconds. */
  minRttUs?: number;
  bytesSent?: number;
  bytesRetrans?: number;
}

// Offsets in struct tcp_info (bytes).
const OFF = {
  state: 0,
  caState: 1,
  retransmits: 2,
  rto: 8,
  lastDataSent: 44,
  lastDataRecv: 52,
  lastAckRecv: 56,
  rtt: 68,
  rttVar: 72,
  sndCwnd: 80,
  totalRetrans: 100,
  bytesAcked: 120,
  bytesReceived: 128,
  segsOut: 136,
  segsIn: 140,
  minRtt: 148,
  bytesSent: 200,
  bytesRetrans: 208,
} as const;

/** The smallest tcp_info ever sent (Linux 2.6.x up to total_retrans). */
export const TCP_INFO_MIN_LEN = 8;

// Module-level readers (no per-call closures: this runs once per socket, 100k times per poll).
function u32(buf: Buffer, start: number, len: number, off: number): number | undefined {
  return off + 4 <= len ? buf.readUInt32LE(start + off) : undefined;
}
function u64(buf: Buffer, start: number, len: number, off: number): number | undefined {
  return off + 8 <= len ? buf.readUInt32LE(start + off) + buf.readUInt32LE(start + off + 4) * 4294967296 : undefined;
}

/**
 * Reads tcp_info at `buf[start, start+len)`. Returns null when even the 8-byte head is missing.
 * 64-bit counters are returned as numbers (exact below 2^53 bytes, i.e. 8 PiB). Fields beyond `len`
 * are left out of the object.
 */
export function parseTcpInfo(buf: Buffer, start: number, len: number): TcpInfo | null {
  if (len < TCP_INFO_MIN_LEN || start < 0 || start + len > buf.length) return null;
  const info: TcpInfo = {
    length: len,
    state: buf.readUInt8(start + OFF.state),
    caState: buf.readUInt8(start + OFF.caState),
    retransmits: buf.readUInt8(start + OFF.retransmits),
  };
  const fields: [keyof TcpInfo, number | undefined][] = [
    ['rtoUs', u32(buf, start, len, OFF.rto)],
    ['lastDataSentMs', u32(buf, start, len, OFF.lastDataSent)],
    ['lastDataRecvMs', u32(buf, start, len, OFF.lastDataRecv)],
    ['lastAckRecvMs', u32(buf, start, len, OFF.lastAckRecv)],
    ['rttUs', u32(buf, start, len, OFF.rtt)],
    ['rttVarUs', u32(buf, start, len, OFF.rttVar)],
    ['sndCwnd', u32(buf, start, len, OFF.sndCwnd)],
    ['totalRetrans', u32(buf, start, len, OFF.totalRetrans)],
    ['bytesAcked', u64(buf, start, len, OFF.bytesAcked)],
    ['bytesReceived', u64(buf, start, len, OFF.bytesReceived)],
    ['segsOut', u32(buf, start, len, OFF.segsOut)],
    ['segsIn', u32(buf, start, len, OFF.segsIn)],
    ['minRttUs', u32(buf, start, len, OFF.minRtt)],
    ['bytesSent', u64(buf, start, len, OFF.bytesSent)],
    ['bytesRetrans', u64(buf, start, len, OFF.bytesRetrans)],
  ];
  for (const [k, v] of fields) if (v !== undefined) (info as unknown as Record<string, number>)[k] = v;
  return info;
}

/** The fields the agent needs, copied straight into a socket record (the per-poll hot path). */
export type TcpInfoTarget = TcpStats;

/** Same bounds rules as parseTcpInfo, without building an intermediate object. False if < 8 bytes. */
export function readTcpInfoInto(rec: TcpInfoTarget, buf: Buffer, start: number, len: number): boolean {
  if (len < TCP_INFO_MIN_LEN || start < 0 || start + len > buf.length) return false;
  if (OFF.lastAckRecv + 4 <= len) rec.lastAckRecvMs = buf.readUInt32LE(start + OFF.lastAckRecv);
  if (OFF.rtt + 4 <= len) rec.rttUs = buf.readUInt32LE(start + OFF.rtt);
  if (OFF.rttVar + 4 <= len) rec.rttVarUs = buf.readUInt32LE(start + OFF.rttVar);
  if (OFF.totalRetrans + 4 <= len) rec.totalRetrans = buf.readUInt32LE(start + OFF.totalRetrans);
  if (OFF.bytesAcked + 8 <= len) rec.bytesAcked = u64(buf, start, len, OFF.bytesAcked)!;
  if (OFF.bytesReceived + 8 <= len) rec.bytesReceived = u64(buf, start, len, OFF.bytesReceived)!;
  if (OFF.minRtt + 4 <= len) rec.minRttUs = buf.readUInt32LE(start + OFF.minRtt);
  return true;
}

/** Field offsets, exported for tests that build fixtures. */
export const TCP_INFO_OFFSETS = OFF;
