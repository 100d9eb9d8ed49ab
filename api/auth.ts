// Who may do what: bearer tokens and, with mutual TLS, client certificates. Tokens are kept only as
// SHA-256 digests in memory (and may be written that way in the config), so a leaked config or heap
// dump does not leak a usable token. Reads need a read-only, report or admin role; writes need admin,
// except the routes that declare `config: { reportScope: true }` (an edge's health reports), which the
// report role may also call.
//
// Report role (issue 13): an edge-sync must report what its data plane sees, but must not be able to
// rewrite routing, so it gets neither admin nor a write scope beyond its reports. A report token may be
// bound to one edge (`{ token, edge: <edge name> }`): it can then report only as that edge, so a stolen
// edge credential casts one vote, not one per edge (which could make a quorum). An unbound report token
// may report for any edge (one credential for a fleet; simpler, weaker).
//
// Client certificates (tls.client_auth_type verifying, tls.client_ca_file): a verified certificate's
// subject OU names its role, as Kubernetes maps a certificate's O to a group: any OU listed in
// auth.client_certificates.admin_ous gives admin, else report_ous gives report, else read_ous gives
// read. A report certificate is always bound: its CN is the one edge it may report as (issue edges'
// certificates with OU=sluice-report, CN=<edge name>), the certificate twin of a bound report token.
// Data planes' certificates carry OU=sluice-read and operators' OU=sluice-admin; the CN is who (logged).
// A request may carry both a certificate and a token: it gets the higher role of the two (admin >
// report > read; a tie goes to the token), but a token that is sent and not recognised is refused
// whatever the certificate says (a typo must not pass silently). A certificate that is missing
// (RequireAndVerifyClientCert) or does not verify is refused before anything else, on every path, with
// `client_certificate_refused`.
//
// With neither tokens nor certificate roles the API is open, and the server refuses to listen anywhere
// but loopback; without TLS it refuses a non-loopback address unless `insecure: true` (assertSafeBind).
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { UsageError } from '../lib/cli-args.ts';
import { type TlsServerConfig } from '../lib/tls.ts';
import { clientCertificateProblem, subjectValues, verifiedPeerSubject } from '../lib/tls-server.ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, fieldError } from './errors.ts';

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

/** Client certificate subject OUs that give a role (auth.client_certificates). */
export interface CertificateRoles {
  admin: Set<string>;
  read: Set<string>;
  /** OUs whose certificate may report as the edge its CN names. */
  report: Set<string>;
}

export interface AuthOptions {
  tokens: TokenSets;
  /** OU -> role for verified client certificates; absent: certificates give no role. */
  certificateRoles?: CertificateRoles | undefined;
  /** tls.client_auth_type of the server (NoClientCert when it does not speak TLS). */
  clientAuth?: TlsServerConfig['client_auth_type'] | undefined;
}

function optionsOf(auth: TokenSets | AuthOptions): AuthOptions {
  return 'tokens' in auth ? auth : { tokens: auth };
}

export function authEnabled(auth: TokenSets | AuthOptions): boolean {
  const a = optionsOf(auth);
  const roles = a.certificateRoles;
  return a.tokens.admin.size + a.tokens.read.size + a.tokens.report.size + (roles ? roles.admin.size + roles.read.size + roles.report.size : 0) > 0;
}

const OPEN_PATHS = new Set(['/healthz', '/readyz', '/openapi.json']);
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** What one credential (a token or a certificate) gives: a principal, or a refusal, and who for the logs. */
type Credential = { principal: Principal | null; refused?: string; who?: string };

function tokenCredential(request: FastifyRequest, tokens: TokenSets): Credential | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) return { principal: null, refused: 'token not recognised' };
  // What a client presents is always hashed: knowing a digest from the config is not enough.
  const digest = sha256(m[1]!);
  if (tokens.admin.has(digest)) return { principal: { role: 'admin', edge: null }, who: 'token' };
  if (tokens.read.has(digest)) return { principal: { role: 'read', edge: null }, who: 'token' };
  if (tokens.report.has(digest)) return { principal: { role: 'report', edge: tokens.report.get(digest)! }, who: 'token' };
  return { principal: null, refused: 'token not recognised' };
}

function certificateCredential(request: FastifyRequest, roles: CertificateRoles | undefined): Credential | null {
  const subject = verifiedPeerSubject(request.raw.socket);
  if (!subject || !roles) return null;
  const ous = subjectValues(subject, 'OU');
  const cn = subjectValues(subject, 'CN')[0];
  const who = `client certificate (CN=${cn ?? '?'}${ous.length > 0 ? `, OU=${ous.join('+')}` : ''})`;
  if (ous.some((ou) => roles.admin.has(ou))) return { principal: { role: 'admin', edge: null }, who };
  // Bound to its CN: a certificate without one reports as no edge at all (edge "" matches none).
  if (ous.some((ou) => roles.report.has(ou))) return { principal: { role: 'report', edge: cn ?? '' }, who };
  if (ous.some((ou) => roles.read.has(ou))) return { principal: { role: 'read', edge: null }, who };
  return { principal: null, who };
}

const RANK: Record<Role, number> = { read: 1, report: 2, admin: 3 };

/** The higher of the two credentials' principals (a tie goes to the token); null when neither gives one or the token is refused. */
function chosen(token: Credential | null, cert: Credential | null): Credential | null {
  if (token?.refused) return null;
  if (!token?.principal) return cert?.principal ? cert : null;
  if (!cert?.principal) return token;
  return RANK[cert.principal.role] > RANK[token.principal.role] ? cert : token;
}

/** The request's principal from its token and its verified client certificate (the higher); null when neither gives one. */
export function principalOf(request: FastifyRequest, auth: TokenSets | AuthOptions): Principal | null {
  const a = optionsOf(auth);
  return chosen(tokenCredential(request, a.tokens), certificateCredential(request, a.certificateRoles))?.principal ?? null;
}

/** The principal the auth hook attached (admin when auth is off: the API is then open on loopback). */
export function requestPrincipal(request: FastifyRequest): Principal {
  return (request as FastifyRequest & { sluicePrincipal?: Principal }).sluicePrincipal ?? { role: 'admin', edge: null };
}

/**
 * Who made a request, for audit records: the role and, for a token, the first 12 hex digits of its
 * SHA-256 (enough to tell tokens apart in a log, useless to present); for a client certificate its
 * subject; "anonymous" on an open API. Set by the auth hook.
 */
export function requestActor(request: FastifyRequest): string {
  return (request as FastifyRequest & { sluiceActor?: string }).sluiceActor ?? 'anonymous';
}

export function registerAuth(app: FastifyInstance, auth: TokenSets | AuthOptions): void {
  const a = optionsOf(auth);
  const clientAuth = a.clientAuth ?? 'NoClientCert';
  if (clientAuth !== 'NoClientCert') {
    // Before anything else and on every path: a missing or unverified certificate is the connection's
    // problem, not a route's.
    app.addHook('onRequest', async (request) => {
      const problem = clientCertificateProblem(request.raw.socket, clientAuth);
      if (problem) {
        request.log.warn({ remote: request.ip, reason: problem }, 'client certificate refused');
        throw new ApiError('client_certificate_refused', problem, [fieldError('client_certificate', problem, 'tls')]);
      }
    });
  }
  if (!authEnabled(a)) return;
  const withCerts = a.certificateRoles !== undefined && clientAuth !== 'NoClientCert';
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0]!;
    if (OPEN_PATHS.has(path) || path === '/docs' || path.startsWith('/docs/')) return;
    const token = tokenCredential(request, a.tokens);
    const cert = withCerts ? certificateCredential(request, a.certificateRoles) : null;
    const winner = chosen(token, cert);
    if (!winner?.principal) {
      const how = withCerts ? 'send "Authorization: Bearer <token>" with a token from the control plane config, or connect with a client certificate whose OU is in auth.client_certificates' : 'send "Authorization: Bearer <token>" with a token from the control plane config';
      const detail = token?.refused ?? (cert?.who ? `the ${cert.who} has no OU in auth.client_certificates, and no token was sent` : 'missing');
      throw new ApiError('unauthorized', how, [{ field: 'authorization', pointer: '#/authorization', in: 'headers', detail }]);
    }
    const principal = winner.principal;
    (request as FastifyRequest & { sluicePrincipal?: Principal }).sluicePrincipal = principal;
    const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    (request as FastifyRequest & { sluiceActor?: string }).sluiceActor = winner.who === 'token' && bearer ? `${principal.role}:${sha256(bearer).slice(0, 12)}` : `${principal.role}:${winner.who ?? 'unknown'}`;
    const reportScope = (request.routeOptions.config as { reportScope?: boolean } | undefined)?.reportScope === true;
    if (WRITE_METHODS.has(request.method) && principal.role !== 'admin' && !(reportScope && principal.role === 'report')) {
      const what = principal.role === 'report' ? `a report ${winner.who} may only send health reports` : `a read-only ${winner.who}`;
      throw new ApiError('forbidden', `${what}: it cannot ${request.method} ${path}; use an admin token or certificate`, [{ field: 'authorization', pointer: '#/authorization', in: 'headers', detail: `${principal.role} ${winner.who === 'token' ? 'token' : 'client certificate'}` }]);
    }
  });
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/**
 * Open API + non-loopback address = anyone on the network may rewrite routing: refused. Plain HTTP on a
 * non-loopback address = bearer tokens (and every view) cross the network in clear: refused unless
 * `insecure` says the operator accepts it (a TLS-terminating proxy in front, a private link). Returns
 * true when the server will listen insecurely, for the caller to log loudly.
 */
export function assertSafeBind(host: string, auth: TokenSets | AuthOptions, transport: { tls: boolean; insecure: boolean } = { tls: false, insecure: true }): boolean {
  if (isLoopback(host)) return false;
  if (!authEnabled(auth)) {
    throw new UsageError(
      `refusing to listen on ${host}: no auth tokens are configured, so the API would be open to the network. ` +
        'Add auth.admin_tokens (and read_tokens) to the config, or listen on 127.0.0.1 / ::1.',
    );
  }
  if (transport.tls) return false;
  if (!transport.insecure) {
    throw new UsageError(
      `refusing to listen on ${host} without TLS: bearer tokens and views would cross the network in clear. ` +
        'Set tls.cert_file and tls.key_file, or set insecure: true if a TLS-terminating proxy or a private link protects this address.',
    );
  }
  return true;
}
