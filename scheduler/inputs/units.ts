// Rates that carry their unit. The scheduler reads demand and load in several units — HAProxy and an
// origin's own server metrics count requests, the agent counts TCP connections (and bytes), the agent's
// connection-seconds measure how long connections stay open — while an origin's capacity is declared in
// one unit per load balancer (model/load-balancer.ts `capacity_unit`). Every measured rate is a `Rate`
// tagged with its unit from the moment it is read (assemble.ts), and the only way from one unit to
// another is `convert()` with a `Ratio` measured for that purpose (convert.ts). So:
//
//   * two rates in different units cannot be added: `Rate` is an object (`a + b` does not type-check),
//     `sum()` takes rates of one unit type parameter, and it also checks at run time (units held in
//     variables of the union type would otherwise slip through);
//   * a conversion names what it did (`basis`), and that text goes into the decision record.
import type { CapacityUnit } from '../../model/load-balancer.ts';

export type { CapacityUnit };

/** What a raw series counts, per second: the capacity units, plus connection-seconds per second
 * (the mean number of open connections), which only ever serves as a weight inside a conversion. */
export type CountedUnit = CapacityUnit | 'connection_seconds';

export interface Rate<U extends CountedUnit> {
  readonly unit: U;
  /** Per second, finite and ≥ 0 (guard.ts rejects anything else before a Rate is made). */
  readonly perSecond: number;
}

export class UnitMismatch extends Error {
  constructor(a: CountedUnit, b: CountedUnit, what: string) {
    super(`${what}: cannot combine ${a}/s with ${b}/s; convert one of them first`);
    this.name = 'UnitMismatch';
  }
}

export function rate<U extends CountedUnit>(unit: U, perSecond: number): Rate<U> {
  return { unit, perSecond };
}

export function zero<U extends CountedUnit>(unit: U): Rate<U> {
  return { unit, perSecond: 0 };
}

/** Σ rates, all in `unit`; throws UnitMismatch for a rate in any other unit. */
export function sum<U extends CountedUnit>(unit: U, rates: Iterable<Rate<NoInfer<U>>>): Rate<U> {
  let total = 0;
  for (const r of rates) {
    if (r.unit !== unit) throw new UnitMismatch(unit, r.unit, 'sum');
    total += r.perSecond;
  }
  return { unit, perSecond: total };
}

export function plus<U extends CountedUnit>(a: Rate<U>, b: Rate<NoInfer<U>>): Rate<U> {
  if (a.unit !== b.unit) throw new UnitMismatch(a.unit, b.unit, 'plus');
  return { unit: a.unit, perSecond: a.perSecond + b.perSecond };
}

/** How many `To` one `From` is worth, measured (e.g. requests per connection at one origin). */
export interface Ratio<To extends CountedUnit, From extends CountedUnit> {
  readonly to: To;
  readonly from: From;
  readonly value: number;
  /** Where the value comes from, for the decision record ("measured at us: …", "assumed 1: …"). */
  readonly basis: string;
  /** Not measured: a stand-in the decision record flags (e.g. 1 request per connection without a counter). */
  readonly assumed: boolean;
}

export function ratio<To extends CountedUnit, From extends CountedUnit>(to: To, from: From, value: number, basis: string, assumed = false): Ratio<To, From> {
  return { to, from, value, basis, assumed };
}

/** The one conversion step: a rate in `From` times a ratio `To` per `From`. */
export function convert<From extends CountedUnit, To extends CountedUnit>(r: Rate<From>, by: Ratio<To, NoInfer<From>>): Rate<To> {
  if (r.unit !== by.from) throw new UnitMismatch(r.unit, by.from, `convert to ${by.to}`);
  return { unit: by.to, perSecond: r.perSecond * by.value };
}

/** A rate already in `unit`, checked at run time (for values whose unit is only known as a union). */
export function expectUnit<U extends CountedUnit>(r: Rate<CountedUnit>, unit: U, what: string): Rate<U> {
  if (r.unit !== unit) throw new UnitMismatch(unit, r.unit, what);
  return r as Rate<U>;
}
