// Parsers for HAProxy runtime API answers. Pure: text in, records out.

export interface ServerState {
  backend: string;
  server: string;
  address: string;
  port: number;
  /** srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping. */
  opState: number;
  /** srv_admin_state bit mask: 0x01 forced maint, 0x04 maint from config (`disabled`), 0x08 forced drain. */
  adminState: number;
  /** srv_uweight: the weight in force (what `set server ... weight` changes). */
  weight: number;
  initialWeight: number;
}

/** `show servers state` (format version 1; columns are looked up by header name, not position). */
export function parseServersState(text: string): ServerState[] {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const version = lines[0];
  if (version !== '1') throw new Error(`show servers state: unsupported format version ${JSON.stringify(version)} (expected 1)`);
  const header = lines[1];
  if (!header?.startsWith('#')) throw new Error('show servers state: missing "# be_id be_name ..." header line');
  const cols = header.slice(1).trim().split(/\s+/);
  const idx = (name: string): number => {
    const i = cols.indexOf(name);
    if (i < 0) throw new Error(`show servers state: column ${name} missing from header`);
    return i;
  };
  const c = {
    be: idx('be_name'), srv: idx('srv_name'), addr: idx('srv_addr'), op: idx('srv_op_state'), admin: idx('srv_admin_state'),
    uw: idx('srv_uweight'), iw: idx('srv_iweight'), port: idx('srv_port'),
  };
  const out: ServerState[] = [];
  for (const line of lines.slice(2)) {
    if (line.startsWith('#')) continue;
    const f = line.split(/\s+/);
    if (f.length < cols.length) throw new Error(`show servers state: short line ${JSON.stringify(line)}`);
    const num = (i: number) => {
      const n = Number(f[i]);
      if (!Number.isFinite(n)) throw new Error(`show servers state: ${cols[i]} is not a number in ${JSON.stringify(line)}`);
      return n;
    };
    out.push({
      backend: f[c.be]!, server: f[c.srv]!, address: f[c.addr]!, port: num(c.port), opState: num(c.op), adminState: num(c.admin),
      weight: num(c.uw), initialWeight: num(c.iw),
    });
  }
  return out;
}

export type StatRow = Record<string, string>;

/** `show stat` CSV: "# pxname,svname,..." header then one row per frontend/backend/server. */
export function parseStatCsv(text: string): StatRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0];
  if (!header?.startsWith('# ')) throw new Error('show stat: missing "# pxname,svname,..." header');
  const cols = header.slice(2).split(',');
  return lines.slice(1).map((line) => {
    const f = line.split(',');
    const row: StatRow = {};
    cols.forEach((name, i) => {
      if (name) row[name] = f[i] ?? '';
    });
    return row;
  });
}

/**
 * Algorithms whose weights cannot change at runtime except 0 % / 100 % (HAProxy configuration manual,
 * "balance"): static-rr always; the hash-based ones unless `hash-type consistent`.
 */
const ALWAYS_STATIC = new Set(['static-rr']);
const HASH_BASED = ['source', 'uri', 'url_param', 'hdr', 'rdp-cookie', 'hash'];

/** `hashType` undefined = unknown (no haproxy.cfg to read): HAProxy's own answer then decides. */
export function isStaticAlgorithm(algo: string, hashType?: string | null): boolean {
  const a = algo.trim().toLowerCase();
  if (ALWAYS_STATIC.has(a)) return true;
  if (HASH_BASED.some((h) => a === h || a.startsWith(`${h}(`) || a.startsWith(`${h} `))) {
    if (hashType === undefined) return false;
    return !(hashType ?? '').includes('consistent');
  }
  return false;
}
