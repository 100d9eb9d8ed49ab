// JSON.stringify of big flat tables in steps (lib/steps.ts), as pieces whose concatenation is exactly
// the text JSON.stringify(table) gives: a 1M-subnet table is 0.2-1 s of one thread in one piece. The
// pieces go to a sink (a hash's update(), or an array joined later), so no caller needs the whole text
// at once. Exactness matters: content versions are hashes of this text, compared across replicas.
import { INCOMPLETE, scanValue, skipSpace } from './json-scan.ts';
import { STEP_ITEMS, type Steps } from './steps.ts';

/**
 * The own keys of a big table, collected once per table object. Enumerating a table of 1M keys (for..in,
 * Object.keys, JSON.stringify) first collects all its keys: ~0.15-0.35 s in one piece each time, which no
 * pacing can split. Only for tables that never change after the first call (a rendered view's).
 */
export function keysOnce(table: object): string[] {
  let keys = keyCache.get(table);
  if (!keys) keyCache.set(table, (keys = Object.keys(table)));
  return keys;
}
const keyCache = new WeakMap<object, string[]>();

/**
 * Tells keysOnce the own keys of `table`, in order, from a caller that built it and knows them (the
 * scheduler's published subnet table, built in steps): then nobody lists a 1M-key table in one piece
 * (the publish's walk did, ~0.3 s of the loop's thread). Only when `keys` is exactly Object.keys(table)
 * and neither changes afterwards.
 */
export function knownKeys(table: object, keys: string[]): void {
  keyCache.set(table, keys);
}

/**
 * JSON.stringify(table) for a plain object of JSON values (no undefined, functions or toJSON inside),
 * STEP_ITEMS entries per piece. `keys` are the table's own keys in its order (JSON.stringify's order;
 * keysOnce() for a table enumerated more than once). `each` sees every entry as it is written.
 */
export function* objectJsonSteps<V>(table: Record<string, V>, sink: (piece: string) => void, each?: (key: string, value: V) => void, keys: readonly string[] = Object.keys(table)): Steps<void> {
  yield* objectJsonWhileSteps(table, sink, each, keys);
}

/**
 * objectJsonSteps whose `each` sees every entry before it is written and can stop the walk by
 * returning false: then the result is false and the text incomplete (a check failed on the way).
 */
export function* objectJsonWhileSteps<V>(table: Record<string, V>, sink: (piece: string) => void, each?: (key: string, value: V) => void | boolean, keys: readonly string[] = Object.keys(table)): Steps<boolean> {
  // Each piece joined from an array: one flat string (a chain of += is a rope, flattened later in one go).
  let parts: string[] = ['{'];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const value = table[key]!;
    if (each?.(key, value) === false) return false;
    parts.push(`${i === 0 ? '' : ','}${JSON.stringify(key)}:${JSON.stringify(value)}`);
    if ((i + 1) % STEP_ITEMS === 0) {
      sink(parts.join(''));
      parts = [];
      yield;
    }
  }
  parts.push('}');
  sink(parts.join(''));
  return true;
}

/** JSON.stringify(array) for an array of JSON values (no holes or undefined), STEP_ITEMS items per piece. */
export function* arrayJsonSteps(items: readonly unknown[], sink: (piece: string) => void): Steps<void> {
  sink('[');
  for (let i = 0; i < items.length; i += STEP_ITEMS) {
    const text = JSON.stringify(items.slice(i, i + STEP_ITEMS));
    sink(`${i === 0 ? '' : ','}${text.slice(1, -1)}`);
    yield;
  }
  sink(']');
}

/** JSON.stringify(items) where each item is written by `item` (in steps of its own). */
export function* arrayOfJsonSteps<T>(items: readonly T[], sink: (piece: string) => void, item: (x: T) => Steps<void>): Steps<void> {
  sink('[');
  for (let i = 0; i < items.length; i++) {
    if (i > 0) sink(',');
    yield* item(items[i]!);
  }
  sink(']');
}

/**
 * JSON.stringify(value) where the value of `key` is written by `write` in steps, the other keys (small)
 * in one piece each side of it. Exact whatever the key's place (keys with undefined values are left out
 * by JSON.stringify on both sides alike); a value without `key` is written whole.
 */
export function* keyJsonSteps<T extends object, K extends keyof T & string>(value: T, key: K, sink: (piece: string) => void, write: (v: T[K]) => Steps<void>): Steps<void> {
  if (value[key] === undefined) {
    sink(JSON.stringify(value));
    return;
  }
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  let seen = false;
  for (const k of Object.keys(value)) {
    if (k === key) seen = true;
    else (seen ? after : before)[k] = value[k as keyof T];
  }
  const head = JSON.stringify(before);
  const tail = JSON.stringify(after);
  sink(`${head.slice(0, -1)}${head === '{}' ? '' : ','}${JSON.stringify(key)}:`);
  yield* write(value[key]);
  sink(tail === '{}' ? '}' : `,${tail.slice(1)}`);
}

/** Collects pieces into one string: `const out = textSink(); yield* ...(x, out.add); out.text()`. */
export function textSink(): { add: (piece: string) => void; text: () => string } {
  const parts: string[] = [];
  return { add: (p) => void parts.push(p), text: () => parts.join('') };
}

/**
 * JSON.parse(text) for a JSON object, where the values at the paths in `paced` (big flat tables, e.g. a
 * weights body's "subnets") are parsed in steps: STEP_ITEMS entries at a time, each slice of text given
 * to JSON.parse. At 1M subnets one JSON.parse of the stored weights was ~1 s of the API's thread. (A
 * big array arriving over the network is read as it arrives instead: lib/json-array-stream.ts.) A path is
 * keys joined by "." from the top object (objects on the way are walked, not parsed whole). The keys of
 * a paced table are remembered for keysOnce() (so a view built from it never collects them).
 * Valid JSON gives what JSON.parse gives; malformed text throws a SyntaxError (not always JSON.parse's).
 */
export function* parseJsonObjectSteps(text: string, paced: ReadonlySet<string>): Steps<Record<string, unknown>> {
  const { value, end } = yield* parseObjectSteps(text, skipSpace(text, 0), paced, '');
  if (skipSpace(text, end) !== text.length) throw new SyntaxError(`unexpected text after the JSON object at ${end}`);
  return value;
}

/**
 * `path` is where this object sits ('' for the top): its keys are read and compared with `paced`;
 * null inside a paced table, whose keys are never looked at one by one (1M of them).
 */
function* parseObjectSteps(text: string, i: number, paced: ReadonlySet<string>, path: string | null): Steps<{ value: Record<string, unknown>; end: number }> {
  if (text.charCodeAt(i) !== 0x7b) throw new SyntaxError(`expected "{" at ${i}`);
  const value: Record<string, unknown> = {};
  const keys: string[] = [];
  let plainKeys = true;
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) === 0x7d) return { value, end: i + 1 };
  let chunkStart = i;
  // The comma before the entry at `i` (-1 for the first): a chunk ends before it.
  let comma = -1;
  let n = 0;
  const flush = (to: number) => {
    if (to <= chunkStart) return;
    const part = JSON.parse(`{${text.slice(chunkStart, to)}}`) as Record<string, unknown>;
    for (const k of Object.keys(part)) {
      if (!Object.hasOwn(value, k)) {
        keys.push(k);
        if (ARRAY_INDEX.test(k)) plainKeys = false;
      }
      Object.defineProperty(value, k, { value: part[k], writable: true, enumerable: true, configurable: true });
    }
  };
  for (;;) {
    const keyEnd = valueEnd(text, i);
    const colon = skipSpace(text, keyEnd);
    if (text.charCodeAt(colon) !== 0x3a) throw new SyntaxError(`expected ":" at ${colon}`);
    const at = skipSpace(text, colon + 1);
    let end: number;
    const at0 = text.charCodeAt(at);
    const key = path === null ? '' : (JSON.parse(text.slice(i, keyEnd)) as string);
    const full = path === null ? '' : path === '' ? key : `${path}.${key}`;
    const inner = path === null ? null : paced.has(full) ? (at0 === 0x7b ? parseObjectSteps(text, at, paced, null) : null) : at0 === 0x7b && leadsToPaced(paced, full) ? parseObjectSteps(text, at, paced, full) : null;
    if (inner) {
      flush(Math.max(comma, chunkStart));
      const parsed = yield* inner;
      Object.defineProperty(value, key, { value: parsed.value, writable: true, enumerable: true, configurable: true });
      if (!keys.includes(key)) keys.push(key);
      end = parsed.end;
      chunkStart = skipSpace(text, end);
      if (text.charCodeAt(chunkStart) === 0x2c) chunkStart++;
    } else {
      end = valueEnd(text, at);
    }
    const next = skipSpace(text, end);
    const c = text.charCodeAt(next);
    if (c === 0x7d) {
      flush(next);
      if (path === null && plainKeys) keyCache.set(value, keys);
      return { value, end: next + 1 };
    }
    if (c !== 0x2c) throw new SyntaxError(`expected "," or "}" at ${next}`);
    if (++n % STEP_ITEMS === 0) {
      flush(next);
      chunkStart = next + 1;
      yield;
    }
    comma = next;
    i = skipSpace(text, next + 1);
  }
}

function leadsToPaced(paced: ReadonlySet<string>, path: string): boolean {
  for (const p of paced) if (p.startsWith(`${path}.`)) return true;
  return false;
}

/** Integer-like keys come first in an object whatever their order in the text: such a table's keys are not remembered. */
const ARRAY_INDEX = /^(?:0|[1-9]\d*)$/;

/** scanValue for a whole text: its end is the end of the JSON. */
function valueEnd(text: string, i: number): number {
  const end = scanValue(text, i);
  if (end === INCOMPLETE) throw new SyntaxError('unexpected end of JSON');
  return end;
}
