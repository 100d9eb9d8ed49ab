// Builds the control plane's HTTP server: schema-first routes (zod), OpenAPI 3.1 generated from them,
// problem+json errors, bearer auth, metrics. Encapsulated plugins, one per concern.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Socket } from 'node:net';
import type { TlsOptions } from 'node:tls';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { registerAuth, type AuthOptions, type TokenSets } from './auth.ts';
import { ChangeHub } from './change-hub.ts';
import { PerClientLimit } from './client-limit.ts';
import { problemErrorHandler } from './errors.ts';
import { clientErrorHandler, frameworkErrorHandler, MethodTable, notFoundOrNotAllowed, registerRequestGuards } from './http-guards.ts';
import { createApiMetrics, type ApiMetrics } from './metrics.ts';
import { docsPath } from './routes/docs.ts';
import { opsRoutes } from './routes/ops.ts';
import { overrideRoutes } from './routes/overrides.ts';
import { resourceRoutes } from './routes/resources.ts';
import { healthRoutes } from './routes/health.ts';
import { dnssecRoutes } from './routes/dnssec.ts';
import { viewRoutes } from './routes/views.ts';
import { DEFAULT_QUORUM_POLICY, type QuorumPolicy } from './health/quorum.ts';
import type { Store } from './store/store.ts';
import { Replica } from './replica.ts';

export const API_VERSION = '1.0.0';

export interface ServerOptions {
  store: Store;
  tokens: TokenSets;
  /** Serve HTTPS with these options (lib/tls.ts loadServerTls); plain HTTP when absent. */
  https?: TlsOptions | undefined;
  /** Client certificate verification (with `https`) and the roles certificates' OUs give. */
  clientAuth?: AuthOptions['clientAuth'];
  certificateRoles?: AuthOptions['certificateRoles'];
  bodyLimitBytes?: number;
  longPollMaxMs?: number;
  /** Long-polls one client address may hold at once; beyond it, 429. */
  longPollsPerClient?: number;
  /** The whole request line and headers must arrive within this (slowloris). */
  headerTimeoutMs?: number;
  /** The whole request, body included, must arrive within this. A held long-poll is not affected. */
  requestTimeoutMs?: number;
  /** Longest request target (path and query) interpreted; longer ones get 414. */
  maxUriBytes?: number;
  docs?: boolean;
  logger?: FastifyBaseLogger;
  metrics?: ApiMetrics;
  /** This replica (id, store reachability, scheduler lease); a default one when absent. */
  replica?: Replica;
  /** Health by quorum: the policy /api/v1/health judges freshness by, and what to call on an edge's report. */
  health?: { policy?: QuorumPolicy; onReport?: () => void };
  /** DNSSEC keys managed here (/api/v1/dnssec): the key directory the dns servers read. */
  dnssec?: { keyDirectory: string };
}

export const SERVER_DEFAULTS = {
  bodyLimitBytes: 1024 * 1024,
  longPollMaxMs: 60_000,
  longPollsPerClient: 64,
  headerTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  // What nginx (large_client_header_buffers 8k) and Apache (LimitRequestLine 8190) interpret.
  maxUriBytes: 8192,
} as const;

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const o = { ...SERVER_DEFAULTS, ...withoutUndefined(opts) };
  const httpTimeouts = { headersTimeout: o.headerTimeoutMs, connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(o.headerTimeoutMs / 4))) };
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    bodyLimit: o.bodyLimitBytes,
    // Long-polls hold requests open for up to a minute; keep idle sockets a little longer than that.
    keepAliveTimeout: 65_000,
    // Slow clients: Node cuts a connection whose headers (or whole request) do not arrive in time, and
    // checks for that every connectionsCheckingInterval (30 s by default: far too coarse here). A held
    // long-poll has a complete request, so these never cut it.
    requestTimeout: o.requestTimeoutMs,
    ...(opts.https
      ? // A TLS handshake is held to the header timeout too (Node's default is 120 s: a slowloris at the TLS layer).
        { https: { ...opts.https, ...httpTimeouts, handshakeTimeout: o.headerTimeoutMs } }
      : { http: httpTimeouts }),
    clientErrorHandler: clientErrorHandler as (err: Error, socket: Socket) => void,
    frameworkErrors: frameworkErrorHandler,
    // Answered by the request guard instead, as a problem.
    return503OnClosing: false,
  }) as unknown as FastifyInstance;
  const metrics = opts.metrics ?? createApiMetrics();
  const changes = new ChangeHub(opts.store, (n) => metrics.longPollWakeups.inc(n));
  const replica = opts.replica ?? new Replica({ id: 'local', store: opts.store, storeKind: 'sqlite', log: app.log as never, registry: metrics.registry });
  let closing = false;
  // preClose, not onClose: the server waits for in-flight requests before onClose, and long-polls would
  // hold it for up to long_poll_max. Released, they answer 304 and the clients poll the next instance.
  app.addHook('preClose', async () => {
    closing = true;
    changes.close();
  });
  const methods = new MethodTable();
  app.addHook('onRoute', (route) => methods.add(route.url, route.method));

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(problemErrorHandler);
  const notFound = notFoundOrNotAllowed(methods);
  app.setNotFoundHandler(notFound);
  registerRequestGuards(app, { maxUriBytes: o.maxUriBytes, closing: () => closing, notFound });
  // The API speaks JSON only (merge-patch bodies are JSON too); anything else is a 415.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.duration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });
  metrics.waitersSource.current = () => changes.waiting;

  const docs = opts.docs ?? true;
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'sluice control plane',
        version: API_VERSION,
        description: 'Source of truth for load balancers, origins and edges; the weights the scheduler publishes; learned latency; the audit log of decisions. Errors are RFC 9457 problem+json.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          // OpenAPI 3.1's mutualTLS scheme (the swagger plugin's types stop at 3.0's four kinds).
          mutualTLS: { type: 'mutualTLS', description: 'a client certificate signed by tls.client_ca_file whose subject OU is in auth.client_certificates (admin_ous or read_ous)' } as unknown as { type: 'openIdConnect'; openIdConnectUrl: string },
        },
      },
      security: [{ bearer: [] }, { mutualTLS: [] }],
    },
    transform: jsonSchemaTransform,
    // Swagger UI registers its routes hidden; /docs is declared here, open like the spec itself.
    transformObject: (doc) => {
      const out = jsonSchemaTransformObject(doc);
      return docs ? ({ ...out, paths: { ...(out as { paths?: object }).paths, ...docsPath } } as typeof out) : out;
    },
  });
  if (docs) await app.register(swaggerUi, { routePrefix: '/docs' });

  registerAuth(app, { tokens: opts.tokens, certificateRoles: opts.certificateRoles, clientAuth: opts.https ? opts.clientAuth : 'NoClientCert' });
  await app.register(opsRoutes(replica, metrics, () => app.swagger()));
  await app.register(resourceRoutes(opts.store));
  await app.register(overrideRoutes(opts.store));
  const longPolls = new PerClientLimit(o.longPollsPerClient);
  await app.register(viewRoutes({ store: opts.store, changes, replica, longPollMaxMs: o.longPollMaxMs, longPolls, onRefused: () => metrics.longPollRefused.inc() }));
  await app.register(healthRoutes({ store: opts.store, replica, policy: opts.health?.policy ?? DEFAULT_QUORUM_POLICY, ...(opts.health?.onReport ? { onReport: opts.health.onReport } : {}) }));
  // Registered without a key directory too (the routes then say how to configure one): one API document.
  await app.register(dnssecRoutes({ keyDirectory: opts.dnssec?.keyDirectory }));
  await app.ready();
  return app;
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
