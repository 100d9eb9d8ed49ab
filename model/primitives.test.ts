// Durations, the way every config reads them: a unit is required, the value must be one the runtime
// can schedule (Node's timers hold at most 2^31-1 ms; a longer delay fires at once, so a poll_interval
// of 30 days made the agent spin), and a value that is not a duration says what is expected.
import { describe, expect, it } from 'vitest';
import { AgeDuration, Duration, MAX_TIMER_MS, parseDuration } from './primitives.ts';

function problem(schema: typeof Duration | typeof AgeDuration, input: unknown): string {
  const r = schema.safeParse(input);
  if (r.success) throw new Error(`expected ${JSON.stringify(input)} to be refused, got ${r.data}`);
  return r.error.issues.map((i) => i.message).join('; ');
}

describe('Duration', () => {
  it.each([
    ['500ms', 500],
    ['15s', 15_000],
    ['1.5s', 1500],
    ['5m', 300_000],
    ['168h', 604_800_000],
    ['24d', 2_073_600_000],
    [' 2s ', 2000],
    [0, 0],
    ['0s', 0],
  ])('%j -> %d ms', (input, ms) => {
    expect(Duration.parse(input)).toBe(ms);
  });

  it.each([
    ['25d', /at most 24\.8 days/],
    ['1000h', /at most 24\.8 days/],
    ['99999999999999999999999d', /at most 24\.8 days/],
    [30_000, /bare number .*unit.*"30000ms" or "30s"/],
    [10, /bare number .*"10ms"/],
    [Infinity, /a number with a unit/],
    [Number.NaN, /a number with a unit/],
    [-5, /a number with a unit|bare number/],
    ['1e400', /expected a duration such as "500ms"/],
    ['1e400s', /expected a duration such as "500ms"/],
    ['-5s', /expected a duration/],
    ['15', /expected a duration/],
    ['15 sec', /expected a duration/],
    [true, /expected a duration/],
    [null, /expected a duration/],
  ])('%j is refused: %s', (input, message) => {
    expect(problem(Duration, input)).toMatch(message);
  });

  it('the bound is exactly what setTimeout can hold', () => {
    expect(MAX_TIMER_MS).toBe(2 ** 31 - 1);
    expect(Duration.parse(`${MAX_TIMER_MS}ms`)).toBe(MAX_TIMER_MS);
    expect(problem(Duration, `${MAX_TIMER_MS + 1}ms`)).toMatch(/at most/);
  });
});

describe('AgeDuration (retention and time-to-live: compared with timestamps, never scheduled)', () => {
  it('accepts what a timer cannot hold, within reason', () => {
    expect(AgeDuration.parse('30d')).toBe(30 * 86_400_000);
    expect(AgeDuration.parse('3650d')).toBe(3650 * 86_400_000);
    expect(problem(AgeDuration, '40000d')).toMatch(/at most 3650 days/);
    expect(problem(AgeDuration, 5)).toMatch(/bare number/);
  });
});

describe('parseDuration', () => {
  it('returns null for anything that is not a number and a unit', () => {
    expect(parseDuration('1e3s')).toBeNull();
    expect(parseDuration('s')).toBeNull();
    expect(parseDuration('10')).toBeNull();
    expect(parseDuration('10ms')).toBe(10);
  });
});
