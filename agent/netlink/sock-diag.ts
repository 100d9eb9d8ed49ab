// The Linux collector: one NETLINK_SOCK_DIAG socket, a SOCK_DIAG_BY_FAMILY dump per address family.
// Unprivileged: inet_diag dumps every socket of the caller's network namespace, with tcp_info, to any
// user (only INET_DIAG_MEMINFO-style extras and socket destruction need CAP_NET_ADMIN), so the agent
// runs as an ordinary user. The calls are synchronous: run this in a worker thread (agent/worker.ts).
import type { Collector, CollectResult, PortFilter, SocketRecord } from '../collector.ts';
import type { ErrorCounts } from '../errors.ts';
import { AF_INET, AF_INET6, AF_NETLINK, NETLINK_SOCK_DIAG, SOCK_CLOEXEC, SOCK_RAW, SOL_SOCKET, SO_RCVBUF, SO_RCVTIMEO, WANTED_STATES } from './constants.ts';
import { lastError, libc, type Libc } from '../../lib/libc.ts';
import { parseDiagDatagram } from './parse.ts';
import { buildDumpRequest } from './request.ts';

/** The kernel caps one dump datagram at 32 KiB; twice that leaves room and never truncates. */
const RECV_BUFFER = 64 * 1024;
/** A dump never takes this long; if it does, give up this poll rather than block forever. */
const RECV_TIMEOUT_MS = 5000;
/** Guards against a kernel (or a bug) that never sends NLMSG_DONE. */
const MAX_DATAGRAMS_PER_DUMP = 1_000_000;

export class CollectorSetupError extends Error {
  override name = 'CollectorSetupError';
}

export class SockDiagCollector implements Collector {
  readonly name = 'linux-sock-diag';
  private fd = -1;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly c: Libc;
  private readonly buf = Buffer.alloc(RECV_BUFFER);

  /** `filter`: parse only sockets on these ports (see PortFilter); all when omitted. */
  constructor(
    private readonly states: number = WANTED_STATES,
    private readonly filter?: PortFilter,
  ) {
    this.c = libc();
    this.open();
  }

  private open(): void {
    const c = this.c;
    const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) throw new CollectorSetupError(`socket(AF_NETLINK, NETLINK_SOCK_DIAG) failed: ${lastError(c)}`);
    // struct sockaddr_nl { sa_family_t nl_family; u16 pad; u32 nl_pid; u32 nl_groups; }: pid 0 = kernel assigns.
    const addr = Buffer.alloc(12);
    addr.writeUInt16LE(AF_NETLINK, 0);
    if (c.bind(fd, addr, addr.length) < 0) {
      const msg = lastError(c);
      c.close(fd);
      throw new CollectorSetupError(`bind(netlink) failed: ${msg}`);
    }
    const tv = Buffer.alloc(16); // struct timeval { long tv_sec; long tv_usec; } on 64-bit
    tv.writeBigInt64LE(BigInt(Math.floor(RECV_TIMEOUT_MS / 1000)), 0);
    tv.writeBigInt64LE(BigInt((RECV_TIMEOUT_MS % 1000) * 1000), 8);
    c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, tv.length);
    const rcvbuf = Buffer.alloc(4);
    rcvbuf.writeInt32LE(1 << 20, 0);
    c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf, 4); // best effort; dumps are paced by our reads anyway
    this.fd = fd;
  }

  collect(errors: ErrorCounts): CollectResult {
    const sockets: SocketRecord[] = [];
    let complete = true;
    for (const family of [AF_INET, AF_INET6]) {
      if (!this.dumpFamily(family, sockets, errors)) complete = false;
    }
    return { sockets, complete };
  }

  /** One dump; false when it did not finish cleanly (the records read so far are kept). */
  private dumpFamily(family: number, out: SocketRecord[], errors: ErrorCounts): boolean {
    const c = this.c;
    if (this.fd < 0) {
      try {
        this.open();
      } catch {
        errors.add('syscall');
        return false;
      }
    }
    this.seq = (this.seq + 1) >>> 0;
    const seq = this.seq;
    const req = buildDumpRequest(family, seq, this.states);
    const dest = Buffer.alloc(12);
    dest.writeUInt16LE(AF_NETLINK, 0);
    if (c.sendto(this.fd, req, req.length, 0, dest, dest.length) !== req.length) {
      errors.add('syscall');
      this.reopen();
      return false;
    }
    for (let i = 0; i < MAX_DATAGRAMS_PER_DUMP; i++) {
      const n = c.recv(this.fd, this.buf, this.buf.length, 0);
      if (n < 0) {
        const e = c.errno();
        errors.add(e === 11 /* EAGAIN: SO_RCVTIMEO expired */ ? 'timeout' : 'syscall');
        // The rest of this dump may still arrive later; a fresh socket keeps it out of the next poll.
        this.reopen();
        return false;
      }
      if (n === 0) {
        errors.add('syscall');
        this.reopen();
        return false;
      }
      const outcome = parseDiagDatagram(this.buf, n, seq, out, errors, this.filter);
      if (outcome.done) return outcome.error === undefined;
    }
    errors.add('timeout');
    this.reopen();
    return false;
  }

  private reopen(): void {
    if (this.fd >= 0) this.c.close(this.fd);
    this.fd = -1;
  }

  close(): void {
    this.reopen();
  }
}
