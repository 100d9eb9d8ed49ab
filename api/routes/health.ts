// Health seen from several places: GET /api/v1/health (the decisions, per origin every vantage point
// and its view, edge-local exclusions, this replica's state) and POST /api/v1/edges/{id}/health (an
// edge's reports: what its data plane or its own checks see of each origin).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EdgeOriginHealth, OriginHealth } from '../../model/views.ts';
import { groupBy } from '../../lib/group.ts';
import { requestPrincipal } from '../auth.ts';
import { ANY_REQUEST, ApiError, problemResponses, type ProblemCode } from '../errors.ts';
import { tally, type QuorumPolicy } from '../health/quorum.ts';
import type { Replica } from '../replica.ts';
import type { HealthObservation, Store } from '../store/store.ts';

const LeaseStatus = z.object({
  leader: z.string().nullable().describe('holder of the unexpired lease; null while nobody leads'),
  epoch: z.number().int().nullable().describe('the lease epoch (fencing token); grows on every change of leader'),
  lease_age_seconds: z.number().nullable().describe('how long the leader has held this epoch'),
  lease_expires_in_seconds: z.number().nullable(),
  this_replica: z.boolean().describe('the answering replica is the leader'),
});

const VantageView = z.object({
  vantage: z.string().describe('a control-plane replica id, or "edge:<edge name>"'),
  kind: z.enum(['control_plane', 'edge']),
  edge_id: z.string().nullable(),
  healthy: z.boolean().describe("the vantage's verdict (after its own rise/fall)"),
  fresh: z.boolean().describe('reported within health.stale_after (by the answering replica’s clock); stale votes count neither way'),
  agrees: z.boolean().describe('fresh and the same as the global decision'),
  age_seconds: z.number(),
  result: z.enum(['pass', 'fail', '']).describe('its last raw check'),
  latency_ms: z.number().nullable().describe('its last passing check took this long'),
  observed_at: z.string(),
  detail: z.string(),
});

const OriginVotes = z.object({
  origin_id: z.string(),
  load_balancer_id: z.string(),
  name: z.string(),
  healthy: z.boolean().describe('the global decision in force'),
  reason: z.string(),
  detail: z.string(),
  since: z.string().nullable(),
  quorum: z.object({
    fresh: z.number().int(),
    down: z.number().int(),
    required: z.number().int().describe('down votes that would make it unhealthy now'),
    known: z.number().int().describe('vantages heard within health.forget_after: the bar is capped at this many'),
    lone: z.boolean().describe('only one vantage is known: it decides alone'),
  }),
  vantages: z.array(VantageView),
  excluded_by_edges: z.array(z.string()).describe('edges (ids) that cannot reach it while the quorum can: it is out of their weights only'),
});

const HealthView = z
  .object({
    items: z.array(OriginHealth).describe('effective health in force (what edges and DNS act on), with the votes behind its last transition'),
    origins: z.array(OriginVotes).describe('per origin with a health check: every vantage point and its view now'),
    edges: z.array(EdgeOriginHealth).describe('edge-local decisions: origins one edge cannot reach (reachable false) and lifted ones'),
    observations: z
      .array(
        z.object({
          origin_id: z.string(),
          vantage: z.string(),
          kind: z.enum(['control_plane', 'edge']),
          edge_id: z.string().nullable(),
          healthy: z.boolean(),
          result: z.enum(['pass', 'fail', '']),
          latency_ms: z.number().nullable(),
          observed_at: z.string(),
          detail: z.string(),
        }),
      )
      .describe("each vantage's latest report per origin, raw"),
    control_plane: z.object({
      replica: z.string().describe('the replica that answered'),
      store: z.enum(['sqlite', 'postgres']),
      change_seq: z.number().int().describe("the store's change sequence as this replica last read it"),
      scheduler: LeaseStatus,
      health: LeaseStatus.describe('the health lease: the replica that makes the health decisions'),
    }),
  })
  .meta({ id: 'HealthView' });

export const HealthReport = z
  .strictObject({
    reports: z
      .array(
        z.strictObject({
          origin_id: z.string().min(1).max(64),
          healthy: z.boolean().describe("this edge's verdict after its rise/fall (HAProxy's server state, or its own checks')"),
          result: z.enum(['pass', 'fail']).describe('the last raw check'),
          latency_ms: z.number().min(0).max(3_600_000).nullable().default(null).describe('how long the last check took, when it passed'),
          detail: z.string().max(300).default(''),
        }),
      )
      .min(1)
      .max(2000),
  })
  .meta({ id: 'HealthReport' });

export interface HealthRouteDeps {
  store: Store;
  replica: Replica;
  policy: QuorumPolicy;
  /** A report was stored: the evaluator may judge at once. */
  onReport?: () => void;
  now?: () => number;
}

const READ: ProblemCode[] = ['unauthorized', ...ANY_REQUEST];
const REPORT: ProblemCode[] = ['validation_failed', 'invalid_json', 'unauthorized', 'forbidden', 'not_found', 'payload_too_large', 'unsupported_media_type', ...ANY_REQUEST];

export function healthRoutes(deps: HealthRouteDeps) {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  return async function register(app: FastifyInstance): Promise<void> {
    const r = app.withTypeProvider<ZodTypeProvider>();

    r.get('/api/v1/health', {
      schema: {
        tags: ['views'],
        summary: 'Origin health: the decisions in force, per origin every vantage point and its view, edge-local exclusions, and this replica’s state',
        response: { 200: HealthView, ...problemResponses(READ) },
      },
      handler: async () => {
        const [items, observations, edges, origins, scheduler, health] = await Promise.all([
          store.listOriginHealth(),
          store.listHealthObservations(),
          store.listEdgeHealth(),
          store.allOrigins(),
          deps.replica.scheduler(),
          deps.replica.health(),
        ]);
        const t = now();
        const decided = new Map(items.map((h) => [h.origin_id, h]));
        const byOrigin = groupBy(observations, (x) => x.origin_id);
        const perOrigin = origins
          .filter((o) => o.health_check)
          .map((o) => {
            const h = decided.get(o.id);
            const healthy = h?.healthy ?? true;
            const mine = byOrigin.get(o.id) ?? [];
            const { counted, tally: q } = tally(mine.map((x) => ({ vantage: x.vantage, healthy: x.healthy, received_ms: Date.parse(x.observed_at), x })), t, deps.policy);
            return {
              origin_id: o.id,
              load_balancer_id: o.load_balancer_id,
              name: o.name,
              healthy,
              reason: h?.reason ?? 'no_decision_yet',
              detail: h?.detail ?? 'healthy until a quorum of vantage points sees it down',
              since: h?.since ?? null,
              quorum: { fresh: q.fresh, down: q.down, required: q.required, known: q.known, lone: q.lone },
              vantages: counted.map((c) => vantageView(c.vote.x, c.fresh, c.age_ms, healthy)),
              excluded_by_edges: edges.filter((e) => e.origin_id === o.id && !e.reachable).map((e) => e.edge_id),
            };
          });
        return {
          items,
          origins: perOrigin,
          edges,
          observations,
          control_plane: { replica: deps.replica.id, store: deps.replica.storeKind, change_seq: deps.replica.seq, scheduler, health },
        };
      },
    });

    r.post('/api/v1/edges/:id/health', {
      config: { reportScope: true },
      schema: {
        tags: ['data plane'],
        summary: "An edge's health reports: what it sees of each origin (a vote in the quorum, and its own reachability)",
        description:
          'Sent by edge-sync whenever a verdict changes and as a heartbeat. Needs an admin token or a report token (auth.report_tokens), or a client certificate whose OU is in auth.client_certificates.report_ous; a report token bound to an edge, and a report certificate (bound to the edge its CN names), may only report as that edge. ' +
          'Stamped with the receiving replica’s clock. Reports on origins that do not exist (any more) are ignored and listed.',
        params: z.object({ id: z.string().min(1).max(64) }),
        body: HealthReport,
        response: {
          200: z.object({ accepted: z.number().int(), ignored: z.array(z.string()).describe('origin ids that do not exist: not recorded') }),
          ...problemResponses(REPORT),
        },
      },
      handler: async (req) => {
        const edge = await store.getEdge(req.params.id);
        const principal = requestPrincipal(req);
        if (principal.role === 'report' && principal.edge !== null && principal.edge !== edge.name) {
          throw new ApiError('forbidden', `this report credential is bound to edge "${principal.edge}" (a bound report token, or a report certificate whose CN names the edge): it cannot report as edge "${edge.name}"`, [{ field: 'authorization', pointer: '#/authorization', in: 'headers', detail: `bound to edge ${principal.edge}` }]);
        }
        const known = new Set((await store.allOrigins()).map((o) => o.id));
        const at = new Date(now()).toISOString();
        const accepted: HealthObservation[] = [];
        const ignored: string[] = [];
        for (const rep of req.body.reports) {
          if (!known.has(rep.origin_id)) {
            ignored.push(rep.origin_id);
            continue;
          }
          accepted.push({ origin_id: rep.origin_id, vantage: `edge:${edge.name}`, kind: 'edge', edge_id: edge.id, healthy: rep.healthy, result: rep.result, latency_ms: rep.latency_ms, observed_at: at, detail: rep.detail });
        }
        if (accepted.length > 0) await store.recordHealthObservations(accepted);
        deps.onReport?.();
        return { accepted: accepted.length, ignored };
      },
    });
  };
}

function vantageView(x: HealthObservation, fresh: boolean, ageMs: number, decision: boolean): z.infer<typeof VantageView> {
  return {
    vantage: x.vantage,
    kind: x.kind,
    edge_id: x.edge_id,
    healthy: x.healthy,
    fresh,
    agrees: fresh && x.healthy === decision,
    age_seconds: Math.round(ageMs) / 1000,
    result: x.result,
    latency_ms: x.latency_ms,
    observed_at: x.observed_at,
    detail: x.detail,
  };
}
