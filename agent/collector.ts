// The collector interface: one call returns every TCP socket the OS reports, with RTT where the OS
// has it. Linux (netlink sock_diag) and Windows (iphlpapi EStats) implement it; everything after the
// collector (classification, learning, metrics) is platform-independent.
import type { ErrorCounts } from './errors.ts';

/** The TCP statistics of one socket that the agent reads (a subset of Linux tcp_info / Windows EStats). */
export interface TcpStats {
  /** Smoothed RTT in microseconds; absent when the OS gave none (e.g. TIME_WAIT), 0 = no sample yet. */
  rttUs?: number;
  rttVarUs?: number;
  minRttUs?: number;
  /** Milliseconds since the last ACK was received: tells whether srtt moved since the last poll. */
  lastAckRecvMs?: number;
  bytesAcked?: number;
  bytesReceived?: number;
  totalRetrans?: number;
}

export interface SocketRecord extends TcpStats {
  /**
   * Identity for the socket's whole life. Linux: the kernel's 64-bit socket cookie (as a number; it is a
   * counter, far below 2^53). Windows: "local|remote|pid" (no cookie exists there).
   */
  id: number | string;
  family: 4 | 6;
  /** Linux TCP state numbers (net/tcp_states.h); the Windows collector maps its states onto them. */
  state: number;
  /** Text addresses; IPv4-mapped IPv6 addresses are already unmapped to dotted IPv4. */
  localAddr: string;
  localPort: number;
  remoteAddr: string;
  remotePort: number;
  uid?: number;
  inode?: number;
}

export interface CollectResult {
  sockets: SocketRecord[];
  /** True when every family's dump completed (NLMSG_DONE); a partial dump must not age out connections. */
  complete: boolean;
}

export interface Collector {
  readonly name: string;
  collect(errors: ErrorCounts): CollectResult;
  close(): void;
}

/**
 * Sockets worth parsing: local port is a service port, or remote port is an upstream's port. The
 * classifier decides for real; this only lets a collector skip building records for the rest (on a busy
 * host, most sockets) before any address is formatted.
 */
export interface PortFilter {
  localPorts: ReadonlySet<number>;
  remotePorts: ReadonlySet<number>;
}
