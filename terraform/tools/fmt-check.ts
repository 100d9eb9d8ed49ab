// Checks the common rules of `terraform fmt` without a terraform binary. It approximates hclwrite's
// formatter (hclwrite/format.go) closely enough for hand-written modules:
//   - indentation: 2 spaces per bracket level, computed per line the way hclwrite does (a line with
//     a net increase of open brackets indents what follows by one level; a net decrease dedents);
//   - alignment: in a run of consecutive single-line attributes (`name = value` whose value is
//     complete on the line), every `=` sits one space after the longest name;
//   - spacing: one space after `=`, no other runs of spaces outside strings and comments;
//   - no tabs, no trailing whitespace, no CRLF, exactly one newline at the end of the file.
// It does not reorder, rewrite expressions or normalise quoting as terraform fmt may.

export interface FmtProblem {
  line: number;
  message: string;
}

interface Token {
  kind: 'open' | 'close' | 'eq' | 'str' | 'comment' | 'other';
  start: number; // column (0-based) on its line
  end: number;
}

interface Line {
  text: string;
  tokens: Token[];
  /** Inside a heredoc or a block comment: exempt from layout checks. */
  verbatim: boolean;
}

function tokenize(src: string): Line[] {
  const rawLines = src.split('\n');
  const lines: Line[] = rawLines.map((text) => ({ text, tokens: [], verbatim: false }));
  let heredoc: string | null = null;
  let blockComment = false;
  // Strings may span interpolations with nested strings; they never span lines in these files.
  for (let ln = 0; ln < rawLines.length; ln++) {
    const text = rawLines[ln]!;
    const line = lines[ln]!;
    if (heredoc !== null) {
      line.verbatim = true;
      if (text.trim() === heredoc) heredoc = null;
      continue;
    }
    let i = 0;
    if (blockComment) {
      line.verbatim = true;
      const endAt = text.indexOf('*/');
      if (endAt < 0) continue;
      blockComment = false;
      i = endAt + 2;
    }
    while (i < text.length) {
      const c = text[i]!;
      if (c === ' ' || c === '\t') {
        i++;
        continue;
      }
      if (c === '#' || text.startsWith('//', i)) {
        line.tokens.push({ kind: 'comment', start: i, end: text.length });
        break;
      }
      if (text.startsWith('/*', i)) {
        const endAt = text.indexOf('*/', i + 2);
        if (endAt < 0) {
          blockComment = true;
          line.tokens.push({ kind: 'comment', start: i, end: text.length });
          break;
        }
        line.tokens.push({ kind: 'comment', start: i, end: endAt + 2 });
        i = endAt + 2;
        continue;
      }
      const here = /^<<-?([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(text.slice(i));
      if (here) {
        heredoc = here[1]!;
        line.tokens.push({ kind: 'open', start: i, end: text.length });
        break;
      }
      if (c === '"') {
        const end = skipString(text, i);
        line.tokens.push({ kind: 'str', start: i, end });
        i = end;
        continue;
      }
      if ('{[('.includes(c)) {
        line.tokens.push({ kind: 'open', start: i, end: i + 1 });
        i++;
        continue;
      }
      if ('}])'.includes(c)) {
        line.tokens.push({ kind: 'close', start: i, end: i + 1 });
        i++;
        continue;
      }
      if (c === '=' && !'=!<>'.includes(text[i - 1] ?? '') && !'=>'.includes(text[i + 1] ?? '')) {
        line.tokens.push({ kind: 'eq', start: i, end: i + 1 });
        i++;
        continue;
      }
      let j = i + 1;
      while (j < text.length && !' \t"#{}[]()='.includes(text[j]!) && !text.startsWith('//', j)) j++;
      // Operators containing "=" (==, !=, <=, >=, =>) stay one token.
      if (j < text.length && text[j] === '=' && ('=!<>'.includes(text[j - 1]!) || text[j + 1] === '=' || text[j + 1] === '>')) j += text[j + 1] === '=' || text[j + 1] === '>' ? 2 : 1;
      line.tokens.push({ kind: 'other', start: i, end: j });
      i = j;
    }
  }
  return lines;
}

/** Returns the index just past the string starting at `i` (a quote), skipping ${...} with nested strings. */
function skipString(text: string, i: number): number {
  let k = i + 1;
  while (k < text.length) {
    const c = text[k];
    if (c === '\\') {
      k += 2;
      continue;
    }
    if (c === '"') return k + 1;
    if ((c === '$' || c === '%') && text[k + 1] === '{' && text[k - 1] !== c) {
      let depth = 1;
      k += 2;
      while (k < text.length && depth > 0) {
        if (text[k] === '"') {
          k = skipString(text, k);
          continue;
        }
        if (text[k] === '{') depth++;
        else if (text[k] === '}') depth--;
        k++;
      }
      continue;
    }
    k++;
  }
  return text.length;
}

const bracketChange = (t: Token): number => (t.kind === 'open' ? 1 : t.kind === 'close' ? -1 : 0);

/** The `=` of a single-line attribute, as hclwrite picks it: the first `=` after the first token, if the rest of the line is bracket-balanced. */
function assignToken(line: Line): Token | null {
  const idx = line.tokens.findIndex((t, i) => i > 0 && t.kind === 'eq');
  if (idx < 0) return null;
  const rest = line.tokens.slice(idx).filter((t) => t.kind !== 'comment');
  return rest.reduce((n, t) => n + bracketChange(t), 0) === 0 ? line.tokens[idx]! : null;
}

export function checkTerraformFormat(src: string): FmtProblem[] {
  const problems: FmtProblem[] = [];
  if (src.includes('\r')) problems.push({ line: 1, message: 'CRLF line endings (terraform fmt writes LF)' });
  if (!src.endsWith('\n') || src.endsWith('\n\n')) problems.push({ line: src.split('\n').length, message: 'the file must end with exactly one newline' });
  const lines = tokenize(src.endsWith('\n') ? src.slice(0, -1) : src);

  // Indentation (hclwrite's indent stack).
  const indents: number[] = [];
  lines.forEach((line, n) => {
    const no = n + 1;
    if (/\t/.test(line.text) && !line.verbatim) problems.push({ line: no, message: 'tab character (use spaces)' });
    if (/[ \t]+$/.test(line.text) && !line.verbatim) problems.push({ line: no, message: 'trailing whitespace' });
    if (line.verbatim || line.tokens.length === 0) return;
    const net = line.tokens.reduce((s, t) => s + bracketChange(t), 0);
    if (net < 0) {
      let closed = -net;
      while (closed > 0 && indents.length > 0) {
        const top = indents[indents.length - 1]!;
        if (closed >= top) {
          closed -= top;
          indents.pop();
        } else {
          indents[indents.length - 1] = top - closed;
          closed = 0;
        }
      }
    }
    const want = 2 * indents.length;
    const have = line.text.length - line.text.trimStart().length;
    if (have !== want) problems.push({ line: no, message: `indented ${have} spaces, terraform fmt indents ${want}` });
    if (net > 0) indents.push(net);
  });

  // Alignment of `=` in runs of single-line attributes, and spacing.
  let chain: { no: number; lead: number; eq: number }[] = [];
  const closeChain = () => {
    const maxLead = Math.max(...chain.map((c) => c.lead));
    for (const c of chain) if (c.eq !== maxLead + 1) problems.push({ line: c.no, message: `"=" at column ${c.eq + 1}; aligned with its neighbours it belongs at column ${maxLead + 2}` });
    chain = [];
  };
  lines.forEach((line, n) => {
    const no = n + 1;
    const eq = line.verbatim ? null : assignToken(line);
    if (!eq) {
      if (chain.length > 0) closeChain();
    } else {
      chain.push({ no, lead: line.text.slice(0, eq.start).trimEnd().length, eq: eq.start });
      const after = line.text.slice(eq.end);
      if (!/^ \S/.test(after)) problems.push({ line: no, message: 'exactly one space after "="' });
    }
    if (line.verbatim) return;
    // Runs of 2+ spaces between tokens: allowed only as the alignment gap before the assignment.
    for (let i = 1; i < line.tokens.length; i++) {
      const prev = line.tokens[i - 1]!;
      const tok = line.tokens[i]!;
      const gap = tok.start - prev.end;
      if (gap > 1 && tok !== eq && tok.kind !== 'comment') problems.push({ line: no, message: `${gap} spaces between tokens at column ${prev.end + 1}` });
    }
  });
  if (chain.length > 0) closeChain();
  return problems;
}
