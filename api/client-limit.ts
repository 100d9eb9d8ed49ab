// Bounds how many long-polls one client address may hold at once. A long-poll parks a request (and a
// socket) for up to long_poll_max; without a bound one client could park thousands and starve the
// edges and DNS servers that need them. The count is per address as the server sees it (behind a
// proxy that is the proxy: size the bound for that).
export class PerClientLimit {
  private readonly held = new Map<string, number>();

  constructor(readonly max: number) {}

  /** A release function when `client` is under the bound, else null. Release exactly once. */
  acquire(client: string): (() => void) | null {
    const n = this.held.get(client) ?? 0;
    if (n >= this.max) return null;
    this.held.set(client, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(client) ?? 1) - 1;
      if (left <= 0) this.held.delete(client);
      else this.held.set(client, left);
    };
  }

  /** Addresses currently holding at least one. */
  get clients(): number {
    return this.held.size;
  }
}
