// Schema-first CRUD for one resource kind: list (paged), create, read (ETag), replace and patch
// (If-Match), delete. Load balancers, origins and edges are all registered through this one function,
// so every resource behaves the same way.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ApiError, ProblemSchema, zodFieldErrors } from '../errors.ts';
import { ifMatchRevision, PageQuery, pageOf, revisionEtag } from '../http.ts';
import type { Page, PageRequest } from '../store/store.ts';

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

const problems = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema, 412: ProblemSchema, 413: ProblemSchema, 415: ProblemSchema, 422: ProblemSchema };
const IfMatchHeader = z.object({ 'if-match': z.string().optional().describe('ETag from a previous read; a stale one gets 412') });

export function registerCrud<Spec, Out extends Versioned, P extends z.ZodObject>(app: FastifyInstance, o: CrudOptions<Spec, Out, P>): void {
  const itemParams = o.parentParams.extend({ id: z.string().min(1).max(64) });
  const Page = pageOf(o.output);

  app.route({
    method: 'GET',
    url: o.path,
    schema: { tags: [o.tag], summary: `List ${o.noun}s`, params: o.parentParams, querystring: PageQuery, response: { 200: Page, ...problems } },
    handler: async (req: FastifyRequest) => o.store.list(req.params as z.output<P>, req.query as PageRequest),
  });

  app.route({
    method: 'POST',
    url: o.path,
    schema: { tags: [o.tag], summary: `Create a ${o.noun}`, params: o.parentParams, body: o.input, response: { 201: o.output, ...problems } },
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const created = await o.store.create(req.params as z.output<P>, req.body as Spec);
      return reply.code(201).header('etag', revisionEtag(created.revision)).header('location', `${req.url.replace(/\/$/, '')}/${created.id}`).send(created);
    },
  });

  app.route({
    method: 'GET',
    url: `${o.path}/:id`,
    schema: { tags: [o.tag], summary: `Read a ${o.noun}`, params: itemParams, response: { 200: o.output, ...problems } },
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const { id, ...parent } = req.params as { id: string };
      const found = await o.store.get(parent as z.output<P>, id);
      return reply.header('etag', revisionEtag(found.revision)).send(found);
    },
  });

  app.route({
    method: 'PUT',
    url: `${o.path}/:id`,
    schema: { tags: [o.tag], summary: `Replace a ${o.noun}`, params: itemParams, headers: IfMatchHeader, body: o.input, response: { 200: o.output, ...problems } },
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const { id, ...parent } = req.params as { id: string };
      const updated = await o.store.replace(parent as z.output<P>, id, req.body as Spec, ifMatchRevision(req.headers['if-match']));
      return reply.header('etag', revisionEtag(updated.revision)).send(updated);
    },
  });

  app.route({
    method: 'PATCH',
    url: `${o.path}/:id`,
    schema: { tags: [o.tag], summary: `Change some fields of a ${o.noun}`, params: itemParams, headers: IfMatchHeader, body: o.patch, response: { 200: o.output, ...problems } },
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const { id, ...parent } = req.params as { id: string };
      const ifRevision = ifMatchRevision(req.headers['if-match']);
      const current = await o.store.get(parent as z.output<P>, id);
      // The merged whole is validated again: cross-field rules (target <= max) span old and new fields.
      const merged = o.input.safeParse({ ...o.specOf(current), ...(req.body as object) });
      if (!merged.success) throw new ApiError('validation_failed', `the patched ${o.noun} would not be valid`, zodFieldErrors(merged.error.issues));
      const updated = await o.store.replace(parent as z.output<P>, id, merged.data, ifRevision ?? current.revision);
      return reply.header('etag', revisionEtag(updated.revision)).send(updated);
    },
  });

  app.route({
    method: 'DELETE',
    url: `${o.path}/:id`,
    schema: { tags: [o.tag], summary: `Delete a ${o.noun}`, params: itemParams, headers: IfMatchHeader, response: { 204: z.null().describe('deleted'), ...problems } },
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const { id, ...parent } = req.params as { id: string };
      await o.store.delete(parent as z.output<P>, id, ifMatchRevision(req.headers['if-match']));
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
