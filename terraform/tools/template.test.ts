import { describe, expect, it } from 'vitest';
import { jsonencode, renderTemplate, TemplateError, templateVariables } from './template.ts';

describe('templatefile subset renderer', () => {
  it('interpolates references, attributes and indexes', () => {
    expect(renderTemplate('a=${a} b=${o.b} c=${l[1]} d=${o["b"]}', { a: 'x', o: { b: 2 }, l: [true, false] })).toBe('a=x b=2 c=false d=2');
  });

  it('keeps $${ and %%{ as literal text', () => {
    expect(renderTemplate('echo "$${HOME}" %%{ x }', {})).toBe('echo "${HOME}" %{ x }');
  });

  it('drops a directive line with ~} but keeps the next line indentation (HCL per-line strip)', () => {
    const src = 'list:\n%{ for x in xs ~}\n  - ${x}\n%{ endfor ~}\nend\n';
    expect(renderTemplate(src, { xs: ['a', 'b'] })).toBe('list:\n  - a\n  - b\nend\n');
  });

  it('without ~ the directive lines leave their newlines', () => {
    expect(renderTemplate('%{ if x }\nyes\n%{ endif }\n', { x: true })).toBe('\nyes\n\n');
  });

  it('%{~ trims whitespace before the directive', () => {
    expect(renderTemplate('a   %{~ if true }b%{ endif }', {})).toBe('ab');
  });

  it('evaluates if/else with comparisons and boolean operators', () => {
    const src = '%{ if mode == "haproxy" && length(ls) > 1 }many%{ else }%{ if !flag }few%{ endif }%{ endif }';
    expect(renderTemplate(src, { mode: 'haproxy', ls: [1, 2], flag: false })).toBe('many');
    expect(renderTemplate(src, { mode: 'ipvs', ls: [1, 2], flag: false })).toBe('few');
    expect(renderTemplate(src, { mode: 'ipvs', ls: [1, 2], flag: true })).toBe('');
  });

  it('iterates maps in key order with key and value', () => {
    expect(renderTemplate('%{ for k, v in m }${k}=${v};%{ endfor }', { m: { b: 2, a: 1 } })).toBe('a=1;b=2;');
  });

  it('jsonencode escapes <, > and & as Terraform does', () => {
    expect(jsonencode({ a: '<b>&' })).toBe('{"a":"\\u003cb\\u003e\\u0026"}');
    expect(renderTemplate('${jsonencode(x)}', { x: [1, 'a'] })).toBe('[1,"a"]');
  });

  it('refuses to interpolate a list or an object, and names missing variables', () => {
    expect(() => renderTemplate('${xs}', { xs: [1] })).toThrow(TemplateError);
    expect(() => renderTemplate('${missing}', {})).toThrow(/"missing" is not a variable/);
    expect(() => renderTemplate('%{ if x }a', { x: true })).toThrow(/if without endif/);
    expect(() => renderTemplate('${unknownfn(1)}', {})).toThrow(/not supported/);
  });

  it('lists the variables a template reads, excluding loop variables', () => {
    const vars = templateVariables('${a} %{ for x in xs }${x.y}${b}%{ endfor }%{ if c != "" }${jsonencode(d)}%{ endif }');
    expect([...vars].sort()).toEqual(['a', 'b', 'c', 'd', 'xs']);
  });
});
