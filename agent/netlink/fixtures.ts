// Builds sock_diag dump bytes the way the kernel lays them out, for parser tests (no kernel needed).
import { ipToBytes } from '../../model/addresses.ts';
import { AF_INET, AF_INET6, INET_DIAG_INFO, INET_DIAG_MSG_LEN, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLM_F_MULTI, SOCK_DIAG_BY_FAMILY } from './constants.ts';
import { TCP_INFO_OFFSETS } from './tcp-info.ts';

export interface FixtureSocket {
  family: 4 | 6;
  state?: number;
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
  cookie?: number;
  uid?: number;
  inode?: number;
  /** Bytes of tcp_info to include (e.g. 104 for an old kernel, 232 for a recent one); 0 = no attribute. */
  tcpInfoLen?: number;
  rttUs?: number;
  rttVarUs?: number;
  minRttUs?: number;
  lastAckRecvMs?: number;
  bytesAcked?: number;
}

const align4 = (n: number) => (n + 3) & ~3;

export function nlmsg(type: number, flags: number, seq: number, payload: Buffer): Buffer {
  const len = NLMSG_HDRLEN + payload.length;
  const b = Buffer.alloc(align4(len));
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq, 8);
  b.writeUInt32LE(0, 12);
  payload.copy(b, NLMSG_HDRLEN);
  return b;
}

export function tcpInfo(len: number, s: FixtureSocket): Buffer {
  const full = Buffer.alloc(Math.max(len, 232));
  full.writeUInt8(s.state ?? 1, 0);
  full.writeUInt32LE(s.lastAckRecvMs ?? 0, TCP_INFO_OFFSETS.lastAckRecv);
  full.writeUInt32LE(s.rttUs ?? 0, TCP_INFO_OFFSETS.rtt);
  full.writeUInt32LE(s.rttVarUs ?? 0, TCP_INFO_OFFSETS.rttVar);
  full.writeUInt32LE(s.minRttUs ?? 0, TCP_INFO_OFFSETS.minRtt);
  const acked = s.bytesAcked ?? 0;
  full.writeUInt32LE(acked % 4294967296, TCP_INFO_OFFSETS.bytesAcked);
  full.writeUInt32LE(Math.floor(acked / 4294967296), TCP_INFO_OFFSETS.bytesAcked + 4);
  return full.subarray(0, len);
}

export function diagMsg(s: FixtureSocket): Buffer {
  const msg = Buffer.alloc(INET_DIAG_MSG_LEN);
  msg.writeUInt8(s.family === 4 ? AF_INET : AF_INET6, 0);
  msg.writeUInt8(s.state ?? 1, 1);
  msg.writeUInt16BE(s.localPort, 4);
  msg.writeUInt16BE(s.remotePort, 6);
  Buffer.from(ipToBytes(s.local)!).copy(msg, 8);
  Buffer.from(ipToBytes(s.remote)!).copy(msg, 24);
  const cookie = s.cookie ?? 1;
  msg.writeUInt32LE(cookie % 4294967296, 44);
  msg.writeUInt32LE(Math.floor(cookie / 4294967296), 48);
  msg.writeUInt32LE(s.uid ?? 0, 64);
  msg.writeUInt32LE(s.inode ?? 0, 68);
  const parts = [msg];
  if (s.tcpInfoLen) {
    const info = tcpInfo(s.tcpInfoLen, s);
    const rta = Buffer.alloc(align4(4 + info.length));
    rta.writeUInt16LE(4 + info.length, 0);
    rta.writeUInt16LE(INET_DIAG_INFO, 2);
    info.copy(rta, 4);
    parts.push(rta);
  }
  return Buffer.concat(parts);
}

export function sockMsg(seq: number, s: FixtureSocket): Buffer {
  return nlmsg(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, seq, diagMsg(s));
}

export function doneMsg(seq: number): Buffer {
  const p = Buffer.alloc(4);
  return nlmsg(NLMSG_DONE, NLM_F_MULTI, seq, p);
}

export function errorMsg(seq: number, errno: number): Buffer {
  const p = Buffer.alloc(4 + NLMSG_HDRLEN);
  p.writeInt32LE(-errno, 0);
  return nlmsg(NLMSG_ERROR, 0, seq, p);
}
