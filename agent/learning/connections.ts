// The connections the learner has seen, by socket identity: when each was first seen (demand is counted
// once, min_connection_age), the last poll that saw it, and its subnet or upstream label. Pure data.
//
// Layout (why): at 50k live connections one object per connection (plus a boxed first-seen time) was
// ~150 bytes and 50k objects for the collector's garbage collector to trace every poll. Here a
// connection is a slot in typed-array columns, found through one Map entry; the label is the learning
// table's own string for the subnet (interned by the caller), not a copy per connection.
const NONE = -1;

export class ConnectionTracker {
  private readonly slots = new Map<number | string, number>();
  private firstSeen = new Float64Array(256);
  private lastPoll = new Int32Array(256);
  private inbound = new Uint8Array(256);
  private labels: string[] = [];
  /** Free slots, linked through lastPoll (a freed slot's lastPoll is the next free slot). */
  private free = NONE;
  private used = 0;

  get size(): number {
    return this.slots.size;
  }

  /** The connection's slot, or -1 when it is new. */
  find(id: number | string): number {
    return this.slots.get(id) ?? NONE;
  }

  add(id: number | string, firstSeenMs: number, poll: number, label: string, inbound: boolean): number {
    let i = this.free;
    if (i !== NONE) this.free = this.lastPoll[i]!;
    else {
      if (this.used === this.firstSeen.length) this.grow();
      i = this.used++;
    }
    this.slots.set(id, i);
    this.firstSeen[i] = firstSeenMs;
    this.lastPoll[i] = poll;
    this.inbound[i] = inbound ? 1 : 0;
    this.labels[i] = label;
    return i;
  }

  seen(slot: number, poll: number): void {
    this.lastPoll[slot] = poll;
  }

  firstSeenMs(slot: number): number {
    return this.firstSeen[slot]!;
  }

  label(slot: number): string {
    return this.labels[slot]!;
  }

  isInbound(slot: number): boolean {
    return this.inbound[slot] === 1;
  }

  /** Forgets the connections the poll `poll` did not see (after a complete dump only). */
  forgetUnseen(poll: number): void {
    for (const [id, i] of this.slots) {
      if (this.lastPoll[i] === poll) continue;
      this.slots.delete(id);
      this.labels[i] = '';
      this.lastPoll[i] = this.free;
      this.free = i;
    }
  }

  private grow(): void {
    const size = this.firstSeen.length * 2;
    const firstSeen = new Float64Array(size);
    firstSeen.set(this.firstSeen);
    const lastPoll = new Int32Array(size);
    lastPoll.set(this.lastPoll);
    const inbound = new Uint8Array(size);
    inbound.set(this.inbound);
    this.firstSeen = firstSeen;
    this.lastPoll = lastPoll;
    this.inbound = inbound;
  }
}
