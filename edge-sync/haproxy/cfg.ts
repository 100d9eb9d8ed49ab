// Keeps the `server` lines of managed backends in haproxy.cfg equal to what the runtime API was told,
// so a reload (or a restart) comes back with the same servers and weights. Pure: text in, text out.
// Everything else in the file (comments, other sections, other directives of the backend) is kept
// byte for byte.
import type { DesiredServer } from '../plan/desired.ts';

const SECTION = /^\s*(global|defaults|frontend|backend|listen|peers|resolvers|userlist|mailers|program|http-errors|ring|cache|fcgi-app|crt-store)(?=\s|$)(\s+(\S+))?/;

export interface BackendInfo {
  name: string;
  /** `balance` argument in the backend (or inherited from the last `defaults`), e.g. "roundrobin". */
  balance: string | null;
  hashType: string | null;
  servers: string[];
}

interface Section {
  kind: string;
  name: string | null;
  start: number;
  end: number;
}

function sections(lines: string[]): Section[] {
  const out: Section[] = [];
  lines.forEach((line, i) => {
    const m = SECTION.exec(line);
    if (!m || /^\s*#/.test(line)) return;
    const prev = out[out.length - 1];
    if (prev) prev.end = i;
    out.push({ kind: m[1]!, name: m[3] ?? null, start: i, end: lines.length });
  });
  return out;
}

function directive(line: string): { keyword: string; args: string } | null {
  const t = line.trim();
  if (t === '' || t.startsWith('#')) return null;
  const m = /^(\S+)\s*(.*)$/.exec(t);
  return m ? { keyword: m[1]!, args: m[2]!.replace(/\s+#.*$/, '').trim() } : null;
}

/** Backends declared in the file, with their balance algorithm (inheriting `defaults`). */
export function readBackends(text: string): Map<string, BackendInfo> {
  const lines = text.split('\n');
  const out = new Map<string, BackendInfo>();
  let defBalance: string | null = null;
  let defHash: string | null = null;
  for (const s of sections(lines)) {
    let balance: string | null = null;
    let hashType: string | null = null;
    const servers: string[] = [];
    for (let i = s.start + 1; i < s.end; i++) {
      const d = directive(lines[i]!);
      if (!d) continue;
      if (d.keyword === 'balance') balance = d.args;
      if (d.keyword === 'hash-type') hashType = d.args;
      if (d.keyword === 'server') servers.push(d.args.split(/\s+/)[0]!);
    }
    if (s.kind === 'defaults') {
      defBalance = balance ?? defBalance;
      defHash = hashType ?? defHash;
    }
    if ((s.kind === 'backend' || s.kind === 'listen') && s.name) {
      out.set(s.name, { name: s.name, balance: balance ?? defBalance ?? 'roundrobin', hashType: hashType ?? defHash, servers });
    }
  }
  return out;
}

export function serverAddress(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function serverLine(s: Pick<DesiredServer, 'name' | 'address' | 'port' | 'weight'>, options: string, indent = '    '): string {
  return `${indent}server ${s.name} ${serverAddress(s.address, s.port)} weight ${s.weight}${options ? ` ${options}` : ''}`;
}

/**
 * Replaces the `server` lines of each backend in `servers` with the given ones (at the place of the
 * first existing server line, else at the end of the section's directives). Backends not named are
 * untouched; a named backend missing from the file is reported, not invented.
 */
export function rewriteBackends(text: string, servers: ReadonlyMap<string, readonly DesiredServer[]>, options: string): { text: string; missing: string[] } {
  const lines = text.split('\n');
  const secs = sections(lines);
  const missing = [...servers.keys()].filter((b) => !secs.some((s) => (s.kind === 'backend' || s.kind === 'listen') && s.name === b));
  // Rewrite from the bottom so earlier indexes stay valid.
  for (const s of [...secs].reverse()) {
    if ((s.kind !== 'backend' && s.kind !== 'listen') || !s.name) continue;
    const wanted = servers.get(s.name);
    if (!wanted) continue;
    let insertAt = -1;
    let indent = '    ';
    let lastDirective = s.start;
    const kept: string[] = [];
    for (let i = s.start + 1; i < s.end; i++) {
      const line = lines[i]!;
      const d = directive(line);
      if (d?.keyword === 'server') {
        if (insertAt < 0) {
          insertAt = kept.length;
          indent = /^\s*/.exec(line)![0] || indent;
        }
        continue;
      }
      if (d) {
        lastDirective = i;
        indent = insertAt < 0 ? /^\s*/.exec(line)![0] || indent : indent;
      }
      kept.push(line);
    }
    if (insertAt < 0) {
      // After the last directive of the section (blank lines and comments before the next section stay below).
      insertAt = lastDirective - s.start;
    }
    const rendered = wanted.map((w) => serverLine(w, options, indent));
    kept.splice(insertAt, 0, ...rendered);
    lines.splice(s.start + 1, s.end - s.start - 1, ...kept);
  }
  return { text: lines.join('\n'), missing };
}

/** A minimal line diff ("-" old, "+" new) for logs and --dry-run; unchanged lines are omitted. */
export function lineDiff(before: string, after: string): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const inA = new Set(a);
  const inB = new Set(b);
  return [...a.filter((l) => !inB.has(l)).map((l) => `- ${l}`), ...b.filter((l) => !inA.has(l)).map((l) => `+ ${l}`)];
}
