// Schema-first CRUD for one resource kind: list (paged), create, read (ETag), replace and patch
// (If-Match), delete. Load balancers, origins and edges are all registered through this one function,
// so every resource behaves the same way.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ANY_REQUEST, ApiError, problemResponses, zodFieldErrors, type ProblemCode } from '../errors.ts';
import { ifMatchRevision, PageQuery, pageOf, revisionEtag } from '../http.ts';
import { StoreError, type Page, type PageRequest } from '../store/store.ts';

interface Versioned {
  id: string;
  revision: number;
}

export interface CrudOptions<Spec, Out extends Versioned, P extends z.ZodObject> {
  tag: string;
  /** Singular, for summaries: "load balancer". */
  noun: string;
  /** Collection path, e.g. "/api/v1/load-balancers" or "/api/v1/load-balancers/:lbId/origins". */
  path: string;
  /** Path parameters of the collection (the parent's id), or an empty object. */
  parentParams: P;
  input: z.ZodType<Spec>;
  patch: z.ZodObject;
  output: z.ZodType<Out>;
  /** The spec part of a stored resource, for PATCH merges. */
  specOf: (resource: Out) => Record<string, unknown>;
  store: {
    list(parent: z.output<P>, page: PageRequest): Promise<Page<Out>>;
    create(parent: z.output<P>, spec: Spec): Promise<Out>;
    get(parent: z.output<P>, id: string): Promise<Out>;
    replace(parent: z.output<P>, id: string, spec: Spec, ifRevision?: number): Promise<Out>;
    delete(parent: z.output<P>, id: string, ifRevision?: number): Promise<void>;
  };
}

/** What each kind of operation can answer besides success (ANY_REQUEST: what every request can). */
export const READ: ProblemCode[] = ['validation_failed', 'unauthorized', 'not_found', ...ANY_REQUEST];
/** A write may carry a body whatever its method, so body errors (400, 413, 415) apply to all of them. */
export const WRITE: ProblemCode[] = ['validation_failed', 'invalid_json', 'unauthorized', 'forbidden', 'not_found', 'payload_too_large', 'unsupported_media_type', ...ANY_REQUEST];
const IfMatchHeader = z.object({ 'if-match': z.string().optional().describe('ETag from a previous read ("*": any current one); a stale one, or one naming a resource that is gone, gets 412') });
/** Retries of a PATCH without If-Match that lost a race to another writer (it merges again each time). */
const PATCH_ATTEMPTS = 5;

/**
 * With If-Match, "not found" means the precondition failed (RFC 9110 §13.1.1: If-Match is false when
 * there is no current representation), so the loser of a DELETE race gets 412 like any stale writer.
 */
async function withPrecondition<T>(ifMatch: string | string[] | undefined, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (ifMatch !== undefined && err instanceof StoreError && err.kind === 'not_found') {
      throw new StoreError('precondition_failed', `${err.message}: the resource If-Match names no longer exists`, 'If-Match');
    }
    throw err;
  }
}

/** The canonical URL of a new item: the route's path with its parameters, whatever the query string. */
function locationOf(pathTemplate: string, params: Record<string, string>, id: string): string {
  return `${pathTemplate.replace(/:(\w+)/g, (_m, k: string) => encodeURIComponent(params[k] ?? ''))}/${encodeURIComponent(id)}`;
}

export function registerCrud<Spec, Out extends Versioned, P extends z.ZodObject>(app: FastifyInstance, o: CrudOptions<Spec, Out, P>): void {
  const itemParams = o.parentParams.extend({ id: z.string().min(1).max(64) });
  const Page = pageOf(o.output);

  app.route({
    method: 'GET',
    url: o.path,
    schema: { tags: [o.tag], summary: `List ${o.noun}s`, params: o.parentParams, querystring: PageQuery, response: { 200: Page, ...problemResponses(READ) } },
    handler: async (req: FastifyRequest) => o.store.list(req.params as z.output<P>, req.query as PageRequest),
  });

  app.route({
    method: 'POST',
    url: o.path,
    schema: { tags: [o.tag], summary: `Create a ${o.noun}`, params: o.parentParams, body: o.input, response: { 201: o.output, ...problemResponses([...WRITE, 'conflict']) } },
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const created = await o.store.create(req.params as z.output<P>, req.body as Spec);
      return reply.code(201).header('etag', revisionEtag(created.revision)).header('location', locationOf(o.path, req.params as Record<string, string>, created.id)).send(created);
    },
  });

  app.route({
    method: 'GET',
    url: `${o.path}/:id`,
    schema: { tags: [o.tag], summary: `Read a ${o.noun}`, params: itemParams, response: { 200: o.output, ...problemResponses(READ) } },
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const { id, ...parent } = req.params as { id: string };
      const found = await o.store.get(parent as z.output<P>, id);
      return reply.header('etag', revisionEtag(found.revision)).send(found);
    },
  });

  app.route({
    method: 'PUT',
    url: `${o.path}/:id`,
    schema: { tags: [o.tag], summary: `Replace a ${o.noun}`, params: itemParams, headers: IfMatchHeader, body: o.input, response: { 200: o.output, ...problemResponses([...WRITE, 'conflict', 'precondition_failed']) } },
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const { id, ...parent } = req.params as { id: string };
      const ifMatch = req.headers['if-match'];
      const updated = await withPrecondition(ifMatch, () => o.store.replace(parent as z.output<P>, id, req.body as Spec, ifMatchRevision(ifMatch)));
      return reply.header('etag', revisionEtag(updated.revision)).send(updated);
    },
  });

  app.route({
    method: 'PATCH',
    url: `${o.path}/:id`,
    schema: { tags: [o.tag], summary: `Change some fields of a ${o.noun}`, params: itemParams, headers: IfMatchHeader, body: o.patch, response: { 200: o.output, ...problemResponses([...WRITE, 'conflict', 'precondition_failed']) } },
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const { id, ...parent } = req.params as { id: string };
      const ifMatch = req.headers['if-match'];
      const ifRevision = ifMatchRevision(ifMatch);
      for (let attempt = 1; ; attempt++) {
        const current = await withPrecondition(ifMatch, () => o.store.get(parent as z.output<P>, id));
        // The merged whole is validated again: cross-field rules (target <= max) span old and new fields.
        const merged = o.input.safeParse({ ...o.specOf(current), ...(req.body as object) });
        if (!merged.success) throw new ApiError('validation_failed', `the patched ${o.noun} would not be valid`, zodFieldErrors(merged.error.issues));
        try {
          // The merge is applied only to the revision it was made from.
          const updated = await withPrecondition(ifMatch, () => o.store.replace(parent as z.output<P>, id, merged.data, ifRevision ?? current.revision));
          return reply.header('etag', revisionEtag(updated.revision)).send(updated);
        } catch (err) {
          // Without If-Match the client asked for no precondition: another writer got in between our
          // read and our write, so merge into what it wrote and try again.
          const lostRace = ifMatch === undefined && err instanceof StoreError && err.kind === 'precondition_failed';
          if (!lostRace || attempt >= PATCH_ATTEMPTS) throw err;
        }
      }
    },
  });

  app.route({
    method: 'DELETE',
    url: `${o.path}/:id`,
    schema: { tags: [o.tag], summary: `Delete a ${o.noun}`, params: itemParams, headers: IfMatchHeader, response: { 204: z.null().describe('deleted'), ...problemResponses([...WRITE, 'precondition_failed']) } },
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const { id, ...parent } = req.params as { id: string };
      const ifMatch = req.headers['if-match'];
      await withPrecondition(ifMatch, () => o.store.delete(parent as z.output<P>, id, ifMatchRevision(ifMatch)));
      return reply.code(204).send();
    },
  });
}

/** Drops the fields the server owns, leaving what a client may send. */
export function stripMeta<T extends Record<string, unknown>>(resource: T, extra: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = { ...resource };
  for (const k of ['id', 'revision', 'created_at', 'updated_at', ...extra]) delete out[k];
  return out;
}
