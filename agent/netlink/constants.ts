// Numbers from the Linux UAPI headers (linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h,
// net/tcp_states.h). They are ABI: stable across kernel versions.
export { AF_INET, AF_INET6, SOCK_CLOEXEC, SOL_SOCKET, SO_RCVBUF } from '../../lib/socket-constants.ts';
export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const NETLINK_SOCK_DIAG = 4;
export const IPPROTO_TCP = 6;
export const SO_RCVTIMEO = 20;

export const NLMSG_HDRLEN = 16;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP = 0x100 | 0x200; // NLM_F_ROOT | NLM_F_MATCH

export const SOCK_DIAG_BY_FAMILY = 20;

/** sizeof(struct inet_diag_req_v2) */
export const INET_DIAG_REQ_V2_LEN = 56;
/** sizeof(struct inet_diag_msg) */
export const INET_DIAG_MSG_LEN = 72;
export const RTA_HDRLEN = 4;
export const INET_DIAG_INFO = 2;

/** TCP states (include/net/tcp_states.h). */
export const TCP_STATE = {
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  FIN_WAIT1: 4,
  FIN_WAIT2: 5,
  TIME_WAIT: 6,
  CLOSE: 7,
  CLOSE_WAIT: 8,
  LAST_ACK: 9,
  LISTEN: 10,
  CLOSING: 11,
  NEW_SYN_RECV: 12,
} as const;

export const TCP_STATE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(TCP_STATE).map(([k, v]) => [v, k.toLowerCase()]));

/**
 * The states the agent asks the kernel for. ESTABLISHED sockets carry the RTT; the closing states are
 * requested only so that a connection which opened and began closing between two polls is still
 * counted as demand (a server-closed connection sits in TIME_WAIT for 60 s, keeping its cookie).
 * LISTEN, SYN_SENT and SYN_RECV are never requested.
 */
export const WANTED_STATES =
  (1 << TCP_STATE.ESTABLISHED) |
  (1 << TCP_STATE.FIN_WAIT1) |
  (1 << TCP_STATE.FIN_WAIT2) |
  (1 << TCP_STATE.TIME_WAIT) |
  (1 << TCP_STATE.CLOSE_WAIT) |
  (1 << TCP_STATE.LAST_ACK) |
  (1 << TCP_STATE.CLOSING);
