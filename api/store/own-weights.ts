// The weights this process's store committed itself, per load balancer, kept so that readers in the
// same process need not parse them back from the stored body (tens of MB of JSON at 1M subnets, ~1 s)
// and can diff only the subnet keys the publish changed. Shared by both stores (SQLite, PostgreSQL).
//
// Invariants:
// - A memo is handed out only for the row it was made for: same version and published_at as the row
//   read in the reader's snapshot. Versions are store-wide, so a publish by another process, the API or
//   a restored backup gives another version or time, and the reader parses the body as before.
// - The weights are kept as the publisher handed them, not copied or frozen: the only publisher at
//   scale, the scheduler loop, builds fresh tables every cycle (sharing unchanged maps with the last
//   one, which this memo's `named` stands in for: records.ts) and only reads them afterwards
//   (scheduler/loop/store.ts publishWeights says callers must not change them). Freezing a 1M-key
//   table would be a walk of its own and slows its lookups in V8.
// - `changed` is kept only when the publish compared against the memo that is still the latest when it
//   commits (two of this process's publishes of one load balancer interleaving lose it: readers then
//   diff in full).
// - The memo is also where the next publish's change row starts (weights-chain.ts): it names the
//   version and time the change applies to, and how far the store's chain is from its base (`chain`),
//   so compaction is decided before serialising anything; the transaction checks both again. When the
//   store's head is not this process's last publish but the table its store last handed to a reader
//   (a follower that took the lease: HeldWeightsCache), the publish starts from that one instead
//   (`start`): a failover's first publish is then a change row, not a full base.
// - The origin ids it named stand in for those of the maps the next publish hands over again as the
//   very same objects (records.ts: such entries are not walked).
// - A publish whose caller names what changed (WeightsChangeHint) against exactly the table it starts
//   from, its origin names known (this memo's, or a table read: HeldWeights.named), is prepared from
//   the changed keys alone (hinted-weights.ts); any other hint is ignored (the full pass, counted in
//   `hints`).
import type { DecisionInput, WeightsInput } from '../../model/index.ts';
import type { Fence, WeightsChangeHint } from '../../scheduler/loop/store.ts';
import type { OwnWeights } from './store.ts';
import { keysOnce } from '../../lib/json-steps.ts';
import { runPaced } from '../../lib/steps.ts';
import { preparePublishSteps, weightsBodySteps, type PreparedDecisionRow, type PreparedWeights } from './records.ts';
import { prepareHintedSteps } from './hinted-weights.ts';
import type { SpareTables } from './spare-table.ts';
import { changeToWrite, compactionDue, type ChainLength, type ChangeToWrite, type HeldWeights, type Subnets, type VersionStamp } from './weights-chain.ts';

export type { ChainLength };

/** A publish checked and serialised before its transaction, and what it will try to write first. */
export interface PublishPlan {
  ready: PreparedWeights;
  prepared: PreparedDecisionRow;
  /** The subnet entries of the weights (a base's base_entries). */
  entries: number;
  /** A change row against this process's last publish, or null: a base (no last publish, no changed keys, compaction due). */
  change: ChangeToWrite | null;
  /** The full body, serialised on first need (a base, or a change row the transaction refused). */
  body(): Promise<string>;
}

/** The table a publish is compared against and its change row written after. */
export interface PublishStart {
  stamp: VersionStamp;
  subnets: Subnets;
  /** The origin ids `subnets` named, or more (with it, maps handed over again are not walked). */
  named?: ReadonlySet<string>;
  /** The store's chain at that version, when known (compaction pre-checked with it). */
  chain?: ChainLength;
}

/** How publishes' change hints fared (tests and the benchmark read it). */
export interface HintUse {
  /** Publishes prepared from the hint alone, O(changes). */
  used: number;
  /** Hints not against the table the publish starts from (another writer since, a failover's read table): the full pass. */
  unmatched: number;
  /** Hints that did not hold up against the store's checks, or named an entry the hand check doubts: the full pass. */
  refused: number;
}

/** A store's publishes' hints and its reads' idle copies (tests and the benchmark read them). */
export interface WeightsWork {
  hints: HintUse;
  spares: { made: number; taken: number };
  /** Resolves once the idle copies scheduled so far are made: the benchmark waits as idle time would. */
  settled(): Promise<void>;
}

export function weightsWork(own: OwnWeightsMemo, spares: SpareTables): WeightsWork {
  return { hints: { ...own.hints }, spares: { ...spares.counts }, settled: () => spares.settled() };
}

interface Memo {
  version: number;
  published_at: string;
  weights: OwnWeights;
  chain: ChainLength;
  /** The origin ids the publish named (a superset when it reused maps: records.ts PreparedWeights). */
  named: ReadonlySet<string>;
}

export class OwnWeightsMemo {
  private readonly byLb = new Map<string, Memo>();
  readonly hints: HintUse = { used: 0, unmatched: 0, refused: 0 };

  /** `onRefused`: told why a hint did not hold up (the store's log: a caller's bug to look into). */
  constructor(private readonly onRefused?: (lbId: string, why: string) => void) {}

  /** The subnet table this process last published for `lbId` (what the next publish compares against). */
  lastSubnets(lbId: string): OwnWeights['subnets'] | undefined {
    return this.byLb.get(lbId)?.weights.subnets;
  }

  /**
   * Where a publish of `lbId` starts: of this process's last publish and the weights its store last
   * handed to a reader (`held`), the one that is the store's head (`head`, read just before the
   * publish: the transaction checks it again), else the later version (the comparison still spares
   * re-checking known CIDRs and tells the views the changed keys; the transaction will want a base),
   * else none (a base, every CIDR checked).
   */
  start(lbId: string, held: HeldWeights | undefined, head: VersionStamp | null | undefined): PublishStart | undefined {
    const m = this.byLb.get(lbId);
    const own: PublishStart | undefined = m && { stamp: { version: m.version, published_at: m.published_at }, subnets: m.weights.subnets, named: m.named, chain: m.chain };
    // A table read carries its origin names when the store worked them out (a full read, once; change
    // rows add theirs): then maps handed over again need no walk, and a change hint against it is used.
    const read: PublishStart | undefined = held && { stamp: { version: Number(held.version), published_at: held.published_at }, subnets: held.subnets, chain: held.chain, ...(held.named ? { named: held.named } : {}) };
    const isHead = (s: PublishStart | undefined) => s !== undefined && head != null && s.stamp.version === Number(head.version) && s.stamp.published_at === head.published_at;
    if (isHead(own)) return own;
    if (isHead(read)) return read;
    if (own && read) return own.stamp.version >= read.stamp.version ? own : read;
    return own ?? read;
  }

  /**
   * After a committed publish of `ready` as `version` (`chain`: the store's chain after it; unknown: as
   * after a base). Its changed keys are kept when they start from this process's last publish or from
   * `readLast`, the table its store last handed to a reader (what the views hold after a failover).
   */
  remember(lbId: string, version: number, publishedAt: string, ready: PreparedWeights, chain?: ChainLength, readLast?: Subnets): void {
    const from = ready.changed?.from;
    const changed = ready.changed && (from === this.lastSubnets(lbId) || (readLast !== undefined && from === readLast)) ? ready.changed : null;
    const base = { base_entries: keysOnce(ready.parsed.subnets).length, since_base: 0, change_rows: 0 };
    this.byLb.set(lbId, { version, published_at: publishedAt, weights: { edges: ready.parsed.edges, subnets: ready.parsed.subnets, changed }, chain: chain ?? base, named: ready.named });
  }

  /**
   * Checks and serialises a publish of `lbId` in paced steps against `start` (this.start's), and
   * decides what to try first: a change row where the chain allows one, else a base. Shared by both
   * stores; the transaction (which may still refuse the change row) is theirs. With `hint` against
   * `start`'s table (its names known) only the keys it names are walked.
   */
  async plan(lbId: string, weights: WeightsInput, decision: DecisionInput, fence: Fence | undefined, start: PublishStart | undefined, hint?: WeightsChangeHint): Promise<PublishPlan> {
    let hinted: PreparedWeights | undefined;
    if (hint && start?.named && hint.from === start.subnets) {
      const verdict = await runPaced(prepareHintedSteps(weights, hint, start.named));
      if (verdict.prepared) {
        hinted = verdict.prepared;
        this.hints.used++;
      } else {
        this.hints.refused++;
        this.onRefused?.(lbId, verdict.why);
      }
    } else if (hint) this.hints.unmatched++;
    const { weights: ready, decision: prepared } = await runPaced(preparePublishSteps(lbId, weights, decision, fence, start?.subnets, start?.named, hinted));
    const entries = keysOnce(ready.parsed.subnets).length;
    const change = start && ready.changed && !(start.chain && compactionDue(start.chain, ready.changed.keys.length)) ? changeToWrite(ready, start.stamp) : null;
    const body = async () => ready.body ?? (await runPaced(weightsBodySteps(ready.parsed)));
    return { ready, prepared, entries, change, body };
  }

  /** The weights this process committed as exactly this row, or undefined. */
  of(lbId: string, version: number | string, publishedAt: string): OwnWeights | undefined {
    const m = this.byLb.get(lbId);
    return m && m.version === Number(version) && m.published_at === publishedAt ? m.weights : undefined;
  }
}
