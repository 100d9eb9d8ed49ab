import { describe, expect, it } from 'vitest';
import { parsePromText } from './prom-text.ts';

describe('parsePromText', () => {
  it('reads names, labels with escapes, special values and TYPE lines, and reports bad lines', () => {
    const text = [
      '# HELP x_total things',
      '# TYPE x_total counter',
      'x_total{node="a",subnet="10.0.0.0/24"} 42',
      'y{path="a\\"b\\\\c"} +Inf',
      'z NaN',
      'w{a="1"} -3.5e2 1700000000000',
      'broken{a=1} 3',
      'v{} abc',
    ].join('\n');
    const p = parsePromText(text);
    expect(p.types.get('x_total')).toBe('counter');
    expect(p.samples[0]).toEqual({ name: 'x_total', labels: { node: 'a', subnet: '10.0.0.0/24' }, value: 42 });
    expect(p.samples[1]).toEqual({ name: 'y', labels: { path: 'a"b\\c' }, value: Number.POSITIVE_INFINITY });
    expect(Number.isNaN(p.samples[2]!.value)).toBe(true);
    expect(p.samples[3]).toEqual({ name: 'w', labels: { a: '1' }, value: -350 });
    expect(p.samples).toHaveLength(4);
    expect(p.errors).toEqual(['line 7: label a: expected ="', 'line 8: value "abc" is not a number']);
  });
});
