// The owner's side of a batched UDP serving thread: starts it (lib/worker.ts), waits until its sockets
// are bound, forwards views, and stops it. Nothing here blocks: the event loop that calls it goes on
// serving metrics, TCP and view updates while the thread sits in poll().
//
// The wake-up eventfd belongs to this side: created here, written here after each posted message,
// closed here only once the thread has exited, so no write can ever land on a reused descriptor.
import { MessageChannel, type Worker } from 'node:worker_threads';
import { lastError, libc } from '../../../lib/libc.ts';
import type { Logger } from '../../../lib/log.ts';
import { startWorker } from '../../../lib/worker.ts';
import type { DnsStats } from '../../answer/stats.ts';
import type { DnssecStats } from '../../dnssec/stats.ts';
import type { DnsConfig } from '../../config.ts';
import type { ExternalUdp, ListenAddress } from '../listeners.ts';
import { EFD_CLOEXEC, EFD_NONBLOCK } from './linux-abi.ts';
import { partsOf, type WholeView } from './view-parts.ts';
import type { ViewDelta } from '../../view-changes.ts';
import type { FromThread, ThreadData, ToThread } from './thread.ts';

export interface BatchedUdp extends ExternalUdp {
  /** Resolves once the thread's sockets are bound (rejects if it cannot bind). */
  ready: Promise<void>;
  /**
   * Hands the thread a new view; safe before `ready` (it is queued and read after binding). With
   * `delta` only the delta crosses, applied by the thread to its own copy (onNeedView when it cannot).
   */
  setView(view: WholeView, delta?: ViewDelta): void;
  /** weights_version the thread answers from (-1: none yet). */
  servedVersion(): number;
  /** The thread re-reads its DNSSEC keys (SIGHUP). */
  reloadKeys(): void;
}

export interface BatchedUdpOptions {
  addresses: ListenAddress[];
  config: DnsConfig;
  configFile: string;
  /** The view to index before binding (null: none yet). */
  view: WholeView | null;
  /** Counters over a SharedArrayBuffer: the thread counts, the caller's metrics read. */
  stats: DnsStats;
  /** The thread's DNSSEC counters, likewise (null: no zone is signed). */
  dnssecStats?: DnssecStats | null;
  log: Logger;
  /** The thread ended without being asked to (a bug, or poll() failing): the caller decides what follows. */
  onUnexpectedExit: (code: number) => void;
  /** The thread got a delta for a view it does not hold: send it the whole view. */
  onNeedView?: () => void;
}

/** How long a stopping thread may take to drain its sockets before it is terminated. */
const STOP_GRACE_MS = 5000;

export function startBatchedUdp(o: BatchedUdpOptions): BatchedUdp {
  if (!(o.stats.buffer instanceof SharedArrayBuffer)) throw new Error('batched UDP needs DnsStats over a SharedArrayBuffer');
  const c = libc();
  const wakeFd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakeFd < 0) throw new Error(`eventfd(): ${lastError(c)}`);
  const { port1, port2 } = new MessageChannel();
  const data: ThreadData = { config: o.config, configFile: o.configFile, addresses: o.addresses, wakeFd, stats: o.stats.buffer, dnssecStats: (o.dnssecStats?.buffer as SharedArrayBuffer | undefined) ?? null, control: port2, view: o.view && partsOf(o.view) };
  // The closures below keep what they use, never `o`: it holds the whole first view, which would then
  // live as long as the thread (measured: ~100 MB of the worker's heap at 1M subnets).
  const { log, onUnexpectedExit, onNeedView } = o;
  const worker: Worker = startWorker(new URL('./thread.ts', import.meta.url), { workerData: data, transferList: [port2], name: 'sluice-dns-udp' });
  let exited = false;
  let stopping = false;
  let version = -1;
  const exit = new Promise<number>((resolve) =>
    worker.once('exit', (code) => {
      exited = true;
      port1.close();
      c.close(wakeFd);
      resolve(code);
    }),
  );
  worker.on('error', (err) => log.error({ err: err.message, stack: err.stack }, 'batched UDP thread failed'));

  let bound: Extract<FromThread, { type: 'ready' }>['bound'] = [];
  let listening = false;
  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: FromThread) => {
      if (m.type === 'ready') {
        bound = m.bound;
        listening = true;
        resolve();
      } else if (m.type === 'failed') reject(new Error(m.message));
      else if (m.type === 'installed') version = m.version;
      else if (m.type === 'need-view') onNeedView?.();
    });
    void exit.then((code) => {
      if (!listening) reject(new Error(`the batched UDP thread exited (code ${code}) before it listened`));
      else if (!stopping) onUnexpectedExit(code);
    });
  });

  const wake = () => {
    if (!exited) c.write(wakeFd, ONE, 8);
  };
  const send = (m: ToThread) => {
    if (exited) return;
    port1.postMessage(m);
    wake();
  };
  return {
    ready,
    boundFor(a) {
      const b = bound.find((x) => x.host === a.host && (a.port === 0 || x.port === a.port));
      if (!b) throw new Error(`no batched UDP socket for ${a.host}:${a.port}`);
      return { port: b.port, label: b.label };
    },
    setView(view, delta) {
      if (exited) return;
      if (delta) port1.postMessage({ type: 'view-delta', delta } satisfies ToThread);
      else for (const part of partsOf(view)) port1.postMessage(part satisfies ToThread);
      wake();
    },
    servedVersion: () => version,
    reloadKeys: () => send({ type: 'reload-keys' }),
    async close() {
      if (stopping) return void (await exit);
      stopping = true;
      send({ type: 'stop' });
      const timer = setTimeout(() => {
        void worker.terminate();
        wake(); // terminate() takes effect when JS runs again, i.e. once poll() returns
      }, STOP_GRACE_MS);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** An eventfd write adds this 8-byte counter value. */
const ONE = (() => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(1n);
  return b;
})();
