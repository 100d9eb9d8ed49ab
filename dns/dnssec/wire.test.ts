// The wire forms against published vectors: RFC 6605 §6.1 (an ECDSA P-256 key, its DS and key tag,
// and an RRSIG made by someone else that our signed-data construction must verify byte for byte) and
// RFC 4034 §4.3 (an NSEC type bitmap).
import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nameToWireKey, TYPE } from '../wire/constants.ts';
import { bitmapTypes, canonicalRrset, dnskeyRdata, dsRdata, DNSSEC_TYPE, immediateSuccessor, keyTag, labelCount, nsecRdata, rrsetContentKey, rrsigPrefix, typeBitmap } from './wire.ts';

const RFC6605_PUBLIC = Buffer.from('GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==', 'base64');
const RFC6605_SIG = Buffer.from('qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==', 'base64');
/** UTC YYYYMMDDHHMMSS -> seconds. */
const t = (s: string) => Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(8, 10), +s.slice(10, 12), +s.slice(12, 14)) / 1000;

describe('RFC 6605 §6.1 (ECDSA P-256)', () => {
  const rdata = dnskeyRdata(257, RFC6605_PUBLIC);

  it('key tag 55648 and the DS digest of the RFC', () => {
    expect(keyTag(rdata)).toBe(55648);
    const ds = dsRdata(nameToWireKey('example.net'), rdata);
    expect(ds.readUInt16BE(0)).toBe(55648);
    expect([ds[2], ds[3]]).toEqual([13, 2]);
    expect(ds.subarray(4).toString('hex')).toBe('b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17');
  });

  it("verifies the RFC's RRSIG over www.example.net A 192.0.2.1 with our signed-data construction", () => {
    const owner = nameToWireKey('www.example.net');
    const prefix = rrsigPrefix({
      typeCovered: TYPE.A,
      labels: labelCount(owner),
      originalTtl: 3600,
      expiration: t('20100909100439'),
      inception: t('20100812100439'),
      keyTag: 55648,
      signerKey: nameToWireKey('example.net'),
    });
    const data = Buffer.concat([prefix, canonicalRrset(owner, TYPE.A, 3600, [Buffer.from([192, 0, 2, 1])])]);
    const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: RFC6605_PUBLIC.subarray(0, 32).toString('base64url'), y: RFC6605_PUBLIC.subarray(32).toString('base64url') }, format: 'jwk' });
    expect(verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, RFC6605_SIG)).toBe(true);
    // One byte off anywhere (here the TTL) and it must fail: the check above is not vacuous.
    const wrong = Buffer.concat([prefix, canonicalRrset(owner, TYPE.A, 3599, [Buffer.from([192, 0, 2, 1])])]);
    expect(verify('sha256', wrong, { key, dsaEncoding: 'ieee-p1363' }, RFC6605_SIG)).toBe(false);
  });
});

describe('NSEC', () => {
  it('type bitmap of RFC 4034 §4.3: A MX RRSIG NSEC TYPE1234', () => {
    const bm = typeBitmap([TYPE.A, TYPE.MX, DNSSEC_TYPE.RRSIG, DNSSEC_TYPE.NSEC, 1234]);
    const expected = Buffer.alloc(2 + 6 + 2 + 27);
    expected.set([0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b]);
    expected[expected.length - 1] = 0x20;
    expect(bm.toString('hex')).toBe(expected.toString('hex'));
    expect(bitmapTypes(bm)).toEqual([1, 15, 46, 47, 1234]);
  });

  it('compact denial: NXNAME (128) in window 0, the next name is \\000.<qname>', () => {
    const rdata = nsecRdata(immediateSuccessor(nameToWireKey('nope.example.com')), [DNSSEC_TYPE.RRSIG, DNSSEC_TYPE.NSEC, DNSSEC_TYPE.NXNAME]);
    const next = nameToWireKey('nope.example.com');
    expect(rdata.subarray(0, 2)).toEqual(Buffer.from([1, 0]));
    expect(rdata.subarray(2, 2 + next.length).toString('latin1')).toBe(next);
    expect(bitmapTypes(rdata.subarray(2 + next.length))).toEqual([46, 47, 128]);
  });
});

describe('canonical RRset', () => {
  it('sorts RDATA as octet strings, drops duplicates, and the content key ignores order', () => {
    const owner = nameToWireKey('app.example.com');
    const a = Buffer.from([203, 0, 113, 30]);
    const b = Buffer.from([192, 0, 2, 10]);
    const one = canonicalRrset(owner, TYPE.A, 30, [a, b, a]);
    expect(one).toEqual(canonicalRrset(owner, TYPE.A, 30, [b, a]));
    expect(one.length).toBe(2 * (owner.length + 10 + 4));
    expect(one.subarray(owner.length + 10, owner.length + 14)).toEqual(b); // 192.0.2.10 sorts first
    expect(rrsetContentKey(owner, TYPE.A, 30, [a, b])).toBe(rrsetContentKey(owner, TYPE.A, 30, [b, a]));
    expect(rrsetContentKey(owner, TYPE.A, 30, [a, b])).not.toBe(rrsetContentKey(owner, TYPE.A, 31, [a, b]));
  });

  it('counts labels without the root', () => {
    expect(labelCount(nameToWireKey('www.example.net'))).toBe(3);
    expect(labelCount('\x00')).toBe(0);
  });
});
