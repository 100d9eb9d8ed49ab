// A bad config file: which file, which key (and where, when known), what was expected. Its own module
// with no dependency, so the CLI can recognise it (exit code 2, no stack trace) without loading the
// YAML parser and zod.
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
