// Liveness, readiness and metrics.
import type { FastifyInstance } from 'fastify';
import type { ApiMetrics } from '../metrics.ts';
import type { Store } from '../store/store.ts';
import { sendProblem } from '../errors.ts';

export function opsRoutes(store: Store, metrics: ApiMetrics) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.get('/healthz', { schema: { tags: ['ops'], summary: 'The process is alive' } }, async () => ({ status: 'ok' }));
    app.get('/readyz', { schema: { tags: ['ops'], summary: 'The store answers' } }, async (req, reply) => {
      try {
        return { status: 'ready', change_seq: await store.changeSeq() };
      } catch (err) {
        return sendProblem(req, reply, 'unavailable', `store not answering: ${(err as Error).message}`);
      }
    });
    app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics' } }, async (_req, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    });
  };
}
