// Where JSON values end in a text, without parsing them: the boundary scans that lib/json-steps.ts
// (a whole text, paced) and lib/json-array-stream.ts (a text arriving in chunks) cut bodies with before
// handing pieces to JSON.parse, which validates. Each scan returns INCOMPLETE when the text ends first:
// the streaming reader then waits for the next chunk, the whole-text reader throws.

/** The text ended inside the value (or before it started). */
export const INCOMPLETE = -1;

export function skipSpace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/**
 * The index just after the JSON value starting at `i` (strings, numbers, literals, nested values), or
 * INCOMPLETE. Not a validator. A number or literal running to the end of the text is INCOMPLETE: more
 * digits may follow in the next chunk.
 */
export function scanValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (Number.isNaN(c)) return INCOMPLETE;
  if (c === 0x22) return scanString(text, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (;;) {
      const ch = text.charCodeAt(i);
      if (Number.isNaN(ch)) return INCOMPLETE;
      if (ch === 0x22) {
        i = scanString(text, i);
        if (i === INCOMPLETE) return INCOMPLETE;
        continue;
      }
      if (ch === 0x7b || ch === 0x5b) depth++;
      else if ((ch === 0x7d || ch === 0x5d) && --depth === 0) return i + 1;
      i++;
    }
  }
  let j = i;
  for (;;) {
    const ch = text.charCodeAt(j);
    if (Number.isNaN(ch)) return INCOMPLETE;
    if (ch === 0x2c || ch === 0x7d || ch === 0x5d || ch === 0x20 || ch === 0x0a || ch === 0x0d || ch === 0x09) break;
    j++;
  }
  if (j === i) throw new SyntaxError(`expected a JSON value at ${i}`);
  return j;
}

/** The index just after the string whose opening quote is at `i`, or INCOMPLETE. */
export function scanString(text: string, i: number): number {
  for (i++; ; i++) {
    const ch = text.charCodeAt(i);
    if (Number.isNaN(ch)) return INCOMPLETE;
    if (ch === 0x5c) i++;
    else if (ch === 0x22) return i + 1;
  }
}
