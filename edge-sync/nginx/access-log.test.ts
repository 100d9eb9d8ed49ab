import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LogTail, parseAccessLine, parseStubStatus } from './access-log.ts';

describe('nginx access log (log_format sluice)', () => {
  it('parses listener and every upstream tried', () => {
    expect(parseAccessLine('192.0.2.10:80 10.0.0.1:8080')).toEqual({ listener: '192.0.2.10:80', upstreams: ['10.0.0.1:8080'] });
    expect(parseAccessLine('192.0.2.10:80 10.0.0.1:8080, 10.0.0.2:8080')!.upstreams).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);
    expect(parseAccessLine('192.0.2.10:80 10.0.0.1:8080 : 10.0.0.3:8080')!.upstreams).toEqual(['10.0.0.1:8080', '10.0.0.3:8080']);
    expect(parseAccessLine('2001:db8::10:443 [2001:db8::1]:8443')).toEqual({ listener: '[2001:db8::10]:443', upstreams: ['[2001:db8::1]:8443'] });
    expect(parseAccessLine('192.0.2.10:80 -')).toEqual({ listener: '192.0.2.10:80', upstreams: [] });
    expect(parseAccessLine('garbage')).toBeNull();
  });

  it('stub_status totals', () => {
    expect(parseStubStatus('Active connections: 2 \nserver accepts handled requests\n 10 10 31 \nReading: 0 Writing: 1 Waiting: 1 \n')).toEqual({ active: 2, accepts: 10, handled: 10, requests: 31 });
    expect(parseStubStatus('<html>')).toBeNull();
  });

  const dir = mkdtempSync(join(tmpdir(), 'slc-edge-log-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('LogTail: appends, partial lines, truncation and rotation, never a line twice', () => {
    const path = join(dir, 'a.log');
    writeFileSync(path, 'one\ntw');
    const t = new LogTail(path);
    expect(t.readNewLines()).toEqual(['one']);
    appendFileSync(path, 'o\nthree\n');
    expect(t.readNewLines()).toEqual(['two', 'three']);
    expect(t.readNewLines()).toEqual([]);
    renameSync(path, `${path}.1`); // logrotate: new inode
    writeFileSync(path, 'four\n');
    expect(t.readNewLines()).toEqual(['four']);
    writeFileSync(path, ''); // copytruncate, seen by a poll before the next write
    expect(t.readNewLines()).toEqual([]);
    appendFileSync(path, 'five\n');
    expect(t.readNewLines()).toEqual(['five']);
  });
});
