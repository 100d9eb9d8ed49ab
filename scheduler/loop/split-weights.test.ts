// The published tables the loop builds: edges and subnets split from the solver's sources, carried
// sources first, and the subnet table's key list handed to keysOnce as built (the publish and the
// views never list a 1M-key table in one piece): it must be exactly Object.keys' list.
import { describe, expect, it } from 'vitest';
import { keysOnce } from '../../lib/json-steps.ts';
import { runToEnd } from '../../lib/steps.ts';
import { EDGE_PREFIX, SUBNET_PREFIX } from './connection-sources.ts';
import { splitWeightsChangeSteps, splitWeightsSteps } from './problem.ts';

describe('splitWeightsSteps', () => {
  it("gives the subnet table's keys as Object.keys lists them, carried first, each once, empty maps left out", () => {
    const sub = (c: string) => `${SUBNET_PREFIX}${c}`;
    const carried: Record<string, Record<string, number>> = { [sub('10.0.1.0/24')]: { a: 1 }, [sub('2001:db8::/48')]: { b: 1 }, [`${EDGE_PREFIX}e1`]: { a: 1 } };
    const weights: Record<string, Record<string, number>> = { [sub('2001:db8::/48')]: { a: 0.5, b: 0.5 }, [sub('10.0.0.0/24')]: { a: 1 }, [sub('10.0.2.0/24')]: { a: 0 } };
    for (let i = 0; i < 5000; i++) weights[sub(`10.${1 + (i >> 8)}.${i & 255}.0/24`)] = { b: 1 };
    const { edges, subnets } = runToEnd(splitWeightsSteps(weights, carried));
    expect(Object.keys(edges)).toEqual(['e1']);
    const keys = keysOnce(subnets);
    expect(keys).toEqual(Object.keys(subnets));
    expect(keys.slice(0, 3)).toEqual(['10.0.1.0/24', '2001:db8::/48', '10.0.0.0/24']);
    expect(keys).not.toContain('10.0.2.0/24'); // all shares 0: not published
    expect(subnets['2001:db8::/48']).toEqual({ a: 0.5, b: 0.5 }); // the new weights win over carried
    expect(keysOnce(subnets)).toBe(keys);
  });

  it('hands over the very map published before for a subnet whose cleaned shares did not change', () => {
    const sub = (c: string) => `${SUBNET_PREFIX}${c}`;
    const previous: Record<string, Record<string, number>> = { '10.0.0.0/24': { a: 0.5, b: 0.5 }, '10.0.1.0/24': { a: 1 }, '10.0.2.0/24': { b: 1 } };
    // 10.0.0.0/24 the same after cleaning (float noise, a share under the epsilon); 10.0.1.0/24 moved; 10.0.3.0/24 new.
    const weights: Record<string, Record<string, number>> = { [sub('10.0.0.0/24')]: { a: 0.5000000001, b: 0.4999999999, c: 1e-9 }, [sub('10.0.1.0/24')]: { a: 0.9, b: 0.1 }, [sub('10.0.3.0/24')]: { b: 1 } };
    const { subnets } = runToEnd(splitWeightsSteps(weights, {}, previous));
    expect(subnets['10.0.0.0/24']).toBe(previous['10.0.0.0/24']);
    expect(subnets['10.0.1.0/24']).toEqual({ a: 0.9, b: 0.1 });
    expect(subnets['10.0.3.0/24']).toEqual({ b: 1 });
    expect(subnets['10.0.3.0/24']).not.toBe(previous['10.0.2.0/24']);
    // The same content as without `previous`.
    expect(subnets).toEqual(runToEnd(splitWeightsSteps(weights, {})).subnets);
  });

  it('names what changed against the weights in force: every key whose map is not their very object, removed keys too', () => {
    const sub = (c: string) => `${SUBNET_PREFIX}${c}`;
    const previous: Record<string, Record<string, number>> = { '10.0.0.0/24': { a: 1 }, '10.0.1.0/24': { a: 1 }, '10.0.2.0/24': { b: 1 }, '10.0.3.0/24': { b: 1 } };
    // 10.0.0.0/24 the same; 10.0.1.0/24 moved; 10.0.2.0/24 gone; 10.0.3.0/24 all shares 0 (left out: gone); 10.0.4.0/24 new.
    const weights: Record<string, Record<string, number>> = { [sub('10.0.0.0/24')]: { a: 1 }, [sub('10.0.1.0/24')]: { b: 1 }, [sub('10.0.3.0/24')]: { b: 0 }, [sub('10.0.4.0/24')]: { a: 1 } };
    const { weights: out, changed } = runToEnd(splitWeightsChangeSteps(weights, {}, previous));
    expect(changed!.from).toBe(previous);
    expect([...changed!.keys].sort()).toEqual(['10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24', '10.0.4.0/24']);
    for (const k of keysOnce(out.subnets)) expect(changed!.keys.includes(k) || out.subnets[k] === previous[k]).toBe(true);
    expect(runToEnd(splitWeightsChangeSteps(weights, {})).changed).toBeNull();
  });
});
