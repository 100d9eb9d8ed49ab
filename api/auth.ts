// Bearer-token auth. Tokens are kept only as SHA-256 digests in memory (and may be written that way in
// the config), so a leaked config or heap dump does not leak a usable token. Reads need a read-only or
// admin token; writes need an admin token. With no tokens configured the API is open, and the server
// refuses to listen anywhere but loopback (checked at start-up, see assertSafeBind).
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { UsageError } from '../lib/cli-args.ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from './errors.ts';

export type Role = 'admin' | 'read';

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
}

export function tokenSets(auth: { admin_tokens: string[]; read_tokens: string[] }): TokenSets {
  return { admin: new Set(auth.admin_tokens.map(digestConfiguredToken)), read: new Set(auth.read_tokens.map(digestConfiguredToken)) };
}

export function authEnabled(tokens: TokenSets): boolean {
  return tokens.admin.size + tokens.read.size > 0;
}

const OPEN_PATHS = new Set(['/healthz', '/readyz', '/openapi.json']);
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function roleOf(request: FastifyRequest, tokens: TokenSets): Role | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) return null;
  // What a client presents is always hashed: knowing a digest from the config is not enough.
  const digest = sha256(m[1]!);
  if (tokens.admin.has(digest)) return 'admin';
  if (tokens.read.has(digest)) return 'read';
  return null;
}

export function registerAuth(app: FastifyInstance, tokens: TokenSets): void {
  if (!authEnabled(tokens)) return;
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0]!;
    if (OPEN_PATHS.has(path) || path === '/docs' || path.startsWith('/docs/')) return;
    const role = roleOf(request, tokens);
    if (!role) throw new ApiError('unauthorized', 'send "Authorization: Bearer <token>" with a token from the control plane config', [{ field: 'authorization', pointer: '#/authorization', in: 'headers', detail: request.headers.authorization ? 'token not recognised' : 'missing' }]);
    if (WRITE_METHODS.has(request.method) && role !== 'admin') {
      throw new ApiError('forbidden', `a read-only token cannot ${request.method} ${path}; use an admin token`, [{ field: 'authorization', pointer: '#/authorization', in: 'headers', detail: 'read-only token' }]);
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
