// A JSON object read chunk by chunk as it arrives, where one big array inside it (a PromQL answer's
// data.result: ~60 MB at 1M subnets) is handed over in parsed batches of its elements, and the rest of
// the object (a few small keys) is parsed whole at the end.
//
// Why: the body used to be joined into one string and then parsed in paced steps. The join is one piece
// no pacing can split: for a 60 MB answer it was 150-185 ms of the event loop (a fresh string in
// large-object space, and the GC it set off), against the ≤ 100 ms the scheduler's thread may stall
// (issue 15). Here each chunk (16-64 KB) is scanned and its whole elements parsed when it arrives, a
// fraction of a millisecond each; the body never exists as one string, so neither does its copy.
//
// How: three modes. "head" re-scans the text so far (a few hundred bytes) for the array at `path`;
// "array" cuts elements with json-scan.ts's boundary scan, carrying an element cut by a chunk's end over
// to the next chunk; "tail" collects what follows the array. At the end, head + "[]" + tail is given to
// JSON.parse, which validates the object around the array. A head that grows past `maxHeadChars` without
// the array (not the answer expected) stops being re-scanned and the whole body is parsed at the end.
import { INCOMPLETE, scanString, scanValue, skipSpace } from './json-scan.ts';

export interface JsonArrayStreamOptions {
  /** Elements per JSON.parse at most (the rest of a chunk's elements wait for the chunk's end). */
  batch?: number;
  /** Head text re-scanned for the array at most; past it the body is parsed whole at the end. */
  maxHeadChars?: number;
  /** An element longer than this is refused (a chunk would re-scan it from its start each time). */
  maxElementChars?: number;
}

export interface JsonArrayStreamEnd {
  /**
   * The object, the array at `path` left out of it as `[]` when it was streamed. (Were the array's key
   * repeated after it, JSON.parse would keep the later value; here the streamed array is the first.)
   */
  value: Record<string, unknown>;
  /** Whether the array at `path` was found and its elements handed over. */
  streamed: boolean;
  /** Elements handed over. */
  elements: number;
}

type Mode = 'head' | 'array' | 'tail' | 'whole';
/** In "array" mode: what the scan expects next. */
type Expect = 'first' | 'element' | 'separator';

export class JsonArrayStream {
  private mode: Mode = 'head';
  private expect: Expect = 'first';
  private head = '';
  /** In "array" mode, the text not yet cut into elements (an element the last chunk ended inside). */
  private carry = '';
  private readonly rest: string[] = [];
  private pending: string[] = [];
  private handed = 0;
  private read = 0;
  private failure: unknown;
  private readonly batch: number;
  private readonly maxHeadChars: number;
  private readonly maxElementChars: number;

  /**
   * `onElements` gets each batch of parsed elements with the index of the first; an exception it throws
   * fails the stream like malformed text (end() rethrows it).
   */
  constructor(
    private readonly path: readonly string[],
    private readonly onElements: (elements: unknown[], first: number) => void,
    opts: JsonArrayStreamOptions = {},
  ) {
    if (path.length === 0) throw new Error('JsonArrayStream: the path to the array is empty');
    this.batch = opts.batch ?? 2048;
    this.maxHeadChars = opts.maxHeadChars ?? 1 << 20;
    this.maxElementChars = opts.maxElementChars ?? 1 << 20;
  }

  /** The body's length so far, in UTF-16 units. */
  get chars(): number {
    return this.read;
  }

  /** One more piece of the body. Never throws: a failure is kept for end(), and later chunks are only counted. */
  write(chunk: string): void {
    this.read += chunk.length;
    if (this.failure !== undefined) return;
    try {
      this.take(chunk);
      this.flush();
    } catch (err) {
      this.failure = err;
      this.pending = [];
    }
  }

  /** The body has ended: the object around the array, or the first failure (a SyntaxError for malformed text). */
  end(): JsonArrayStreamEnd {
    if (this.failure !== undefined) throw this.failure;
    const done = { elements: this.handed };
    switch (this.mode) {
      case 'head':
      case 'whole':
        return { value: parseObject([this.head, ...this.rest].join('')), streamed: false, ...done };
      case 'array':
        throw new SyntaxError(`unexpected end of JSON inside ${this.path.join('.')} after ${this.handed} elements`);
      case 'tail':
        return { value: parseObject(`${this.head}[]${this.rest.join('')}`), streamed: true, ...done };
    }
  }

  private take(chunk: string): void {
    switch (this.mode) {
      case 'head': {
        this.head += chunk;
        const open = findArray(this.head, this.path);
        if (open === NOT_THERE || (open === INCOMPLETE && this.head.length > this.maxHeadChars)) {
          this.mode = 'whole';
          return;
        }
        if (open === INCOMPLETE) return;
        // The head keeps the text up to the array's "[" (exclusive); the rest of it is the array's.
        const after = this.head.slice(open + 1);
        this.head = this.head.slice(0, open);
        this.mode = 'array';
        this.cut(after);
        return;
      }
      case 'array':
        this.cut(this.carry + chunk);
        return;
      case 'tail':
      case 'whole':
        this.rest.push(chunk);
        return;
    }
  }

  /** Cuts the array's text into elements, up to its end or the text's; keeps an unfinished element in carry. */
  private cut(text: string): void {
    let i = skipSpace(text, 0);
    for (;;) {
      if (i >= text.length) {
        this.carry = '';
        return;
      }
      if (this.expect === 'separator' || this.expect === 'first') {
        const c = text.charCodeAt(i);
        if (c === 0x5d) {
          this.mode = 'tail';
          this.rest.push(text.slice(i + 1));
          return;
        }
        if (this.expect === 'separator') {
          if (c !== 0x2c) throw new SyntaxError(`expected "," or "]" after element ${this.handed + this.pending.length - 1} of ${this.path.join('.')}`);
          i = skipSpace(text, i + 1);
          this.expect = 'element';
          continue;
        }
        this.expect = 'element';
      }
      const end = scanValue(text, i);
      if (end === INCOMPLETE) {
        if (text.length - i > this.maxElementChars) throw new SyntaxError(`element ${this.handed + this.pending.length} of ${this.path.join('.')} is longer than ${this.maxElementChars} characters`);
        this.carry = text.slice(i);
        return;
      }
      this.pending.push(text.slice(i, end));
      if (this.pending.length >= this.batch) this.flush();
      this.expect = 'separator';
      i = skipSpace(text, end);
    }
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const elements = JSON.parse(`[${this.pending.join(',')}]`) as unknown[];
    // An element that was more than one JSON value (`1 2`) fails the parse above; one that was less
    // (`[1,,2]` cut as "1", "", ...) never reaches it: scanValue refuses an empty value.
    this.pending = [];
    const first = this.handed;
    this.handed += elements.length;
    this.onElements(elements, first);
  }
}

/** findArray's answer when the text holds an object without the path's array (or no object at all). */
const NOT_THERE = -2;

/**
 * Where the array at `path` opens in `text` (the index of its "["), INCOMPLETE when the text ends
 * before it is known, NOT_THERE when the object is done (or malformed) without it. Objects on the way
 * are walked, other values skipped by their boundaries.
 */
function findArray(text: string, path: readonly string[]): number {
  const i = skipSpace(text, 0);
  if (i >= text.length) return INCOMPLETE;
  if (text.charCodeAt(i) !== 0x7b) return NOT_THERE;
  return findInObject(text, i, path, 0).at;
}

function findInObject(text: string, i: number, path: readonly string[], depth: number): { at: number; end: number } {
  i = skipSpace(text, i + 1);
  if (i >= text.length) return { at: INCOMPLETE, end: 0 };
  if (text.charCodeAt(i) === 0x7d) return { at: NOT_THERE, end: i + 1 };
  for (;;) {
    if (text.charCodeAt(i) !== 0x22) return { at: NOT_THERE, end: 0 };
    const keyEnd = scanString(text, i);
    if (keyEnd === INCOMPLETE) return { at: INCOMPLETE, end: 0 };
    const colon = skipSpace(text, keyEnd);
    if (colon >= text.length) return { at: INCOMPLETE, end: 0 };
    if (text.charCodeAt(colon) !== 0x3a) return { at: NOT_THERE, end: 0 };
    const at = skipSpace(text, colon + 1);
    if (at >= text.length) return { at: INCOMPLETE, end: 0 };
    let end: number;
    if ((JSON.parse(text.slice(i, keyEnd)) as string) === path[depth]) {
      const open = text.charCodeAt(at);
      if (depth === path.length - 1 && open === 0x5b) return { at, end: 0 };
      if (depth < path.length - 1 && open === 0x7b) {
        const inner = findInObject(text, at, path, depth + 1);
        if (inner.at !== NOT_THERE || inner.end === 0) return inner;
        end = inner.end;
      } else {
        end = scanValue(text, at);
      }
    } else {
      end = scanValue(text, at);
    }
    if (end === INCOMPLETE) return { at: INCOMPLETE, end: 0 };
    const next = skipSpace(text, end);
    if (next >= text.length) return { at: INCOMPLETE, end: 0 };
    const c = text.charCodeAt(next);
    if (c === 0x7d) return { at: NOT_THERE, end: next + 1 };
    if (c !== 0x2c) return { at: NOT_THERE, end: 0 };
    i = skipSpace(text, next + 1);
    if (i >= text.length) return { at: INCOMPLETE, end: 0 };
  }
}

function parseObject(text: string): Record<string, unknown> {
  const value = JSON.parse(text) as unknown;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SyntaxError('the body is not a JSON object');
  return value as Record<string, unknown>;
}
