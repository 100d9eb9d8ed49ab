// The batched UDP loop of one serving thread: poll() on its sockets and a wake-up eventfd, then per
// readable socket recvmmsg up to BATCH queries, answer each through the same `answerDatagram` as the
// node:dgram path (the Responder decides every answer, whichever I/O carries it), and sendmmsg the
// answers in one call.
//
// Invariants:
// - The thread blocks only in poll(), which the eventfd interrupts: the owner posts a message (a new
//   view, stop) and writes the eventfd, so a view swap or a shutdown waits for at most the batch in
//   hand, never for traffic. Under load poll() returns at once, so control messages are looked at
//   after every ROUNDS batches of a socket.
// - Nothing is allocated per batch but the Buffer views over received queries and the answers the
//   Responder returns; headers, addresses, control data and payloads live in MessageBatch.
// - An answer is never dropped silently: a full send buffer is waited on (POLLOUT, up to
//   SEND_WAIT_MS), and a send the kernel refuses is logged (throttled) and counted
//   (sluice_dns_udp_send_errors_total).
// - On stop the sockets are drained (queries already queued are answered) before they are closed.
import { performance } from 'node:perf_hooks';
import type { Libc } from '../../../lib/libc.ts';
import type { Logger } from '../../../lib/log.ts';
import type { Remote, Responder } from '../../answer/respond.ts';
import { answerDatagram } from '../listeners.ts';
import { CONTROL_SLOT, EAGAIN, EINTR, MSG_DONTWAIT, POLLIN, POLLOUT, replyPktinfo } from './linux-abi.ts';
import { MessageBatch } from './message-batch.ts';
import type { BatchedSocket } from './socket.ts';

/** Queries per recvmmsg. Larger batches cost the first query of a batch latency at saturation. */
export const BATCH = 32;
/** Batches per socket before looking at the others and at control messages again. */
const ROUNDS = 8;
/** How long a full send buffer is waited on before the rest of a batch counts as not sent. */
const SEND_WAIT_MS = 1000;
/** Queries answered per socket while draining on stop (bounded: traffic may never pause). */
const DRAIN_MAX = 4096;

export class BatchedUdpLoop {
  private readonly batch: MessageBatch;
  private readonly remote: Remote = { family: 4, v4: 0, v6: new Uint8Array(16) };
  /** Receive headers the kernel wrote last time (to re-arm). */
  private dirty: number;
  private readonly wakeBuf = Buffer.alloc(8);
  private readonly sendWarn: Throttled;
  private readonly recvWarn: Throttled;

  constructor(
    private readonly c: Libc,
    private readonly sockets: readonly BatchedSocket[],
    private readonly wakeFd: number,
    private readonly responder: Responder,
    private readonly log: Logger,
  ) {
    // poll slots: the eventfd, every socket, and one for waiting on a full send buffer.
    this.batch = new MessageBatch(BATCH, sockets.length + 2);
    this.dirty = BATCH;
    this.sendWarn = new Throttled(log, 'UDP answers not sent');
    this.recvWarn = new Throttled(log, 'recvmmsg failed');
  }

  /**
   * Serves until `onWake` (called whenever the eventfd fires) returns false, then drains the sockets.
   * Throws only if poll() itself fails (the thread then ends and its owner reports it).
   */
  run(onWake: () => boolean): void {
    const b = this.batch;
    b.setPoll(0, this.wakeFd, POLLIN);
    for (let k = 0; k < this.sockets.length; k++) b.setPoll(k + 1, this.sockets[k]!.fd, POLLIN);
    while (this.turn(onWake));
    for (const s of this.sockets) for (let done = 0, got; done < DRAIN_MAX && (got = this.serveBatch(s)) > 0; done += got);
  }

  /**
   * One poll() and what it reported; false once told to stop. A method of its own rather than the
   * body of run()'s loop: a function that never returns is optimised late, if ever (on-stack
   * replacement), while this one is called often enough to be optimised like serveBatch.
   */
  private turn(onWake: () => boolean): boolean {
    const b = this.batch;
    const n = this.sockets.length;
    if (this.c.poll(b.pollVec, n + 1, -1) < 0) {
      const e = this.c.errno();
      if (e === EINTR) return true;
      throw new Error(`poll(): errno ${e} (${this.c.strerror(e)})`);
    }
    if (b.revents(0) !== 0) {
      this.c.read(this.wakeFd, this.wakeBuf, 8); // reset the counter (EAGAIN if already read: harmless)
      if (!onWake()) return false;
    }
    for (let k = 0; k < n; k++) {
      if (b.revents(k + 1) === 0) continue;
      const s = this.sockets[k]!;
      for (let r = 0; r < ROUNDS && this.serveBatch(s) === BATCH; r++);
    }
    return true;
  }

  /**
   * Answers what is queued on every socket now (bounded: ROUNDS batches each), without waiting. For
   * work the thread does between polls — indexing a new view — so queries never wait for all of it.
   */
  serveQueued(): void {
    for (const s of this.sockets) for (let r = 0; r < ROUNDS && this.serveBatch(s) === BATCH; r++);
  }

  close(): void {
    for (const s of this.sockets) this.c.close(s.fd);
  }

  /** One recvmmsg → answers → one sendmmsg. Returns the number of queries received (0: none queued). */
  private serveBatch(s: BatchedSocket): number {
    const b = this.batch;
    const c = this.c;
    b.armReceive(this.dirty, CONTROL_SLOT);
    const n = c.recvmmsg(s.fd, b.recvVec, BATCH, MSG_DONTWAIT);
    if (n <= 0) {
      this.dirty = 0;
      if (n < 0) {
        const e = c.errno();
        if (e !== EAGAIN && e !== EINTR) this.recvWarn.warn({ errno: e, error: c.strerror(e), socket: s.label });
      }
      return 0;
    }
    this.dirty = n;
    const t0 = performance.now();
    const mem = b.mem;
    const remote = this.remote;
    let out = 0;
    for (let i = 0; i < n; i++) {
      const name = b.nameOffset(i);
      if (mem[name] === 2) {
        remote.family = 4;
        remote.v4 = mem.readUInt32BE(name + 4);
      } else {
        remote.family = 6;
        for (let k = 0; k < 16; k++) remote.v6[k] = mem[name + 8 + k]!;
      }
      const answer = answerDatagram(this.responder, b.message(i), remote, this.log);
      if (!answer) continue;
      const control = s.pktinfo ? replyPktinfo(mem, b.controlOffset(i), b.controlLength(i), b.controlOffset(out)) : 0;
      b.setAnswer(out, i, answer, control);
      out++;
    }
    if (out > 0) this.send(s, out);
    this.responder.stats.observe((performance.now() - t0) / 1000, n);
    return n;
  }

  private send(s: BatchedSocket, count: number): void {
    const c = this.c;
    let from = 0;
    while (from < count) {
      const sent = c.sendmmsg(s.fd, this.batch.sendVec(from), count - from, 0);
      if (sent > 0) {
        from += sent;
        continue;
      }
      const e = c.errno();
      if (e === EINTR) continue;
      if (e === EAGAIN && this.waitWritable(s.fd)) continue;
      // EAGAIN for a second: the rest of the batch; anything else: the message the kernel refused.
      const lost = e === EAGAIN ? count - from : 1;
      this.responder.stats.sendErrors += lost;
      this.sendWarn.warn({ errno: e, error: c.strerror(e), lost, socket: s.label });
      from += lost;
    }
  }

  private waitWritable(fd: number): boolean {
    const b = this.batch;
    const slot = this.sockets.length + 1;
    b.setPoll(slot, fd, POLLOUT);
    return this.c.poll(b.pollVec + BigInt(slot * 8), 1, SEND_WAIT_MS) > 0;
  }
}

/** A warning logged at most every 10 s, with how many were suppressed meanwhile. */
class Throttled {
  private last = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly message: string,
  ) {}

  warn(fields: Record<string, unknown>): void {
    const now = Date.now();
    if (now - this.last < 10_000) {
      this.suppressed++;
      return;
    }
    this.log.warn({ ...fields, suppressed: this.suppressed }, this.message);
    this.last = now;
    this.suppressed = 0;
  }
}
