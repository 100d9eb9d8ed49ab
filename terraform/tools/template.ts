// A renderer for the subset of Terraform's template language (templatefile()) that sluice's templates
// use, so tests can render cloud-init and configs from module inputs without a terraform binary:
//   ${expr}  %{ if expr } ... %{ else } ... %{ endif }  %{ for x in expr } ... %{ endfor }
//   strip markers (~), $${ and %%{ escapes.
// Expressions: literals, references (a.b, a[0], a["k"]), function calls (jsonencode, join, length,
// upper, lower, tostring), ! && || == != < <= > >= and cond ? a : b.
//
// Strip markers follow HCL (hclsyntax/parser_template.go): literal text is split into per-line
// tokens, and `~}` trims leading whitespace of the next literal token only, so a directive alone on
// its line disappears with its newline while the next line keeps its indentation.
// Interpolating anything but a string, number or bool is an error, as in Terraform.

export type Value = string | number | boolean | null | Value[] | { [key: string]: Value };

export class TemplateError extends Error {
  override name = 'TemplateError';
}

type Expr =
  | { kind: 'lit'; value: Value }
  | { kind: 'ref'; name: string }
  | { kind: 'attr'; target: Expr; name: string }
  | { kind: 'index'; target: Expr; index: Expr }
  | { kind: 'call'; fn: string; args: Expr[] }
  | { kind: 'unary'; op: '!' | '-'; arg: Expr }
  | { kind: 'binary'; op: string; left: Expr; right: Expr }
  | { kind: 'cond'; test: Expr; then: Expr; else: Expr };

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'interp'; expr: Expr }
  | { kind: 'if'; test: Expr; then: Node[]; else: Node[] }
  | { kind: 'for'; key: string | null; value: string; coll: Expr; body: Node[] };

type Part =
  | { kind: 'text'; text: string }
  | { kind: 'interp'; expr: Expr }
  | { kind: 'ctl'; word: 'if' | 'else' | 'endif' | 'for' | 'endfor'; expr?: Expr; key?: string | null; value?: string; at: number };

// ---------------------------------------------------------------------------------------------
// Expressions

const PUNCT = ['==', '!=', '<=', '>=', '&&', '||', '(', ')', '[', ']', ',', '.', '!', '<', '>', '?', ':', '-'];

interface Tok {
  t: 'id' | 'num' | 'str' | 'p' | 'end';
  v: string;
}

function lexExpr(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i))!;
      toks.push({ t: 'id', v: m[0] });
      i += m[0].length;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(src.slice(i))!;
      toks.push({ t: 'num', v: m[0] });
      i += m[0].length;
      continue;
    }
    if (c === '"') {
      let out = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new TemplateError(`unterminated string in "${src}"`);
        const d = src[i]!;
        if (d === '"') break;
        if (d === '$' && src[i + 1] === '{') throw new TemplateError(`nested templates in string literals are not supported: "${src}"`);
        if (d === '\\') {
          const e = src[i + 1];
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };
          if (e === undefined || !(e in map)) throw new TemplateError(`unsupported escape \\${e ?? ''} in "${src}"`);
          out += map[e];
          i += 2;
          continue;
        }
        out += d;
        i++;
      }
      i++;
      toks.push({ t: 'str', v: out });
      continue;
    }
    const p = PUNCT.find((x) => src.startsWith(x, i));
    if (!p) throw new TemplateError(`unexpected "${c}" in expression "${src}"`);
    toks.push({ t: 'p', v: p });
    i += p.length;
  }
  toks.push({ t: 'end', v: '' });
  return toks;
}

class ExprParser {
  private pos = 0;
  constructor(
    private readonly toks: Tok[],
    private readonly src: string,
  ) {}

  static parse(src: string): Expr {
    const p = new ExprParser(lexExpr(src), src);
    const e = p.cond();
    if (p.peek().t !== 'end') throw new TemplateError(`unexpected "${p.peek().v}" in expression "${src}"`);
    return e;
  }

  private peek(): Tok {
    return this.toks[this.pos]!;
  }
  private next(): Tok {
    return this.toks[this.pos++]!;
  }
  private isP(v: string): boolean {
    const t = this.peek();
    return t.t === 'p' && t.v === v;
  }
  private expectP(v: string): void {
    if (!this.isP(v)) throw new TemplateError(`expected "${v}" in expression "${this.src}", found "${this.peek().v}"`);
    this.pos++;
  }

  private cond(): Expr {
    const test = this.binary(0);
    if (!this.isP('?')) return test;
    this.pos++;
    const then = this.cond();
    this.expectP(':');
    return { kind: 'cond', test, then, else: this.cond() };
  }

  private static readonly LEVELS = [['||'], ['&&'], ['==', '!='], ['<', '<=', '>', '>=']];

  private binary(level: number): Expr {
    if (level >= ExprParser.LEVELS.length) return this.unary();
    let left = this.binary(level + 1);
    while (this.peek().t === 'p' && ExprParser.LEVELS[level]!.includes(this.peek().v)) {
      const op = this.next().v;
      left = { kind: 'binary', op, left, right: this.binary(level + 1) };
    }
    return left;
  }

  private unary(): Expr {
    if (this.isP('!') || this.isP('-')) {
      const op = this.next().v as '!' | '-';
      return { kind: 'unary', op, arg: this.unary() };
    }
    return this.postfix();
  }

  private postfix(): Expr {
    let e = this.primary();
    for (;;) {
      if (this.isP('.')) {
        this.pos++;
        const t = this.next();
        if (t.t !== 'id' && t.t !== 'num') throw new TemplateError(`expected an attribute name after "." in "${this.src}"`);
        e = t.t === 'num' ? { kind: 'index', target: e, index: { kind: 'lit', value: Number(t.v) } } : { kind: 'attr', target: e, name: t.v };
      } else if (this.isP('[')) {
        this.pos++;
        const index = this.cond();
        this.expectP(']');
        e = { kind: 'index', target: e, index };
      } else return e;
    }
  }

  private primary(): Expr {
    const t = this.next();
    if (t.t === 'num') return { kind: 'lit', value: Number(t.v) };
    if (t.t === 'str') return { kind: 'lit', value: t.v };
    if (t.t === 'p' && t.v === '(') {
      const e = this.cond();
      this.expectP(')');
      return e;
    }
    if (t.t === 'id') {
      if (t.v === 'true' || t.v === 'false') return { kind: 'lit', value: t.v === 'true' };
      if (t.v === 'null') return { kind: 'lit', value: null };
      if (this.isP('(')) {
        this.pos++;
        const args: Expr[] = [];
        while (!this.isP(')')) {
          args.push(this.cond());
          if (!this.isP(')')) this.expectP(',');
        }
        this.pos++;
        return { kind: 'call', fn: t.v, args };
      }
      return { kind: 'ref', name: t.v };
    }
    throw new TemplateError(`unexpected "${t.v || 'end'}" in expression "${this.src}"`);
  }
}

// ---------------------------------------------------------------------------------------------
// Template structure

/** Finds the "}" closing an interpolation/directive that starts at `from`, skipping strings. */
function findClose(src: string, from: number): number {
  let depth = 0;
  for (let i = from; i < src.length; i++) {
    const c = src[i];
    if (c === '"') {
      for (i++; i < src.length && src[i] !== '"'; i++) if (src[i] === '\\') i++;
    } else if (c === '{' || c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (c === '}') {
      if (depth === 0) return i;
      depth--;
    }
  }
  throw new TemplateError(`unclosed template sequence starting at offset ${from}`);
}

function lineNumber(src: string, at: number): number {
  return src.slice(0, at).split('\n').length;
}

function tokenizeTemplate(src: string): Part[] {
  const parts: Part[] = [];
  let text = '';
  let ltrimNext = false;
  const pushText = () => {
    if (text === '') return;
    // Per-line literal tokens, as HCL's scanner produces them.
    const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
    lines.forEach((line, i) => parts.push({ kind: 'text', text: i === 0 && ltrimNext ? line.replace(/^\s+/, '') : line }));
    if (lines.length > 0) ltrimNext = false;
    text = '';
  };
  let i = 0;
  while (i < src.length) {
    if (src.startsWith('$${', i) || src.startsWith('%%{', i)) {
      text += src.slice(i + 1, i + 3);
      i += 3;
      continue;
    }
    const isInterp = src.startsWith('${', i);
    const isCtl = src.startsWith('%{', i);
    if (!isInterp && !isCtl) {
      text += src[i];
      i++;
      continue;
    }
    pushText();
    let start = i + 2;
    const trimPrev = src[start] === '~';
    if (trimPrev) start++;
    const close = findClose(src, start);
    let body = src.slice(start, close);
    const trimNext = body.trimEnd().endsWith('~');
    if (trimNext) body = body.trimEnd().slice(0, -1);
    if (trimPrev) {
      const prev = parts[parts.length - 1];
      if (prev?.kind === 'text') prev.text = prev.text.replace(/\s+$/, '');
    }
    if (isInterp) parts.push({ kind: 'interp', expr: ExprParser.parse(body) });
    else parts.push(parseDirective(body.trim(), i, src));
    ltrimNext = trimNext;
    i = close + 1;
  }
  pushText();
  return parts;
}

function parseDirective(body: string, at: number, src: string): Part {
  const m = /^(if|else|endif|for|endfor)\b\s*([\s\S]*)$/.exec(body);
  if (!m) throw new TemplateError(`line ${lineNumber(src, at)}: unknown directive "%{ ${body} }"`);
  const word = m[1] as 'if' | 'else' | 'endif' | 'for' | 'endfor';
  const rest = m[2]!;
  if (word === 'if') return { kind: 'ctl', word, expr: ExprParser.parse(rest), at };
  if (word === 'for') {
    const f = /^([A-Za-z_]\w*)\s*(?:,\s*([A-Za-z_]\w*))?\s+in\s+([\s\S]+)$/.exec(rest);
    if (!f) throw new TemplateError(`line ${lineNumber(src, at)}: malformed for directive "%{ ${body} }"`);
    return f[2] ? { kind: 'ctl', word, key: f[1]!, value: f[2], expr: ExprParser.parse(f[3]!), at } : { kind: 'ctl', word, key: null, value: f[1]!, expr: ExprParser.parse(f[3]!), at };
  }
  if (rest.trim() !== '') throw new TemplateError(`line ${lineNumber(src, at)}: unexpected "${rest}" after ${word}`);
  return { kind: 'ctl', word, at };
}

function buildTree(parts: Part[], src: string): Node[] {
  let pos = 0;
  const block = (until: string[]): { nodes: Node[]; end: string | null } => {
    const nodes: Node[] = [];
    while (pos < parts.length) {
      const p = parts[pos++]!;
      if (p.kind === 'text') {
        const last = nodes[nodes.length - 1];
        if (last?.kind === 'text') last.text += p.text;
        else nodes.push({ kind: 'text', text: p.text });
      } else if (p.kind === 'interp') nodes.push({ kind: 'interp', expr: p.expr });
      else if (until.includes(p.word)) return { nodes, end: p.word };
      else if (p.word === 'if') {
        const then = block(['else', 'endif']);
        let otherwise: Node[] = [];
        if (then.end === 'else') {
          const e = block(['endif']);
          if (e.end !== 'endif') throw new TemplateError(`line ${lineNumber(src, p.at)}: if without endif`);
          otherwise = e.nodes;
        } else if (then.end !== 'endif') throw new TemplateError(`line ${lineNumber(src, p.at)}: if without endif`);
        nodes.push({ kind: 'if', test: p.expr!, then: then.nodes, else: otherwise });
      } else if (p.word === 'for') {
        const body = block(['endfor']);
        if (body.end !== 'endfor') throw new TemplateError(`line ${lineNumber(src, p.at)}: for without endfor`);
        nodes.push({ kind: 'for', key: p.key ?? null, value: p.value!, coll: p.expr!, body: body.nodes });
      } else throw new TemplateError(`line ${lineNumber(src, p.at)}: unexpected ${p.word}`);
    }
    return { nodes, end: null };
  };
  const root = block([]);
  return root.nodes;
}

export function parseTemplate(src: string): Node[] {
  return buildTree(tokenizeTemplate(src), src);
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** Terraform's jsonencode escapes <, > and & (and U+2028/9) so the output is safe in HTML. */
export function jsonencode(v: Value): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function typeName(v: Value): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  return typeof v === 'object' ? 'object' : typeof v;
}

const FUNCTIONS: Record<string, (...args: Value[]) => Value> = {
  jsonencode: (v) => jsonencode(v ?? null),
  join: (sep, list) => {
    if (typeof sep !== 'string' || !Array.isArray(list)) throw new TemplateError('join(separator, list) expects a string and a list');
    return list.map((x) => interpolate(x)).join(sep);
  },
  length: (v) => {
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (v !== null && typeof v === 'object') return Object.keys(v).length;
    throw new TemplateError(`length() of a ${typeName(v ?? null)}`);
  },
  upper: (v) => interpolate(v ?? null).toUpperCase(),
  lower: (v) => interpolate(v ?? null).toLowerCase(),
  tostring: (v) => interpolate(v ?? null),
};

function interpolate(v: Value): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  throw new TemplateError(`cannot include a ${typeName(v)} value in a string template (use jsonencode)`);
}

function evaluate(e: Expr, scope: Record<string, Value>): Value {
  switch (e.kind) {
    case 'lit':
      return e.value;
    case 'ref':
      if (!(e.name in scope)) throw new TemplateError(`"${e.name}" is not a variable passed to the template`);
      return scope[e.name]!;
    case 'attr': {
      const t = evaluate(e.target, scope);
      if (t === null || typeof t !== 'object' || Array.isArray(t) || !(e.name in t)) throw new TemplateError(`no attribute "${e.name}" in ${typeName(t)}`);
      return t[e.name]!;
    }
    case 'index': {
      const t = evaluate(e.target, scope);
      const k = evaluate(e.index, scope);
      if (Array.isArray(t) && typeof k === 'number' && k >= 0 && k < t.length) return t[k]!;
      if (t !== null && typeof t === 'object' && !Array.isArray(t) && typeof k === 'string' && k in t) return t[k]!;
      throw new TemplateError(`invalid index ${String(k)} into ${typeName(t)}`);
    }
    case 'call': {
      const fn = FUNCTIONS[e.fn];
      if (!fn) throw new TemplateError(`function ${e.fn}() is not supported by this renderer`);
      return fn(...e.args.map((a) => evaluate(a, scope)));
    }
    case 'unary': {
      const v = evaluate(e.arg, scope);
      if (e.op === '!') {
        if (typeof v !== 'boolean') throw new TemplateError(`! needs a bool, got ${typeName(v)}`);
        return !v;
      }
      if (typeof v !== 'number') throw new TemplateError(`- needs a number, got ${typeName(v)}`);
      return -v;
    }
    case 'binary': {
      const l = evaluate(e.left, scope);
      if (e.op === '&&' || e.op === '||') {
        const r = evaluate(e.right, scope);
        if (typeof l !== 'boolean' || typeof r !== 'boolean') throw new TemplateError(`${e.op} needs bools`);
        return e.op === '&&' ? l && r : l || r;
      }
      const r = evaluate(e.right, scope);
      if (e.op === '==') return jsonencode(l) === jsonencode(r);
      if (e.op === '!=') return jsonencode(l) !== jsonencode(r);
      if (typeof l !== 'number' || typeof r !== 'number') throw new TemplateError(`${e.op} needs numbers`);
      return e.op === '<' ? l < r : e.op === '<=' ? l <= r : e.op === '>' ? l > r : l >= r;
    }
    case 'cond': {
      const t = evaluate(e.test, scope);
      if (typeof t !== 'boolean') throw new TemplateError(`a condition must be a bool, got ${typeName(t)}`);
      return evaluate(t ? e.then : e.else, scope);
    }
  }
}

function renderNodes(nodes: Node[], scope: Record<string, Value>): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'interp') out += interpolate(evaluate(n.expr, scope));
    else if (n.kind === 'if') {
      const t = evaluate(n.test, scope);
      if (typeof t !== 'boolean') throw new TemplateError(`%{ if } needs a bool, got ${typeName(t)}`);
      out += renderNodes(t ? n.then : n.else, scope);
    } else {
      const coll = evaluate(n.coll, scope);
      const entries: [Value, Value][] = Array.isArray(coll)
        ? coll.map((v, i) => [i, v])
        : coll !== null && typeof coll === 'object'
          ? Object.keys(coll)
              .sort()
              .map((k) => [k, coll[k]!])
          : (() => {
              throw new TemplateError(`%{ for } over a ${typeName(coll)}`);
            })();
      for (const [k, v] of entries) out += renderNodes(n.body, { ...scope, ...(n.key ? { [n.key]: k } : {}), [n.value]: v });
    }
  }
  return out;
}

/** Renders a template like templatefile(path, vars) does. */
export function renderTemplate(src: string, vars: Record<string, Value>): string {
  return renderNodes(parseTemplate(src), vars);
}

/** The variables a template reads (what templatefile() must be given), minus for-loop variables. */
export function templateVariables(src: string): Set<string> {
  const found = new Set<string>();
  const walkExpr = (e: Expr, bound: Set<string>): void => {
    switch (e.kind) {
      case 'ref':
        if (!bound.has(e.name)) found.add(e.name);
        return;
      case 'attr':
        return walkExpr(e.target, bound);
      case 'index':
        walkExpr(e.target, bound);
        return walkExpr(e.index, bound);
      case 'call':
        return e.args.forEach((a) => walkExpr(a, bound));
      case 'unary':
        return walkExpr(e.arg, bound);
      case 'binary':
        walkExpr(e.left, bound);
        return walkExpr(e.right, bound);
      case 'cond':
        walkExpr(e.test, bound);
        walkExpr(e.then, bound);
        return walkExpr(e.else, bound);
      case 'lit':
        return;
    }
  };
  const walk = (nodes: Node[], bound: Set<string>): void => {
    for (const n of nodes) {
      if (n.kind === 'interp') walkExpr(n.expr, bound);
      else if (n.kind === 'if') {
        walkExpr(n.test, bound);
        walk(n.then, bound);
        walk(n.else, bound);
      } else if (n.kind === 'for') {
        walkExpr(n.coll, bound);
        walk(n.body, new Set([...bound, n.value, ...(n.key ? [n.key] : [])]));
      }
    }
  };
  walk(parseTemplate(src), new Set());
  return found;
}
