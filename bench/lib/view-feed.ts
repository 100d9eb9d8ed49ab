// A loopback stand-in for the control plane's GET /api/v1/dns/view/changes, for benchmarks that
// measure what a real `sluice dns` spends on a view delta (view-delta --served-deltas). The bodies are
// the ones the API sends (model/view-codec.ts: the compact full view, encodeDiff of the views' diff,
// the same envelope, ETag and Sluice-Change-Seq headers, the long-poll's If-None-Match + ?wait=); only
// the store and the render are left out, so that the DNS server's CPU is all that is measured on
// this 2-core machine (the real API at 1M costs seconds per publish, measured by view-publish).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DnsView } from '../../model/views.ts';
import { diffViews, encodeDiff, toCompactView } from '../../model/view-codec.ts';

export interface ViewFeed {
  url: string;
  /**
   * Prepares `view` (same shape as the one before; the diff of two 1M views takes this process ~1 s)
   * and returns the function that publishes it: servers holding the previous view then get a delta.
   */
  publish(view: DnsView): () => void;
  /** Bytes of the last body answered with each kind. */
  bytes: { full: number; delta: number };
  close(): Promise<void>;
}

export async function startViewFeed(first: DnsView): Promise<ViewFeed> {
  let current = first;
  let fullBody: string | null = null;
  const deltas = new Map<string, string>();
  const waiters = new Set<() => void>();
  const bytes = { full: 0, delta: 0 };
  const fullOf = () => (fullBody ??= JSON.stringify({ kind: 'full', reason: 'no_base', version: current.version, seq: current.seq, weights_version: current.weights_version, view: toCompactView(current) }));
  const answer = (res: http.ServerResponse, body: string, kind: 'full' | 'delta') => {
    bytes[kind] = Buffer.byteLength(body);
    res.writeHead(200, { etag: `"${current.version}"`, 'sluice-change-seq': String(current.seq), 'content-type': 'application/json; charset=utf-8' }).end(body);
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/api/v1/dns/view/changes') return void res.writeHead(404).end();
    const held = req.headers['if-none-match']?.replace(/^(W\/)?"|"$/g, '');
    const reply = () => {
      if (held === current.version) return void res.writeHead(304, { etag: `"${current.version}"`, 'sluice-change-seq': String(current.seq) }).end();
      const delta = held ? deltas.get(held) : undefined;
      if (delta) answer(res, delta, 'delta');
      else answer(res, fullOf(), 'full');
    };
    const wait = Number(url.searchParams.get('wait') ?? 0);
    if (held !== current.version || wait <= 0) return reply();
    const wake = () => {
      clearTimeout(timer);
      waiters.delete(wake);
      reply();
    };
    const timer = setTimeout(wake, wait * 1000);
    waiters.add(wake);
    req.socket.once('close', () => {
      clearTimeout(timer);
      waiters.delete(wake);
    });
  });
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bytes,
    publish(view) {
      const diff = diffViews(current, view);
      if (!diff) throw new Error('view-feed: the next view must have the same shape');
      const body = JSON.stringify({ kind: 'delta', from: current.version, version: view.version, seq: view.seq, weights_version: view.weights_version, records: encodeDiff(diff) });
      return () => {
        // Only the delta from the view just before (a server further behind gets the full view, as from a replica with no history).
        deltas.clear();
        deltas.set(current.version, body);
        current = view;
        fullBody = null;
        for (const w of [...waiters]) w();
      };
    },
    close: () =>
      new Promise<void>((r) => {
        for (const w of [...waiters]) w();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
