// Entry of a batched UDP serving thread (started by start.ts through lib/worker.ts). It builds its own
// Responder (same config, same geolocation database), indexes the view it was given, binds its own
// SO_REUSEPORT socket per address and serves in BatchedUdpLoop until told to stop.
//
// The thread never returns to its event loop while serving, so control messages are not events: the
// owner posts them on `control` and writes the eventfd; the loop wakes and pulls them synchronously
// with receiveMessageOnPort. Counters go to shared memory (DnsStats over a SharedArrayBuffer) that the
// owner's metrics read; replies to the owner (ready, installed, stopped) go over parentPort.
import { performance } from 'node:perf_hooks';
import { parentPort, receiveMessageOnPort, threadId, workerData, type MessagePort } from 'node:worker_threads';
import { libc } from '../../../lib/libc.ts';
import { createLogger } from '../../../lib/log.ts';
import type { DnsView } from '../../../model/views.ts';
import { DnsStats } from '../../answer/stats.ts';
import type { DnsConfig } from '../../config.ts';
import { servedVersionOf } from '../../metrics.ts';
import { applyViewDelta, createResponder, createSigner, indexView, openGeo, reloadKeys, skeletonOf } from '../engine.ts';
import type { ViewDelta } from '../../view-changes.ts';
import { DnssecStats } from '../../dnssec/stats.ts';
import type { ListenAddress } from '../listeners.ts';
import { BatchedUdpLoop } from './serve-loop.ts';
import { collectGarbage } from '../../../lib/collect-garbage.ts';
import { openReusePortSocket, type BatchedSocket } from './socket.ts';
import { ViewAssembly, type ViewPart, type WholeView } from './view-parts.ts';

export interface ThreadData {
  config: DnsConfig;
  configFile: string;
  addresses: ListenAddress[];
  wakeFd: number;
  stats: SharedArrayBuffer;
  /** DNSSEC counters (shared memory), when a zone is signed. */
  dnssecStats: SharedArrayBuffer | null;
  control: MessagePort;
  /** The first view, in parts (view-parts.ts: compact, as later ones come), or null. */
  view: ViewPart[] | null;
}

/** A view arrives in parts (view-parts.ts); stop ends the loop. */
export type ToThread = ViewPart | { type: 'view-delta'; delta: ViewDelta } | { type: 'stop' } | { type: 'reload-keys' };
export type FromThread =
  | { type: 'ready'; bound: { host: string; port: number; label: string }[] }
  | { type: 'failed'; message: string }
  /** `ms`: how long indexing took (queries were answered meanwhile, from the previous index). */
  | { type: 'installed'; version: number; ms: number }
  /** A delta came for a view this thread does not hold: it needs the whole view. */
  | { type: 'need-view' }
  | { type: 'stopped' };

const data = workerData as ThreadData;
const post = (m: FromThread) => parentPort!.postMessage(m);
const log = createLogger(`dns-udp-${threadId}`, data.config.log_level, { sync: true });
const c = libc();
// Its own name, so that per-thread CPU (top -H, /proc/PID/task) tells it from the worker's main thread.
c.setThreadName('sluice-dns-udp');
// DNSSEC: a signer of its own (same key directory, its own signature cache), counting into shared memory.
const signer = createSigner(data.config, data.configFile, data.dnssecStats ? new DnssecStats(data.dnssecStats) : undefined);
const responder = createResponder(data.config, openGeo(data.config, data.configFile), log, new DnsStats(data.stats), signer);

/** Once serving: answers what is queued while a new view is indexed (from the index still installed). */
let pace: (() => void) | undefined;
/** The skeleton of the view in force (engine.ts skeletonOf; the index holds the subnets): a delta's base. */
let held: DnsView | null = null;
const install = ({ view, tables }: WholeView) => {
  try {
    const t0 = performance.now();
    responder.setIndex(indexView(view, data.config, log, false, pace, tables));
    held = skeletonOf(view);
    post({ type: 'installed', version: servedVersionOf(responder.index), ms: Math.round(performance.now() - t0) });
  } catch (err) {
    log.error({ err: (err as Error).message }, 'cannot index the view; keeping the last good one');
  }
};
const installDelta = (delta: ViewDelta) => {
  try {
    const t0 = performance.now();
    const out = applyViewDelta(held, responder.index, delta, data.config, log);
    if (!out) return post({ type: 'need-view' });
    responder.setIndex(out.index);
    held = out.view;
    post({ type: 'installed', version: servedVersionOf(responder.index), ms: Math.round(performance.now() - t0) });
  } catch (err) {
    held = null; // refused: the next delta asks for the whole view
    log.error({ err: (err as Error).message }, 'cannot apply the view delta; keeping the last good index');
  }
};

/**
 * The parts and the build's garbage, given back once per full view (not per delta; lib/collect-garbage.ts):
 * queries wait for this one collection in the socket's buffer. Never from a frame that still holds the
 * view (the frame's registers would keep all of it alive): only once the code that installed it has
 * returned — at the top level for the first view, else at the start of the next wake-up, which the
 * thread asks for itself by writing its own eventfd.
 */
let collectOwed = false;
const ONE = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);
const oweCollection = () => {
  collectOwed = true;
  c.write(data.wakeFd, ONE, 8);
};

// Index first, bind second: a new thread never answers SERVFAIL while its siblings answer from the view.
// Then the view is let go: `data` lives as long as the thread, and a million-subnet view held there for
// nothing was ~100 MB of this thread's heap (measured).
const installFirst = () => {
  const first = data.view;
  data.view = null;
  if (!first) return;
  const assembly = new ViewAssembly();
  let whole: WholeView | null = null;
  for (const part of first) whole = assembly.add(part) ?? whole;
  first.length = 0; // each part's arrays go once the assembly holds them
  if (whole) install(whole);
};
installFirst();
collectGarbage();
const sockets: BatchedSocket[] = [];
try {
  for (const a of data.addresses) sockets.push(openReusePortSocket(c, a.host, a.port, log));
} catch (err) {
  for (const s of sockets) c.close(s.fd);
  post({ type: 'failed', message: (err as Error).message });
  data.control.close();
  process.exit(1);
}
post({ type: 'ready', bound: sockets.map((s, i) => ({ ...data.addresses[i]!, port: s.port, label: s.label })) });

const loop = new BatchedUdpLoop(c, sockets, data.wakeFd, responder, log);
pace = () => loop.serveQueued();
const assembly = new ViewAssembly();
try {
  loop.run(() => {
    if (collectOwed) {
      collectOwed = false;
      collectGarbage();
    }
    for (let m; (m = receiveMessageOnPort(data.control)); ) {
      const msg = m.message as ToThread;
      if (msg.type === 'stop') return false;
      if (msg.type === 'reload-keys') {
        reloadKeys(signer, data.config, data.configFile, log);
        continue;
      }
      if (msg.type === 'view-delta') {
        installDelta(msg.delta);
        continue;
      }
      const view = assembly.add(msg);
      if (view) {
        install(view);
        oweCollection();
      }
      loop.serveQueued(); // between two parts of a view, answer what came in meanwhile
    }
    return true;
  });
} finally {
  loop.close();
}
post({ type: 'stopped' });
data.control.close();
