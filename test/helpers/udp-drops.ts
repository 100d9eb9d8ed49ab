// Datagrams the kernel dropped because a UDP socket's receive queue was full, from /proc/net/udp{,6}
// (Linux): per local port (a server's sockets) or per process (a client's). Tests use it to say whose
// queue overflowed when a query goes missing; the DNS benchmark reports it for every run.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Datagrams dropped by the UDP sockets bound to `port` (IPv4 and IPv6), since they were opened. */
export function udpDropsOnPort(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return udpSocketLines().reduce((sum, f) => (f.local.endsWith(`:${hex}`) ? sum + f.drops : sum), 0);
}

/** Datagrams dropped by the UDP sockets `pid` holds open now. */
export function udpDropsOfProcess(pid: number): number {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch {
        /* closed meanwhile */
      }
    }
  } catch {
    return 0; // exited
  }
  return udpSocketLines().reduce((sum, f) => (inodes.has(f.inode) ? sum + f.drops : sum), 0);
}

function udpSocketLines(): { local: string; inode: string; drops: number }[] {
  const out: { local: string; inode: string; drops: number }[] = [];
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 13) continue;
      out.push({ local: f[1]!, inode: f[9]!, drops: Number(f[f.length - 1]) });
    }
  }
  return out;
}
