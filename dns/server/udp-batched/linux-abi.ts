// The Linux socket ABI the batched UDP path speaks through koffi: constants, struct layouts and the
// byte-level encoding of socket addresses and packet-info control messages. Pure (no syscalls), so the
// layouts are unit-tested without a socket.
//
// Layouts are those of LP64 little-endian Linux with the generic socket constants: x86-64 and arm64,
// the two architectures `supportsBatchedUdp` admits. (MIPS, SPARC and others renumber SO_* and
// friends; they fall back to node:dgram rather than risk a wrong constant.)

import { AF_INET, AF_INET6 } from '../../../lib/socket-constants.ts';

export { AF_INET, AF_INET6, SOCK_CLOEXEC, SOL_SOCKET, SO_RCVBUF } from '../../../lib/socket-constants.ts';
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SO_SNDBUF = 7;
export const SO_REUSEPORT = 15;
/** Root (CAP_NET_ADMIN) only: like SO_RCVBUF/SO_SNDBUF but not capped by net.core.rmem_max/wmem_max. */
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const IPPROTO_IP = 0;
export const IP_PKTINFO = 8;
export const IPPROTO_IPV6 = 41;
export const IPV6_V6ONLY = 26;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_PKTINFO = 50;
export const MSG_DONTWAIT = 0x40;
export const MSG_CTRUNC = 0x08;
export const MSG_TRUNC = 0x20;
export const POLLIN = 0x001;
export const POLLOUT = 0x004;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
export const EINTR = 4;
export const EAGAIN = 11;

/** struct mmsghdr = struct msghdr (56 bytes) + unsigned int msg_len, padded to 64. */
export const MMSGHDR = { size: 64, name: 0, namelen: 8, iov: 16, iovlen: 24, control: 32, controllen: 40, flags: 48, len: 56 } as const;
/** struct iovec. */
export const IOVEC = { size: 16, base: 0, len: 8 } as const;
/** struct pollfd. */
export const POLLFD = { size: 8, fd: 0, events: 4, revents: 6 } as const;
/** Room for a sockaddr_in6 (28 bytes), the larger of the two families. */
export const SOCKADDR_SLOT = 32;
const SOCKADDR_IN_LEN = 16;
const SOCKADDR_IN6_LEN = 28;

/** struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; }, data 8-aligned after it. */
const CMSG_HDR = 16;
const cmsgAlign = (n: number) => (n + 7) & ~7;
export const cmsgSpace = (dataLen: number) => CMSG_HDR + cmsgAlign(dataLen);
const IN_PKTINFO_LEN = 12; // { int ipi_ifindex; in_addr ipi_spec_dst; in_addr ipi_addr; }
const IN6_PKTINFO_LEN = 20; // { in6_addr ipi6_addr; unsigned ipi6_ifindex; }
/** Control room per message: one packet-info message of either family, with slack. */
export const CONTROL_SLOT = 64;

/** The architectures whose ABI this module describes. */
export function supportsBatchedUdp(platform: string = process.platform, arch: string = process.arch): boolean {
  return platform === 'linux' && (arch === 'x64' || arch === 'arm64');
}

/** sockaddr_in / sockaddr_in6 for bind(); returns its length. `ip` is 4 or 16 bytes. */
export function encodeSockaddr(out: Buffer, ip: Uint8Array, port: number): number {
  out.fill(0, 0, SOCKADDR_SLOT);
  if (ip.length === 4) {
    out.writeUInt16LE(AF_INET, 0);
    out.writeUInt16BE(port, 2);
    out.set(ip, 4);
    return SOCKADDR_IN_LEN;
  }
  out.writeUInt16LE(AF_INET6, 0);
  out.writeUInt16BE(port, 2);
  out.set(ip, 8);
  return SOCKADDR_IN6_LEN;
}

/** Family (4 or 6), port and address bytes of a sockaddr at `off`; null for another family. */
export function decodeSockaddr(buf: Uint8Array, off = 0): { family: 4 | 6; port: number; ip: Uint8Array } | null {
  const family = buf[off]! | (buf[off + 1]! << 8);
  const port = (buf[off + 2]! << 8) | buf[off + 3]!;
  if (family === AF_INET) return { family: 4, port, ip: Uint8Array.from(buf.subarray(off + 4, off + 8)) };
  if (family === AF_INET6) return { family: 6, port, ip: Uint8Array.from(buf.subarray(off + 8, off + 24)) };
  return null;
}

/**
 * Turns the packet-info message the kernel attached to a received datagram into the one that makes
 * the answer leave from the address the query was sent to (wildcard binds on multi-homed hosts).
 * Reads `controlLen` bytes of control data at `recvOff`, writes at `sendOff` (may be the same
 * place), returns the control length to send (0: none found, let the kernel choose).
 *
 * IPv4 (ip(7)): the received ipi_spec_dst is the packet's local address; sent back as ipi_spec_dst
 * with ipi_ifindex 0 it becomes the source, and routing picks the interface. IPv6: ipi6_addr (the
 * destination) becomes the source, the interface kept (a link-local address needs it).
 */
export function replyPktinfo(mem: Uint8Array, recvOff: number, controlLen: number, sendOff: number): number {
  let at = recvOff;
  const end = recvOff + controlLen;
  while (at + CMSG_HDR <= end) {
    const len = u32(mem, at); // cmsg_len is a size_t; the upper half is 0 for anything this small
    if (len < CMSG_HDR || at + len > end) return 0;
    const level = u32(mem, at + 8);
    const type = u32(mem, at + 12);
    const data = at + CMSG_HDR;
    if (level === IPPROTO_IP && type === IP_PKTINFO && len >= CMSG_HDR + IN_PKTINFO_LEN) {
      if (sendOff !== at) mem.copyWithin(sendOff + CMSG_HDR, data, data + IN_PKTINFO_LEN);
      writeCmsgHeader(mem, sendOff, IN_PKTINFO_LEN, IPPROTO_IP, IP_PKTINFO);
      putU32(mem, sendOff + CMSG_HDR, 0); // ipi_ifindex
      return cmsgSpace(IN_PKTINFO_LEN);
    }
    if (level === IPPROTO_IPV6 && type === IPV6_PKTINFO && len >= CMSG_HDR + IN6_PKTINFO_LEN) {
      if (sendOff !== at) mem.copyWithin(sendOff + CMSG_HDR, data, data + IN6_PKTINFO_LEN);
      writeCmsgHeader(mem, sendOff, IN6_PKTINFO_LEN, IPPROTO_IPV6, IPV6_PKTINFO);
      return cmsgSpace(IN6_PKTINFO_LEN);
    }
    at += cmsgAlign(len);
  }
  return 0;
}

function writeCmsgHeader(mem: Uint8Array, off: number, dataLen: number, level: number, type: number): void {
  putU32(mem, off, CMSG_HDR + dataLen);
  putU32(mem, off + 4, 0);
  putU32(mem, off + 8, level);
  putU32(mem, off + 12, type);
}

function u32(mem: Uint8Array, off: number): number {
  return (mem[off]! | (mem[off + 1]! << 8) | (mem[off + 2]! << 16) | (mem[off + 3]! << 24)) >>> 0;
}

function putU32(mem: Uint8Array, off: number, v: number): void {
  mem[off] = v & 0xff;
  mem[off + 1] = (v >>> 8) & 0xff;
  mem[off + 2] = (v >>> 16) & 0xff;
  mem[off + 3] = (v >>> 24) & 0xff;
}

/** A received packet-info message as the kernel writes it (for tests). */
export function encodeRecvPktinfo(mem: Uint8Array, off: number, family: 4 | 6, dst: Uint8Array, ifindex: number): number {
  if (family === 4) {
    writeCmsgHeader(mem, off, IN_PKTINFO_LEN, IPPROTO_IP, IP_PKTINFO);
    putU32(mem, off + CMSG_HDR, ifindex);
    mem.set(dst, off + CMSG_HDR + 4); // ipi_spec_dst: the local address
    mem.set(dst, off + CMSG_HDR + 8); // ipi_addr: the header's destination (the same for unicast)
    return cmsgSpace(IN_PKTINFO_LEN);
  }
  writeCmsgHeader(mem, off, IN6_PKTINFO_LEN, IPPROTO_IPV6, IPV6_PKTINFO);
  mem.set(dst, off + CMSG_HDR);
  putU32(mem, off + CMSG_HDR + 16, ifindex);
  return cmsgSpace(IN6_PKTINFO_LEN);
}
