// parseCidr and ipToBytes read every learned subnet of every view a DNS server installs, so IPv4 is
// parsed in place rather than through split/map: these pin that the fast path reads exactly what the
// obvious one does, and that malformed text is still refused (isIP decides what is an address).
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../lib/prng.ts';
import { isIP } from 'node:net';
import { CIDR_IPV6, ipToBytes, parseCidr, parseCidrInto } from './addresses.ts';

describe('ipToBytes', () => {
  it('reads IPv4 octet by octet as split/map does, over random and edge addresses', () => {
    const r = seededRandom(7);
    const octet = () => Math.floor(r() * 256);
    const addrs = ['0.0.0.0', '255.255.255.255', '10.0.0.1', '1.22.133.244', ...Array.from({ length: 2000 }, () => `${octet()}.${octet()}.${octet()}.${octet()}`)];
    for (const a of addrs) expect([...ipToBytes(a)!], a).toEqual(a.split('.').map(Number));
  });

  it.each(['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.4 ', '', 'a.b.c.d', '1..2.3'])('refuses %j', (text) => {
    expect(ipToBytes(text)).toBeNull();
  });

  it('reads IPv6, with an embedded IPv4 tail', () => {
    expect([...ipToBytes('2001:db8::1')!]).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect([...ipToBytes('::ffff:192.0.2.1')!]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]);
  });
});

describe('parseCidr', () => {
  it.each([
    ['192.0.2.0/24', { family: 4, bytes: [192, 0, 2, 0], prefix: 24 }],
    ['10.0.0.0/8', { family: 4, bytes: [10, 0, 0, 0], prefix: 8 }],
    ['0.0.0.0/0', { family: 4, bytes: [0, 0, 0, 0], prefix: 0 }],
    ['2001:db8::/32', { family: 6, bytes: [0x20, 0x01, 0x0d, 0xb8, ...Array<number>(12).fill(0)], prefix: 32 }],
  ])('%s', (text, want) => {
    const c = parseCidr(text)!;
    expect({ family: c.family, bytes: [...c.bytes], prefix: c.prefix }).toEqual(want);
  });

  it.each(['192.0.2.1/24', '192.0.2.0/33', '192.0.2.0', '192.0.2.0/', '192.0.2.0/2a', '300.0.2.0/24', '2001:db8::1/32'])('refuses %j', (text) => {
    expect(parseCidr(text)).toBeNull();
  });
});

describe('parseCidr fast paths', () => {
  /** What parseCidr said before it read the plain forms itself: isIP, then bytesOf. */
  function obvious(text: string) {
    const slash = text.indexOf('/');
    if (slash < 0) return null;
    const addr = text.slice(0, slash);
    const prefixText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText)) return null;
    const prefix = Number(prefixText);
    const family = isIP(addr);
    if (family === 0) return null;
    const bytes = ipToBytes(addr);
    if (!bytes || prefix > bytes.length * 8) return null;
    for (let bit = prefix; bit < bytes.length * 8; bit++) if (bytes[bit >> 3]! & (0x80 >> (bit & 7))) return null;
    return { family, bytes: [...bytes], prefix };
  }
  /** parseCidrInto (in place, at an offset, into bytes left from an earlier parse): its verdict and bytes. */
  const scratch = new Uint8Array(40).fill(0xab);
  function inPlace(text: string) {
    const v = parseCidrInto(text, scratch, 7);
    if (v < 0) return null;
    const family = v & CIDR_IPV6 ? 6 : 4;
    return { family, bytes: [...scratch.subarray(7, 7 + (family === 6 ? 16 : 4))], prefix: v & 0xff };
  }
  const same = (text: string) => {
    const c = parseCidr(text);
    const expected = obvious(text);
    expect(c && { family: c.family, bytes: [...c.bytes], prefix: c.prefix }, text).toEqual(expected);
    expect(inPlace(text), `parseCidrInto ${text}`).toEqual(expected);
  };

  it('agrees with isIP on edge cases of both families', () => {
    for (const t of [
      '::/0', '::1/128', '1::/16', '1:2:3:4:5:6:7::/128', '::1:2:3:4:5:6:7/128', '1:2:3:4:5:6:7:8/128', '1:2:3:4:5:6:7:8::/128', '::1:2:3:4:5:6:7:8/128',
      '1:2:3:4::5:6:7:8/128', ':1::/16', '1::2::/16', '1:/16', ':/0', ':::/0', '12345::/16', 'g::/16', 'ABCD:ef01::/32', '2001:db8::/32', '2001:DB8::/32',
      '::ffff:192.0.2.0/120', 'fe80::%eth0/64', '2001:db8::/129', '0.0.0.0/0', '00.0.0.0/8', '1.2.3.4/32', '1.2.3/24', '1.2.3.4.5/32', '256.0.0.0/8',
      '1.2.3.0/24 ', ' 1.2.3.0/24', '1.2.3.0/024', '1.2.3.0/+4', '1.2.3.0/', '/24', '1..2.3/24', '.1.2.3/24', '1.2.3./24', '999.1.1.0/24', '1.2.3.0/33',
    ]) same(t);
  });

  it('agrees with isIP on random subnets and random junk', () => {
    const r = seededRandom(11);
    const pick = (s: string) => s[Math.floor(r() * s.length)]!;
    for (let k = 0; k < 20_000; k++) {
      const p = Math.floor(r() * 140);
      if (k % 3 === 0) same(`${Math.floor(r() * 300)}.${Math.floor(r() * 300)}.${Math.floor(r() * 4) * 64}.0/${p}`);
      else if (k % 3 === 1) {
        const g = Array.from({ length: 1 + Math.floor(r() * 9) }, () => (r() < 0.3 ? '' : Math.floor(r() * 0x1ffff).toString(16)));
        same(`${g.join(':')}/${p}`);
      } else same(`${Array.from({ length: 2 + Math.floor(r() * 14) }, () => pick('0123456789abcdefABG:.:%')).join('')}/${p}`);
    }
  });
});
