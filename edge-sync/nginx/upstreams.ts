// The nginx upstream file sluice owns: rendering (desired pools -> text) and parsing (text -> the
// actual pools nginx was last told about). Pure.
import type { DesiredPool } from '../plan/desired.ts';
import type { ActualPool } from '../plan/diff.ts';

export const HEADER = '# Managed by sluice edge-sync: rewritten on every weight change; edits here are overwritten.\n';

export function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export interface RenderOptions {
  directives: readonly string[];
  serverOptions: string;
}

export function renderUpstream(pool: DesiredPool, opts: RenderOptions): string {
  const lines = [`upstream ${pool.name} {`, `    # listener ${pool.listener}, load balancer ${pool.loadBalancer}`];
  for (const d of opts.directives) lines.push(`    ${d.trim().endsWith(';') ? d.trim() : `${d.trim()};`}`);
  for (const s of pool.servers) {
    const extra = opts.serverOptions ? ` ${opts.serverOptions}` : '';
    // nginx weights start at 1; weight 0 is "down" (no new requests; in-flight ones finish).
    const weight = s.weight > 0 ? `weight=${s.weight}` : 'down';
    lines.push(`    server ${endpoint(s.address, s.port)} ${weight}${extra};  # origin ${s.origin}`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/**
 * The whole file: one block per pool. `keep` holds the current text of blocks for pools that are held
 * this round (their weights in force stay exactly as they are).
 */
export function renderUpstreamFile(pools: readonly DesiredPool[], keep: ReadonlyMap<string, string>, opts: RenderOptions): string {
  const blocks: string[] = [];
  for (const p of pools) {
    if (p.hold) {
      const old = keep.get(p.name);
      if (old) blocks.push(old);
      continue;
    }
    blocks.push(renderUpstream(p, opts));
  }
  return `${HEADER}\n${blocks.join('\n')}`;
}

export interface ParsedUpstreams {
  pools: ActualPool[];
  /** Verbatim text of each block (with trailing newline), by upstream name. */
  blocks: Map<string, string>;
}

/** Parses upstream blocks (as rendered above, or hand-written in the same simple form). */
export function parseUpstreamFile(text: string): ParsedUpstreams {
  const pools: ActualPool[] = [];
  const blocks = new Map<string, string>();
  const re = /^upstream\s+(\S+)\s*\{([\s\S]*?)^\}/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const name = m[1]!;
    const body = m[2]!;
    const servers = [];
    for (const raw of body.split('\n')) {
      const line = raw.replace(/#.*$/, '').trim();
      const sm = /^server\s+(\S+)\s*([^;]*);/.exec(line);
      if (!sm) continue;
      const addr = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(sm[1]!);
      if (!addr) continue;
      const params = sm[2]!.split(/\s+/).filter(Boolean);
      const down = params.includes('down');
      const w = params.find((p) => p.startsWith('weight='));
      const weight = down ? 0 : w ? Number(w.slice(7)) : 1;
      servers.push({ name: sm[1]!, address: (addr[1] ?? addr[2])!, port: Number(addr[3]), weight });
    }
    pools.push({ name, servers });
    blocks.set(name, `${m[0]}\n`);
  }
  return { pools, blocks };
}
