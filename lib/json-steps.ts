// JSON.stringify of big flat tables in steps (lib/steps.ts), as pieces whose concatenation is exactly
// the text JSON.stringify(table) gives: a 1M-subnet table is 0.2-1 s of one thread in one piece. The
// pieces go to a sink (a hash's update(), or an array joined later), so no caller needs the whole text
// at once. Exactness matters: content versions are hashes of this text, compared across replicas.
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
 * JSON.stringify(table) for a plain object of JSON values (no undefined, functions or toJSON inside),
 * STEP_ITEMS entries per piece. `keys` are the table's own keys in its order (JSON.stringify's order;
 * keysOnce() for a table enumerated more than once). `each` sees every entry as it is written.
 */
export function* objectJsonSteps<V>(table: Record<string, V>, sink: (piece: string) => void, each?: (key: string, value: V) => void, keys: readonly string[] = Object.keys(table)): Steps<void> {
  let piece = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const value = table[key]!;
    each?.(key, value);
    piece += `${i === 0 ? '' : ','}${JSON.stringify(key)}:${JSON.stringify(value)}`;
    if ((i + 1) % STEP_ITEMS === 0) {
      sink(piece);
      piece = '';
      yield;
    }
  }
  sink(`${piece}}`);
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
