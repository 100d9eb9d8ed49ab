// The paced writers must give exactly JSON.stringify's text (content versions hash it), whatever the
// size relative to a step, with escapes, empty tables and a big key that is not the last one.
import { describe, expect, it } from 'vitest';
import { arrayJsonSteps, arrayOfJsonSteps, keyJsonSteps, keysOnce, objectJsonSteps, parseJsonObjectSteps, textSink } from './json-steps.ts';
import { runToEnd, STEP_ITEMS, type Steps } from './steps.ts';

function text(write: (sink: (p: string) => void) => Steps<void>): { text: string; yields: number } {
  const out = textSink();
  const steps = write(out.add);
  let yields = 0;
  while (!steps.next().done) yields++;
  return { text: out.text(), yields };
}

const table = (n: number) => {
  const t: Record<string, Record<string, number>> = {};
  for (let i = 0; i < n; i++) t[`10.${i >> 8}.${i & 255}.0/24`] = { 'o"1': i / 7, o2: 1 - i / 7 };
  return t;
};

describe('json-steps', () => {
  for (const n of [0, 1, STEP_ITEMS - 1, STEP_ITEMS, STEP_ITEMS * 2 + 5]) {
    it(`objectJsonSteps and arrayJsonSteps give JSON.stringify's text for ${n} entries`, () => {
      const t = table(n);
      const o = text((sink) => objectJsonSteps(t, sink));
      expect(o.text).toBe(JSON.stringify(t));
      expect(o.yields).toBe(Math.floor(n / STEP_ITEMS));
      const keys = Object.keys(t);
      expect(text((sink) => arrayJsonSteps(keys, sink)).text).toBe(JSON.stringify(keys));
    });
  }

  it('objectJsonSteps shows every entry to `each`; keysOnce lists a table once', () => {
    const seen: string[] = [];
    runToEnd(objectJsonSteps(table(3), () => {}, (k) => seen.push(k)));
    expect(seen).toEqual(Object.keys(table(3)));
    const t = table(3);
    expect(keysOnce(t)).toBe(keysOnce(t));
    expect(keysOnce(t)).toEqual(Object.keys(t));
  });

  it('keyJsonSteps writes the last key in steps, and anything else whole (same text either way)', () => {
    const last = { a: 1, s: '\u0000"', big: table(STEP_ITEMS + 1) };
    const paced = text((sink) => keyJsonSteps(last, 'big', sink, (b) => objectJsonSteps(b, sink)));
    expect(paced.text).toBe(JSON.stringify(last));
    expect(paced.yields).toBe(1);
    const notLast = { big: table(STEP_ITEMS + 1), a: 1 };
    expect(text((sink) => keyJsonSteps(notLast, 'big', sink, (b) => objectJsonSteps(b, sink)))).toEqual({ text: JSON.stringify(notLast), yields: 1 });
    const middle = { a: 1, big: table(3), gone: undefined, z: [1] };
    expect(text((sink) => keyJsonSteps(middle, 'big', sink, (b) => objectJsonSteps(b, sink))).text).toBe(JSON.stringify(middle));
    const absent = { a: 1, big: undefined };
    expect(text((sink) => keyJsonSteps(absent, 'big', sink, () => objectJsonSteps({}, sink))).text).toBe(JSON.stringify(absent));
    const nested = [last, { a: 2, s: '', big: {} }];
    expect(text((sink) => arrayOfJsonSteps(nested, sink, (x) => keyJsonSteps(x, 'big', sink, (b) => objectJsonSteps(b, sink)))).text).toBe(JSON.stringify(nested));
  });

  it('parseJsonObjectSteps gives what JSON.parse gives, the paced tables in steps, their keys remembered', () => {
    const t = table(STEP_ITEMS * 2 + 3);
    const body = { edges: { e1: { a: 1 }, '7': { b: 0.5 } }, subnets: t, other: [1, '}', { x: '"\\'}] };
    for (const text of [JSON.stringify(body), JSON.stringify(body, null, 2)]) {
      const steps = parseJsonObjectSteps(text, new Set(['edges', 'subnets']));
      let yields = 0;
      let r = steps.next();
      for (; !r.done; r = steps.next()) yields++;
      expect(r.value).toEqual(JSON.parse(text));
      expect(Object.keys(r.value)).toEqual(['edges', 'subnets', 'other']);
      expect(yields).toBeGreaterThanOrEqual(2);
      const subnets = r.value.subnets as object;
      expect(keysOnce(subnets)).toEqual(Object.keys(t));
    }
    // Unpaced entries before, between and after paced ones (the weights body paces only some tables).
    const mixed = { a: 1, edges: { e: { x: 1 } }, b: [2], subnets: table(STEP_ITEMS + 1), c: 'z' };
    for (const paced of [['subnets'], ['edges'], ['a', 'c'], []]) {
      const text = JSON.stringify(mixed);
      expect(runToEnd(parseJsonObjectSteps(text, new Set(paced))), paced.join()).toEqual(mixed);
      expect(runToEnd(parseJsonObjectSteps(JSON.stringify(mixed, null, 1), new Set(paced)))).toEqual(mixed);
    }
    expect(runToEnd(parseJsonObjectSteps('{}', new Set(['subnets'])))).toEqual({});
    expect(runToEnd(parseJsonObjectSteps('{"subnets":{}}', new Set(['subnets'])))).toEqual({ subnets: {} });
  });

  it('parseJsonObjectSteps refuses malformed text', () => {
    for (const bad of ['', '[]', '{"a":1', '{"a":1,}', '{"subnets":{"x":1,,"y":2}}', '{"subnets":{"x":1}', '{"a":1} x', '{"subnets":{"x":{"y":1}}']) {
      expect(() => runToEnd(parseJsonObjectSteps(bad, new Set(['subnets']))), bad).toThrow(SyntaxError);
    }
  });
});
