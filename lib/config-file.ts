// Loads a YAML config file and validates it with a zod schema. A bad file is reported as
// "FILE: key.path: what was expected" so the operator can fix it without reading code.
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: { key: string; message: string }[],
  ) {
    super(problems.map((p) => `${file}: ${p.key ? `${p.key}: ` : ''}${p.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** Validates an already-parsed document; `file` names it in errors. */
export function validateConfig<S extends z.ZodType>(schema: S, doc: unknown, file: string): z.output<S> {
  const result = schema.safeParse(doc ?? {});
  if (result.success) return result.data;
  throw new ConfigError(
    file,
    result.error.issues.map((issue) => ({ key: formatPath(issue.path), message: describeIssue(issue) })),
  );
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
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const msg = err instanceof YAMLParseError ? err.message.split('\n')[0]! : String(err);
    throw new ConfigError(file, [{ key: '', message: `not valid YAML: ${msg}` }]);
  }
  return validateConfig(schema, doc, file);
}
