// What the kernel knows about a benchmarked process, read from /proc (Linux): CPU time of a process and
// its descendants (cluster workers, threads included) and the machine's load. (Datagrams dropped by
// UDP sockets: test/helpers/udp-drops.ts, shared with the tests.)
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux architecture node runs on

export interface CpuTime {
  user: number;
  sys: number;
}

/** User and system CPU seconds of `pid` and every descendant alive now (all their threads). */
export function treeCpu(pid: number): CpuTime {
  const parent = new Map<number, number>();
  const times = new Map<number, CpuTime>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(entry), Number(f[1]));
      times.set(Number(entry), { user: Number(f[11]) / TICKS_PER_SECOND, sys: Number(f[12]) / TICKS_PER_SECOND });
    } catch {
      /* exited meanwhile */
    }
  }
  const total: CpuTime = { user: 0, sys: 0 };
  for (const [p, t] of times) {
    for (let q: number | undefined = p; q !== undefined && q > 1; q = parent.get(q)) {
      if (q === pid) {
        total.user += t.user;
        total.sys += t.sys;
        break;
      }
    }
  }
  return total;
}

/** The 1-minute load average, rounded (how busy the shared machine was). */
export function load1(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}
