// Preallocated memory for recvmmsg/sendmmsg: one arena holding `capacity` receive headers, as many
// send headers, their iovecs, socket-address and control slots, and one 64 KiB data slot per message.
// Every pointer inside the headers is written once, at construction; per batch only the lengths
// change. The arena is a Node Buffer (its memory never moves) whose address koffi reports, so a call
// passes two integers and marshals nothing.
//
// Slot i serves message i of a received batch and, after it is answered, answer j <= i of the batch
// to send: the send headers point at the same name, control and data slots as the receive headers,
// so an answer whose query sat in the same slot needs no copy of its destination address.
import koffi from 'koffi';
import { CONTROL_SLOT, IOVEC, MMSGHDR, POLLFD, SOCKADDR_SLOT } from './linux-abi.ts';

/** The largest UDP payload: a datagram never arrives truncated, as with node:dgram. */
export const DATA_SLOT = 65_536;

export class MessageBatch {
  /** The whole arena; data, names and control are read and written through it. */
  readonly mem: Buffer;
  /** Address of `struct mmsghdr[capacity]` for recvmmsg. */
  readonly recvVec: bigint;
  /** Address of send header j, for sendmmsg resuming after a partial send. */
  private readonly sendAt: bigint[] = [];
  /** Address of the `struct pollfd` array (room for `pollSlots`). */
  readonly pollVec: bigint;
  private readonly u32: Uint32Array;
  private readonly recvHdr: number;
  private readonly sendHdr: number;
  private readonly sendIov: number;
  private readonly names: number;
  private readonly controls: number;
  private readonly data: number;
  private readonly pollOff: number;

  constructor(readonly capacity: number, readonly pollSlots: number) {
    let off = 0;
    const take = (bytes: number) => ((off = (off + 63) & ~63), (off += bytes), off - bytes);
    this.recvHdr = take(capacity * MMSGHDR.size);
    this.sendHdr = take(capacity * MMSGHDR.size);
    const recvIov = take(capacity * IOVEC.size);
    this.sendIov = take(capacity * IOVEC.size);
    this.names = take(capacity * SOCKADDR_SLOT);
    this.controls = take(capacity * CONTROL_SLOT);
    this.pollOff = take(pollSlots * POLLFD.size);
    this.data = take(capacity * DATA_SLOT);
    // Unzeroed: the data slots (most of it) are only ever read where the kernel wrote; the rest is
    // cleared below.
    this.mem = Buffer.allocUnsafeSlow(off);
    this.mem.fill(0, 0, this.data);
    this.u32 = new Uint32Array(this.mem.buffer, this.mem.byteOffset, this.data >>> 2);
    const base = koffi.address(this.mem);
    const dv = new DataView(this.mem.buffer, this.mem.byteOffset, this.data);
    const ptr = (at: number, to: number) => dv.setBigUint64(at, base + BigInt(to), true);
    for (let i = 0; i < capacity; i++) {
      for (const [hdr, iov, len] of [
        [this.recvHdr, recvIov, DATA_SLOT],
        [this.sendHdr, this.sendIov, 0],
      ] as const) {
        const h = hdr + i * MMSGHDR.size;
        ptr(h + MMSGHDR.name, this.names + i * SOCKADDR_SLOT);
        ptr(h + MMSGHDR.iov, iov + i * IOVEC.size);
        dv.setUint32(h + MMSGHDR.iovlen, 1, true);
        ptr(h + MMSGHDR.control, this.controls + i * CONTROL_SLOT);
        ptr(iov + i * IOVEC.size + IOVEC.base, this.data + i * DATA_SLOT);
        dv.setUint32(iov + i * IOVEC.size + IOVEC.len, len, true);
      }
      this.sendAt.push(base + BigInt(this.sendHdr + i * MMSGHDR.size));
    }
    this.recvVec = base + BigInt(this.recvHdr);
    this.pollVec = base + BigInt(this.pollOff);
  }

  /** Restores the value-result lengths of the first `n` receive headers (the kernel overwrote them). */
  armReceive(n: number, controlRoom: number): void {
    const u = this.u32;
    for (let i = 0; i < n; i++) {
      const h = (this.recvHdr + i * MMSGHDR.size) >>> 2;
      u[h + (MMSGHDR.namelen >>> 2)] = SOCKADDR_SLOT;
      u[h + (MMSGHDR.controllen >>> 2)] = controlRoom;
      u[h + (MMSGHDR.flags >>> 2)] = 0;
    }
  }

  /** Bytes received in message i. */
  length(i: number): number {
    return this.u32[((this.recvHdr + i * MMSGHDR.size) >>> 2) + (MMSGHDR.len >>> 2)]!;
  }

  /** msg_flags of received message i (MSG_TRUNC, MSG_CTRUNC). */
  flags(i: number): number {
    return this.u32[((this.recvHdr + i * MMSGHDR.size) >>> 2) + (MMSGHDR.flags >>> 2)]!;
  }

  controlLength(i: number): number {
    return this.u32[((this.recvHdr + i * MMSGHDR.size) >>> 2) + (MMSGHDR.controllen >>> 2)]!;
  }

  nameOffset(i: number): number {
    return this.names + i * SOCKADDR_SLOT;
  }

  controlOffset(i: number): number {
    return this.controls + i * CONTROL_SLOT;
  }

  dataOffset(i: number): number {
    return this.data + i * DATA_SLOT;
  }

  /** A Buffer over received message i (valid until slot i is reused). */
  message(i: number): Buffer {
    return Buffer.from(this.mem.buffer, this.mem.byteOffset + this.data + i * DATA_SLOT, this.length(i));
  }

  /**
   * Queues `answer` (to the sender of received message i) as outgoing message j <= i with
   * `controlLen` bytes already written at controlOffset(j).
   */
  setAnswer(j: number, i: number, answer: Uint8Array, controlLen: number): void {
    const mem = this.mem;
    const u = this.u32;
    const rh = (this.recvHdr + i * MMSGHDR.size) >>> 2;
    const sh = (this.sendHdr + j * MMSGHDR.size) >>> 2;
    if (j !== i) {
      const from = this.names + i * SOCKADDR_SLOT;
      const to = this.names + j * SOCKADDR_SLOT;
      for (let k = 0; k < SOCKADDR_SLOT; k++) mem[to + k] = mem[from + k]!;
    }
    u[sh + (MMSGHDR.namelen >>> 2)] = u[rh + (MMSGHDR.namelen >>> 2)]!;
    u[sh + (MMSGHDR.controllen >>> 2)] = controlLen;
    u[((this.sendIov + j * IOVEC.size) >>> 2) + (IOVEC.len >>> 2)] = answer.length;
    mem.set(answer, this.data + j * DATA_SLOT);
  }

  /** Address of send header j. */
  sendVec(j: number): bigint {
    return this.sendAt[j]!;
  }

  setPoll(k: number, fd: number, events: number): void {
    const o = this.pollOff + k * POLLFD.size;
    this.mem.writeInt32LE(fd, o + POLLFD.fd);
    this.mem.writeInt16LE(events, o + POLLFD.events);
    this.mem.writeInt16LE(0, o + POLLFD.revents);
  }

  revents(k: number): number {
    return this.mem.readInt16LE(this.pollOff + k * POLLFD.size + POLLFD.revents);
  }
}
