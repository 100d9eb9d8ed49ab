// Stand-ins for origins and their clients on loopback, for tests where agents learn from the kernel:
// TCP echo servers, and clients from several loopback /24s that keep connections busy (the agent
// samples a connection's RTT only when an ACK arrived since its last poll) and keep opening new ones
// (demand). Bounded in count.
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A TCP echo server standing in for an origin's service. */
export async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((c) => {
    c.on('data', (d) => c.write(d));
    c.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

/**
 * Every 100 ms: a ping on each open connection, and new connections from `${prefix}.1..50` of each
 * subnet prefix (e.g. "127.0.41") to each port, up to `max` in all. `stop()` ends the ticks; `close()`
 * also closes the connections.
 */
export function subnetClients(ports: number[], subnets: string[], max = 200): { stop(): void; close(): void } {
  const clients: Socket[] = [];
  let opened = 0;
  const timer = setInterval(() => {
    for (const c of clients) if (!c.destroyed && c.writable) c.write('ping');
    for (const prefix of subnets) {
      for (const port of ports) {
        if (opened >= max) return;
        const s = connect({ host: '127.0.0.1', port, localAddress: `${prefix}.${1 + (opened % 50)}` });
        s.on('data', () => undefined);
        s.on('error', () => undefined);
        clients.push(s);
        opened++;
      }
    }
  }, 100);
  return {
    stop: () => clearInterval(timer),
    close() {
      clearInterval(timer);
      for (const c of clients) c.destroy();
    },
  };
}
