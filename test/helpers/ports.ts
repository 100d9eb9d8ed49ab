import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A TCP port free on `host` right now (the kernel picks it). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * A port free for both UDP and TCP on every one of `hosts`, chosen *below* the kernel's ephemeral
 * range, for servers that bind with SO_REUSEPORT (sluice dns's batched UDP path; gdnsd and knot do
 * too). Linux lets any socket of the same user that also sets SO_REUSEPORT share such a port, and a
 * client may be handed it as its own ephemeral source port: dig does set SO_REUSEPORT, so dig run as
 * the same user (root in CI) occasionally sends a query from the server's own port and receives that
 * very query back (";; Warning: query response not set"). Production ports (53) are never ephemeral.
 */
export async function freeServerPort(hosts: readonly string[] = ['127.0.0.1']): Promise<number> {
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const top = Math.min(low ?? 32768, 65536);
  const bottom = Math.min(10_000, top - 1000);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = bottom + Math.floor(Math.random() * (top - bottom));
    if (await allFree(port, hosts)) return port;
  }
  throw new Error(`no free port between ${bottom} and ${top}`);
}

async function allFree(port: number, hosts: readonly string[]): Promise<boolean> {
  for (const host of hosts) {
    const tcpFree = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      sock.once('error', () => {
        try {
          sock.close();
        } catch {
          /* never bound */
        }
        resolve(false);
      });
      sock.bind({ port, address: host, exclusive: true }, () => sock.close(() => resolve(true)));
    });
    if (!tcpFree || !udpFree) return false;
  }
  return true;
}
