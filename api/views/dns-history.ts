// One replica's memory of how the DNS view moved: the last view it rendered and the diffs between the
// views it rendered before, newest last, bounded. It answers "what changed since version H" with a
// delta when H is one of the views this replica rendered itself and every step from H to the view now
// served is known; otherwise with the full view (model/view-changes.ts says why that is always
// correct across replicas: versions are content hashes).
//
// Bounds: at most `maxSteps` diffs and `maxChanged` changed subnets over all of them (a server further
// behind than that gets the full view, which then costs no more than the deltas would). Memory: the
// last view rendered (sharing its weight maps with the store snapshot it was built from) plus the
// diffs. Nothing survives a restart; a restarted replica answers full until it has rendered twice.
import type { DnsView } from '../../model/views.ts';
import type { DnsViewFull } from '../../model/view-changes.ts';
import { composeDiffsSteps, diffViewsSteps, type RecordDiff, type SubnetsChanges } from '../../model/view-codec.ts';
import { runToEnd, type Steps } from '../../lib/steps.ts';
import { keysOnce } from '../../lib/json-steps.ts';

interface Step {
  from: string;
  to: string;
  diff: RecordDiff[];
  changed: number;
}

/** `diff()` composes the steps (O(changes), in steps of its own): run once per base and version by the caller's cache. */
export type Since = { kind: 'delta'; diff: () => Steps<RecordDiff[]> } | { kind: 'full'; reason: DnsViewFull['reason'] };

export class DnsViewHistory {
  private last: DnsView | null = null;
  private steps: Step[] = [];
  /** Versions whose next view had another shape: a server holding one is told why it gets the full view. */
  private readonly shapeBreaks = new Set<string>();

  constructor(
    private readonly maxSteps = 16,
    private readonly maxChanged = 2_000_000,
  ) {}

  /** A view this replica rendered (in publish order; one older than the last is ignored). */
  record(view: DnsView, changes?: SubnetsChanges): void {
    runToEnd(this.recordSteps(view, changes));
  }

  /**
   * record() in steps (lib/steps.ts): the diff walks every subnet of both views. The view becomes
   * `last` only when its diff is done, so since() never pairs a view with steps that do not reach it.
   * Callers record one view at a time (the route's cache renders the DNS view once per store change).
   * `changes`: the publisher's changed keys per subnet table (WorldSnapshot.changes); the diff then
   * looks at those keys only, O(changes), for every table whose change starts from the last view's.
   */
  *recordSteps(view: DnsView, changes?: SubnetsChanges): Steps<void> {
    const last = this.last;
    if (last && (last.version === view.version || (last.seq !== null && view.seq !== null && view.seq < last.seq))) return;
    if (!last) {
      this.last = view;
      return;
    }
    const diff = yield* diffViewsSteps(last, view, keysOnce, changes);
    // Another view recorded meanwhile (two renders interleaved): this one is no successor of it.
    if (this.last !== last) return;
    this.last = view;
    if (!diff) {
      this.steps = [];
      this.shapeBreaks.add(last.version);
      if (this.shapeBreaks.size > this.maxSteps) this.shapeBreaks.delete(this.shapeBreaks.values().next().value!);
      return;
    }
    this.steps.push({ from: last.version, to: view.version, diff, changed: diff.reduce((n, d) => n + d.subnets.size, 0) });
    let total = this.steps.reduce((n, s) => n + s.changed, 0);
    while (this.steps.length > this.maxSteps || (total > this.maxChanged && this.steps.length > 0)) total -= this.steps.shift()!.changed;
  }

  /** How to bring a server holding `base` (null: nothing) to `current` (the version being served). */
  since(base: string | null, current: string): Since {
    if (base === null) return { kind: 'full', reason: 'no_base' };
    if (this.shapeBreaks.has(base)) return { kind: 'full', reason: 'shape_changed' };
    const start = this.steps.findIndex((s) => s.from === base);
    if (start < 0 || this.last?.version !== current) return { kind: 'full', reason: 'unknown_base' };
    const steps = this.steps.slice(start);
    return {
      kind: 'delta',
      diff: function* () {
        // One step (a server one publish behind, the usual case): its diff as is (never changed: composing copies).
        let diff: RecordDiff[] = steps.length === 1 ? steps[0]!.diff : [];
        for (const s of steps.length === 1 ? [] : steps) diff = yield* composeDiffsSteps(diff, s.diff);
        return diff;
      },
    };
  }

  get depth(): number {
    return this.steps.length;
  }
}
