// The change feed of a PostgreSQL store: every write transaction bumps meta.change_seq and NOTIFYs it
// on CHANNEL (delivered at commit, to every replica). One dedicated connection LISTENs; a periodic
// re-check of change_seq through the pool means a notification lost (the listener was reconnecting,
// the server restarted) only delays a change by one poll, never loses it. The listener reconnects
// with backoff after the connection drops (a database restart, a failover), then re-checks at once.
import pg from 'pg';

export const CHANGE_CHANNEL = 'sluice_changes';

export interface ChangeFeedOptions {
  connect: () => pg.Client;
  /** Reads the current change_seq (through the pool). */
  readSeq: () => Promise<number>;
  pollMs: number;
  onChange: () => void;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  redact: (text: string) => string;
}

export class PgChangeFeed {
  private client: pg.Client | undefined;
  private lastSeq = -1;
  private poller: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopped = false;
  private checking: Promise<void> | undefined;
  /** True while the LISTEN connection is up (a metric and /api/v1/health show it). */
  listening = false;

  constructor(private readonly o: ChangeFeedOptions) {}

  async start(): Promise<void> {
    this.stopped = false;
    this.lastSeq = await this.o.readSeq();
    this.poller = setInterval(() => void this.check(), this.o.pollMs);
    this.poller.unref();
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = this.o.connect();
    this.client = client;
    client.on('notification', (n) => {
      const seq = Number(n.payload);
      if (Number.isFinite(seq) && seq > this.lastSeq) this.emit(seq);
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
      if (this.attempt > 0) this.o.log.info({ attempts: this.attempt }, 'change feed: listening again');
      this.attempt = 0;
      this.listening = true;
      // Whatever was committed while we were not listening.
      await this.check();
    } catch (err) {
      this.lost(client, err as Error);
    }
  }

  private lost(client: pg.Client, err: Error): void {
    if (client !== this.client) return;
    this.client = undefined;
    this.listening = false;
    client.removeAllListeners('notification');
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
    if (this.stopped) return;
    this.attempt++;
    const delay = Math.min(5_000, 100 * 2 ** Math.min(6, this.attempt - 1)) * (0.8 + 0.4 * Math.random());
    if (this.attempt === 1 || this.attempt % 10 === 0) this.o.log.warn({ err: this.o.redact(err.message), attempt: this.attempt, retry_ms: Math.round(delay) }, 'change feed: LISTEN connection lost; polling change_seq meanwhile and reconnecting');
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
    this.reconnectTimer.unref();
  }

  /** Reads change_seq and emits when it moved. Errors (database down) are left to the next poll. */
  check(): Promise<void> {
    this.checking ??= this.o
      .readSeq()
      .then((seq) => {
        if (seq !== this.lastSeq) this.emit(seq);
      })
      .catch(() => undefined)
      .finally(() => (this.checking = undefined));
    return this.checking;
  }

  private emit(seq: number): void {
    // A restored (older) database makes seq go back: still a change, and the new value is the baseline.
    this.lastSeq = seq;
    this.o.onChange();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const c = this.client;
    this.client = undefined;
    this.listening = false;
    if (c) await c.end().catch(() => undefined);
    await this.checking;
  }
}
