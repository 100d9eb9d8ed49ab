// Notices when the key directory changes (a key made, a schedule moved — by `sluice dns keygen|settime`
// or through the control plane's /api/v1/dnssec) so the servers re-read their keys without a SIGHUP.
//
// Polling, not fs.watch: it works the same on every file system (NFS, a copied volume), costs one
// readdir and a stat per key file per interval, and needs no inotify watch per server. The
// fingerprint is each key file's name, inode, size and mtime: settime replaces the file through a
// rename (a new inode), so a change inside one mtime tick is still seen. A directory caught half-way
// through keygen (a .private without its .key yet) is not settled: no reload until it is, so the
// servers do not log a missing file for a key that is still being written.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The directory's key files as one string; null while a key is half-written or the directory is unreadable. */
export function keyDirectoryFingerprint(dir: string): string | null {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^K.+\.\+\d{3}\+\d{5}\.(key|private)$/.test(n)).sort();
  } catch {
    return null;
  }
  const stems = new Set(names.map((n) => n.replace(/\.(key|private)$/, '')));
  for (const s of stems) if (!names.includes(`${s}.key`) || !names.includes(`${s}.private`)) return null;
  const parts: string[] = [];
  for (const n of names) {
    try {
      const st = statSync(join(dir, n));
      parts.push(`${n}:${st.ino}:${st.size}:${st.mtimeMs}`);
    } catch {
      return null; // removed between readdir and stat: look again next time
    }
  }
  return parts.join('\n');
}

/** Calls `onChange` when the fingerprint settles on a new value; checks every `intervalMs`. */
export class KeyDirectoryWatch {
  private timer: NodeJS.Timeout | undefined;
  private last: string | null;

  constructor(
    private readonly dir: string,
    private readonly intervalMs: number,
    private readonly onChange: () => void,
  ) {
    this.last = keyDirectoryFingerprint(dir);
  }

  start(): this {
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** One check (exposed for tests). */
  check(): boolean {
    const now = keyDirectoryFingerprint(this.dir);
    if (now === null || now === this.last) return false;
    this.last = now;
    this.onChange();
    return true;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
