// The collector worker thread: owns the netlink socket, the learner and its table, so the blocking dump,
// the parse and the per-subnet work never run on the event loop that serves /metrics. The main thread
// asks for a poll (or a table/socket listing) and gets a compact, structured-clone-able answer back.
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import type { AgentConfig } from './config.ts';
import { createCollector, portFilterFor } from './collectors.ts';
import { Poller, type PollReport } from './poller.ts';

export type WorkerRequest =
  | { id: number; type: 'poll' }
  | { id: number; type: 'subnets' }
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
    if (req.type === 'poll') {
      const { used_heap_size, total_physical_size } = getHeapStatistics();
      value = { ...poller.poll(), heap: { used_heap_size, total_physical_size } } satisfies PollReport;
    } else if (req.type === 'subnets') value = poller.exportSubnets();
    else if (req.type === 'table') value = poller.table(req.limit);
    else value = poller.sockets(req.limit);
    port.postMessage({ id: req.id, ok: true, value } satisfies WorkerReply);
  } catch (err) {
    port.postMessage({ id: req.id, ok: false, error: (err as Error).message } satisfies WorkerReply);
  }
});
