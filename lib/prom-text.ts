// A parser for the Prometheus text exposition format (what /metrics serves), for the scheduler's
// embedded mode, which scrapes agents itself when no Prometheus is configured. Lines it cannot read
// are reported, never guessed at.
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedExposition {
  samples: PromSample[];
  /** Metric family -> type from "# TYPE" lines. */
  types: Map<string, string>;
  errors: string[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

export function parsePromText(text: string): ParsedExposition {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  const errors: string[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (m) types.set(m[1]!, m[2]!);
      continue;
    }
    const parsed = parseSampleLine(line);
    if (typeof parsed === 'string') errors.push(`line ${n + 1}: ${parsed}`);
    else samples.push(parsed);
  }
  return { samples, types, errors };
}

function parseSampleLine(line: string): PromSample | string {
  const nameMatch = NAME.exec(line);
  if (!nameMatch) return 'no metric name';
  const name = nameMatch[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++;
      if (line[i] === '}') { i++; break; }
      const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
      if (!key) return 'bad label name';
      i += key[0].length;
      if (line[i] !== '=' || line[i + 1] !== '"') return `label ${key[0]}: expected ="`;
      i += 2;
      let value = '';
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\') {
          const next = line[i + 1];
          value += next === 'n' ? '\n' : (next ?? '');
          i += 2;
        } else {
          value += line[i];
          i++;
        }
      }
      if (line[i] !== '"') return `label ${key[0]}: unterminated value`;
      i++;
      labels[key[0]] = value;
    }
  }
  const rest = line.slice(i).trim().split(/\s+/);
  const value = parseValue(rest[0] ?? '');
  if (value === null) return `value "${rest[0] ?? ''}" is not a number`;
  return { name, labels, value };
}

function parseValue(text: string): number | null {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === '' || !/^[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?)$/.test(text)) return null;
  return Number(text);
}
