// One structured logger (pino, as fastify uses) for every component, JSON lines on stderr.
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * `sync`: write each line before returning. A thread that never returns to its event loop (the DNS
 * server's batched UDP threads, blocked in poll()) needs it: an asynchronous write would never finish.
 */
export function createLogger(component: string, level: string = process.env.SLUICE_LOG_LEVEL ?? 'info', opts: { sync?: boolean } = {}): Logger {
  return pino({ name: `sluice-${component}`, level }, pino.destination({ dest: 2, sync: opts.sync ?? false }));
}
