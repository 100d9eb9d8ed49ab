// `sluice solve`'s input from JSON text straight to the decision core's flat form (input.ts): the
// sources are read into typed arrays as the text is scanned, so a 100k × 20 problem never becomes 100k
// source records holding 2 million boxed numbers (JSON.parse of those, and the garbage collector moving
// them, were most of the whole process's time).
//
// It is a fast road to the same place as the general one, JSON.parse → readProblem → implicit origins
// → densify(), and it gives way to it whenever it is not sure:
//  - text this scanner does not read as plain JSON (a syntax error, "__proto__", a repeated top-level
//    key, sources that are not an array, ...): parseProblemText returns null and the caller takes the
//    general road, which reports the JSON error or the schema problem exactly as before;
//  - a source that is not in the plain valid form (any unexpected key, type or range, a repeated or
//    integer-like key in rtt_ms): that element alone is read as JSON.parse would and validated by zod's
//    SourceSchema, so it is accepted or explained in the same words (a valid source with connection
//    state, a sticky point or excluded origins sends the whole problem the general road);
//  - everything but the sources (settings, origins, current) goes through readProblem (read-problem.ts).
// Pure: no I/O. problem-text.test.ts checks both roads give the same dense problem and the same errors.
import { ConfigError, issueProblems } from '../../lib/config-file.ts';
import { readCurrent, RttBuilder, type DenseProblem } from './input.ts';
import { readProblem } from './read-problem.ts';
import { SourceSchema } from './schema.ts';
import type { OriginState } from './types.ts';

const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k); // exact up to 10^22

/** Thrown inside the scanner: this text is for the general road. */
class GiveWay extends Error {}

export interface ParsedProblem {
  dense: DenseProblem;
  /** Origins sources have RTTs for that are not declared: added as unlimited and healthy (in this order). */
  implicit: string[];
}

/** An undeclared origin as `sluice solve` assumes it. */
export function implicitOrigin(id: string): OriginState {
  return { id, target_rps: Infinity, max_rps: Infinity, healthy: true, admin_state: 'active', static_weight: 1, priority: 0 };
}

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const MINUS = 45;
const DOT = 46;

/** Growable typed columns for the sources (doubling, like input.ts's readCurrent). */
class Columns {
  ids: string[] = [];
  demand = new Float64Array(1024);
  hasLocation = new Uint8Array(1024);
  lat = new Float64Array(1024);
  lon = new Float64Array(1024);
  /** Source i's RTTs are entries rowStart[i] .. rowStart[i + 1] - 1, in the order they were written. */
  rowStart = new Int32Array(1025);
  key = new Int32Array(4096);
  value = new Float64Array(4096);
  entries = 0;
  keyIds = new Map<string, number>();
  keys: string[] = [];
  /** The previous source's rtt_ms keys by position: the next source usually lists the same ones. */
  previousKeys: (string | undefined)[] = [];
  private readonly positionKey: string[] = [];
  private readonly positionKeyId: number[] = [];

  get n(): number {
    return this.ids.length;
  }

  /** 1 + the last source that named key k: a repeated key within one source is seen at once. */
  private lastSource = new Int32Array(64);

  /**
   * Writes source i's RTT to an origin; false (nothing written) when source i already named it. i = -1:
   * no such check (the keys of a record zod returned are distinct).
   */
  rtt(keyText: string, v: number, i: number, position = -1): boolean {
    // The same key as at this position in the previous record (the usual case): no hash lookup.
    let k = position >= 0 && this.positionKey[position] === keyText ? this.positionKeyId[position] : this.keyIds.get(keyText);
    if (position >= 0) {
      this.positionKey[position] = keyText;
      this.positionKeyId[position] = k ?? this.keys.length;
    }
    if (k === undefined) {
      this.keyIds.set(keyText, (k = this.keys.push(keyText) - 1));
      if (k === this.lastSource.length) this.lastSource = grow(this.lastSource, new Int32Array(2 * k));
    } else if (i >= 0 && this.lastSource[k] === i + 1) return false;
    if (i >= 0) this.lastSource[k] = i + 1;
    if (this.entries === this.key.length) {
      this.key = grow(this.key, new Int32Array(this.key.length * 2));
      this.value = grow(this.value, new Float64Array(this.value.length * 2));
    }
    this.key[this.entries] = k;
    this.value[this.entries++] = v;
    return true;
  }

  /** Ends source n: its id, demand and location; its RTTs are the entries written since the last one. */
  add(id: string, demand: number, lat: number | undefined, lon: number | undefined): void {
    const i = this.ids.length;
    if (i === this.demand.length) {
      const size = i * 2;
      this.demand = grow(this.demand, new Float64Array(size));
      this.hasLocation = grow(this.hasLocation, new Uint8Array(size));
      this.lat = grow(this.lat, new Float64Array(size));
      this.lon = grow(this.lon, new Float64Array(size));
      this.rowStart = grow(this.rowStart, new Int32Array(size + 1));
    }
    this.ids.push(id);
    this.demand[i] = demand > 0 ? demand : 0; // as densify() does (-0 too)
    if (lat !== undefined && lon !== undefined) {
      this.hasLocation[i] = 1;
      this.lat[i] = lat;
      this.lon[i] = lon;
    }
    this.rowStart[i + 1] = this.entries;
  }
}

function grow<T extends Int32Array | Float64Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

class Scanner {
  pos = 0;
  constructor(readonly s: string) {}

  ws(): void {
    const s = this.s;
    let p = this.pos;
    for (let c = s.charCodeAt(p); c === 32 || c === 10 || c === 13 || c === 9; c = s.charCodeAt(++p));
    this.pos = p;
  }

  peek(): number {
    return this.s.charCodeAt(this.pos);
  }

  expect(c: number): void {
    if (this.s.charCodeAt(this.pos) !== c) throw new GiveWay();
    this.pos++;
  }

  /** An object member's key and its colon, with the whitespace around them. */
  key(): string {
    this.ws();
    const k = this.string();
    this.ws();
    this.expect(COLON);
    this.ws();
    return k;
  }

  /** After a member or element: true on ',' (another follows), false on `close` (consumed). */
  more(close: number): boolean {
    this.ws();
    if (this.peek() === COMMA) {
      this.pos++;
      return true;
    }
    this.expect(close);
    return false;
  }

  /** A string token; escapes decoded as JSON.parse does. */
  string(): string {
    const s = this.s;
    if (s.charCodeAt(this.pos) !== QUOTE) throw new GiveWay();
    const start = this.pos + 1;
    let p = start;
    let escaped = false;
    for (;;) {
      const c = s.charCodeAt(p);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        p += 2;
        continue;
      }
      if (c < 32 || Number.isNaN(c)) throw new GiveWay(); // control character, or the end of the text
      p++;
    }
    this.pos = p + 1;
    if (!escaped) return s.slice(start, p);
    try {
      return JSON.parse(s.slice(start - 1, p + 1)) as string;
    } catch {
      throw new GiveWay(); // a malformed escape: JSON.parse of the whole text explains it
    }
  }

  /**
   * A number token, strictly as JSON writes numbers; its value exactly as JSON.parse reads it. Up to 15
   * significant digits and no exponent (every RTT and demand in practice) it is computed without a
   * string: N / 10^k with N < 2^53 and k <= 22 is one correctly rounded division, hence the nearest
   * double to the decimal (Clinger's fast path, as in strtod). Otherwise the token is converted by Number.
   */
  number(): number {
    const s = this.s;
    const start = this.pos;
    let p = start;
    const negative = s.charCodeAt(p) === MINUS;
    if (negative) p++;
    let c = s.charCodeAt(p);
    let mantissa = 0;
    let digits = 0;
    let scale = 0;
    if (c === 48) c = s.charCodeAt(++p);
    else if (c >= 49 && c <= 57)
      do {
        mantissa = mantissa * 10 + (c - 48);
        digits++;
        c = s.charCodeAt(++p);
      } while (c >= 48 && c <= 57);
    else throw new GiveWay();
    if (c === DOT) {
      c = s.charCodeAt(++p);
      if (!(c >= 48 && c <= 57)) throw new GiveWay();
      do {
        if (mantissa !== 0 || c !== 48) digits++; // leading zeros of 0.00x are not significant
        mantissa = mantissa * 10 + (c - 48);
        scale++;
        c = s.charCodeAt(++p);
      } while (c >= 48 && c <= 57);
    }
    let exponent = false;
    if (c === 101 || c === 69) {
      exponent = true;
      c = s.charCodeAt(++p);
      if (c === 43 || c === MINUS) c = s.charCodeAt(++p);
      if (!(c >= 48 && c <= 57)) throw new GiveWay();
      do c = s.charCodeAt(++p); while (c >= 48 && c <= 57);
    }
    this.pos = p;
    if (exponent || digits > 15 || scale > 22) return +s.slice(start, p);
    const v = scale === 0 ? mantissa : mantissa / POW10[scale]!;
    return negative ? -v : v;
  }

  /**
   * A string token expected to equal `known` (the key at the same place in the previous record): then
   * no new string is made. Only for a `known` without '"' or '\\' (its text is itself, unescaped).
   */
  knownString(known: string | undefined): string {
    const s = this.s;
    const p = this.pos;
    if (known !== undefined && s.charCodeAt(p) === QUOTE && s.startsWith(known, p + 1) && s.charCodeAt(p + 1 + known.length) === QUOTE) {
      this.pos = p + known.length + 2;
      return known;
    }
    return this.string();
  }

  /** Any JSON value, as JSON.parse would build it. */
  value(): unknown {
    this.ws();
    const c = this.peek();
    if (c === OPEN_BRACE) {
      this.pos++;
      const out: Record<string, unknown> = {};
      this.ws();
      if (this.peek() === CLOSE_BRACE) {
        this.pos++;
        return out;
      }
      do {
        const key = this.key();
        if (key === '__proto__') throw new GiveWay(); // an own property to JSON.parse, a prototype here
        out[key] = this.value();
      } while (this.more(CLOSE_BRACE));
      return out;
    }
    if (c === OPEN_BRACKET) {
      this.pos++;
      const out: unknown[] = [];
      this.ws();
      if (this.peek() === CLOSE_BRACKET) {
        this.pos++;
        return out;
      }
      do out.push(this.value());
      while (this.more(CLOSE_BRACKET));
      return out;
    }
    if (c === QUOTE) return this.string();
    if (c === MINUS || (c >= 48 && c <= 57)) return this.number();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.s.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    throw new GiveWay();
  }
}

/** Integer-like keys reorder a JS object (rtt_ms), so such a source takes the element-by-element road. */
const isIndexLike = (k: string) => k.length > 0 && k.charCodeAt(0) >= 48 && k.charCodeAt(0) <= 57;

/**
 * One source in the plain valid form, written to the columns; false (columns untouched) when it is in
 * any other form, leaving the scanner anywhere inside it.
 */
function plainSource(sc: Scanner, cols: Columns, i: number): boolean {
  const entriesBefore = cols.entries;
  const fail = () => {
    cols.entries = entriesBefore;
    return false;
  };
  if (sc.peek() !== OPEN_BRACE) return false;
  sc.pos++;
  let id: string | undefined;
  let demand = -1;
  let lat: number | undefined;
  let lon: number | undefined;
  let sawRtt = false;
  let sawLocation = false;
  sc.ws();
  if (sc.peek() === CLOSE_BRACE) return false;
  do {
    const key = sc.key();
    if (key === 'id') {
      if (id !== undefined || sc.peek() !== QUOTE) return fail();
      id = sc.string();
      if (id.length === 0) return fail();
    } else if (key === 'demand_rps') {
      if (demand !== -1) return fail();
      const c = sc.peek();
      if (!(c === MINUS || (c >= 48 && c <= 57))) return fail();
      demand = sc.number();
      if (!(demand >= 0 && demand !== Infinity)) return fail();
    } else if (key === 'rtt_ms') {
      if (sawRtt || sc.peek() !== OPEN_BRACE) return fail();
      sawRtt = true;
      let position = 0;
      sc.pos++;
      sc.ws();
      if (sc.peek() === CLOSE_BRACE) sc.pos++;
      else
        do {
          sc.ws();
          const known = cols.previousKeys[position];
          const origin = sc.knownString(known);
          if (origin !== known) {
            if (isIndexLike(origin)) return fail();
            cols.previousKeys[position] = origin.indexOf('"') < 0 && origin.indexOf('\\') < 0 ? origin : undefined;
          }
          sc.ws();
          sc.expect(COLON);
          sc.ws();
          const c = sc.peek();
          if (!(c >= 48 && c <= 57)) return fail(); // a minus sign: negative, zod explains
          const v = sc.number();
          // A key repeated within one source: JSON.parse keeps the last value in the first key's place.
          if (v === Infinity || !cols.rtt(origin, v, i, position++)) return fail();
        } while (sc.more(CLOSE_BRACE));
    } else if (key === 'location') {
      if (sawLocation || sc.peek() !== OPEN_BRACE) return fail();
      sawLocation = true;
      sc.pos++;
      do {
        const k = sc.key();
        const c = sc.peek();
        if (!(c === MINUS || (c >= 48 && c <= 57))) return fail();
        const v = sc.number();
        if (k === 'lat' && lat === undefined && v >= -90 && v <= 90) lat = v;
        else if (k === 'lon' && lon === undefined && v >= -180 && v <= 180) lon = v;
        else return fail();
      } while (sc.more(CLOSE_BRACE));
      if (lat === undefined || lon === undefined) return fail();
    } else return fail();
  } while (sc.more(CLOSE_BRACE));
  if (id === undefined || demand === -1) return fail();
  cols.add(id, demand, lat, lon);
  return true;
}

/** The sources array, from its '[' on: plain sources to the columns, the others through zod. */
function readSources(sc: Scanner, cols: Columns, problems: { key: string; message: string }[]): void {
  sc.expect(OPEN_BRACKET);
  sc.ws();
  if (sc.peek() === CLOSE_BRACKET) {
    sc.pos++;
    return;
  }
  for (let i = 0; ; i++) {
    sc.ws();
    const start = sc.pos;
    if (!plainSource(sc, cols, i)) {
      sc.pos = start;
      const element = sc.value();
      const r = SourceSchema.safeParse(element);
      // Connection state, sticky points (the live loop's) and per-source excluded origins (edge-local
      // reachability) have no columns here: the general road.
      if (r.success && (r.data.connections !== undefined || r.data.pick !== undefined || r.data.excluded !== undefined)) throw new GiveWay();
      if (r.success) {
        for (const origin in r.data.rtt_ms) cols.rtt(origin, r.data.rtt_ms[origin]!, -1);
        cols.add(r.data.id, r.data.demand_rps, r.data.location?.lat, r.data.location?.lon);
      } else {
        problems.push(...issueProblems(r.error.issues, ['sources', i]));
        cols.add('', 0, undefined, undefined); // keeps later sources' indexes right; the problems throw
      }
    }
    if (!sc.more(CLOSE_BRACKET)) return;
  }
}

/**
 * The problem in `text`, flat, with undeclared origins added; null when the text should take the
 * general road (JSON.parse, readProblem, densify). Throws ConfigError naming `file` and each bad field.
 */
export function parseProblemText(text: string, file: string): ParsedProblem | null {
  const sc = new Scanner(text);
  const cols = new Columns();
  const rest: Record<string, unknown> = {};
  const sourceProblems: { key: string; message: string }[] = [];
  let sawSources = false;
  try {
    sc.ws();
    sc.expect(OPEN_BRACE);
    sc.ws();
    if (sc.peek() === CLOSE_BRACE) sc.pos++;
    else
      do {
        const key = sc.key();
        if (key === '__proto__' || Object.hasOwn(rest, key) || (key === 'sources' && sawSources)) return null;
        if (key === 'sources') {
          if (sc.peek() !== OPEN_BRACKET) return null;
          sawSources = true;
          readSources(sc, cols, sourceProblems);
        } else rest[key] = sc.value();
      } while (sc.more(CLOSE_BRACE));
    sc.ws();
    if (sc.pos !== text.length) return null;
  } catch (err) {
    if (err instanceof GiveWay) return null;
    throw err;
  }

  // Everything but the sources: readProblem, zod's schema with its fast road through `current`.
  let problem;
  try {
    problem = readProblem({ ...rest, ...(sawSources ? { sources: [] } : {}) }, file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(file, [...err.problems, ...sourceProblems]);
  }
  const n = cols.n;
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const id = cols.ids[i]!;
    if (id !== '' && seen.has(id)) sourceProblems.push({ key: `sources[${i}].id`, message: `duplicate source id "${id}"` });
    seen.add(id);
  }
  if (sourceProblems.length > 0) throw new ConfigError(file, sourceProblems);

  // Undeclared origins, in the order the sources name them (as addImplicitOrigins finds them).
  const { sources: _sources, current, ...settings } = problem;
  const index = new Map(settings.origins.map((o, j) => [o.id, j]));
  const implicit: string[] = [];
  for (let e = 0; e < cols.entries; e++) {
    const id = cols.keys[cols.key[e]!]!;
    if (index.has(id)) continue;
    index.set(id, settings.origins.length);
    settings.origins.push(implicitOrigin(id));
    implicit.push(id);
  }
  const K = settings.origins.length;
  const column = Int32Array.from(cols.keys, (k) => index.get(k)!);
  const rtt = new RttBuilder(n);
  for (let i = 0; i < n; i++) {
    rtt.row(i);
    for (let e = cols.rowStart[i]!; e < cols.rowStart[i + 1]!; e++) rtt.push(column[cols.key[e]!]!, cols.value[e]!);
  }
  const dense: DenseProblem = {
    settings,
    sourceIds: cols.ids,
    demand: cols.demand.slice(0, n),
    rtt: rtt.done(n),
    hasLocation: cols.hasLocation.slice(0, n),
    lat: cols.lat.slice(0, n),
    lon: cols.lon.slice(0, n),
    current: readCurrent(current, cols.ids, index),
    excluded: new Int32Array(0), // a source naming some took the general road
  };
  return { dense, implicit };
}
