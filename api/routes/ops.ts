// Liveness, readiness, metrics and the OpenAPI document. /healthz, /readyz and /openapi.json are open
// (probes and tooling have no token; auth.ts lets them through) and declared without security. Ready
// means this replica reaches its store now: a replica cut off from the database answers 503 so load
// balancers in front of the API stop sending it requests.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiMetrics } from '../metrics.ts';
import type { Replica } from '../replica.ts';
import { ANY_REQUEST, problemResponses, sendProblem } from '../errors.ts';

const open = { security: [] as never[] };

export function opsRoutes(replica: Replica, metrics: ApiMetrics, spec: () => unknown) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.get('/healthz', {
      schema: { tags: ['ops'], summary: 'The process is alive', ...open, response: { 200: z.object({ status: z.literal('ok') }), ...problemResponses(ANY_REQUEST) } },
    }, async () => ({ status: 'ok' as const }));
    app.get('/readyz', {
      schema: {
        tags: ['ops'],
        summary: 'This replica reaches its store',
        ...open,
        response: { 200: z.object({ status: z.literal('ready'), replica: z.string(), change_seq: z.number().int() }), ...problemResponses(ANY_REQUEST) },
      },
    }, async (req, reply) => {
      await replica.ping();
      if (replica.ok) return { status: 'ready' as const, replica: replica.id, change_seq: replica.seq };
      return sendProblem(req, reply, 'unavailable', `replica ${replica.id}: store not answering: ${replica.lastError}`);
    });
    app.get('/metrics', {
      schema: {
        tags: ['ops'],
        summary: 'Prometheus metrics',
        response: { 200: { description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: z.string() } } }, ...problemResponses(['unauthorized', ...ANY_REQUEST]) },
      },
    }, async (_req, reply) => {
      reply.type(metrics.registry.contentType).serializer((x) => x as string);
      return metrics.registry.metrics();
    });
    app.get('/openapi.json', {
      schema: {
        tags: ['ops'],
        summary: 'This OpenAPI document',
        ...open,
        response: { 200: z.looseObject({ openapi: z.string() }).describe('OpenAPI 3.1'), ...problemResponses(ANY_REQUEST) },
      },
    }, async () => spec());
  };
}
