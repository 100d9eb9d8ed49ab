// One catalogue of error codes, rendered as RFC 9457 problem+json. Every 4xx names the offending field
// (in `field` and, per error, in `errors[].pointer`), so a client can point at what to fix.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { StoreError } from './store/store.ts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export const PROBLEMS = {
  validation_failed: { status: 400, title: 'The request is not valid' },
  invalid_json: { status: 400, title: 'The body is not valid JSON' },
  bad_request: { status: 400, title: 'The HTTP request could not be read' },
  unauthorized: { status: 401, title: 'A bearer token is required' },
  client_certificate_refused: { status: 401, title: 'A valid client certificate is required' },
  forbidden: { status: 403, title: 'This token may not do that' },
  not_found: { status: 404, title: 'No such resource' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  request_timeout: { status: 408, title: 'The request did not arrive in time' },
  conflict: { status: 409, title: 'Conflicts with an existing resource' },
  precondition_failed: { status: 412, title: 'The resource changed since you read it' },
  payload_too_large: { status: 413, title: 'The body is too large' },
  uri_too_long: { status: 414, title: 'The URI is too long' },
  unsupported_media_type: { status: 415, title: 'Unsupported content type' },
  unprocessable: { status: 422, title: 'The request cannot be applied' },
  too_many_requests: { status: 429, title: 'Too many requests from this client' },
  header_too_large: { status: 431, title: 'The request headers are too large' },
  internal: { status: 500, title: 'Internal error' },
  unavailable: { status: 503, title: 'Not ready' },
} as const;
export type ProblemCode = keyof typeof PROBLEMS;

export interface FieldError {
  /** Dotted path of the field, e.g. "health_check.timeout_ms"; "" for the whole body. */
  field: string;
  /** JSON pointer into the request part, e.g. "#/health_check/timeout_ms". */
  pointer: string;
  /** Which part of the request: body, query, params or headers. */
  in: string;
  detail: string;
}

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
    code: z.string(),
    field: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), pointer: z.string(), in: z.string(), detail: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });
export type Problem = z.infer<typeof ProblemSchema>;

export class ApiError extends Error {
  constructor(
    readonly code: ProblemCode,
    detail: string,
    readonly errors: FieldError[] = [],
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

export function fieldError(field: string, detail: string, where = 'body'): FieldError {
  return { field, pointer: `#/${field.split('.').filter(Boolean).join('/')}`, in: where, detail };
}

/** zod issues -> field errors; an unknown key is named as the field itself. */
export function zodFieldErrors(issues: readonly z.core.$ZodIssue[], where = 'body'): FieldError[] {
  return issues.flatMap((issue) => {
    const base = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => fieldError([...base, k].join('.'), `unknown field "${k}"`, where));
    }
    return [fieldError(base.join('.'), issue.message, where)];
  });
}

/** The problem document for `code`; `instance` is the request target (path and query). */
export function renderProblem(instance: string, code: ProblemCode, detail: string, errors: FieldError[] = []): Problem {
  const { status, title } = PROBLEMS[code];
  return {
    type: `https://sluice.dev/problems/${code.replace(/_/g, '-')}`,
    title,
    status,
    detail,
    instance,
    code,
    ...(errors.length > 0 ? { field: errors[0]!.field, errors } : {}),
  };
}

function render(request: FastifyRequest, code: ProblemCode, detail: string, errors: FieldError[]): Problem {
  // A URI too long to interpret is not echoed back whole.
  return renderProblem(request.url.length > 512 ? `${request.url.slice(0, 512)}…` : request.url, code, detail, errors);
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, code: ProblemCode, detail: string, errors: FieldError[] = []): FastifyReply {
  return reply.code(PROBLEMS[code].status).type(PROBLEM_CONTENT_TYPE).serializer(JSON.stringify).send(render(request, code, detail, errors));
}

const VALIDATION_PARTS: Record<string, string> = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' };

/** Maps every error fastify, zod or the store can raise to one entry of the catalogue. */
export function problemErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof ApiError) return sendProblem(request, reply, error.code, error.message, error.errors);
  if (error instanceof StoreError) {
    // A cursor the store cannot read is a bad query parameter, not an unprocessable request.
    if (error.kind === 'invalid' && error.field === 'cursor') return sendProblem(request, reply, 'validation_failed', error.message, [fieldError('cursor', error.message, 'query')]);
    const code: ProblemCode = error.kind === 'invalid' ? 'unprocessable' : error.kind;
    return sendProblem(request, reply, code, error.message, error.field ? [fieldError(error.field, error.message, error.kind === 'precondition_failed' ? 'headers' : 'body')] : []);
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = VALIDATION_PARTS[error.validationContext ?? 'body'] ?? 'body';
    const errors = error.validation.flatMap((v) => {
      const path = v.instancePath.split('/').filter(Boolean);
      const keys = (v.params as { keys?: string[] }).keys;
      if (v.keyword === 'unrecognized_keys' && keys) return keys.map((k) => fieldError([...path, k].join('.'), `unknown field "${k}"`, where));
      return [fieldError(path.join('.'), v.message ?? 'invalid', where)];
    });
    return sendProblem(request, reply, 'validation_failed', `${errors.length} problem(s) in the request ${where}: ${errors.map((e) => `${e.field || '(root)'}: ${e.detail}`).join('; ')}`, errors);
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return sendProblem(request, reply, 'invalid_json', error.message, [fieldError('', error.message)]);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return sendProblem(request, reply, 'payload_too_large', error.message, [fieldError('', error.message)]);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return sendProblem(request, reply, 'unsupported_media_type', `${error.message}; send application/json`, [fieldError('content-type', error.message, 'headers')]);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return sendProblem(request, reply, 'bad_request', `${error.message}: the body is not as long as Content-Length says`, [fieldError('content-length', error.message, 'headers')]);
    default:
      break;
  }
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return sendProblem(request, reply, 'validation_failed', error.message, [fieldError('', error.message)]);
  }
  request.log.error({ err: error }, 'unhandled error');
  return sendProblem(request, reply, 'internal', 'internal error; see the control plane log');
}

/**
 * OpenAPI responses for the given problem codes, declared as application/problem+json (what
 * sendProblem sends). Codes sharing a status are described together.
 */
export function problemResponses(codes: readonly ProblemCode[]): Record<number, { description: string; content: { [PROBLEM_CONTENT_TYPE]: { schema: typeof ProblemSchema } } }> {
  const byStatus = new Map<number, string[]>();
  for (const code of codes) {
    const { status, title } = PROBLEMS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), `${title} (${code})`]);
  }
  return Object.fromEntries(
    [...byStatus].sort(([a], [b]) => a - b).map(([status, titles]) => [status, { description: [...new Set(titles)].join('; '), content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } } }]),
  );
}

/**
 * What any request may be answered whatever its route: connection-level limits (a request line or
 * headers too large, a client too slow to send them), an internal error, and 503 while shutting down.
 */
export const ANY_REQUEST: readonly ProblemCode[] = ['bad_request', 'request_timeout', 'uri_too_long', 'header_too_large', 'internal', 'unavailable'];
