// One subscription to the store's change feed, shared by every long-poll waiter (thousands of edges
// may be waiting at once; the store is told about one listener).
import type { Store } from './store/store.ts';

export class ChangeHub {
  private waiters = new Set<() => void>();
  private readonly unsubscribe: () => void;
  /** Set at shutdown: waiters are released and new waits end at once, so held requests let the server close. */
  closed = false;

  /** `onWake(n)`: told how many waiters each change woke (the wake-up metric). */
  constructor(store: Pick<Store, 'onChange'>, private readonly onWake: (n: number) => void = () => {}) {
    this.unsubscribe = store.onChange(() => {
      const woken = this.waiters;
      this.waiters = new Set();
      if (woken.size > 0) this.onWake(woken.size);
      for (const wake of woken) wake();
    });
  }

  get waiting(): number {
    return this.waiters.size;
  }

  /** Resolves true on the next change, false after `timeoutMs` or when `signal` aborts. */
  next(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (changed: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', abort);
        resolve(changed);
      };
      const wake = () => done(true);
      const abort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(wake);
      signal?.addEventListener('abort', abort, { once: true });
    });
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }
}
