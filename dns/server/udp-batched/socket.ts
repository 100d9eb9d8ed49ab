// Opens one serving thread's UDP socket through koffi: non-blocking, SO_REUSEPORT (every thread binds
// the same address with a socket of its own and the kernel spreads datagrams over them by flow hash),
// large buffers, and packet info on wildcard binds so answers can leave from the address each query
// reached (see linux-abi.ts `replyPktinfo`).
import type { Logger } from '../../../lib/log.ts';
import { lastError, type Libc } from '../../../lib/libc.ts';
import { ipToBytes } from '../../../model/primitives.ts';
import {
  AF_INET,
  AF_INET6,
  decodeSockaddr,
  encodeSockaddr,
  IP_PKTINFO,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_RECVPKTINFO,
  IPV6_V6ONLY,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_REUSEPORT,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCKADDR_SLOT,
  SOL_SOCKET,
} from './linux-abi.ts';

export interface BatchedSocket {
  fd: number;
  /** "udp HOST:PORT" as the listeners report it. */
  label: string;
  port: number;
  /** Wildcard bind: packet info is received and sent back (source address per answer). */
  pktinfo: boolean;
}

/** Same as node:dgram's recvBufferSize/sendBufferSize in the fallback path. */
const SOCKET_BUFFER_BYTES = 4 << 20;

export function openReusePortSocket(c: Libc, host: string, port: number, log: Logger): BatchedSocket {
  const ip = ipToBytes(host);
  if (!ip) throw new Error(`not an IP address: ${host}`);
  const v6 = ip.length === 16;
  const fd = c.socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket(): ${lastError(c)}`);
  try {
    setInt(c, fd, SOL_SOCKET, SO_REUSEPORT, 1, 'SO_REUSEPORT');
    if (v6) setInt(c, fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, 'IPV6_V6ONLY'); // as dgram's ipv6Only: [::] is not 0.0.0.0
    const wildcard = ip.every((b) => b === 0);
    if (wildcard) {
      if (v6) setInt(c, fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, 'IPV6_RECVPKTINFO');
      else setInt(c, fd, IPPROTO_IP, IP_PKTINFO, 1, 'IP_PKTINFO');
    }
    const rcv = setBuffer(c, fd, SO_RCVBUFFORCE, SO_RCVBUF);
    setBuffer(c, fd, SO_SNDBUFFORCE, SO_SNDBUF);
    // The kernel doubles what it is given; less than asked means net.core.rmem_max capped it and
    // a stall (a view being indexed) can overflow the queue sooner.
    if (rcv < SOCKET_BUFFER_BYTES) log.warn({ rcvbuf: rcv, wanted: SOCKET_BUFFER_BYTES }, 'UDP receive buffer capped by net.core.rmem_max (raise it, or run with CAP_NET_ADMIN)');
    const addr = Buffer.alloc(SOCKADDR_SLOT);
    const len = encodeSockaddr(addr, ip, port);
    if (c.bind(fd, addr, len) < 0) throw new Error(`bind ${host}:${port}: ${lastError(c)}`);
    const lenBuf = Buffer.alloc(4);
    lenBuf.writeUInt32LE(SOCKADDR_SLOT);
    if (c.getsockname(fd, addr, lenBuf) < 0) throw new Error(`getsockname(): ${lastError(c)}`);
    const bound = decodeSockaddr(addr)!;
    return { fd, label: `udp ${host}:${bound.port}`, port: bound.port, pktinfo: wildcard };
  } catch (err) {
    c.close(fd);
    throw err;
  }
}

function setInt(c: Libc, fd: number, level: number, name: number, value: number, what: string): void {
  const v = Buffer.alloc(4);
  v.writeInt32LE(value);
  if (c.setsockopt(fd, level, name, v, 4) < 0) throw new Error(`setsockopt(${what}): ${lastError(c)}`);
}

/** Sets a socket buffer size (the FORCE variant first: it ignores the sysctl cap when permitted); returns the size in force. */
function setBuffer(c: Libc, fd: number, force: number, plain: number): number {
  const v = Buffer.alloc(4);
  v.writeInt32LE(SOCKET_BUFFER_BYTES);
  if (c.setsockopt(fd, SOL_SOCKET, force, v, 4) < 0) c.setsockopt(fd, SOL_SOCKET, plain, v, 4);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(4);
  return c.getsockopt(fd, SOL_SOCKET, plain, v, len) < 0 ? 0 : v.readInt32LE();
}
