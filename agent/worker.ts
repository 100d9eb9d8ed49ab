// The collector worker thread: owns the netlink socket, the learner and its table, so the blocking dump,
// the parse and the per-subnet work never run on the event loop that serves /metrics. The main thread
// asks for a poll (or a table/socket listing) and gets a compact, structured-clone-able answer back; for
// /metrics/subnets, the exposition text already written (agent/subnet-exposition.ts says why).
import { getHeapStatistics } from 'node:v8';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import type { AgentConfig } from './config.ts';
import { createCollector, portFilterFor } from './collectors.ts';
import { Poller, type PollReport, type SubnetExport } from './poller.ts';
import { renderSubnetExposition, type SubnetExposition } from './subnet-exposition.ts';
import { collectGarbage } from '../lib/collect-garbage.ts';

export type WorkerRequest =
  | { id: number; type: 'poll' }
  /** /metrics/subnets; `have`: the export the main thread holds (SubnetExposition.id), or null. */
  | { id: number; type: 'subnets'; have: string | null }
  | { id: number; type: 'table'; limit: number }
  | { id: number; type: 'sockets'; limit: number };

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/** workerData of the collector worker (started with lib/worker.ts's startWorker). */
export interface WorkerInit {
  config: AgentConfig;
}

const port = parentPort;
if (!port) throw new Error('agent/worker.ts must run as a worker thread');

const { config } = workerData as WorkerInit;

/**
 * A full garbage collection after an export over a large table. An export at 100k subnets allocates
 * ~21 MB, much of it alive for the whole export and so promoted past the 8 MB young generation; the
 * polls between scrapes allocate almost nothing, so V8 has no reason to collect the old generation,
 * and whether its memory reducer did within 15 s decided whether `npm run bench -- agent` read ~105 or
 * ~185 MB. Collected right after the reply (the scrape does not wait), once per export: 22-30 ms at
 * 100k subnets (in-process, loaded machine). gc() through lib/collect-garbage.ts (`--expose-gc` set at
 * run time).
 * Twice (one collectGarbage() runs two, then trims the C heap): one full GC frees the export's objects
 * but leaves the pages they shared with live ones committed (measured: collector heap 18.6 MB used,
 * 32.8 MB committed, 15 s after the last export, in one bench run of two); the second finds those pages fragmented and compacts them. A synthetic old
 * generation (66 MB, one object in 32 kept): 58 MB committed after one gc(), 23 MB after two.
 * Neither gives back the young generation, grown to its 8 MB cap by the export: V8 shrinks it at a GC
 * only once its measured allocation rate is low, i.e. some seconds after the export (the polls between
 * scrapes allocate ~80 B/ms). So one more full GC SETTLED_MS after the last large export (each export
 * pushes it back: one timed from the first of a burst of scrapes came too early and shrank nothing,
 * collector heap 18.3 MB used, 26.3 committed): in a worker of that shape (synthetic), young generation
 * 8 -> 1 MB committed at a GC 6 s after the allocation, not at 0 or 3 s.
 */
const SETTLED_MS = 8_000;
let settling: NodeJS.Timeout | null = null;
const BIG_TABLE = 10_000;
/** The latest export and its id (SubnetExposition): scrapes between two polls share it. */
let current: { export: SubnetExport; id: string } | null = null;
let exports = 0;
let poller: Poller;
try {
  poller = new Poller(config, await createCollector(config.collector, portFilterFor(config)));
  port.postMessage({ id: 0, ok: true, value: 'ready' } satisfies WorkerReply);
} catch (err) {
  port.postMessage({ id: 0, ok: false, error: (err as Error).message } satisfies WorkerReply);
  process.exit(1);
}

port.on('message', (req: WorkerRequest) => {
  try {
    let value: unknown;
    let transfer: ArrayBuffer[] = [];
    let exported = false;
    if (req.type === 'poll') {
      const { used_heap_size, total_physical_size } = getHeapStatistics();
      value = { ...poller.poll(), heap: { used_heap_size, total_physical_size } } satisfies PollReport;
    } else if (req.type === 'subnets') {
      const x = poller.exportSubnets();
      if (current?.export !== x) {
        current = { export: x, id: `${threadId}.${++exports}` };
        exported = true;
      }
      // Written here, once per export the main thread does not hold yet, and moved rather than copied.
      const body = req.have === current.id ? undefined : renderSubnetExposition(x.topSubnets, config.node);
      if (body && body.byteOffset === 0 && body.byteLength === body.buffer.byteLength) transfer = [body.buffer as ArrayBuffer];
      value = { id: current.id, exportedSubnets: x.exportedSubnets, ...(body ? { body } : {}) } satisfies SubnetExposition;
    } else if (req.type === 'table') value = poller.table(req.limit);
    else value = poller.sockets(req.limit);
    port.postMessage({ id: req.id, ok: true, value } satisfies WorkerReply, transfer);
    if (exported && poller.learner.table.size >= BIG_TABLE) {
      collectGarbage();
      if (settling) settling.refresh();
      else
        settling = setTimeout(() => {
          settling = null;
          collectGarbage();
        }, SETTLED_MS).unref();
    }
  } catch (err) {
    port.postMessage({ id: req.id, ok: false, error: (err as Error).message } satisfies WorkerReply);
  }
});
