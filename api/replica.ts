// One control-plane replica's view of itself: its id, whether it can reach the store (a ping every
// second with a deadline, so /readyz and the metrics answer at once even while the database hangs),
// the change sequence it serves, and who holds the scheduler lease. Feeds /readyz, /api/v1/health
// and the sluice_api_store_* / sluice_api_change_seq metrics that the HA alerts read.
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { LeaseState, Store } from './store/store.ts';

export const SCHEDULER_LEASE = 'scheduler';
export const HEALTH_LEASE = 'health';

export interface ReplicaOptions {
  id: string;
  store: Store;
  storeKind: 'sqlite' | 'postgres';
  log: Logger;
  registry: Registry;
  pingEveryMs?: number;
  pingTimeoutMs?: number;
  /** The scheduler's lease holder id in this process, when it runs one. */
  schedulerHolder?: () => string | undefined;
  /** The health evaluator's lease holder id in this process. */
  healthHolder?: () => string | undefined;
  /** PostgreSQL: the LISTEN connection is up. */
  listening?: () => boolean;
}

export interface SchedulerStatus {
  leader: string | null;
  epoch: number | null;
  lease_age_seconds: number | null;
  lease_expires_in_seconds: number | null;
  this_replica: boolean;
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p.finally(() => clearTimeout(t)), new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)))]);
}

export class Replica {
  ok = false;
  lastError: string | null = null;
  seq = -1;
  private timer: NodeJS.Timeout | undefined;
  private pinging: Promise<void> | undefined;

  constructor(private readonly o: ReplicaOptions) {
    const self = this;
    const registers = [o.registry];
    new Gauge({ name: 'sluice_api_store_up', help: '1 while this replica reaches its store (a ping every second with a deadline)', registers, collect() { this.set(self.ok ? 1 : 0); } });
    new Gauge({ name: 'sluice_api_change_seq', help: "the store's change sequence as this replica last read it (replicas on one database converge on one value)", registers, collect() { this.set(self.seq); } });
    if (o.listening) {
      const listening = o.listening;
      new Gauge({ name: 'sluice_api_store_listening', help: 'PostgreSQL: 1 while the LISTEN connection for change notifications is up', registers, collect() { this.set(listening() ? 1 : 0); } });
    }
  }

  get id(): string {
    return this.o.id;
  }

  get storeKind(): 'sqlite' | 'postgres' {
    return this.o.storeKind;
  }

  async start(): Promise<void> {
    await this.ping();
    this.timer = setInterval(() => void this.ping(), this.o.pingEveryMs ?? 1000);
    this.timer.unref();
  }

  /** One ping; concurrent callers share it. */
  ping(): Promise<void> {
    this.pinging ??= withDeadline(this.o.store.changeSeq(), this.o.pingTimeoutMs ?? 2000, 'store')
      .then((seq) => {
        if (!this.ok) this.o.log.info({ replica: this.o.id }, 'store reachable: ready');
        this.ok = true;
        this.lastError = null;
        this.seq = seq;
      })
      .catch((err: Error) => {
        if (this.ok || this.lastError === null) this.o.log.error({ replica: this.o.id, err: err.message }, 'store unreachable: not ready (and not leading the scheduler)');
        this.ok = false;
        this.lastError = err.message;
      })
      .finally(() => (this.pinging = undefined));
    return this.pinging;
  }

  scheduler(): Promise<SchedulerStatus> {
    return this.leaseStatus(SCHEDULER_LEASE, this.o.schedulerHolder?.());
  }

  /** The health lease (api/health/evaluator.ts): which replica makes the health decisions. */
  health(): Promise<SchedulerStatus> {
    return this.leaseStatus(HEALTH_LEASE, this.o.healthHolder?.());
  }

  private async leaseStatus(name: string, mine: string | undefined): Promise<SchedulerStatus> {
    const lease: LeaseState | null = await this.o.store.getLease(name);
    if (!lease || !lease.held) return { leader: null, epoch: lease?.epoch ?? null, lease_age_seconds: null, lease_expires_in_seconds: null, this_replica: false };
    const now = Date.parse(lease.now);
    return {
      leader: lease.holder,
      epoch: lease.epoch,
      lease_age_seconds: Math.max(0, (now - Date.parse(lease.acquired_at)) / 1000),
      lease_expires_in_seconds: Math.max(0, (Date.parse(lease.expires_at) - now) / 1000),
      this_replica: mine !== undefined && mine === lease.holder,
    };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
