// Which UDP path serves (config `udp_io`), and the check that makes SO_REUSEPORT safe to use.
//
// `auto` picks the batched path (recvmmsg/sendmmsg in threads, udp-batched/) where its ABI is known
// and libc loads, else node:dgram. The batched path binds with SO_REUSEPORT, which would also let it
// silently share a port with another server of the same user; claimUdpAddresses binds every address
// once *without* it first, so a port anyone already holds fails the start as it does on the dgram
// path, and a configured port 0 becomes one concrete port that all threads then share.
import dgram from 'node:dgram';
import net from 'node:net';
import { ConfigError } from '../../lib/config-file.ts';
import { libc } from '../../lib/libc.ts';
import type { DnsConfig } from '../config.ts';
import type { ListenAddress } from './listeners.ts';
import { supportsBatchedUdp } from './udp-batched/linux-abi.ts';

export type UdpIo = 'recvmmsg' | 'dgram';

/** `unavailable`: why the batched path cannot run here (null: it can); a parameter for tests. */
export function resolveUdpIo(config: Pick<DnsConfig, 'udp_io'>, configFile: string, unavailable = batchedUnavailable): UdpIo {
  if (config.udp_io === 'dgram') return 'dgram';
  const reason = unavailable();
  if (reason === null) return 'recvmmsg';
  if (config.udp_io === 'auto') return 'dgram';
  throw new ConfigError(configFile, [{ key: 'udp_io', message: `recvmmsg is not available here (${reason}); use auto or dgram` }]);
}

function batchedUnavailable(): string | null {
  if (!supportsBatchedUdp()) return `needs Linux on x64 or arm64, this is ${process.platform}/${process.arch}`;
  try {
    libc();
    return null;
  } catch (err) {
    return `cannot load libc: ${(err as Error).message}`;
  }
}

/** Binds each address exclusively for a moment: fails if it is taken, resolves port 0. */
export async function claimUdpAddresses(addresses: readonly ListenAddress[]): Promise<ListenAddress[]> {
  const socks: dgram.Socket[] = [];
  try {
    const out: ListenAddress[] = [];
    for (const a of addresses) {
      const v6 = net.isIPv6(a.host);
      const sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
      socks.push(sock);
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind({ port: a.port, address: a.host, exclusive: true }, () => resolve());
      });
      out.push({ host: a.host, port: sock.address().port });
    }
    return out;
  } finally {
    await Promise.all(
      socks.map(
        (s) =>
          new Promise<void>((r) => {
            try {
              s.close(() => r());
            } catch {
              r(); // never bound
            }
          }),
      ),
    );
  }
}
