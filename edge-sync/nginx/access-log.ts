// Per-listener and per-origin demand for open-source nginx. Its upstream counters are an nginx Plus
// feature (and stub_status is server-wide), so sluice reads an access log written in this format:
//
//   log_format sluice '$server_addr:$server_port $upstream_addr';
//   access_log /var/log/nginx/sluice.log sluice;        # in every server block sluice manages
//
// $upstream_addr lists every upstream tried ("a:80, b:80" after a retry, "a:80 : b:80" after an
// internal redirect); each one counts as a request sent to that origin.
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export interface AccessLine {
  listener: string;
  upstreams: string[];
}

/** "$server_addr:$server_port $upstream_addr" -> listener "vip:port" (IPv6 bracketed) and upstreams. */
export function parseAccessLine(line: string): AccessLine | null {
  const t = line.trim();
  const sp = t.indexOf(' ');
  const first = sp < 0 ? t : t.slice(0, sp);
  const colon = first.lastIndexOf(':');
  if (colon <= 0) return null;
  const host = first.slice(0, colon);
  const port = first.slice(colon + 1);
  if (!/^\d+$/.test(port)) return null;
  const listener = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
  const rest = sp < 0 ? '' : t.slice(sp + 1);
  const upstreams = rest
    .split(/\s*[,:]\s+|\s+:\s*/)
    .map((u) => u.trim())
    .filter((u) => u !== '' && u !== '-' && !u.startsWith('unix:'));
  return { listener, upstreams };
}

/**
 * Follows a log file across appends, truncation and rotation (inode change); never rereads a line.
 * Rotation by rename + `nginx -s reopen` (Debian's logrotate for nginx) is always seen; with
 * copytruncate, lines written between the truncation and the next poll that bring the file back to
 * its old size or more are missed (the usual copytruncate caveat).
 */
export class LogTail {
  private offset = 0;
  private inode = -1;
  private partial = '';

  constructor(readonly path: string, readonly maxBytesPerRead = 16 * 1024 * 1024) {}

  /** Complete lines appended since the last call (a trailing partial line waits for its newline). */
  readNewLines(): string[] {
    let st;
    try {
      st = statSync(this.path);
    } catch {
      return [];
    }
    if (st.ino !== this.inode || st.size < this.offset) {
      this.inode = st.ino;
      this.offset = 0;
      this.partial = '';
    }
    if (st.size === this.offset) return [];
    const len = Math.min(st.size - this.offset, this.maxBytesPerRead);
    const buf = Buffer.alloc(len);
    const fd = openSync(this.path, 'r');
    try {
      const n = readSync(fd, buf, 0, len, this.offset);
      this.offset += n;
      const text = this.partial + buf.subarray(0, n).toString('utf8');
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      return lines.filter((l) => l !== '');
    } finally {
      closeSync(fd);
    }
  }
}

/** Cumulative counts from the log since sluice started. */
export class AccessLogCounter {
  readonly listeners = new Map<string, number>();
  readonly upstreams = new Map<string, number>();
  malformed = 0;
  private readonly tail: LogTail;

  constructor(path: string) {
    this.tail = new LogTail(path);
  }

  poll(): void {
    for (const line of this.tail.readNewLines()) {
      const parsed = parseAccessLine(line);
      if (!parsed) {
        this.malformed++;
        continue;
      }
      this.listeners.set(parsed.listener, (this.listeners.get(parsed.listener) ?? 0) + 1);
      for (const u of parsed.upstreams) this.upstreams.set(u, (this.upstreams.get(u) ?? 0) + 1);
    }
  }
}

/** stub_status page -> requests total (server-wide). */
export function parseStubStatus(text: string): { active: number; accepts: number; handled: number; requests: number } | null {
  const active = /Active connections:\s*(\d+)/.exec(text);
  const counts = /server accepts handled requests\s+(\d+)\s+(\d+)\s+(\d+)/.exec(text);
  if (!active || !counts) return null;
  return { active: Number(active[1]), accepts: Number(counts[1]), handled: Number(counts[2]), requests: Number(counts[3]) };
}
