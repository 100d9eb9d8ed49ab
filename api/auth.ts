// Bearer-token auth. Tokens are kept only as SHA-256 digests in memory (and may be written that way in
// the config), so a leaked config or heap dump does not leak a usable token. Reads need a read-only,
// report or admin token; writes need an admin token, except the routes that declare
// `config: { reportScope: true }` (an edge's health reports), which a report token may also call.
//
// Report tokens (issue 13): an edge-sync must report what its data plane sees, but must not be able to
// rewrite routing, so it gets neither an admin token nor a write scope beyond its reports. A report
// token may be bound to one edge (`{ token, edge: <edge name> }`): it can then report only as that
// edge, so a stolen edge credential casts one vote, not one per edge (which could make a quorum).
// An unbound report token may report for any edge (one credential for a fleet; simpler, weaker).
// With no tokens configured the API is open, and the server refuses to listen anywhere but loopback
// (checked at start-up, see assertSafeBind).
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { UsageError } from '../lib/cli-args.ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from './errors.ts';

export type Role = 'admin' | 'read' | 'report';

/** Who a request is: its role, and for a bound report token the one edge (by name) it may report as. */
export interface Principal {
  role: Role;
  edge: string | null;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A configured token: plain, or already "sha256:<hex>". */
export function digestConfiguredToken(token: string): string {
  return token.startsWith('sha256:') ? token.slice('sha256:'.length) : sha256(token);
}

export interface TokenSets {
  admin: Set<string>;
  read: Set<string>;
  /** digest -> the edge name it is bound to, or null (any edge). */
  report: Map<string, string | null>;
}

export type ReportToken = string | { token: string; edge: string };

export function tokenSets(auth: { admin_tokens: string[]; read_tokens: string[]; report_tokens?: ReportToken[] }): TokenSets {
  return {
    admin: new Set(auth.admin_tokens.map(digestConfiguredToken)),
    read: new Set(auth.read_tokens.map(digestConfiguredToken)),
    report: new Map((auth.report_tokens ?? []).map((t) => (typeof t === 'string' ? [digestConfiguredToken(t), null] : [digestConfiguredToken(t.token), t.edge]))),
  };
}

export function authEnabled(tokens: TokenSets): boolean {
  return tokens.admin.size + tokens.read.size + tokens.report.size > 0;
}

const OPEN_PATHS = new Set(['/healthz', '/readyz', '/openapi.json']);
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function principalOf(request: FastifyRequest, tokens: TokenSets): Principal | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) return null;
  // What a client presents is always hashed: knowing a digest from the config is not enough.
  const digest = sha256(m[1]!);
  if (tokens.admin.has(digest)) return { role: 'admin', edge: null };
  if (tokens.read.has(digest)) return { role: 'read', edge: null };
  if (tokens.report.has(digest)) return { role: 'report', edge: tokens.report.get(digest)! };
  return null;
}

/** The principal the auth hook attached (admin when auth is off: the API is then open on loopback). */
export function requestPrincipal(request: FastifyRequest): Principal {
  return (request as FastifyRequest & { sluicePrincipal?: Principal }).sluicePrincipal ?? { role: 'admin', edge: null };
}

export function registerAuth(app: FastifyInstance, tokens: TokenSets): void {
  if (!authEnabled(tokens)) return;
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0]!;
    if (OPEN_PATHS.has(path) || path === '/docs' || path.startsWith('/docs/')) return;
    const principal = principalOf(request, tokens);
    if (!principal) throw new ApiError('unauthorized', 'send "Authorization: Bearer <token>" with a token from the control plane config', [{ field: 'authorization', pointer: '#/authorization', in: 'headers', detail: request.headers.authorization ? 'token not recognised' : 'missing' }]);
    (request as FastifyRequest & { sluicePrincipal?: Principal }).sluicePrincipal = principal;
    const reportScope = (request.routeOptions.config as { reportScope?: boolean } | undefined)?.reportScope === true;
    if (WRITE_METHODS.has(request.method) && principal.role !== 'admin' && !(reportScope && principal.role === 'report')) {
      const what = principal.role === 'report' ? 'a report token may only send health reports' : 'a read-only token';
      throw new ApiError('forbidden', `${what}: it cannot ${request.method} ${path}; use an admin token`, [{ field: 'authorization', pointer: '#/authorization', in: 'headers', detail: `${principal.role} token` }]);
    }
  });
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** Open API + non-loopback address = anyone on the network may rewrite routing. Refuse. */
export function assertSafeBind(host: string, tokens: TokenSets): void {
  if (!authEnabled(tokens) && !isLoopback(host)) {
    throw new UsageError(
      `refusing to listen on ${host}: no auth tokens are configured, so the API would be open to the network. ` +
        'Add auth.admin_tokens (and read_tokens) to the config, or listen on 127.0.0.1 / ::1.',
    );
  }
}
