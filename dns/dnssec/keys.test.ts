// Key files: BIND's format both ways (the RFC 6605 key reads back with its published tag), the
// OpenSSH-style permission check, keys whose halves do not match, timing states, and the
// keygen/ds/settime/keys commands.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../lib/cli-args.ts';
import { parseTimeArg } from './key-admin.ts';
import { runKeyCommand } from './key-command.ts';
import { formatKeyTime, isPublished, isSigning, isSynced, KeyFileError, loadKeyDirectory, nextEvent, parseKeyTime, readKey, type DnssecKey } from './keys.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-dnssec-keys-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const RFC6605_KEY = 'example.net. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==\n';
const RFC6605_PRIVATE = 'Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ=\nCreated: 20100812100439\nActivate: 20100812100439\n';

function writeRfcKey(privateMode = 0o600, privateText = RFC6605_PRIVATE): string {
  const stem = join(dir, 'Kexample.net.+013+55648');
  writeFileSync(`${stem}.key`, RFC6605_KEY);
  writeFileSync(`${stem}.private`, privateText, { mode: privateMode });
  chmodSync(`${stem}.private`, privateMode);
  return stem;
}

const captured = () => {
  let text = '';
  return { out: (t: string) => void (text += t), text: () => text };
};

describe('key files', () => {
  it("reads BIND's format: the RFC 6605 key has tag 55648 and its timing", () => {
    const k = readKey(writeRfcKey());
    expect(k.zone).toBe('example.net');
    expect(k.tag).toBe(55648);
    expect(k.flags).toBe(257);
    expect(k.timing.Activate).toBe(parseKeyTime('20100812100439'));
  });

  it('refuses a private key that group or others can read, naming the file and the fix (as OpenSSH does)', () => {
    const stem = writeRfcKey(0o640);
    expect(() => readKey(stem)).toThrow(KeyFileError);
    expect(() => readKey(stem)).toThrow(/permissions 0640 are too open.*chmod 600/);
    chmodSync(`${stem}.private`, 0o604);
    expect(() => loadKeyDirectory(dir)).toThrow(/0604 are too open/);
    chmodSync(`${stem}.private`, 0o400);
    expect(readKey(stem).tag).toBe(55648);
  });

  it('refuses a private key that does not belong to the public key', () => {
    const other = 'Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: ' + Buffer.alloc(32, 7).toString('base64') + '\n';
    expect(() => readKey(writeRfcKey(0o600, other))).toThrow(/does not belong to the public key/);
  });

  it.each([
    ['Private-key-format: v1.3\nAlgorithm: 8 (RSASHA256)\nPrivateKey: AAAA\n', /Algorithm "8 \(RSASHA256\)": expected 13/],
    ['Private-key-format: v1.3\nAlgorithm: 13\nPrivateKey: AAAA\n', /PrivateKey is 3 bytes/],
    [RFC6605_PRIVATE + 'Inactive: tomorrow\n', /Inactive "tomorrow": expected UTC YYYYMMDDHHMMSS/],
    ['garbage\n', /unreadable line/],
  ])('a malformed private file is an error naming what is wrong (%#)', (text, message) => {
    expect(() => readKey(writeRfcKey(0o600, text))).toThrow(message);
  });

  it('timing states: published Publish..Delete, signing Activate..Inactive, CDS SyncPublish..SyncDelete', () => {
    const k = { flags: 257, timing: { Created: 100, Publish: 100, Activate: 200, Inactive: 300, Delete: 400, SyncPublish: 250, SyncDelete: 350 } } as unknown as DnssecKey;
    const at = (now: number) => [isPublished(k, now), isSigning(k, now), isSynced(k, now)];
    expect(at(99)).toEqual([false, false, false]);
    expect(at(150)).toEqual([true, false, false]);
    expect(at(260)).toEqual([true, true, true]);
    expect(at(320)).toEqual([true, false, true]);
    expect(at(400)).toEqual([false, false, false]);
    expect(nextEvent([k], 260)).toBe(300);
    expect(nextEvent([k], 400)).toBe(Infinity);
    expect(formatKeyTime(parseKeyTime('20261129001728')!)).toBe('20261129001728');
  });
});

describe('sluice dns keygen | ds | settime | keys', () => {
  const now = Date.UTC(2026, 10, 29, 12, 0, 0);

  it('keygen writes a CSK (0600 private file) and prints its DS; the key reads back', async () => {
    const c = captured();
    expect(await runKeyCommand('keygen', ['--zone', 'Example.COM.', '--dir', dir], c.out, now)).toBe(0);
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(2);
    const priv = files.find((f) => f.endsWith('.private'))!;
    expect(statSync(join(dir, priv)).mode & 0o777).toBe(0o600);
    const [k] = loadKeyDirectory(dir).get('example.com')!;
    expect(k!.flags).toBe(257);
    expect(k!.timing).toMatchObject({ Created: now / 1000, Publish: now / 1000, Activate: now / 1000, SyncPublish: now / 1000 });
    expect(c.text()).toContain(`example.com. 3600 IN DS ${k!.tag} 13 2 `);
    expect(priv).toBe(`Kexample.com.+013+${String(k!.tag).padStart(5, '0')}.private`);
  });

  it('a ZSK published now and activated later prints no DS; ds lists only key-signing keys', async () => {
    await runKeyCommand('keygen', ['--zone', 'example.com', '--dir', dir, '--type', 'ksk'], () => {}, now);
    const c = captured();
    await runKeyCommand('keygen', ['--zone', 'example.com', '--dir', dir, '--type', 'zsk', '--activate', '+2h'], c.out, now);
    expect(c.text()).not.toContain(' DS ');
    const zsk = [...loadKeyDirectory(dir).get('example.com')!].find((k) => k.flags === 256)!;
    expect(zsk.timing.Activate).toBe(now / 1000 + 7200);
    expect(zsk.timing.SyncPublish).toBeUndefined();
    const ds = captured();
    expect(await runKeyCommand('ds', ['--dir', dir, '--zone', 'example.com', '--ttl', '60'], ds.out, now)).toBe(0);
    expect(ds.text().match(/ IN DS /g)).toHaveLength(1);
    expect(ds.text()).toMatch(/^example\.com\. 60 IN DS \d+ 13 2 [0-9A-F]{64}$/m);
  });

  it('settime changes the schedule in place (and "none" unsets), keeping the private file 0600', async () => {
    const c = captured();
    await runKeyCommand('keygen', ['--zone', 'example.com', '--dir', dir], c.out, now);
    const stem = c.text().split('\n')[0]!.replace(/\.key$/, '');
    await runKeyCommand('settime', ['--key', `${stem}.private`, '--inactive', '20270101000000', '--sync-publish', 'none'], () => {}, now);
    const k = readKey(stem);
    expect(k.timing.Inactive).toBe(parseKeyTime('20270101000000'));
    expect(k.timing.SyncPublish).toBeUndefined();
    expect(statSync(`${stem}.private`).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${stem}.key`, 'utf8')).toContain('; Inactive: 20270101000000');
    const list = captured();
    await runKeyCommand('keys', ['--dir', dir], list.out, now);
    expect(list.text()).toContain(`example.com ${k.tag} KSK/CSK published, signing`);
  });

  it('bad arguments are usage errors; an unreadable key is an error without a stack trace', async () => {
    await expect(runKeyCommand('keygen', ['--dir', dir], () => {}, now)).rejects.toThrow(UsageError);
    await expect(runKeyCommand('keygen', ['--zone', 'x.com', '--dir', dir, '--type', 'rsa'], () => {}, now)).rejects.toThrow(/expected csk, ksk or zsk/);
    await expect(runKeyCommand('keygen', ['--zone', 'x.com', '--dir', dir, '--publish', 'soon'], () => {}, now)).rejects.toThrow(/--publish soon/);
    expect(await runKeyCommand('settime', ['--key', join(dir, 'Kmissing.+013+00001')], () => {}, now)).toBe(1);
  });

  it('time arguments', () => {
    expect(parseTimeArg('now', 1000)).toBe(1000);
    expect(parseTimeArg('+1h', 1000)).toBe(4600);
    expect(parseTimeArg('now-30s', 1000)).toBe(970);
    expect(parseTimeArg('none', 1000)).toBeNull();
    expect(parseTimeArg('20100812100439', 0)).toBe(parseKeyTime('20100812100439'));
    expect(parseTimeArg('later', 0)).toBeUndefined();
  });
});
