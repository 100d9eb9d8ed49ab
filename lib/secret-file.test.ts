import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSecretFile, readSecretLine, secretModeProblem } from './secret-file.ts';

const stat = (mode: number, uid: number, file = true) => ({ mode: (file ? 0o100000 : 0o040000) | mode, uid, isFile: () => file });

describe('secretModeProblem (PostgreSQL server-key rule: OpenSSH plus root:group 0640)', () => {
  const rows: [string, number, number, RegExp | null][] = [
    ['0600, own user', 0o600, 1000, null],
    ['0400, own user', 0o400, 1000, null],
    ['0640 owned by root (root:service group)', 0o640, 0, null],
    ['0600 owned by root', 0o600, 0, null],
    ['0644: world-readable', 0o644, 1000, /0644: readable or writable by every user/],
    ['0644 owned by root: still world-readable', 0o644, 0, /0644: readable or writable by every user/],
    ['0604: world-readable only', 0o604, 1000, /every user/],
    ['0640 owned by a user: group-readable', 0o640, 1000, /0640: readable by its group; chmod 0600/],
    ['0660 owned by root: group-writable', 0o660, 0, /0660: its group may write it/],
  ];
  for (const [what, mode, uid, expected] of rows) {
    it(what, () => {
      const problem = secretModeProblem(stat(mode, uid), 'linux');
      if (expected === null) expect(problem).toBeNull();
      else expect(problem).toMatch(expected);
    });
  }

  it('refuses a directory, and checks nothing on Windows (ACLs, not modes)', () => {
    expect(secretModeProblem(stat(0o700, 1000, false), 'linux')).toBe('is not a regular file');
    expect(secretModeProblem(stat(0o666, 1000), 'win32')).toBeNull();
  });
});

describe('readSecretFile / readSecretLine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-secret-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a 0600 file, and a token file as its first line without trailing space', () => {
    const f = join(dir, 'token');
    writeFileSync(f, 'tok-123 \nsecond line\n', { mode: 0o600 });
    expect(readSecretLine('api.token_file', f)).toBe('tok-123');
    expect(readSecretFile('api.token_file', f)).toContain('second line');
  });

  it('refuses a world-readable file naming the key, the file and the mode, never its content', () => {
    const f = join(dir, 'open-token');
    writeFileSync(f, 'super-secret-token-value\n');
    chmodSync(f, 0o644);
    let err: Error & { key?: string } = new Error('none');
    try {
      readSecretLine('api.token_file', f);
    } catch (e) {
      err = e as Error;
    }
    expect(err.key).toBe('api.token_file');
    expect(err.message).toBe(`refusing ${f}: it has permissions 0644: readable or writable by every user on the host; chmod 0600 (or 0640 with owner root)`);
    expect(err.message).not.toContain('super-secret');
  });

  it('names a missing file and an empty one', () => {
    expect(() => readSecretLine('k', join(dir, 'nope'))).toThrow(/cannot read .*nope: ENOENT/);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n', { mode: 0o600 });
    expect(() => readSecretLine('k', empty)).toThrow(/empty is empty/);
  });
});
