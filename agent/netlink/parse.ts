// Parses one datagram of a SOCK_DIAG_BY_FAMILY dump: a stream of nlmsghdr-framed messages, each an
// inet_diag_msg followed by rtattrs. Pure: bytes in, records out. Every length is checked against the
// bytes actually received, so truncated or garbage input produces counted errors, never an exception
// and never a read past the end.
import { bytesToIp } from '../../model/addresses.ts';
import type { PortFilter, SocketRecord } from '../collector.ts';
import type { ErrorCounts } from '../errors.ts';
import {
  AF_INET,
  AF_INET6,
  INET_DIAG_INFO,
  INET_DIAG_MSG_LEN,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_OVERRUN,
  NLM_F_DUMP_INTR,
  RTA_HDRLEN,
  SOCK_DIAG_BY_FAMILY,
} from './constants.ts';
import { readTcpInfoInto } from './tcp-info.ts';

export interface DatagramOutcome {
  /** NLMSG_DONE seen: the dump for this request is over. */
  done: boolean;
  /** NLMSG_ERROR with a non-zero code: the dump failed (negative errno as sent by the kernel). */
  error?: number;
  /** Messages parsed in this datagram. */
  messages: number;
}

const align4 = (n: number) => (n + 3) & ~3;

/**
 * Parses `buf[0, len)`. Appends a record per socket to `out`. Messages whose sequence number is not
 * `seq` (left over from an abandoned earlier dump) are skipped and counted.
 */
export function parseDiagDatagram(buf: Buffer, len: number, seq: number, out: SocketRecord[], errors: ErrorCounts, filter?: PortFilter): DatagramOutcome {
  const end = Math.min(len, buf.length);
  let off = 0;
  let messages = 0;
  while (off + NLMSG_HDRLEN <= end) {
    const msgLen = buf.readUInt32LE(off);
    const type = buf.readUInt16LE(off + 4);
    const flags = buf.readUInt16LE(off + 6);
    const msgSeq = buf.readUInt32LE(off + 8);
    if (msgLen < NLMSG_HDRLEN) {
      errors.add('bad_message_length');
      return { done: false, messages }; // cannot find the next header: give up on this datagram
    }
    if (off + msgLen > end) {
      errors.add('truncated_message');
      return { done: false, messages };
    }
    messages++;
    if (flags & NLM_F_DUMP_INTR) errors.add('dump_interrupted');
    if (msgSeq !== seq >>> 0) {
      errors.add('unexpected_message');
    } else if (type === NLMSG_DONE) {
      return { done: true, messages };
    } else if (type === NLMSG_ERROR) {
      const code = msgLen >= NLMSG_HDRLEN + 4 ? buf.readInt32LE(off + NLMSG_HDRLEN) : -1;
      if (code !== 0) {
        errors.add('netlink_error');
        return { done: true, error: code, messages };
      }
      // code 0 is an ACK, not an error.
    } else if (type === NLMSG_OVERRUN) {
      errors.add('netlink_error');
    } else if (type === SOCK_DIAG_BY_FAMILY) {
      const rec = parseDiagMessage(buf, off + NLMSG_HDRLEN, msgLen - NLMSG_HDRLEN, errors, filter);
      if (rec) out.push(rec);
    } else {
      errors.add('unexpected_message');
    }
    off += align4(msgLen);
  }
  if (off < end) errors.add('truncated_message'); // trailing bytes too short for a header
  return { done: false, messages };
}

/** inet_diag_msg at buf[start, start+len) plus its attributes. */
export function parseDiagMessage(buf: Buffer, start: number, len: number, errors: ErrorCounts, filter?: PortFilter): SocketRecord | null {
  if (len < INET_DIAG_MSG_LEN) {
    errors.add('short_diag_msg');
    return null;
  }
  const familyCode = buf.readUInt8(start);
  if (familyCode !== AF_INET && familyCode !== AF_INET6) {
    errors.add('bad_family');
    return null;
  }
  const state = buf.readUInt8(start + 1);
  // struct inet_diag_sockid at +4: sport, dport (big endian), src[16], dst[16], if, cookie[2].
  const id = start + 4;
  const localPort = buf.readUInt16BE(id);
  const remotePort = buf.readUInt16BE(id + 2);
  if (filter && !filter.localPorts.has(localPort) && !filter.remotePorts.has(remotePort)) return null;
  const local = addressAt(buf, id + 4, familyCode);
  const remote = addressAt(buf, id + 20, familyCode);
  const cookie = buf.readUInt32LE(id + 40) + buf.readUInt32LE(id + 44) * 4294967296;
  const rec: SocketRecord = {
    id: cookie,
    family: local.family,
    state,
    localAddr: local.text,
    localPort,
    remoteAddr: remote.text,
    remotePort,
    uid: buf.readUInt32LE(start + 64),
    inode: buf.readUInt32LE(start + 68),
    // The tcp_info fields, declared up front: the record is allocated once with room for all of them
    // instead of growing a second property store when INET_DIAG_INFO fills them (50k records a poll).
    rttUs: undefined,
    rttVarUs: undefined,
    minRttUs: undefined,
    lastAckRecvMs: undefined,
    bytesAcked: undefined,
    bytesReceived: undefined,
    totalRetrans: undefined,
  };
  // rtattrs follow the fixed part.
  let a = start + INET_DIAG_MSG_LEN;
  const end = start + len;
  while (a + RTA_HDRLEN <= end) {
    const rtaLen = buf.readUInt16LE(a);
    const rtaType = buf.readUInt16LE(a + 2) & 0x3fff; // strip NLA_F_NESTED / NLA_F_NET_BYTEORDER
    if (rtaLen < RTA_HDRLEN || a + rtaLen > end) {
      errors.add('bad_attribute');
      break; // keep the socket (addresses are good), drop the unreadable attributes
    }
    if (rtaType === INET_DIAG_INFO && !readTcpInfoInto(rec, buf, a + RTA_HDRLEN, rtaLen - RTA_HDRLEN)) errors.add('short_tcp_info');
    a += align4(rtaLen);
  }
  return rec;
}

function addressAt(buf: Buffer, off: number, familyCode: number): { family: 4 | 6; text: string } {
  if (familyCode === AF_INET) {
    return { family: 4, text: `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}` };
  }
  // ::ffff:a.b.c.d (a dual-stack socket's IPv4 peer) is reported as the IPv4 address it is.
  let mapped = buf[off + 10] === 0xff && buf[off + 11] === 0xff;
  for (let i = 0; mapped && i < 10; i++) if (buf[off + i] !== 0) mapped = false;
  if (mapped) return { family: 4, text: `${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}` };
  return { family: 6, text: bytesToIp(buf.subarray(off, off + 16)) };
}
