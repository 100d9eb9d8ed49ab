// DNS over TCP (RFC 7766) for one serving process: 2-byte length framing, several queries per
// connection answered in order, and the resource limits of §6.2.3 so that hostile clients cannot
// exhaust the process:
//
// - Backpressure. Answers queued for a connection (bytes the kernel has not taken yet) are bounded by
//   `maxUnsent`: past it the connection's queries are no longer read or answered until the client
//   takes its answers. A client that pipelines queries and never reads therefore costs at most
//   `maxUnsent` + one read buffer of process memory; the rest waits in the kernel's socket buffers
//   and, once they are full, in the client's own send buffer.
// - A connection limit per process (`maxConnections`). Connections are kept in order of last
//   activity; at the limit a new client closes the least recently active idle one (no query being
//   received, no answer waiting), or failing that the least recently active of all, so new clients
//   are always served.
// - Timeouts, as knot has them: `idleTimeout` with no query in progress (knot tcp-idle-timeout), and
//   `messageTimeout` to receive the rest of a started query or to hand over a queued answer, measured
//   from the moment that message started, not refreshed by each byte, so a client trickling one byte
//   at a time is closed like an idle one (knot tcp-io-timeout).
// Every close and every pause is counted by reason (TcpStats, exported as sluice_dns_tcp_*).
//
// The answers themselves come from the same Responder as UDP: this file only frames and paces them.
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../lib/log.ts';
import type { Remote, Responder } from '../answer/respond.ts';

export interface TcpLimits {
  maxConnections: number;
  idleTimeoutMs: number;
  messageTimeoutMs: number;
  maxUnsent: number;
}

export const TCP_CLOSE_REASONS = ['client', 'idle_timeout', 'message_timeout', 'evicted', 'malformed', 'error', 'shutdown'] as const;
export type TcpCloseReason = (typeof TCP_CLOSE_REASONS)[number];

/** Counters for one process (summed over workers at scrape time). */
export class TcpStats {
  accepted = 0;
  open = 0;
  /** Times a connection stopped being read because its unsent answers exceeded maxUnsent. */
  backpressure = 0;
  readonly closed = new Float64Array(TCP_CLOSE_REASONS.length);

  countClose(reason: TcpCloseReason): void {
    this.closed[TCP_CLOSE_REASONS.indexOf(reason)]! += 1;
  }
}

/** Every TCP connection of one serving process, across all its listeners. */
export class TcpConnections {
  /** In order of last activity, least recent first (a Map keeps insertion order; touch = re-insert). */
  private readonly byActivity = new Map<Connection, true>();

  constructor(
    private readonly responder: Responder,
    readonly limits: TcpLimits,
    readonly stats: TcpStats,
    private readonly log: Logger,
    private readonly remoteOf: (address: string, family: string) => Remote,
  ) {}

  get size(): number {
    return this.byActivity.size;
  }

  accept(socket: net.Socket): void {
    this.stats.accepted++;
    if (this.byActivity.size >= this.limits.maxConnections) this.evictOne();
    const conn = new Connection(socket, this, this.responder, this.log, this.remoteOf(socket.remoteAddress ?? '0.0.0.0', socket.remoteFamily ?? 'IPv4'));
    this.byActivity.set(conn, true);
    this.stats.open++;
  }

  touch(conn: Connection): void {
    this.byActivity.delete(conn);
    this.byActivity.set(conn, true);
  }

  forget(conn: Connection): void {
    if (this.byActivity.delete(conn)) this.stats.open--;
  }

  /** Closes every connection (shutdown: a listener's close() would otherwise wait for idle clients). */
  closeAll(): void {
    for (const conn of [...this.byActivity.keys()]) conn.close('shutdown');
  }

  private evictOne(): void {
    let victim: Connection | undefined;
    for (const conn of this.byActivity.keys()) {
      if (conn.idle()) {
        victim = conn;
        break;
      }
      victim ??= conn; // the least recently active, if none is idle
    }
    victim?.close('evicted');
  }
}

type TimerMode = 'idle' | 'message';

class Connection {
  /** Received bytes not yet consumed: at most one partial message after processing (plus whole ones while paused). */
  private pending: Buffer = EMPTY;
  /** Reading stopped because unsent answers exceed maxUnsent. */
  private paused = false;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private mode: TimerMode = 'idle';
  private readonly onFlushed = () => this.flushed();

  constructor(
    private readonly socket: net.Socket,
    private readonly all: TcpConnections,
    private readonly responder: Responder,
    private readonly log: Logger,
    private readonly remote: Remote,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    // A client that half-closes after its queries still gets its answers: Node ends our side once
    // they are flushed (allowHalfOpen is off), and 'close' follows.
    socket.on('error', () => this.close('error'));
    socket.on('close', () => this.close('client'));
    this.arm('idle');
  }

  /** No query being received and no answer waiting: the first to go when the limit is reached. */
  idle(): boolean {
    return this.pending.length === 0 && this.socket.writableLength === 0;
  }

  close(reason: TcpCloseReason): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.all.stats.countClose(reason);
    this.all.forget(this);
    this.pending = EMPTY;
    this.socket.destroy();
  }

  private received(chunk: Buffer): void {
    if (this.closed) return;
    this.all.touch(this);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const answered = this.answerPending();
    // A new message started (or the last one completed): its clock starts now. A partial message
    // that made no progress towards completion keeps its original deadline.
    if (answered > 0 || this.mode === 'idle') this.arm(this.busy() ? 'message' : 'idle');
  }

  /**
   * Answers every complete message in `pending` until backpressure says stop; returns how many.
   * Answers are written in batches of up to maxUnsent bytes (one write, one callback per batch rather
   * than per answer: pipelined queries cost far less garbage), and after each batch the queue decides
   * whether reading goes on.
   */
  private answerPending(): number {
    let answered = 0;
    const batch: Buffer[] = [];
    let batchBytes = 0;
    while (!this.paused && !this.closed && this.pending.length >= 2) {
      const len = this.pending.readUInt16BE(0);
      if (len === 0) {
        // No DNS message is empty; the stream cannot be resynchronised.
        this.close('malformed');
        return answered;
      }
      if (this.pending.length < 2 + len) break;
      const msg = this.pending.subarray(2, 2 + len);
      this.pending = this.pending.length === 2 + len ? EMPTY : this.pending.subarray(2 + len);
      answered++;
      const framed = this.answer(msg);
      if (framed) {
        batch.push(framed);
        batchBytes += framed.length;
      }
      if (batchBytes >= this.all.limits.maxUnsent) {
        this.write(batch);
        batch.length = 0;
        batchBytes = 0;
      }
    }
    if (batch.length > 0) this.write(batch);
    return answered;
  }

  private write(batch: Buffer[]): void {
    if (this.closed) return;
    this.socket.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch), this.onFlushed);
    if (!this.paused && this.socket.writableLength > this.all.limits.maxUnsent) {
      this.paused = true;
      this.all.stats.backpressure++;
      this.socket.pause();
    }
  }

  /** The framed answer to one query (null: dropped), timed like a UDP answer. */
  private answer(msg: Buffer): Buffer | null {
    const t0 = performance.now();
    let out: Buffer | null;
    try {
      out = this.responder.respond(msg, 'tcp', this.remote);
    } catch (err) {
      // A bug must cost one connection, never the server.
      this.log.error({ err }, 'unexpected error answering a TCP query');
      this.close('error');
      return null;
    }
    this.responder.stats.observe((performance.now() - t0) / 1000);
    if (!out) return null;
    const framed = Buffer.allocUnsafe(2 + out.length);
    framed.writeUInt16BE(out.length, 0);
    out.copy(framed, 2);
    return framed;
  }

  /** An answer reached the kernel: one message sent, so its clock restarts; maybe resume reading. */
  private flushed(): void {
    if (this.closed) return;
    this.all.touch(this);
    if (this.paused && this.socket.writableLength <= this.all.limits.maxUnsent) {
      this.paused = false;
      this.answerPending(); // whole queries that arrived while paused
      if (!this.paused) this.socket.resume();
    }
    this.arm(this.busy() ? 'message' : 'idle');
  }

  private busy(): boolean {
    return this.pending.length > 0 || this.socket.writableLength > 0;
  }

  private arm(mode: TimerMode): void {
    if (this.closed) return;
    this.mode = mode;
    if (this.timer) clearTimeout(this.timer);
    const ms = mode === 'idle' ? this.all.limits.idleTimeoutMs : this.all.limits.messageTimeoutMs;
    this.timer = setTimeout(() => this.close(mode === 'idle' ? 'idle_timeout' : 'message_timeout'), ms);
    this.timer.unref();
  }
}

const EMPTY = Buffer.alloc(0);
