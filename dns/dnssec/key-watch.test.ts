// The key directory watch: a key made or rescheduled is one change; a half-written key (its .private
// before its .key, as keygen writes them) and an unreadable directory are not.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateZoneKey } from './key-admin.ts';
import { KeyDirectoryWatch, keyDirectoryFingerprint } from './key-watch.ts';
import { writeKeyFiles } from './keys.ts';

describe('KeyDirectoryWatch', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'sluice-keywatch-'));
    dirs.push(d);
    return d;
  };

  it('fires once per change: a new key, a new schedule; nothing when nothing changed', () => {
    const dir = tempDir();
    let changes = 0;
    const watch = new KeyDirectoryWatch(dir, 1000, () => changes++);
    expect(watch.check()).toBe(false);
    const key = generateZoneKey(dir, 'example.com', 'csk', {}, 1_800_000_000);
    expect(watch.check()).toBe(true);
    expect(watch.check()).toBe(false);
    key.timing.Inactive = 1_900_000_000;
    writeKeyFiles(key, false); // settime: rename over the old file
    expect(watch.check()).toBe(true);
    expect(changes).toBe(2);
  });

  it('waits for a half-written key to be whole, and ignores an unreadable directory', () => {
    const dir = tempDir();
    const key = generateZoneKey(dir, 'example.com', 'zsk', {}, 1_800_000_000);
    let changes = 0;
    const watch = new KeyDirectoryWatch(dir, 1000, () => changes++);
    const pub = `${key.path}.key`;
    const text = readFileSync(pub, 'utf8');
    unlinkSync(pub);
    expect(keyDirectoryFingerprint(dir)).toBeNull();
    expect(watch.check()).toBe(false);
    writeFileSync(pub, text);
    expect(watch.check()).toBe(true);
    expect(keyDirectoryFingerprint(join(dir, 'missing'))).toBeNull();
    writeFileSync(join(dir, 'README'), 'not a key');
    expect(watch.check()).toBe(false);
    expect(changes).toBe(1);
  });
});
