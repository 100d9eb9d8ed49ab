// The scheduler's inputs from several Prometheus servers (e.g. one per region): every query goes to
// every shard at once and the answers are merged.
//
// Model: each agent and edge is scraped by one shard (or identically by several: an HA pair, or
// overlapping regions). The default queries keep the agent's `node` (or the edge's name) in every
// series, so one shard's answer never overlaps another's except for such duplicates; the merge is the
// union, and a label set that more than one shard returned is taken once, from the shard listed first
// (list the shards in order of preference), and counted. An instant query's result carries the query
// time, not the sample time, so "the freshest" is not something the answer can tell.
//
// A shard that fails (down, timeout, an error) is logged and counted once per read. Its last good
// answer to the same query stands in for it for up to `holdMs` (0: never); past that the whole read
// fails with InputsUnavailable, as with one Prometheus down: the loop holds, the last good weights stay
// in force. Reading on without the shard would make that region's demand and load look like zero.
import type { QueryName, Series } from './assemble.ts';
import type { PrometheusServer } from './prometheus-server.ts';
import { runPaced, STEP_ITEMS, type Steps } from '../../lib/steps.ts';
import { InputsUnavailable } from './types.ts';

export interface Shard {
  name: string;
  server: Pick<PrometheusServer, 'query' | 'url'>;
}

/** What a read saw of the shards: failures (once per shard and read) and duplicate series. */
export interface ShardEvents {
  shardFailed(shard: string, kind: InputsUnavailable['kind'], detail: string, standIn: 'last_good' | 'none'): void;
  duplicateSeries(input: QueryName, count: number): void;
}

/** One read's view of failed shards: the first error of each, and whether its last good answer stood in. */
export type ShardFailures = Map<string, { error: InputsUnavailable; standIn: 'last_good' | 'none' }>;

function labelKey(labels: Record<string, string>): string {
  return Object.keys(labels).sort().map((k) => `${k}\u0000${labels[k]}`).join('\u0001');
}

export class ShardedQuery {
  /** shard -> rendered query -> its last good answer and when. */
  private readonly lastGood = new Map<string, Map<string, { series: Series[]; at: number }>>();

  constructor(
    private readonly shards: Shard[],
    private readonly holdMs: number,
    private readonly events: ShardEvents | undefined,
    private readonly now: () => number = Date.now,
  ) {
    if (shards.length === 0) throw new Error('ShardedQuery: no shards');
  }

  /** Every shard's answer to `query`, merged; failures recorded in `failures`. */
  async run(name: QueryName, query: string, failures: ShardFailures): Promise<Series[]> {
    const answers = await Promise.allSettled(this.shards.map((s) => s.server.query(name, query)));
    const t = this.now();
    const parts: Series[][] = [];
    for (const [i, a] of answers.entries()) {
      const shard = this.shards[i]!;
      const cache = this.lastGood.get(shard.name) ?? new Map<string, { series: Series[]; at: number }>();
      this.lastGood.set(shard.name, cache);
      if (a.status === 'fulfilled') {
        if (this.holdMs > 0) cache.set(query, { series: a.value, at: t });
        parts.push(a.value);
        continue;
      }
      const error = a.reason instanceof InputsUnavailable ? a.reason : new InputsUnavailable('backend_down', `${name}: shard ${shard.name}: ${String(a.reason)}`);
      // A query that is wrong (not a vector) is wrong on every shard: no stand-in for that.
      const last = error.kind === 'no_data' ? undefined : cache.get(query);
      const fresh = last !== undefined && t - last.at <= this.holdMs;
      if (!failures.has(shard.name)) failures.set(shard.name, { error, standIn: fresh ? 'last_good' : 'none' });
      if (!fresh) {
        failures.get(shard.name)!.standIn = 'none';
        throw new InputsUnavailable(error.kind, `${this.shards.length > 1 ? `shard ${shard.name}: ` : ''}${error.message}${this.holdMs > 0 ? ` (no good answer within shard_hold ${this.holdMs / 1000}s)` : ''}`);
      }
      parts.push(last.series);
    }
    // Drop stand-ins that are too old to be used again (a load balancer removed since, a query changed).
    for (const cache of this.lastGood.values()) for (const [q, e] of cache) if (t - e.at > this.holdMs) cache.delete(q);
    return parts.length === 1 ? parts[0]! : runPaced(this.mergeSteps(name, parts));
  }

  /** The union of the shards' answers, in steps: a label set's key is a sort and a join per series, ~1 µs each, a second at 1M. */
  private *mergeSteps(name: QueryName, parts: Series[][]): Steps<Series[]> {
    const seen = new Set<string>();
    const out: Series[] = [];
    let duplicates = 0;
    let n = 0;
    for (const part of parts) {
      for (const s of part) {
        if (++n % STEP_ITEMS === 0) yield;
        const key = labelKey(s.labels);
        if (seen.has(key)) {
          duplicates++;
          continue;
        }
        seen.add(key);
        out.push(s);
      }
    }
    if (duplicates > 0) this.events?.duplicateSeries(name, duplicates);
    return out;
  }

  /** Report a read's failures (once per shard). */
  report(failures: ShardFailures): void {
    for (const [shard, f] of failures) this.events?.shardFailed(shard, f.error.kind, f.error.message, f.standIn);
  }
}
