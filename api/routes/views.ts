// Read-only views: weights, learned latency, decisions, and the two long-polled views data planes live
// on (an edge's config, the DNS view). Origin health has its own routes (health.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Cidr } from '../../model/primitives.ts';
import { Decision, DnsView, EdgeConfig, LatencyEntry, LoadBalancerWeights } from '../../model/views.ts';
import type { ChangeHub } from '../change-hub.ts';
import type { PerClientLimit } from '../client-limit.ts';
import { ANY_REQUEST, ApiError, problemResponses, sendProblem, type ProblemCode } from '../errors.ts';
import type { Replica } from '../replica.ts';
import { noneMatch, PageQuery, pageOf } from '../http.ts';
import type { Store, StoreSnapshot } from '../store/store.ts';
import type { Edge } from '../../model/edge.ts';
import { buildDnsViewSteps, buildEdgeConfig, dnsViewJsonSteps, type WorldSnapshot } from '../views/build.ts';
import { DnsViewHistory } from '../views/dns-history.ts';
import { DnsViewChange, type DnsViewDelta, type DnsViewFull } from '../../model/view-changes.ts';
import { changesJsonSteps, compactViewJsonSteps, encodeDiffSteps, type SubnetsChange } from '../../model/view-codec.ts';
import { keyJsonSteps, keysOnce, parseJsonObjectSteps, textSink } from '../../lib/json-steps.ts';
import { runPaced, type Steps } from '../../lib/steps.ts';

const READ: ProblemCode[] = ['validation_failed', 'unauthorized', 'not_found', ...ANY_REQUEST];
const LONG_POLL: ProblemCode[] = [...READ, 'too_many_requests'];
/** What a refused long-poll is told to wait before trying again. */
const LONG_POLL_RETRY_AFTER_S = 5;

export interface ViewDeps {
  store: Store;
  replica: Replica;
  changes: ChangeHub;
  longPollMaxMs: number;
  /** Bounds the long-polls one client address holds at once. */
  longPolls: PerClientLimit;
  onRefused?: () => void;
}

/** A view rendered once: its version (the ETag), the store seq it was read at, and its JSON, shared by every request until the store changes. */
export interface RenderedView {
  version: string;
  seq: number | null;
  json: string;
  /** `json` as UTF-8, encoded once: every server long-polling gets the same bytes (a delta at 1M is ~0.7 MB). */
  bytes: Buffer;
}

interface Rendered<T> extends RenderedView {
  body: T;
}

/**
 * A store snapshot's weights as the views hold them. The store hands them parsed: rows this process
 * published as published (`own`), others built from what it handed out before plus the change rows
 * since (`parsed`; api/store/weights-chain.ts), both with the keys changed when known. Rows at the
 * version and time of the previous snapshot's keep that snapshot's objects, so an unchanged table is
 * the very same object in consecutive views (their diff skips it). A row with neither is parsed here
 * from its body (a store that hands bodies only).
 */
function* worldSteps(w: StoreSnapshot, previous: WorldSnapshot | undefined): Steps<WorldSnapshot> {
  const weights = new Map<string, LoadBalancerWeights>();
  const changes = new Map<object, SubnetsChange>();
  for (const stored of w.weights) {
    // Not destructured: `body` may be serialised on demand (the store's parsed rows), and is not needed.
    const row = { load_balancer_id: stored.load_balancer_id, version: stored.version, published_at: stored.published_at };
    const had = previous?.weights.get(row.load_balancer_id);
    const given = stored.own ?? stored.parsed;
    if (had && had.version === row.version && had.published_at === row.published_at) {
      // First, so a table stays the same object across views even when the first read of a version
      // parsed its body (read before the store remembered its own publish).
      weights.set(row.load_balancer_id, had);
    } else if (given) {
      weights.set(row.load_balancer_id, { ...row, edges: given.edges, subnets: given.subnets });
      if (given.changed) changes.set(given.subnets, given.changed);
    } else {
      const body = stored.body;
      if (body === null) throw new Error(`the store returned weights of ${row.load_balancer_id} version ${row.version} with neither a body nor its own copy`);
      const parsed = (yield* parseJsonObjectSteps(body, PACED_TABLES)) as Pick<LoadBalancerWeights, 'edges' | 'subnets'>;
      weights.set(row.load_balancer_id, { ...row, edges: parsed.edges, subnets: parsed.subnets });
    }
  }
  return { ...w, weights, changes };
}
const PACED_TABLES = new Set(['edges', 'subnets']);

/**
 * Reads what the views are built from once per store change, and renders each view (the DNS view, one
 * edge's config) once per change: with 100k learned subnets the DNS view is megabytes, and every DNS
 * server and edge long-polling must not rebuild and re-serialise it. The DNS view's changes
 * (/dns/view/changes) are rendered once per change and base version, the compact full view once per change.
 */
export function viewCache(store: Store, history = new DnsViewHistory()) {
  let seq = -1;
  let world: Promise<WorldSnapshot> | undefined;
  /** The last snapshot read, whose parsed weights the next one reuses where unchanged. */
  let lastWorld: WorldSnapshot | undefined;
  let rendered = new Map<string, Promise<Rendered<unknown>>>();

  async function current(): Promise<{ world: Promise<WorldSnapshot>; rendered: Map<string, Promise<Rendered<unknown>>> }> {
    const now = await store.changeSeq();
    if (now !== seq || !world) {
      seq = now;
      rendered = new Map();
      // One snapshot: its seq labels exactly the content read (a later seq than `now` is fine: views
      // only need seq never to run ahead of their content).
      world = store.readWorld().then(async (w) => (lastWorld = await runPaced(worldSteps(w, lastWorld))));
      const mine = world;
      world.catch(() => {
        if (world === mine) world = undefined;
      });
    }
    return { world, rendered };
  }

  async function render<T>(key: string, build: (w: WorldSnapshot) => Promise<{ body: T; version: string; seq: number | null; json?: string }> | { body: T; version: string; seq: number | null; json?: string }): Promise<Rendered<T>> {
    const { world: w, rendered: cache } = await current();
    let view = cache.get(key) as Promise<Rendered<T>> | undefined;
    if (!view) {
      view = w.then(async (snapshot) => {
        const out = await build(snapshot);
        // Serialised on first use: with only delta clients the full view's JSON is never needed.
        let json = out.json;
        let bytes: Buffer | undefined;
        return {
          version: out.version,
          seq: out.seq,
          body: out.body,
          get json() {
            return (json ??= JSON.stringify(out.body));
          },
          get bytes() {
            return (bytes ??= Buffer.from(this.json));
          },
        };
      });
      cache.set(key, view);
      view.catch(() => cache.delete(key));
    }
    return view;
  }

  // The DNS view's work is paced (lib/steps.ts runPaced): at 1M subnets its hash, diff and encodings
  // were each 0.2-1 s of this thread, which also runs the scheduler loop and renews its lease. Renders
  // of the DNS view run one after the other, in store-change order, so the history records them in
  // publish order even though each takes several turns of the loop.
  let dnsRenders: Promise<unknown> = Promise.resolve();
  const dnsView = () =>
    render('dns', (w) => {
      const run = dnsRenders.then(async () => {
        const body = await runPaced(buildDnsViewSteps(w));
        await runPaced(history.recordSteps(body, w.changes));
        return { body, version: body.version, seq: body.seq };
      });
      dnsRenders = run.catch(() => {});
      return run;
    });

  /** The full DNS view's JSON (GET /dns/view), written in steps once per change. */
  const dnsViewJson = () =>
    render('dns-json', async () => {
      const full = await dnsView();
      const text = textSink();
      await runPaced(dnsViewJsonSteps(full.body, text.add));
      return { body: null, version: full.version, seq: full.seq, json: text.text() };
    });

  /** The full DNS view in the compact encoding, as a JSON fragment (rendered once per change). */
  const compactDnsView = () =>
    render('dns-compact', async () => {
      const full = await dnsView();
      const text = textSink();
      await runPaced(compactViewJsonSteps(full.body, text.add, keysOnce));
      return { body: null, version: full.version, seq: full.seq, json: text.text() };
    });

  /**
   * What brings a DNS server holding `base` (null: nothing) to the view now served. Cached per delta
   * base (at most the history's steps) and per full-answer reason, never per arbitrary If-None-Match:
   * clients sending made-up versions cannot make the cache hold a copy of the full view each.
   */
  const dnsChanges = async (base: string | null) => {
    const full = await dnsView();
    const since = history.since(base, full.version);
    const header = { version: full.version, seq: full.seq, weights_version: full.body.weights_version };
    if (since.kind === 'delta') {
      return render(`dns-changes:delta:${base}`, async () => {
        const records = await runPaced(
          (function* () {
            return yield* encodeDiffSteps(yield* since.diff());
          })(),
        );
        const body: DnsViewDelta = { kind: 'delta', from: base!, ...header, records };
        // A server far behind is owed up to the history's 2M changed subnets: their JSON in steps too.
        const text = textSink();
        await runPaced(keyJsonSteps(body, 'records', text.add, (r) => changesJsonSteps(r, text.add)));
        return { body: null, version: full.version, seq: full.seq, json: text.text() };
      });
    }
    return render(`dns-changes:full:${since.reason}`, async () => {
      const head = JSON.stringify({ kind: 'full', reason: since.reason, ...header } satisfies Omit<DnsViewFull, 'view'>);
      const view = (await compactDnsView()).json;
      return { body: null, version: full.version, seq: full.seq, json: `${head.slice(0, -1)},"view":${view}}` };
    });
  };

  return {
    dnsView,
    dnsViewJson,
    dnsChanges,
    edgeConfig: (edge: Edge) => render(`edge:${edge.id}`, (w) => {
      const body = buildEdgeConfig(edge, w);
      return { body, version: body.version, seq: body.seq };
    }),
  };
}

/** The one version an If-None-Match names (null when absent, `*` or several): the base of a delta. */
export function baseVersion(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  const values = (Array.isArray(header) ? header.join(',') : header).split(',').map((v) => v.trim().replace(/^W\//, ''));
  if (values.length !== 1 || !/^"[^"]+"$/.test(values[0]!)) return null;
  return values[0]!.slice(1, -1);
}

const WaitQuery = z.strictObject({
  wait: z.coerce.number().min(0).max(3600).default(0).describe('seconds to hold the request while If-None-Match still matches (long-poll)'),
});

/**
 * Serves a view with an ETag. With If-None-Match equal to the current version and ?wait=N, holds the
 * request until the view changes (answers 200 within one store-change notification) or N seconds pass
 * (304). A change that leaves this view as it was (another edge's weights) keeps it waiting.
 */
async function longPoll(req: FastifyRequest, reply: FastifyReply, deps: ViewDeps, waitSeconds: number, compute: () => Promise<RenderedView>, answer: (view: RenderedView) => Promise<RenderedView> = async (v) => v): Promise<FastifyReply> {
  const deadline = Date.now() + Math.min(waitSeconds * 1000, deps.longPollMaxMs);
  const closed = new AbortController();
  reply.raw.once('close', () => closed.abort());
  let view = await compute();
  // Only a request that is about to be held counts against its client's bound.
  let release: (() => void) | null = null;
  try {
    while (noneMatch(req.headers['if-none-match'], `"${view.version}"`)) {
      const left = deadline - Date.now();
      if (left <= 0 || closed.signal.aborted || deps.changes.closed) return withSeq(reply.code(304), view).header('etag', `"${view.version}"`).send();
      if (!release) {
        release = deps.longPolls.acquire(req.ip);
        if (!release) {
          deps.onRefused?.();
          reply.header('retry-after', String(LONG_POLL_RETRY_AFTER_S));
          return sendProblem(req, reply, 'too_many_requests', `${req.ip} already holds ${deps.longPolls.max} long-polls (api.long_poll_per_client); finish one, or poll without If-None-Match`, [
            { field: 'wait', pointer: '#/wait', in: 'query', detail: 'too many held at once from this address' },
          ]);
        }
      }
      await deps.changes.next(left, closed.signal);
      view = await compute();
    }
  } finally {
    release?.();
  }
  // Already rendered (and built from schema-typed data): sent as is, not re-validated per request; a
  // Buffer, so fastify neither serialises nor re-encodes it per answer.
  view = await answer(view);
  return withSeq(reply, view).header('etag', `"${view.version}"`).header('cache-control', 'no-cache').type('application/json; charset=utf-8').send(view.bytes);
}

/** The view's store seq as a header too, so a 304 also says how current the replica answering is. */
export const SEQ_HEADER = 'sluice-change-seq';
function withSeq(reply: FastifyReply, view: RenderedView): FastifyReply {
  return view.seq === null ? reply : reply.header(SEQ_HEADER, String(view.seq));
}

export function viewRoutes(deps: ViewDeps) {
  const { store } = deps;
  const views = viewCache(store);
  return async function register(app: FastifyInstance): Promise<void> {
    const r = app.withTypeProvider<ZodTypeProvider>();

    r.get('/api/v1/edges/:id/config', {
      schema: {
        tags: ['data plane'],
        summary: "Everything one edge needs: its listeners, their origins and this edge's weights",
        description: 'ETag is the content version. Send If-None-Match with ?wait=30 to long-poll: the answer comes within a second of a change, or 304 after the wait.',
        params: z.object({ id: z.string().min(1).max(64) }),
        querystring: WaitQuery,
        response: { 200: EdgeConfig, 304: z.null().describe('not modified'), ...problemResponses(LONG_POLL) },
      },
      handler: async (req, reply) => {
        // Re-read per wake-up: an edge renamed or deleted while a request waits is answered as it is now.
        return longPoll(req, reply, deps, req.query.wait, async () => views.edgeConfig(await store.getEdge(req.params.id)));
      },
    });

    r.get('/api/v1/dns/view', {
      schema: {
        tags: ['data plane'],
        summary: 'Everything sluice dns needs: zones, records, origins, per-subnet weights',
        description: 'Long-poll like the edge config: If-None-Match plus ?wait=N.',
        querystring: WaitQuery,
        response: { 200: DnsView, 304: z.null().describe('not modified'), ...problemResponses(LONG_POLL) },
      },
      handler: async (req, reply) => longPoll(req, reply, deps, req.query.wait, () => views.dnsView(), () => views.dnsViewJson()),
    });

    r.get('/api/v1/dns/view/changes', {
      schema: {
        tags: ['data plane'],
        summary: 'The DNS view as changes: a delta from the version the server holds, or the full view',
        description:
          'Long-poll like /dns/view (If-None-Match with the version held, plus ?wait=N), for sluice dns servers that hold a view. ' +
          'When the view has moved on, 200 with kind "delta" (only the records and subnets that changed since the If-None-Match version, ' +
          'to be applied to exactly that version) when this replica rendered that version and kept the steps since; otherwise kind "full" ' +
          '(the whole view, with a reason). Both carry subnets in the compact encoding (distinct weight maps once, then cidrs and map indexes). ' +
          'Versions are content hashes, so a delta is correct whichever replica made it; a replica without the history answers full, never a guess.',
        querystring: WaitQuery,
        response: { 200: DnsViewChange, 304: z.null().describe('not modified'), ...problemResponses(LONG_POLL) },
      },
      handler: async (req, reply) => {
        const base = baseVersion(req.headers['if-none-match']);
        return longPoll(req, reply, deps, req.query.wait, () => views.dnsView(), () => views.dnsChanges(base));
      },
    });

    r.get('/api/v1/load-balancers/:id/weights', {
      schema: {
        tags: ['views'],
        summary: 'The weights the scheduler last published for a load balancer',
        params: z.object({ id: z.string().min(1).max(64) }),
        response: { 200: LoadBalancerWeights, ...problemResponses(READ) },
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
        response: { 200: pageOf(LatencyEntry), ...problemResponses(READ) },
      },
      handler: async (req) => store.listLatency(req.query),
    });

    r.get('/api/v1/decisions', {
      schema: {
        tags: ['views'],
        summary: 'The audit log: one record per scheduler cycle, newest first',
        querystring: PageQuery.extend({ load_balancer_id: z.string().max(64).optional() }),
        response: { 200: pageOf(Decision), ...problemResponses(READ) },
      },
      handler: async (req) => store.listDecisions(req.query),
    });
  };
}
