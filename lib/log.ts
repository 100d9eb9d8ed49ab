// One structured logger (pino, as fastify uses) for every component, JSON lines on stderr.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(component: string, level: string = process.env.SLUICE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: `sluice-${component}`, level }, pino.destination(2));
}
