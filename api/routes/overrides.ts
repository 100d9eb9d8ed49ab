// Operator overrides of one load balancer (model/override.ts): created with who/when/why and an
// optional expiry, listed with their state, cancelled (kept as the audit trail, never deleted).
// A request is checked against the overrides in force inside the store's write transaction
// (checkOverride, the same bounds the solver honours: model/override.ts splitBounds): a set that could
// not be honoured exactly is refused here, with 409 naming the fields and the overrides it conflicts
// with, or 422 when the request cannot be honoured by itself — never discovered at solve time.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { checkOverride, Override, OverrideInput, toSpec, type OverrideProblem } from '../../model/override.ts';
import { requestActor } from '../auth.ts';
import { ApiError, fieldError, problemResponses } from '../errors.ts';
import { PageQuery, pageOf } from '../http.ts';
import type { PageRequest, Store } from '../store/store.ts';
import { READ, WRITE } from './crud.ts';

const PATH = '/api/v1/load-balancers/:lbId/overrides';
const Params = z.object({ lbId: z.string().min(1).max(64) });
const ItemParams = Params.extend({ id: z.string().min(1).max(64) });

/** The first problem's kind decides the status; every problem's fields are named. */
function refusal(problems: OverrideProblem[]): ApiError {
  const status = problems.some((p) => p.status === 409) ? 409 : 422;
  const shown = problems.filter((p) => p.status === status);
  const detail = shown.map((p) => (p.with.length > 0 ? `${p.detail} [conflicts with ${p.with.join(', ')}]` : p.detail)).join('; ');
  return new ApiError(status === 409 ? 'conflict' : 'unprocessable', detail, shown.flatMap((p) => p.fields.map((f) => fieldError(f, p.detail))));
}

export function overrideRoutes(store: Store) {
  return async function register(app: FastifyInstance): Promise<void> {
    const tags = ['overrides'];
    app.route({
      method: 'GET',
      url: PATH,
      schema: { tags, summary: 'List the overrides of a load balancer (every state, oldest first)', params: Params, querystring: PageQuery, response: { 200: pageOf(Override), ...problemResponses(READ) } },
      handler: async (req: FastifyRequest) => store.listOverrides((req.params as z.output<typeof Params>).lbId, req.query as PageRequest),
    });

    app.route({
      method: 'POST',
      url: PATH,
      schema: {
        tags,
        summary: 'Create an override (a traffic dial, share bounds, or forced weights)',
        description: 'Refused with 409 when it conflicts with an override in force (the detail names it), 422 when it cannot be honoured by itself (an unknown origin or edge, an expiry in the past).',
        params: Params,
        body: OverrideInput,
        response: { 201: Override, ...problemResponses([...WRITE, 'conflict', 'unprocessable']) },
      },
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        const { lbId } = req.params as z.output<typeof Params>;
        const now = Date.now();
        const spec = toSpec(req.body as z.output<typeof OverrideInput>, now);
        // Origins, edges and policy change rarely and are re-checked by the scheduler every cycle; the
        // overrides in force are read inside the write transaction.
        const [lb, origins, edges] = await Promise.all([store.getLoadBalancer(lbId), store.allOrigins(lbId), store.allEdges()]);
        const ctx = { policy: lb.policy, origins: origins.map((o) => o.id), edges: edges.map((e) => e.id), now };
        const created = await store.createOverride(lbId, spec, requestActor(req), (active) => {
          const problems = checkOverride(spec, active, ctx);
          if (problems.length > 0) throw refusal(problems);
        });
        return reply.code(201).header('location', `/api/v1/load-balancers/${encodeURIComponent(lbId)}/overrides/${created.id}`).send(created);
      },
    });

    app.route({
      method: 'GET',
      url: `${PATH}/:id`,
      schema: { tags, summary: 'Read an override', params: ItemParams, response: { 200: Override, ...problemResponses(READ) } },
      handler: async (req: FastifyRequest) => {
        const { lbId, id } = req.params as z.output<typeof ItemParams>;
        return store.getOverride(lbId, id);
      },
    });

    app.route({
      method: 'DELETE',
      url: `${PATH}/:id`,
      schema: {
        tags,
        summary: 'Cancel an override (it stops applying at the next cycle; the record stays, with who cancelled it)',
        params: ItemParams,
        response: { 200: Override, ...problemResponses([...WRITE, 'conflict']) },
      },
      handler: async (req: FastifyRequest) => {
        const { lbId, id } = req.params as z.output<typeof ItemParams>;
        return store.cancelOverride(lbId, id, requestActor(req));
      },
    });
  };
}
