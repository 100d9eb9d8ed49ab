// Hostile DNS-over-TCP clients, for the abuse test (test/dns-tcp.test.ts) and its benchmark against
// knot (bench/dns-tcp.bench.ts): a client that pipelines queries and never reads, idle connections by
// the thousand (in a child process whose open-files limit is raised), and small socket utilities.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { nodeArgsFor } from '../../lib/runtime.ts';
import { waitFor } from './wait.ts';

/** A DNS message with its 2-byte TCP length prefix (RFC 7766 §8). */
export function framed(msg: Buffer): Buffer {
  const f = Buffer.alloc(2 + msg.length);
  f.writeUInt16BE(msg.length, 0);
  msg.copy(f, 2);
  return f;
}

export function connect(port: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with how long the socket took to close; rejects after `ms`. */
export function closedWithin(s: net.Socket, ms: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    if (s.destroyed) return resolve(0);
    const timer = setTimeout(() => reject(new Error(`connection still open after ${ms} ms`)), ms);
    s.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}

/**
 * Writes `query` framed, 2,000 at a time, as fast as the socket takes them, never reading; stops
 * after `maxBytes` or when the socket has not drained for `stalledMs` (the server stopped reading).
 */
export async function pipelineWithoutReading(s: net.Socket, query: Buffer, maxBytes: number, stalledMs: number): Promise<{ bytes: number; stalled: boolean }> {
  const block = Buffer.concat(Array.from({ length: 2000 }, () => framed(query)));
  let bytes = 0;
  while (bytes < maxBytes && !s.destroyed) {
    bytes += block.length;
    if (!s.write(block)) {
      const drained = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), stalledMs);
        s.once('drain', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (!drained) return { bytes, stalled: true };
    }
  }
  return { bytes, stalled: s.destroyed };
}

export interface IdleClients {
  /** The child's latest report. */
  last(): { open: number; closed: number; failed: number };
  stop(): void;
}

/** `count` idle connections to 127.0.0.1:port held by a child process (test/helpers/idle-tcp-clients.ts), `inflight` connects at a time. */
export async function startIdleClients(port: number, count: number, timeoutMs = 60_000, inflight = 8): Promise<IdleClients> {
  const child: ChildProcess = spawn(
    '/bin/sh',
    ['-c', 'ulimit -n 16384 && exec "$0" "$@"', process.execPath, ...nodeArgsFor(new URL('./idle-tcp-clients.ts', import.meta.url)), '127.0.0.1', String(port), String(count), String(inflight)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let last = { open: 0, closed: 0, failed: 0 };
  child.stdout!.on('data', (d: Buffer) => {
    for (const line of d.toString().trim().split('\n')) last = JSON.parse(line) as typeof last;
  });
  const clients = { last: () => last, stop: () => child.stdin?.end() };
  try {
    await waitFor(() => last.open + last.closed + last.failed >= count, { timeoutMs, what: `${count} idle connections (last report ${JSON.stringify(last)})` });
  } catch (err) {
    clients.stop();
    throw err;
  }
  return clients;
}
