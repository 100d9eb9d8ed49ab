// A copy of the subnet table a replica holds, made while it is idle, for its next incremental read to
// apply change rows to in place. Why: the views keep every table they were handed by identity and
// never see it change (a diff tells an unchanged table by `next === prev`, digests are cached per
// table, old views stay in the history), so a read that moves the held table along change rows
// builds a new one: at 1M subnets a copy of 1M keys, ~0.35-0.45 s of the thread that renders the
// views, on the path from a publish to a follower's delta. Made ahead, after a read and a delay
// (SPARE_DELAY_MS: the render of that read and the data planes' fetches of it go first), in paced
// steps, that copy is off that path; the read then costs O(changes). The CPU is the same, spent
// between publishes instead of in one.
//
// Invariants:
// - A spare is the copy of exactly one table object (`of`), never handed to anyone before a read takes
//   it (take(): then it is that read's new table, changed in place once and handed out, never again).
// - One spare per load balancer, of the latest table held: a newer read's table replaces it (a spare of
//   an old table is never used: reads start from the latest). Small tables get none (the copy is cheap).
// - Tables are never changed once handed out, so a copy made over several turns is a copy of one state.
import { runPaced, STEP_ITEMS, type Steps } from '../../lib/steps.ts';
import { keysOnce, knownKeys } from '../../lib/json-steps.ts';
import type { WeightMap } from '../../model/index.ts';

type Subnets = Record<string, WeightMap>;

/** Tables with fewer keys get no spare (copying them is a few ms at most). */
export const SPARE_MIN_KEYS = 50_000;
/** How long after a read its table's spare copy starts. */
export const SPARE_DELAY_MS = 1_000;

/** A table's copy, ready to be changed in place by the read that takes it. */
export interface Spare {
  of: Subnets;
  copy: Subnets;
}

export function* copyTableSteps(table: Subnets): Steps<Subnets> {
  const keys = keysOnce(table);
  const copy: Subnets = {};
  for (let i = 0; i < keys.length; i++) {
    copy[keys[i]!] = table[keys[i]!]!;
    if (i % STEP_ITEMS === STEP_ITEMS - 1) yield;
  }
  return copy;
}

/** A table's key list as the one before it changed: its keys minus `removed`, then `added`. */
export interface KeyListChange {
  old: readonly string[];
  removed: ReadonlySet<string>;
  added: readonly string[];
}

/** Object.keys' order of a table changed so: the old keys that stayed, then the added ones in the order they were set. */
export function* keyListSteps(k: KeyListChange): Steps<string[]> {
  if (k.removed.size === 0) return k.old.concat(k.added);
  const keys: string[] = [];
  for (let i = 0; i < k.old.length; i++) {
    if (!k.removed.has(k.old[i]!)) keys.push(k.old[i]!);
    if (i % STEP_ITEMS === STEP_ITEMS - 1) yield;
  }
  return keys.concat(k.added);
}

export class SpareTables {
  private readonly byLb = new Map<string, { of: Subnets; copy: Subnets | null; making: Promise<void> }>();
  /** Key lists being made (keysLater), per table. */
  private readonly keyLists = new Map<Subnets, Promise<void>>();
  /** Spares made, and reads that took one (tests and the benchmark read it). */
  readonly counts = { made: 0, taken: 0 };

  constructor(
    private readonly delayMs = SPARE_DELAY_MS,
    private readonly minKeys = SPARE_MIN_KEYS,
  ) {}

  /** After a read handed out `table` for `lbId`: a spare of it, made after the delay. */
  schedule(lbId: string, table: Subnets): void {
    if (this.byLb.get(lbId)?.of === table) return;
    const slot: { of: Subnets; copy: Subnets | null; making: Promise<void> } = { of: table, copy: null, making: Promise.resolve() };
    slot.making = new Promise<void>((resolve) => setTimeout(resolve, this.delayMs).unref())
      .then(async () => {
        if (this.byLb.get(lbId) !== slot) return; // replaced meanwhile
        await this.keyLists.get(table); // the table's key list first, when it is being made (keysLater)
        if (this.byLb.get(lbId) !== slot) return;
        if (keysOnce(table).length < this.minKeys) {
          this.byLb.delete(lbId);
          return;
        }
        const copy = await runPaced(copyTableSteps(table));
        if (this.byLb.get(lbId) !== slot) return;
        slot.copy = copy;
        this.counts.made++;
      });
    this.byLb.set(lbId, slot);
  }

  /**
   * The key list of `table`, changed in place from a spare, made after the delay (keysOnce lists it
   * itself if asked first: the same list, in one piece). Made whether or not a newer read replaced
   * the spare meanwhile: the next read starts from this table's key list either way.
   */
  keysLater(table: Subnets, change: KeyListChange): void {
    const making = new Promise<void>((resolve) => setTimeout(resolve, this.delayMs).unref())
      .then(async () => knownKeys(table, await runPaced(keyListSteps(change))))
      .finally(() => this.keyLists.delete(table));
    this.keyLists.set(table, making);
  }

  /** The spare of exactly `table`, if made: the caller's to change (it is no longer anyone's spare). */
  take(lbId: string, table: Subnets): Spare | undefined {
    const slot = this.byLb.get(lbId);
    if (!slot || slot.of !== table || !slot.copy) return undefined;
    this.byLb.delete(lbId);
    this.counts.taken++;
    return { of: table, copy: slot.copy };
  }

  /** Resolves once every spare scheduled so far is made (or given up): the benchmark waits as idle time would. */
  async settled(): Promise<void> {
    // The delays' timers do not keep the process alive (unref): while someone waits on them, this does.
    const alive = setInterval(() => undefined, 1_000);
    try {
      await Promise.all([...this.keyLists.values(), ...[...this.byLb.values()].map((s) => s.making)]);
    } finally {
      clearInterval(alive);
    }
  }

  /** No spare for `lbId` (this process publishes it: its reads hand out its own tables, never applying rows). */
  forget(lbId: string): void {
    this.byLb.delete(lbId);
  }

  keepOnly(lbIds: ReadonlySet<string>): void {
    for (const id of this.byLb.keys()) if (!lbIds.has(id)) this.byLb.delete(id);
  }
}
