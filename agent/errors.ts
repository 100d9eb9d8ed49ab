// Collector error counts by kind. Every surprise from the kernel (or a worker) is counted, never thrown
// past the poll: the metric sluice_agent_collector_errors_total{kind} is where an operator sees them.
export type ErrorKind =
  | 'truncated_message' // nlmsg_len points past the datagram
  | 'bad_message_length' // nlmsg_len shorter than a header
  | 'short_diag_msg' // inet_diag_msg shorter than 72 bytes
  | 'bad_attribute' // rtattr length out of bounds
  | 'short_tcp_info' // INET_DIAG_INFO shorter than the 8-byte head
  | 'bad_family' // address family neither AF_INET nor AF_INET6
  | 'netlink_error' // NLMSG_ERROR from the kernel
  | 'dump_interrupted' // NLM_F_DUMP_INTR: the table changed during the dump
  | 'unexpected_message' // a type or sequence number we did not ask for
  | 'syscall' // socket/bind/sendto/recv failed
  | 'timeout' // the kernel did not finish the dump in time, or the worker did not answer
  | 'snmp' // /proc/net/snmp unreadable or unparsable
  | 'worker' // the collector worker crashed or answered garbage
  | 'windows_api'; // an iphlpapi call failed

export class ErrorCounts {
  readonly counts = new Map<ErrorKind, number>();
  add(kind: ErrorKind, n = 1): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + n);
  }
  get(kind: ErrorKind): number {
    return this.counts.get(kind) ?? 0;
  }
  total(): number {
    let t = 0;
    for (const v of this.counts.values()) t += v;
    return t;
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}
