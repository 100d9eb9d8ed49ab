// Config files are replaced atomically: write a temp file in the same directory, fsync, rename over.
// A reader (nginx -t, haproxy reload, ipvsadm-restore at boot) sees the old file or the new one, never half.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function readTextOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** Path of the temp file writeAtomic uses; exposed so a validator can check the candidate first. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.sluice-${process.pid}.tmp`);
}

/** Writes `text` to a temp file beside `path` (same mode as the old file) and returns its path. */
export function writeTemp(path: string, text: string): string {
  const tmp = tempPathFor(path);
  let mode = 0o644;
  try {
    mode = statSync(path).mode & 0o7777;
  } catch {
    // new file: default mode
  }
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

export function writeAtomic(path: string, text: string): void {
  const tmp = writeTemp(path, text);
  try {
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw err;
  }
}

export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not there
  }
}
