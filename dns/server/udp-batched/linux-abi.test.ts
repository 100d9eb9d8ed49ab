// The byte layouts the batched UDP path hands the kernel, checked without a socket: socket addresses,
// and the packet-info control message turned round so an answer leaves from the query's address.
import { describe, expect, it } from 'vitest';
import {
  AF_INET,
  AF_INET6,
  cmsgSpace,
  CONTROL_SLOT,
  decodeSockaddr,
  encodeRecvPktinfo,
  encodeSockaddr,
  IP_PKTINFO,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_PKTINFO,
  replyPktinfo,
  SOCKADDR_SLOT,
  supportsBatchedUdp,
} from './linux-abi.ts';

describe('socket addresses', () => {
  it('encodes sockaddr_in (16 bytes: family LE, port BE, address) and decodes it back', () => {
    const b = Buffer.alloc(SOCKADDR_SLOT, 0xee);
    expect(encodeSockaddr(b, Uint8Array.of(127, 0, 0, 2), 5353)).toBe(16);
    expect([...b.subarray(0, 8)]).toEqual([AF_INET, 0, 0x14, 0xe9, 127, 0, 0, 2]);
    expect(b.subarray(8).every((x) => x === 0)).toBe(true); // no stale bytes past the address
    expect(decodeSockaddr(b)).toEqual({ family: 4, port: 5353, ip: Uint8Array.of(127, 0, 0, 2) });
  });

  it('encodes sockaddr_in6 (28 bytes: flowinfo 0, address at 8, scope 0)', () => {
    const b = Buffer.alloc(SOCKADDR_SLOT, 0xee);
    const ip = new Uint8Array(16);
    ip[15] = 1;
    expect(encodeSockaddr(b, ip, 53)).toBe(28);
    expect(b.readUInt16LE(0)).toBe(AF_INET6);
    expect(b.readUInt16BE(2)).toBe(53);
    expect(b.readUInt32LE(4)).toBe(0);
    expect(b.subarray(8, 24)).toEqual(Buffer.from(ip));
    expect(b.readUInt32LE(24)).toBe(0);
    expect(decodeSockaddr(b)).toEqual({ family: 6, port: 53, ip });
  });

  it('decodes an unknown family as null', () => {
    expect(decodeSockaddr(Buffer.from([1, 0, 0, 53]))).toBeNull();
  });
});

describe('replyPktinfo', () => {
  it('IPv4: keeps the local address as ipi_spec_dst, clears the interface, sends CMSG_SPACE(12)', () => {
    const mem = Buffer.alloc(2 * CONTROL_SLOT, 0xaa);
    const len = encodeRecvPktinfo(mem, 0, 4, Uint8Array.of(127, 0, 0, 2), 1);
    expect(len).toBe(cmsgSpace(12));
    // Answer written into another slot, as when an earlier query in the batch was dropped.
    expect(replyPktinfo(mem, 0, len, CONTROL_SLOT)).toBe(32);
    const at = CONTROL_SLOT;
    expect([mem.readUInt32LE(at), mem.readUInt32LE(at + 4), mem.readUInt32LE(at + 8), mem.readUInt32LE(at + 12)]).toEqual([28, 0, IPPROTO_IP, IP_PKTINFO]);
    expect(mem.readInt32LE(at + 16)).toBe(0); // ipi_ifindex
    expect([...mem.subarray(at + 20, at + 24)]).toEqual([127, 0, 0, 2]); // ipi_spec_dst: the source of the answer
  });

  it('IPv6: keeps the destination and the interface (a link-local address needs it), in place', () => {
    const mem = Buffer.alloc(CONTROL_SLOT, 0);
    const dst = Uint8Array.from([0xfd, 0, 0x5c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
    const len = encodeRecvPktinfo(mem, 0, 6, dst, 7);
    expect(replyPktinfo(mem, 0, len, 0)).toBe(cmsgSpace(20));
    expect([mem.readUInt32LE(0), mem.readUInt32LE(8), mem.readUInt32LE(12)]).toEqual([36, IPPROTO_IPV6, IPV6_PKTINFO]);
    expect(mem.subarray(16, 32)).toEqual(Buffer.from(dst));
    expect(mem.readUInt32LE(32)).toBe(7);
  });

  it('finds the packet info after another control message, and returns 0 when there is none or it is cut short', () => {
    const mem = Buffer.alloc(CONTROL_SLOT * 2, 0);
    // An unrelated 4-byte message first (level SOL_SOCKET, type 29 = SO_TIMESTAMP-like), then IPv4 packet info.
    mem.writeUInt32LE(20, 0);
    mem.writeUInt32LE(1, 8);
    mem.writeUInt32LE(29, 12);
    const second = cmsgSpace(4);
    const len = second + encodeRecvPktinfo(mem, second, 4, Uint8Array.of(10, 0, 0, 1), 2);
    expect(replyPktinfo(mem, 0, len, CONTROL_SLOT)).toBe(32);
    expect([...mem.subarray(CONTROL_SLOT + 20, CONTROL_SLOT + 24)]).toEqual([10, 0, 0, 1]);
    expect(replyPktinfo(mem, 0, 0, CONTROL_SLOT)).toBe(0);
    expect(replyPktinfo(mem, 0, second + 10, CONTROL_SLOT)).toBe(0); // truncated (MSG_CTRUNC): let the kernel choose
  });
});

describe('supportsBatchedUdp', () => {
  it('admits Linux on x64 and arm64 only (the ABI this module describes)', () => {
    expect(supportsBatchedUdp('linux', 'x64')).toBe(true);
    expect(supportsBatchedUdp('linux', 'arm64')).toBe(true);
    expect(supportsBatchedUdp('linux', 'mips')).toBe(false);
    expect(supportsBatchedUdp('darwin', 'arm64')).toBe(false);
    expect(supportsBatchedUdp('win32', 'x64')).toBe(false);
  });
});
