// The signature cache stays bounded, and a flood of one-off entries (random NXDOMAIN names) does not
// evict the entries in use (second chance).
import { describe, expect, it } from 'vitest';
import { SignatureCache } from './cache.ts';

const sigs = { rdatas: [], inception: 0, expiration: 100, refreshAt: 50 };

describe('SignatureCache', () => {
  it('stays within its bound and keeps the entries that are used while one-offs stream through', () => {
    const c = new SignatureCache(100);
    for (let i = 0; i < 10; i++) c.set(`hot${i}`, sigs, 's');
    for (let i = 0; i < 10_000; i++) {
      c.set(`nx${i}`, sigs, 's');
      if (i % 20 === 0) for (let h = 0; h < 10; h++) expect(c.get(`hot${h}`), `hot${h} after ${i}`).toBeDefined();
      expect(c.size).toBeLessThanOrEqual(100);
    }
    expect(c.get('nx0')).toBeUndefined();
  });
});
