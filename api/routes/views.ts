// Read-only views: weights, learned latency, decisions, origin health, and the two long-polled views
// data planes live on (an edge's config, the DNS view).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Cidr } from '../../model/primitives.ts';
import { Decision, DnsView, EdgeConfig, LatencyEntry, LoadBalancerWeights, OriginHealth } from '../../model/views.ts';
import type { ChangeHub } from '../change-hub.ts';
import { ApiError, ProblemSchema } from '../errors.ts';
import { noneMatch, PageQuery, pageOf } from '../http.ts';
import type { Store } from '../store/store.ts';
import { buildDnsView, buildEdgeConfig, type WorldSnapshot } from '../views/build.ts';

const problems = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };

export interface ViewDeps {
  store: Store;
  changes: ChangeHub;
  longPollMaxMs: number;
}

/** Reads everything the views are built from, once per store change (cached by change sequence). */
export function snapshotReader(store: Store): () => Promise<WorldSnapshot> {
  let cached: { seq: number; world: Promise<WorldSnapshot> } | undefined;
  return async () => {
    const seq = await store.changeSeq();
    if (cached?.seq === seq) return cached.world;
    const world = (async () => {
      const loadBalancers = await store.allLoadBalancers();
      const [origins, health, weights] = await Promise.all([
        store.allOrigins(),
        store.listOriginHealth(),
        Promise.all(loadBalancers.map((lb) => store.getWeights(lb.id))),
      ]);
      return { loadBalancers, origins, health, weights: new Map(weights.filter((w) => w !== null).map((w) => [w.load_balancer_id, w])) };
    })();
    cached = { seq, world };
    world.catch(() => (cached = undefined));
    return world;
  };
}

const WaitQuery = z.strictObject({
  wait: z.coerce.number().min(0).max(3600).default(0).describe('seconds to hold the request while If-None-Match still matches (long-poll)'),
});

/**
 * Serves a view with an ETag. With If-None-Match equal to the current version and ?wait=N, holds the
 * request until the view changes (answers 200 within one store-change notification) or N seconds pass
 * (304). A change that leaves this view as it was (another edge's weights) keeps it waiting.
 */
async function longPoll<T extends { version: string }>(req: FastifyRequest, reply: FastifyReply, deps: ViewDeps, waitSeconds: number, compute: () => Promise<T>): Promise<FastifyReply> {
  const deadline = Date.now() + Math.min(waitSeconds * 1000, deps.longPollMaxMs);
  const closed = new AbortController();
  reply.raw.once('close', () => closed.abort());
  let body = await compute();
  while (noneMatch(req.headers['if-none-match'], `"${body.version}"`)) {
    const left = deadline - Date.now();
    if (left <= 0 || closed.signal.aborted) return reply.code(304).header('etag', `"${body.version}"`).send();
    await deps.changes.next(left, closed.signal);
    body = await compute();
  }
  return reply.header('etag', `"${body.version}"`).header('cache-control', 'no-cache').send(body);
}

export function viewRoutes(deps: ViewDeps) {
  const { store } = deps;
  const snapshot = snapshotReader(store);
  return async function register(app: FastifyInstance): Promise<void> {
    const r = app.withTypeProvider<ZodTypeProvider>();

    r.get('/api/v1/edges/:id/config', {
      schema: {
        tags: ['data plane'],
        summary: "Everything one edge needs: its listeners, their origins and this edge's weights",
        description: 'ETag is the content version. Send If-None-Match with ?wait=30 to long-poll: the answer comes within a second of a change, or 304 after the wait.',
        params: z.object({ id: z.string().min(1).max(64) }),
        querystring: WaitQuery,
        response: { 200: EdgeConfig, 304: z.null().describe('not modified'), ...problems },
      },
      handler: async (req, reply) => {
        const edge = await store.getEdge(req.params.id);
        return longPoll(req, reply, deps, req.query.wait, async () => buildEdgeConfig(edge, await snapshot()));
      },
    });

    r.get('/api/v1/dns/view', {
      schema: {
        tags: ['data plane'],
        summary: 'Everything sluice dns needs: zones, records, origins, per-subnet weights',
        description: 'Long-poll like the edge config: If-None-Match plus ?wait=N.',
        querystring: WaitQuery,
        response: { 200: DnsView, 304: z.null().describe('not modified'), ...problems },
      },
      handler: async (req, reply) => longPoll(req, reply, deps, req.query.wait, async () => buildDnsView(await snapshot())),
    });

    r.get('/api/v1/load-balancers/:id/weights', {
      schema: {
        tags: ['views'],
        summary: 'The weights the scheduler last published for a load balancer',
        params: z.object({ id: z.string().min(1).max(64) }),
        response: { 200: LoadBalancerWeights, ...problems },
      },
      handler: async (req) => {
        await store.getLoadBalancer(req.params.id);
        const weights = await store.getWeights(req.params.id);
        if (!weights) throw new ApiError('not_found', `no weights have been published for load balancer ${req.params.id} yet; edges and DNS use static weights until then`);
        return weights;
      },
    });

    r.get('/api/v1/latency', {
      schema: {
        tags: ['views'],
        summary: 'Learned latency per client subnet and origin',
        querystring: PageQuery.extend({ subnet: Cidr.optional(), origin_id: z.string().max(64).optional() }),
        response: { 200: pageOf(LatencyEntry), ...problems },
      },
      handler: async (req) => store.listLatency(req.query),
    });

    r.get('/api/v1/decisions', {
      schema: {
        tags: ['views'],
        summary: 'The audit log: one record per scheduler cycle, newest first',
        querystring: PageQuery.extend({ load_balancer_id: z.string().max(64).optional() }),
        response: { 200: pageOf(Decision), ...problems },
      },
      handler: async (req) => store.listDecisions(req.query),
    });

    r.get('/api/v1/health', {
      schema: { tags: ['views'], summary: 'Origin health as the control plane sees it', response: { 200: z.object({ items: z.array(OriginHealth) }), ...problems } },
      handler: async () => ({ items: await store.listOriginHealth() }),
    });
  };
}
