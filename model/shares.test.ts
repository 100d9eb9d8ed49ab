import { describe, expect, it } from 'vitest';
import { effectiveShares, type ShareCandidate } from './shares.ts';

const o = (id: string, over: Partial<ShareCandidate> = {}): ShareCandidate => ({ id, healthy: true, admin_state: 'active', static_weight: 1, ...over });

describe('effectiveShares', () => {
  it('renormalises published weights over usable origins', () => {
    expect(effectiveShares({ a: 0.5, b: 0.3, c: 0.2 }, [o('a'), o('b', { healthy: false }), o('c')])).toEqual({ shares: { a: 0.5 / 0.7, c: 0.2 / 0.7 }, basis: 'published' });
  });
  it('falls back to static weights when the published ones are all on failed origins, or absent', () => {
    expect(effectiveShares({ a: 1 }, [o('a', { healthy: false }), o('b', { static_weight: 3 }), o('c')])).toEqual({ shares: { b: 0.75, c: 0.25 }, basis: 'static' });
    expect(effectiveShares(undefined, [o('a', { admin_state: 'drain' }), o('b')])).toEqual({ shares: { b: 1 }, basis: 'static' });
  });
  it('prefers healthy draining origins over failed ones', () => {
    expect(effectiveShares(undefined, [o('a', { admin_state: 'drain' }), o('b', { healthy: false })])).toEqual({ shares: { a: 1 }, basis: 'static' });
  });
  it('fails open when nothing is healthy, and gives nothing when everything is disabled', () => {
    expect(effectiveShares({ a: 1 }, [o('a', { healthy: false }), o('b', { healthy: false, static_weight: 0 })])).toEqual({ shares: { a: 0.5, b: 0.5 }, basis: 'fail_open' });
    expect(effectiveShares({ a: 1 }, [o('a', { admin_state: 'disabled' })])).toEqual({ shares: {}, basis: 'none' });
  });
});
