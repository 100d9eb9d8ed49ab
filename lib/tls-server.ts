// The server side of TLS: the metrics and status listeners of the agent, edge-sync and sluice dns
// (plain HTTP, or HTTPS with the same `tls` block as the control plane — Prometheus web.config's
// tls_server_config — so Prometheus scrapes them with its `tls_config`), and, for every TLS server
// (the control plane's too), what a connection's client certificate allows: a request whose
// certificate is missing (RequireAndVerifyClientCert) or does not verify gets 401 with the reason,
// and a verified certificate's subject is what the control plane maps to a role. The certificate is
// reloaded from disk when it changes (lib/tls.ts TlsReloader).
import http, { type RequestListener } from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Logger } from './log.ts';
import { TlsReloader, UNTRUSTED, type ServerTls, type TlsServerConfig } from './tls.ts';
import { observeCertificate, reloadObserver, type TlsMetrics } from './tls-metrics.ts';

export interface TlsServing {
  config: TlsServerConfig;
  /** Loaded at start (lib/tls.ts loadServerTls), so a bad file stops the process before it listens. */
  loaded: ServerTls;
  /** Config key of the block, e.g. "metrics.tls". */
  prefix: string;
  log: Logger;
  /** The component's sluice_<component>_tls_* metrics. */
  metrics?: TlsMetrics | undefined;
}

/** A TLS handshake must finish within this (Node's default, 120 s, lets a slow client hold a socket). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export function createHttpServer(handler: RequestListener, tls?: TlsServing): http.Server | https.Server {
  if (!tls) return http.createServer(handler);
  const mode = tls.config.client_auth_type;
  const server = https.createServer({ ...tls.loaded.options, handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, (req, res) => {
    const problem = clientCertificateProblem(req.socket, mode);
    if (problem) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(`${problem}\n`);
      return;
    }
    handler(req, res);
  });
  observeCertificate(tls.metrics, tls.config.cert_file, tls.loaded);
  const reloader = new TlsReloader(tls.config, tls.prefix, (next) => server.setSecureContext(next.context), tls.log, reloadObserver(tls.metrics, tls.config.cert_file)).start();
  server.on('close', () => reloader.stop());
  return server;
}

/** "https" or "http", for the URLs servers log. */
export function schemeOf(server: http.Server | https.Server): 'http' | 'https' {
  return server instanceof https.Server ? 'https' : 'http';
}

/** The subject of a peer certificate as Node presents it: attribute -> one value or several. */
export type PeerSubject = Record<string, string | string[] | undefined>;

/** The values of one subject attribute (CN, OU, O...), whether the certificate carries it once or several times. */
export function subjectValues(subject: PeerSubject | undefined, attribute: string): string[] {
  const v = subject?.[attribute];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Why the server cannot accept this client certificate, in the words of its verification error. */
function verifyErrorText(code: string | undefined): string {
  if (code && UNTRUSTED.has(code)) return "it is not signed by a CA in the server's client_ca_file";
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return 'it has expired';
    case 'CERT_NOT_YET_VALID':
      return 'it is not valid yet';
    case 'INVALID_PURPOSE':
      return 'it is not meant for client authentication (extendedKeyUsage lacks clientAuth)';
    default:
      return `it does not verify (${code ?? 'unknown reason'})`;
  }
}

/**
 * For a request on a server with client certificates requested: why it must be refused, or null.
 * RequireAndVerifyClientCert refuses a connection without a certificate; both verifying modes refuse
 * one whose certificate does not chain to client_ca_file (or is expired). Plain sockets pass.
 */
export function clientCertificateProblem(socket: unknown, mode: TlsServerConfig['client_auth_type']): string | null {
  if (mode === 'NoClientCert') return null;
  const s = socket as Partial<TLSSocket>;
  if (!s.encrypted || typeof s.getPeerCertificate !== 'function') return null;
  // One answer per connection (a server has one mode): kept-alive requests do not decode it again.
  const known = problems.get(s);
  if (known !== undefined) return known;
  const problem = certificateProblem(s as TLSSocket, mode);
  problems.set(s, problem);
  return problem;
}

const problems = new WeakMap<object, string | null>();

function certificateProblem(s: TLSSocket, mode: TlsServerConfig['client_auth_type']): string | null {
  const cert = s.getPeerCertificate();
  const presented = cert !== null && typeof cert === 'object' && Object.keys(cert).length > 0;
  if (!presented) return mode === 'RequireAndVerifyClientCert' ? 'a client certificate is required: present one signed by the CA this server trusts (the client\'s tls.cert_file and tls.key_file)' : null;
  if (s.authorized) return null;
  const who = subjectValues(cert.subject as PeerSubject, 'CN')[0];
  return `the client certificate${who ? ` (CN=${who})` : ''} was refused: ${verifyErrorText(s.authorizationError as unknown as string | undefined)}`;
}

/** Subjects already read per connection: getPeerCertificate() decodes the certificate on every call. */
const subjects = new WeakMap<object, PeerSubject | null>();

/** The verified client certificate's subject on this socket, or null (none, or not verified). */
export function verifiedPeerSubject(socket: unknown): PeerSubject | null {
  const s = socket as Partial<TLSSocket>;
  if (!s.encrypted || !s.authorized || typeof s.getPeerCertificate !== 'function') return null;
  const known = subjects.get(s);
  if (known !== undefined) return known;
  const cert = s.getPeerCertificate();
  const subject = cert && Object.keys(cert).length > 0 ? (cert.subject as unknown as PeerSubject) : null;
  subjects.set(s, subject);
  return subject;
}
