// Parsers for `ipvsadm -Ln` and `ipvsadm -Ln --stats --exact`. Pure.
//
//   IP Virtual Server version 1.2.1 (size=4096)
//   Prot LocalAddress:Port Scheduler Flags
//     -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
//   TCP  192.0.2.10:80 wrr persistent 300
//     -> 10.0.0.1:80                  Masq    800    3          12
//   TCP  [2001:db8::10]:443 wlc
//     -> [2001:db8::1]:443            Tunnel  1      0          0
//   FWM  7 rr

export interface IpvsRealServer {
  address: string;
  port: number;
  forward: 'Masq' | 'Route' | 'Tunnel' | 'Local' | string;
  weight: number;
  activeConn: number;
  inactConn: number;
}

export interface IpvsService {
  protocol: 'TCP' | 'UDP' | 'SCTP' | 'FWM';
  /** "vip:port" ("[v6]:port"), or the firewall mark for FWM services. */
  address: string;
  scheduler: string;
  /** Persistence timeout in seconds, when "persistent N" is shown. */
  persistent: number | null;
  flags: string[];
  reals: IpvsRealServer[];
}

export function splitEndpoint(text: string): { address: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/.exec(text);
  return m ? { address: (m[1] ?? m[2])!, port: Number(m[3]) } : null;
}

export function parseIpvsList(text: string): IpvsService[] {
  const out: IpvsService[] = [];
  let current: IpvsService | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('IP Virtual Server') || line.startsWith('Prot ') || line.startsWith('-> RemoteAddress')) continue;
    const f = line.split(/\s+/);
    if (f[0] === '->') {
      if (!current) throw new Error(`ipvsadm -Ln: real server before any service: ${JSON.stringify(line)}`);
      const ep = splitEndpoint(f[1] ?? '');
      const weight = Number(f[3]);
      if (!ep || !Number.isInteger(weight)) throw new Error(`ipvsadm -Ln: cannot parse real server line ${JSON.stringify(line)}`);
      current.reals.push({ ...ep, forward: f[2] ?? '', weight, activeConn: Number(f[4] ?? 0), inactConn: Number(f[5] ?? 0) });
      continue;
    }
    if (f[0] === 'TCP' || f[0] === 'UDP' || f[0] === 'SCTP' || f[0] === 'FWM') {
      const flags = f.slice(3);
      const p = flags.indexOf('persistent');
      current = {
        protocol: f[0],
        address: f[1] ?? '',
        scheduler: f[2] ?? '',
        persistent: p >= 0 ? Number(flags[p + 1]) : null,
        flags,
        reals: [],
      };
      out.push(current);
      continue;
    }
    throw new Error(`ipvsadm -Ln: unexpected line ${JSON.stringify(line)}`);
  }
  return out;
}

export interface IpvsStatRow {
  protocol: string;
  address: string;
  conns: number;
  reals: { address: string; conns: number }[];
}

/** `ipvsadm -Ln --stats --exact` (--exact: plain integers, no K/M suffixes). */
export function parseIpvsStats(text: string): IpvsStatRow[] {
  const out: IpvsStatRow[] = [];
  let current: IpvsStatRow | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('IP Virtual Server') || line.startsWith('Prot ') || line === '-> RemoteAddress:Port') continue;
    const f = line.split(/\s+/);
    const num = (v: string | undefined): number => {
      if (v === undefined || !/^\d+$/.test(v)) throw new Error(`ipvsadm --stats: expected an integer (use --exact), got ${JSON.stringify(v)} in ${JSON.stringify(line)}`);
      return Number(v);
    };
    if (f[0] === '->') {
      if (!current) throw new Error(`ipvsadm --stats: real server before any service: ${JSON.stringify(line)}`);
      current.reals.push({ address: f[1] ?? '', conns: num(f[2]) });
    } else {
      current = { protocol: f[0] ?? '', address: f[1] ?? '', conns: num(f[2]), reals: [] };
      out.push(current);
    }
  }
  return out;
}
