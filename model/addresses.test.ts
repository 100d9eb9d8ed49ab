// parseCidr and ipToBytes read every learned subnet of every view a DNS server installs, so IPv4 is
// parsed in place rather than through split/map: these pin that the fast path reads exactly what the
// obvious one does, and that malformed text is still refused (isIP decides what is an address).
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../lib/prng.ts';
import { ipToBytes, parseCidr } from './addresses.ts';

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
