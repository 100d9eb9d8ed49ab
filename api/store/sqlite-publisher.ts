// The main-thread side of the SQLite publish worker (sqlite-publish-worker.ts): one worker per store,
// started on the first publish, requests answered in order. The worker is unreferenced while nothing is
// pending (an idle store does not keep the process alive) and referenced while a publish is (a caller
// awaiting it does). A worker that dies fails what is pending, and the next publish starts another.
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../lib/worker.ts';
import type { PublishOutcome, PublishRequest } from './sqlite-publish.ts';

export class SqlitePublisher {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (o: PublishOutcome | null) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly path: string,
    private readonly busyTimeoutMs: number,
  ) {}

  publish(request: PublishRequest): Promise<PublishOutcome> {
    return this.send(request) as Promise<PublishOutcome>;
  }

  /**
   * Starts the worker now, if it is not running, resolving once it answers: a replica that just took
   * the scheduler's lease will publish soon, and its first big publish should not wait for a thread
   * to start and load its modules (at 1M subnets a failover's first publish would).
   */
  async warm(): Promise<void> {
    await this.send(null);
  }

  private send(request: PublishRequest | null): Promise<PublishOutcome | null> {
    const w = this.ensure();
    const id = this.nextId++;
    return new Promise<PublishOutcome | null>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.ref();
      w.postMessage({ id, request });
    });
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = startWorker(new URL('./sqlite-publish-worker.ts', import.meta.url), { workerData: { path: this.path, busyTimeoutMs: this.busyTimeoutMs } });
    w.on('message', (msg: { id: number; outcome: PublishOutcome | null }) => {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (this.pending.size === 0) w.unref();
      p?.resolve(msg.outcome);
    });
    const fail = (err: Error): void => {
      if (this.worker === w) this.worker = undefined;
      for (const p of this.pending.values()) p.reject(new Error(`sqlite publish worker: ${err.message}`));
      this.pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    w.unref();
    this.worker = w;
    return w;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
