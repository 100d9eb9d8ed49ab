// JSON.stringify of big flat tables in steps (lib/steps.ts), as pieces whose concatenation is exactly
// the text JSON.stringify(table) gives: a 1M-subnet table is 0.2-1 s of one thread in one piece. The
// pieces go to a sink (a hash's update(), or an array joined later), so no caller needs the whole text
// at once. Exactness matters: content versions are hashes of this text, compared across replicas.
import { STEP_ITEMS, type Steps } from './steps.ts';

/**
 * JSON.stringify(table) for a plain object of JSON values (no undefined, functions or toJSON inside),
 * STEP_ITEMS entries per piece. Key order is the object's own (for..in over a plain object, as
 * JSON.stringify walks it). `each` sees every entry as it is written.
 */
export function* objectJsonSteps<V>(table: Record<string, V>, sink: (piece: string) => void, each?: (key: string, value: V) => void): Steps<void> {
  let piece = '{';
  let n = 0;
  for (const key in table) {
    const value = table[key]!;
    each?.(key, value);
    piece += `${n === 0 ? '' : ','}${JSON.stringify(key)}:${JSON.stringify(value)}`;
    if (++n % STEP_ITEMS === 0) {
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
 * JSON.stringify(value) where `key`, the LAST own key of `value`, is written by `last` in steps (the
 * rest is small and written in one piece). If `key` is not the last key, the whole value is written in
 * one piece: still the exact text, only not paced.
 */
export function* lastKeyJsonSteps<T extends object, K extends keyof T & string>(value: T, key: K, sink: (piece: string) => void, last: (v: T[K]) => Steps<void>): Steps<void> {
  const keys = Object.keys(value);
  if (keys.at(-1) !== key || value[key] === undefined) {
    sink(JSON.stringify(value));
    return;
  }
  // The same object with the big value replaced by null: identical text up to its last key's value.
  const head = JSON.stringify({ ...value, [key]: null });
  sink(head.slice(0, -'null}'.length));
  yield* last(value[key]);
  sink('}');
}

/** Collects pieces into one string: `const out = textSink(); yield* ...(x, out.add); out.text()`. */
export function textSink(): { add: (piece: string) => void; text: () => string } {
  const parts: string[] = [];
  return { add: (p) => void parts.push(p), text: () => parts.join('') };
}
