// Loads a YAML config file and validates it with a zod schema. A bad file is reported as
// "FILE:LINE:COL: key.path: what was expected" (CoreDNS's file:line style) so the operator can fix it
// without reading code. The line is that of the offending key, or of its nearest parent that exists
// when the key is missing.
import { readFileSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';

export interface ConfigProblem {
  key: string;
  message: string;
  /** 1-based position in the file, when the problem has one. */
  line?: number;
  col?: number;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(problems.map((p) => `${file}${p.line ? `:${p.line}:${p.col ?? 1}` : ''}: ${p.key ? `${p.key}: ` : ''}${p.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

type Locate = (path: readonly PropertyKey[]) => { line: number; col: number } | undefined;

/** Validates an already-parsed document; `file` names it in errors, `locate` (if given) gives lines. */
export function validateConfig<S extends z.ZodType>(schema: S, doc: unknown, file: string, locate?: Locate): z.output<S> {
  const result = schema.safeParse(doc ?? {});
  if (result.success) return result.data;
  throw new ConfigError(
    file,
    result.error.issues.map((issue) => {
      // An unknown key is reported at the key itself, not at the object holding it.
      const at = issue.code === 'unrecognized_keys' && issue.keys.length > 0 ? [...issue.path, issue.keys[0]!] : issue.path;
      return { key: formatPath(issue.path), message: describeIssue(issue), ...locate?.(at) };
    }),
  );
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
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ key: '', message: `cannot read the file: ${(err as Error).message}` }]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
  const broken = doc.errors[0];
  if (broken) {
    const at = broken.linePos?.[0];
    throw new ConfigError(file, [{ key: '', message: `not valid YAML: ${broken.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, ...(at ? { line: at.line, col: at.col } : {}) }]);
  }
  return validateConfig(schema, doc.toJS(), file, locator(doc, lines));
}
