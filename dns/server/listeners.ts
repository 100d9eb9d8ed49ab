// UDP and TCP sockets around a Responder. Each configured address gets both (RFC 7766: TCP is not
// optional). UDP is either node:dgram here (in a cluster worker the same calls share the primary's
// sockets) or the batched path's threads (udp-batched/), whose ports TCP then listens on; see
// dns/README.md. TCP connections, their framing and their limits live in tcp.ts.
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { ipToBytes } from '../../model/primitives.ts';
import type { Logger } from '../../lib/log.ts';
import type { Remote, Responder } from '../answer/respond.ts';
import { TcpConnections, type TcpLimits, type TcpStats } from './tcp.ts';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface Listeners {
  /** Actual bound addresses (port 0 resolved), "udp host:port" / "tcp host:port". */
  bound: string[];
  close(): Promise<void>;
}

/** Parses rinfo.address quickly (IPv4 dotted quad without allocation). */
export function remoteOf(address: string, family: string | number): Remote {
  if (family === 'IPv4' || family === 4) {
    let v = 0;
    let part = 0;
    for (let i = 0; i < address.length; i++) {
      const c = address.charCodeAt(i);
      if (c === 46) {
        v = (v * 256 + part) >>> 0;
        part = 0;
      } else part = part * 10 + (c - 48);
    }
    return { family: 4, v4: (v * 256 + part) >>> 0, v6: EMPTY_V6 };
  }
  const pct = address.indexOf('%');
  const bytes = ipToBytes(pct >= 0 ? address.slice(0, pct) : address) ?? EMPTY_V6;
  return { family: 6, v4: 0, v6: bytes };
}
const EMPTY_V6 = new Uint8Array(16);

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;
function literalLookup(address: string, family: unknown, callback: LookupCallback): void {
  callback(null, address, family === 6 ? 6 : 4);
}

/** One UDP query through the responder, for both UDP paths: a bug costs one answer (logged, counted as dropped), never the server. */
export function answerDatagram(responder: Responder, msg: Buffer, remote: Remote, log: Logger): Buffer | null {
  try {
    return responder.respond(msg, 'udp', remote);
  } catch (err) {
    log.error({ err }, 'unexpected error answering a UDP query');
    responder.stats.malformedDropped++;
    return null;
  }
}

/**
 * UDP served elsewhere (the batched path's threads, dns/server/udp-batched): its sockets are
 * already bound, and TCP listens on the same ports.
 */
export interface ExternalUdp {
  /** Bound UDP port and label for a configured address. */
  boundFor(a: ListenAddress): { port: number; label: string };
  close(): Promise<void>;
}

/** `opts.udp`: absent for node:dgram sockets in this process, else the batched path already serving. */
export async function startListeners(
  addresses: ListenAddress[],
  responder: Responder,
  log: Logger,
  opts: { limits: TcpLimits; stats: TcpStats; udp?: ExternalUdp },
): Promise<Listeners> {
  const connections = new TcpConnections(responder, opts.limits, opts.stats, log, remoteOf);
  const external = opts.udp;
  const udp: dgram.Socket[] = [];
  const tcp: net.Server[] = [];
  const bound: string[] = [];
  const stats = responder.stats;
  const onSent = (err: Error | null) => {
    if (err) {
      stats.sendErrors++;
      log.warn({ err: err.message }, 'UDP answer not sent');
    }
  };
  /** The node:dgram path: one socket per address, answered on this event loop; returns its port. */
  const bindDgram = async (a: ListenAddress, v6: boolean): Promise<number> => {
    const sock = dgram.createSocket({
      type: v6 ? 'udp6' : 'udp4',
      ipv6Only: v6,
      recvBufferSize: 4 << 20,
      sendBufferSize: 4 << 20,
      // We only ever send to the address a query came from (an IP literal). dgram would still run
      // it through dns.lookup, which defers every send by a nextTick; answer synchronously instead.
      lookup: literalLookup,
    });
    sock.on('message', (msg, rinfo) => {
      const t0 = performance.now();
      const out = answerDatagram(responder, msg, remoteOf(rinfo.address, rinfo.family), log);
      if (out) sock.send(out, rinfo.port, rinfo.address, onSent);
      stats.observe((performance.now() - t0) / 1000);
    });
    sock.on('error', (err) => log.error({ err: err.message }, 'UDP socket error'));
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ port: a.port, address: a.host }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    udp.push(sock);
    const ua = sock.address();
    bound.push(`udp ${ua.address}:${ua.port}`);
    return ua.port;
  };
  try {
    for (const a of addresses) {
      const v6 = net.isIPv6(a.host);
      let udpPort: number;
      if (external) {
        const b = external.boundFor(a);
        udpPort = b.port;
        bound.push(b.label);
      } else {
        udpPort = await bindDgram(a, v6);
      }
      const server = net.createServer((conn) => connections.accept(conn));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        // Same port as UDP (port 0 in tests: take the one the kernel gave UDP).
        server.listen({ port: udpPort, host: a.host, ipv6Only: v6 }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => log.error({ err: err.message }, 'TCP server error'));
      tcp.push(server);
      const ta = server.address() as net.AddressInfo;
      bound.push(`tcp ${ta.address}:${ta.port}`);
    }
  } catch (err) {
    for (const s of udp) s.close();
    for (const s of tcp) s.close();
    await external?.close();
    throw err;
  }
  return {
    bound,
    async close() {
      // Stop accepting first, then close the open connections (server.close waits for them).
      const closed = [
        ...(external ? [external.close()] : []),
        ...udp.map((s) => new Promise<void>((r) => s.close(() => r()))),
        ...tcp.map((s) => new Promise<void>((r) => s.close(() => r()))),
      ];
      connections.closeAll();
      await Promise.all(closed);
    },
  };
}
