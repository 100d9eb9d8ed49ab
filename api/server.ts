// Builds the control plane's HTTP server: schema-first routes (zod), OpenAPI 3.1 generated from them,
// problem+json errors, bearer auth, metrics. Encapsulated plugins, one per concern.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { registerAuth, type TokenSets } from './auth.ts';
import { ChangeHub } from './change-hub.ts';
import { problemErrorHandler, sendProblem } from './errors.ts';
import { createApiMetrics, type ApiMetrics } from './metrics.ts';
import { opsRoutes } from './routes/ops.ts';
import { resourceRoutes } from './routes/resources.ts';
import { viewRoutes } from './routes/views.ts';
import type { Store } from './store/store.ts';

export const API_VERSION = '1.0.0';

export interface ServerOptions {
  store: Store;
  tokens: TokenSets;
  bodyLimitBytes?: number;
  longPollMaxMs?: number;
  docs?: boolean;
  logger?: FastifyBaseLogger;
  metrics?: ApiMetrics;
}

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    bodyLimit: opts.bodyLimitBytes ?? 1024 * 1024,
    // Long-polls hold requests open for up to a minute; keep idle sockets a little longer than that.
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
  });
  const metrics = opts.metrics ?? createApiMetrics();
  const changes = new ChangeHub(opts.store);
  // preClose, not onClose: the server waits for in-flight requests before onClose, and long-polls would
  // hold it for up to long_poll_max. Released, they answer 304 and the clients poll the next instance.
  app.addHook('preClose', async () => changes.close());

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(problemErrorHandler);
  app.setNotFoundHandler((req, reply) => sendProblem(req, reply, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}`));
  // The API speaks JSON only (merge-patch bodies are JSON too); anything else is a 415.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.duration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });
  metrics.waitersSource.current = () => changes.waiting;

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'sluice control plane',
        version: API_VERSION,
        description: 'Source of truth for load balancers, origins and edges; the weights the scheduler publishes; learned latency; the audit log of decisions. Errors are RFC 9457 problem+json.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  if (opts.docs ?? true) await app.register(swaggerUi, { routePrefix: '/docs' });

  registerAuth(app, opts.tokens);
  await app.register(opsRoutes(opts.store, metrics));
  await app.register(resourceRoutes(opts.store));
  await app.register(viewRoutes({ store: opts.store, changes, longPollMaxMs: opts.longPollMaxMs ?? 60_000 }));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}
