// Builds the SOCK_DIAG_BY_FAMILY dump request: nlmsghdr + inet_diag_req_v2. Pure (returns bytes).
import {
  INET_DIAG_INFO,
  INET_DIAG_REQ_V2_LEN,
  IPPROTO_TCP,
  NLMSG_HDRLEN,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  SOCK_DIAG_BY_FAMILY,
  WANTED_STATES,
} from './constants.ts';

export function buildDumpRequest(family: number, seq: number, states: number = WANTED_STATES): Buffer {
  const len = NLMSG_HDRLEN + INET_DIAG_REQ_V2_LEN;
  const buf = Buffer.alloc(len); // zeroed: the socket id (ports, addresses, cookie) is a wildcard
  buf.writeUInt32LE(len, 0); // nlmsg_len (host order; the agent only runs on little-endian Linux)
  buf.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4);
  buf.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
  buf.writeUInt32LE(seq >>> 0, 8);
  buf.writeUInt32LE(0, 12); // nlmsg_pid: the kernel
  const r = NLMSG_HDRLEN;
  buf.writeUInt8(family, r + 0); // sdiag_family
  buf.writeUInt8(IPPROTO_TCP, r + 1); // sdiag_protocol
  buf.writeUInt8(1 << (INET_DIAG_INFO - 1), r + 2); // idiag_ext: ask for struct tcp_info
  buf.writeUInt32LE(states >>> 0, r + 4); // idiag_states bitmask
  return buf;
}
