// Answers for what goes wrong before (or instead of) a route: the HTTP parser giving up on a request
// (malformed, a request line or headers over Node's buffer, a client too slow to send them), the router
// refusing a URL (bad percent-encoding, an over-long parameter), a URI over our own limit, a method the
// path does not support (405 with Allow, RFC 9110 §15.5.6), and requests arriving while the server
// closes. Every one of them is an RFC 9457 problem, like the routes' own errors.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fieldError, problemErrorHandler, renderProblem, sendProblem, PROBLEMS, PROBLEM_CONTENT_TYPE, type FieldError, type ProblemCode } from './errors.ts';

/**
 * `clientError`: Node's parser rejected the request or the client was too slow. There is no request
 * object, so the problem is written to the socket as a complete HTTP/1.1 response and the connection
 * closed (what Node itself does, with a problem body instead of an empty one).
 */
export function clientErrorHandler(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const raw = err.rawPacket?.toString('latin1') ?? '';
  const target = /^[A-Z]+ (\S{0,512})/.exec(raw)?.[1] ?? '';
  let code: ProblemCode;
  let detail: string;
  let errors: FieldError[];
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    code = 'request_timeout';
    detail = 'the request (headers and body) did not arrive within the server\'s timeout; send it at once';
    errors = [];
  } else if (err.code === 'HPE_HEADER_OVERFLOW' && requestLineOverflowed(raw)) {
    // Not even the request line fitted in the header buffer.
    code = 'uri_too_long';
    detail = 'the request line does not fit in the server\'s header buffer; shorten the URI';
    errors = [fieldError('url', 'too long', 'path')];
  } else if (err.code === 'HPE_HEADER_OVERFLOW') {
    code = 'header_too_large';
    detail = 'the request headers do not fit in the server\'s header buffer (16 KiB)';
    errors = [fieldError('headers', 'too large', 'headers')];
  } else {
    code = 'bad_request';
    detail = `the request is not valid HTTP/1.1: ${err.message}`;
    errors = [fieldError('', err.message, 'headers')];
  }
  // Never write into a response already under way on this connection (a pipelined request failing).
  const inflight = (socket as unknown as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inflight?.headersSent) {
    const body = JSON.stringify(renderProblem(target, code, detail, errors));
    const status = PROBLEMS[code].status;
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`, () => socket.destroy());
    // A client that never reads must not keep the socket: it goes after a second whatever happens.
    setTimeout(() => socket.destroy(), 1000).unref();
  } else {
    socket.destroy();
  }
}

/**
 * Did the request line itself overflow? `raw` is the chunk being parsed when the buffer overflowed: a
 * long first line in it, or (mid-line, no method in front) no line end at all.
 */
function requestLineOverflowed(raw: string): boolean {
  const eol = raw.indexOf('\r\n');
  if (!/^[A-Z]+ /.test(raw)) return eol < 0;
  return eol < 0 || eol > 4096;
}

/** The router's own refusals (fastify `frameworkErrors`): a URL it cannot decode, a parameter over its limit. */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error.code === 'FST_ERR_BAD_URL') {
    return sendProblem(request, reply, 'validation_failed', 'the URL is not valid: a "%" must be followed by two hex digits that decode to UTF-8', [fieldError('url', 'malformed percent-encoding', 'path')]);
  }
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return sendProblem(request, reply, 'uri_too_long', 'a path segment is longer than the server interprets (ids are at most 64 characters)', [fieldError('url', 'path segment too long', 'path')]);
  }
  return problemErrorHandler(error, request, reply);
}

/**
 * Which methods each registered path answers, so an unknown method on a known path is a 405 naming
 * them in Allow, and only an unknown path is a 404. Filled from fastify's onRoute hook.
 */
export class MethodTable {
  private readonly routes: { pattern: RegExp; methods: Set<string> }[] = [];
  private readonly byUrl = new Map<string, Set<string>>();

  add(url: string, methods: string | string[]): void {
    let set = this.byUrl.get(url);
    if (!set) {
      set = new Set();
      this.byUrl.set(url, set);
      const source = url
        .split('/')
        .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&')))
        .join('/');
      this.routes.push({ pattern: new RegExp(`^${source}$`), methods: set });
    }
    for (const m of Array.isArray(methods) ? methods : [methods]) set.add(m.toUpperCase());
  }

  /** Methods allowed on `path`, sorted; empty when no route has this path. */
  allowed(path: string): string[] {
    const out = new Set<string>();
    for (const r of this.routes) if (r.pattern.test(path)) for (const m of r.methods) out.add(m);
    return [...out].sort();
  }
}

/** Not found, or found under another method: the not-found handler. */
export function notFoundOrNotAllowed(methods: MethodTable) {
  return (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const path = request.url.split('?')[0]!;
    const allow = methods.allowed(path);
    if (allow.length > 0) {
      return sendProblem(request, reply.header('allow', allow.join(', ')), 'method_not_allowed', `${request.method} is not supported on ${path}; use ${allow.join(', ')}`, [
        fieldError('method', `allowed: ${allow.join(', ')}`, 'method'),
      ]);
    }
    return sendProblem(request, reply, 'not_found', `no route ${request.method} ${path}`);
  };
}

/**
 * Guards every request before its route runs (and before its body is read): any request while the
 * server is closing (503, so a load balancer moves the client to another instance), a URI over
 * `maxUriBytes` (414, RFC 9110 §15.5.15: a server need not interpret arbitrarily long URIs), and a
 * request no route takes (404 or 405).
 */
export function registerRequestGuards(app: FastifyInstance, opts: { maxUriBytes: number; closing: () => boolean; notFound: (request: FastifyRequest, reply: FastifyReply) => FastifyReply }): void {
  app.addHook('onRequest', async (request, reply) => {
    if (opts.closing()) {
      reply.header('connection', 'close').header('retry-after', '1');
      return sendProblem(request, reply, 'unavailable', 'the control plane is shutting down; retry on another instance');
    }
    const length = request.raw.url?.length ?? 0;
    if (length > opts.maxUriBytes) {
      return sendProblem(request, reply, 'uri_too_long', `the URI is ${length} bytes; this server interprets at most ${opts.maxUriBytes}`, [fieldError('url', 'too long', 'path')]);
    }
    // No route: say so before the body is read, so a bad body cannot turn a 404/405 into a 415 or 400.
    if (request.is404) return opts.notFound(request, reply);
    return undefined;
  });
}
