// Main-thread handle on the collector worker: request/reply by id, a deadline on every request, and a
// restart (with a fresh learner) if the worker dies. While it is down the last exported values stay.
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../lib/worker.ts';
import type { Logger } from '../lib/log.ts';
import type { AgentConfig } from './config.ts';
import type { WorkerInit, WorkerReply, WorkerRequest } from './worker.ts';

/**
 * The collector's young generation, capped (V8's default lets it grow to 48 MB). A poll's records are
 * short-lived but numerous (50k sockets: ~12 MB), and the young generation grew to its maximum and
 * stayed committed. Measured with `npm run bench -- agent` (resident memory, MB; peak in brackets):
 *   default: 100k subnets 123-129 (131), 50k connections 123-134 (168-180)
 *   16 MB:   100k subnets 114 (120),     50k connections 106 (151)
 *   8 MB:    100k subnets 110-118 (119), 50k connections 100-120 (120-134)
 * and polls at 50k took the same time (451 ms against 464 ms with 16 MB). Smaller (2 MB) promoted a
 * poll's records into the old generation instead and cost more than it saved.
 */
const COLLECTOR_YOUNG_GENERATION_MB = 8;

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };
type Body<T> = T extends unknown ? Omit<T, 'id'> : never;

export class CollectorClient {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private stopped = false;
  /** Called when the worker fails (crash, bad message): the metrics side counts it. */
  onFailure: (what: string) => void = () => {};

  constructor(
    private readonly config: AgentConfig,
    private readonly log: Logger,
  ) {}

  /** Starts the worker and waits until its collector is open (throws if it cannot be). */
  async start(): Promise<void> {
    const w = startWorker(new URL('./worker.ts', import.meta.url), { workerData: { config: this.config } satisfies WorkerInit, resourceLimits: { maxYoungGenerationSizeMb: COLLECTOR_YOUNG_GENERATION_MB } });
    this.worker = w;
    await new Promise<void>((resolve, reject) => {
      const first = (msg: WorkerReply) => {
        if (msg.id !== 0) return;
        w.off('message', first);
        if (msg.ok) resolve();
        else reject(new Error(`collector: ${msg.error}`));
      };
      w.on('message', first);
      w.once('error', reject);
    });
    w.on('message', (msg: WorkerReply) => this.settle(msg));
    w.on('error', (err) => {
      this.log.error({ err }, 'collector worker failed');
      this.onFailure('worker');
    });
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = null;
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`collector worker exited (${code})`));
        this.pending.delete(id);
      }
      if (!this.stopped) {
        this.log.warn({ code }, 'collector worker exited; restarting in 1s');
        setTimeout(() => {
          if (!this.stopped) this.start().catch((err) => this.log.error({ err }, 'collector worker restart failed'));
        }, 1000).unref();
      }
    });
  }

  request<T>(body: Body<WorkerRequest>, timeoutMs: number): Promise<T> {
    const w = this.worker;
    if (!w) return Promise.reject(new Error('collector worker is not running'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`collector did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      w.postMessage({ ...body, id } as WorkerRequest);
    });
  }

  private settle(msg: WorkerReply): void {
    if (!msg || typeof msg !== 'object' || typeof msg.id !== 'number') {
      this.onFailure('worker');
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return; // answered after its deadline
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.value);
    else p.reject(new Error(msg.error));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
