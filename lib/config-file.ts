// Loads a YAML config file and validates it with a zod schema. A bad file is reported as
// "FILE:LINE:COL: key.path: what was expected" (CoreDNS's file:line style) so the operator can fix it
// without reading code. The line is that of the offending key, or of its nearest parent that exists
// when the key is missing.
import { readFileSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from './config-error.ts';

export { ConfigError, type ConfigProblem };

export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

export type Locate = (path: readonly PropertyKey[]) => { line: number; col: number } | undefined;

/** Validates an already-parsed document; `file` names it in errors, `locate` (if given) gives lines. */
export function validateConfig<S extends z.ZodType>(schema: S, doc: unknown, file: string, locate?: Locate): z.output<S> {
  const result = schema.safeParse(doc ?? {});
  if (result.success) return result.data;
  throw new ConfigError(file, issueProblems(result.error.issues, [], locate));
}

/**
 * zod issues as ConfigError problems. `prefix` is prepended to each path (for a part of a document
 * validated alone, e.g. one element of a big array); `locate` gives their lines.
 */
export function issueProblems(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = [], locate?: Locate): ConfigProblem[] {
  return issues.map((issue) => {
    const path = [...prefix, ...issue.path];
    // An unknown key is reported at the key itself, not at the object holding it.
    const at = issue.code === 'unrecognized_keys' && issue.keys.length > 0 ? [...path, issue.keys[0]!] : path;
    return { key: formatPath(path), message: describeIssue(issue), ...locate?.(at) };
  });
}

/**
 * The position of the key at `path` in a parsed YAML document, or of the deepest part of it that is
 * there (a missing key is reported at the object that should hold it). A numeric step into a map is
 * passed over: several keys accept one object where a list of one is meant.
 */
function locator(doc: Document, lines: LineCounter): Locate {
  return (path) => {
    let node: unknown = doc.contents;
    let offset: number | undefined;
    for (const step of path) {
      if (isSeq(node) && typeof step === 'number') {
        node = node.items[step];
        offset = (node as Node | undefined)?.range?.[0] ?? offset;
      } else if (isMap(node) && typeof step !== 'number') {
        const pair = node.items.find((p) => String((p.key as { value?: unknown } | null)?.value ?? p.key) === String(step));
        if (!pair) break;
        offset = (pair.key as Node | null)?.range?.[0] ?? offset;
        node = pair.value;
      } else if (!isMap(node)) {
        break;
      }
      if (node === undefined || node === null) break;
    }
    return offset === undefined ? undefined : lines.linePos(offset);
  };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; check the spelling`;
  return issue.message;
}

export function loadConfigFile<S extends z.ZodType>(schema: S, file: string): z.output<S> {
  const { doc, locate } = readConfigDocument(file);
  return validateConfig(schema, doc, file, locate);
}

/**
 * A config file's document, parsed but not validated, and where each key is (for errors); ConfigError
 * when it cannot be read or parsed.
 *
 * YAML 1.2 reads any JSON document as JSON.parse does, and JSON.parse is ~50x faster on the megabytes a
 * large scenario holds (a 10k-source scenario: ~2 s through the YAML parser). So text that looks like
 * JSON is parsed as JSON first, and the YAML parser runs only if a problem needs a line number. Anything
 * JSON.parse rejects (a YAML flow mapping such as `{a: 1}`, or a syntax error) is YAML's to read.
 */
export function readConfigDocument(file: string): { doc: unknown; locate: Locate } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ key: '', message: `cannot read the file: ${(err as Error).message}` }]);
  }
  const first = /\S/.exec(text)?.[0];
  if (first === '{' || first === '[') {
    try {
      const doc: unknown = JSON.parse(text);
      let located: Locate | undefined;
      return { doc, locate: (path) => (located ??= yamlDocument(text, file).locate)(path) };
    } catch {
      // not JSON after all: YAML decides
    }
  }
  const { doc, locate } = yamlDocument(text, file);
  return { doc: doc.toJS(), locate };
}

function yamlDocument(text: string, file: string): { doc: Document; locate: Locate } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
  const broken = doc.errors[0];
  if (broken) {
    const at = broken.linePos?.[0];
    throw new ConfigError(file, [{ key: '', message: `not valid YAML: ${broken.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, ...(at ? { line: at.line, col: at.col } : {}) }]);
  }
  return { doc, locate: locator(doc, lines) };
}
