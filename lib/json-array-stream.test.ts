import { describe, expect, it } from 'vitest';
import { JsonArrayStream, type JsonArrayStreamOptions } from './json-array-stream.ts';
import { seededRandom } from './prng.ts';

/** Streams `text` cut at `cuts` (ascending offsets); the object with the streamed array put back, and how it went. */
function stream(text: string, cuts: number[], opts: JsonArrayStreamOptions = {}, path = ['data', 'result']) {
  const got: unknown[] = [];
  const batches: number[] = [];
  const s = new JsonArrayStream(
    path,
    (elements, first) => {
      expect(first).toBe(got.length);
      batches.push(elements.length);
      got.push(...elements);
    },
    opts,
  );
  let at = 0;
  for (const c of [...cuts, text.length]) {
    s.write(text.slice(at, c));
    at = c;
  }
  const end = s.end();
  expect(s.chars).toBe(text.length);
  expect(end.elements).toBe(got.length);
  if (end.streamed) {
    let o = end.value as Record<string, unknown>;
    for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
    expect(o[path.at(-1)!]).toEqual([]);
    o[path.at(-1)!] = got;
  }
  return { value: end.value, streamed: end.streamed, batches };
}

function randomCuts(length: number, rand: () => number, pieces: number): number[] {
  return Array.from({ length: pieces }, () => Math.floor(rand() * length)).sort((a, b) => a - b);
}

describe('JsonArrayStream', () => {
  const answer = (n: number) => ({
    status: 'success',
    data: { resultType: 'vector', result: Array.from({ length: n }, (_, i) => ({ metric: { subnet: `10.${i >> 8}.${i & 255}.0/24`, 'q"': '],}\\ é', [`k${i}`]: '{"x":[' }, value: [1.5, i % 3 === 0 ? 'NaN' : String(i / 7)] })), after: { x: [1] } },
    warnings: ['w'],
  });

  it('gives what JSON.parse gives, however the text is cut (at every offset of a small answer, at random ones of big ones)', () => {
    const small = JSON.stringify(answer(3));
    for (let c = 0; c <= small.length; c++) expect(stream(small, [c]).value, `cut at ${c}`).toEqual(JSON.parse(small));
    // One character per chunk: every escape, key and number cut everywhere at once.
    expect(stream(small, Array.from({ length: small.length }, (_, i) => i)).value).toEqual(JSON.parse(small));
    const rand = seededRandom(7);
    for (const n of [0, 1, 5, 2047, 2048, 5000]) {
      const body = answer(n);
      for (const text of [JSON.stringify(body), JSON.stringify(body, null, 2), ` \n${JSON.stringify(body)}\t `]) {
        for (const pieces of [0, 3, 200]) {
          const r = stream(text, randomCuts(text.length, rand, pieces));
          expect(r.streamed).toBe(true);
          expect(r.value).toEqual(body);
        }
      }
    }
  });

  it('hands elements over as each chunk arrives, at most `batch` per parse', () => {
    const text = JSON.stringify(answer(1000));
    const batches: number[] = [];
    const s = new JsonArrayStream(['data', 'result'], (elements) => batches.push(elements.length), { batch: 300 });
    s.write(text.slice(0, text.length >> 1));
    // The first half's elements are out before the second half arrives, all but the one cut in two.
    const firstHalf = batches.reduce((a, b) => a + b, 0);
    expect(firstHalf).toBeGreaterThan(450);
    expect(firstHalf).toBeLessThan(550);
    s.write(text.slice(text.length >> 1));
    expect(s.end().elements).toBe(1000);
    expect(Math.max(...batches)).toBeLessThanOrEqual(300);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(1000);
  });

  it('finds the array wherever its key sits, and parses the whole object when it is not there', () => {
    for (const body of [
      { data: { result: [1, 'two', { three: [3] }, null, true, -4.5e-3], resultType: 'vector' }, status: 'success' },
      { data: { x: { result: [9] }, result: [[1], [2]] } },
      { data: { result: [] } },
    ]) {
      const text = JSON.stringify(body);
      const r = stream(text, [5, 17]);
      expect(r.streamed).toBe(true);
      expect(r.value).toEqual(body);
    }
    // Not an array at the path, no path at all, the path's key one level off: read whole, like JSON.parse.
    for (const body of [{ data: { result: { a: 1 } } }, { status: 'error', error: 'x' }, { result: [1], data: 1 }, { data: { resultType: 'scalar', result: 5 } }]) {
      const text = JSON.stringify(body);
      const r = stream(text, [3]);
      expect(r.streamed).toBe(false);
      expect(r.value).toEqual(body);
    }
  });

  it('stops re-reading a head that never reaches the array, and still parses it whole', () => {
    const body = { big: 'x'.repeat(5000), data: { result: [1, 2] } };
    const text = JSON.stringify(body);
    const r = stream(text, randomCuts(text.length, seededRandom(1), 50), { maxHeadChars: 1000 });
    expect(r.streamed).toBe(false);
    expect(r.value).toEqual(body);
  });

  it('refuses malformed text with a SyntaxError at end(), whatever the cuts, and keeps counting the body', () => {
    const bad = [
      '',
      '[]',
      '{"data":{"result":[1,2}}',
      '{"data":{"result":[1,,2]}}',
      '{"data":{"result":[1,2]',
      '{"data":{"result":[1,2',
      '{"data":{"result":[{"a":1},]}}',
      '{"data":{"result":["a]}}',
      '{"data":{"result":[1 2]}}',
      '{"data":{"result":[{"a":1}{"b":2}]}}',
      '{"data":{"result":[1]}} x',
      '{"data":{"result":[tru]}}',
      '{"data":{"result":[1]},}',
      '{"data":{"result":[1]}',
    ];
    for (const text of bad) {
      for (const cuts of [[], [Math.floor(text.length / 2)], Array.from({ length: text.length }, (_, i) => i)]) {
        const s = new JsonArrayStream(['data', 'result'], () => {});
        let at = 0;
        for (const c of [...cuts, text.length]) {
          s.write(text.slice(at, c));
          at = c;
        }
        expect(s.chars).toBe(text.length);
        expect(() => s.end(), `${text} cut at ${cuts.join()}`).toThrow(SyntaxError);
      }
    }
  });

  it('refuses an element longer than maxElementChars, and fails with what onElements threw', () => {
    const long = new JsonArrayStream(['r'], () => {}, { maxElementChars: 100 });
    long.write(`{"r":[1,"${'y'.repeat(60)}`);
    long.write('y'.repeat(60));
    long.write('"]}');
    expect(() => long.end()).toThrow(/element 1 of r is longer than 100 characters/);
    const refusing = new JsonArrayStream(['r'], (els) => {
      if (els.includes(3)) throw new Error('three is not a sample');
    });
    refusing.write('{"r":[1,2,');
    refusing.write('3,4]}');
    expect(() => refusing.end()).toThrow('three is not a sample');
  });
});
