// The client side of a `tls` block (Prometheus' scrape tls_config names: ca_file, cert_file, key_file,
// server_name, min_version), for the data planes' long-polls and the scheduler's readers: the options
// loaded once and re-read when the files change, and a failed handshake described in words that say
// which key to fix. There is no insecure_skip_verify: a client that cannot verify fails closed.
import https from 'node:https';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from './log.ts';
import { certificatesIn, fileSignature, readPair, readPublic, TLS_VERSIONS, UNTRUSTED, type TlsClientConfig } from './tls.ts';

/** Certificate-related options of a client block (CA bundle, pin, client pair). */
function loadClientOptions(c: TlsClientConfig, prefix: string): ConnectionOptions {
  const out: ConnectionOptions = { minVersion: TLS_VERSIONS[c.min_version] };
  if (c.ca_file) {
    const ca = readPublic(`${prefix}.ca_file`, c.ca_file);
    certificatesIn(`${prefix}.ca_file`, c.ca_file, ca);
    out.ca = ca;
  }
  if (c.cert_file && c.key_file) {
    const pair = readPair(prefix, c.cert_file, c.key_file);
    out.cert = pair.cert;
    out.key = pair.key;
  }
  if (c.server_name) out.servername = c.server_name;
  return out;
}

/**
 * The client side of a `tls` block: loaded at construction (a bad file stops the start with the key
 * that names it), re-read when the files change (a renewed client certificate is used by the next
 * connection; the check is a stat, at most once a second).
 */
export class ClientTls {
  private connection: ConnectionOptions;
  private signature: string;
  private checkedAt = 0;
  private agentCache: https.Agent | null = null;

  constructor(
    readonly config: TlsClientConfig,
    /** Config key of the block, e.g. "api.tls": named in every error. */
    readonly prefix: string,
    private readonly log?: Logger,
  ) {
    this.connection = loadClientOptions(config, prefix);
    this.signature = fileSignature(this.files());
  }

  private files(): string[] {
    return [this.config.ca_file, this.config.cert_file, this.config.key_file].filter((f): f is string => f !== undefined);
  }

  /** Whether connections present a client certificate. */
  get presentsCertificate(): boolean {
    return this.config.cert_file !== undefined;
  }

  private refresh(): void {
    const now = Date.now();
    if (now - this.checkedAt < 1000) return;
    this.checkedAt = now;
    const sig = fileSignature(this.files());
    if (sig === this.signature) return;
    try {
      this.connection = loadClientOptions(this.config, this.prefix);
      this.agentCache?.destroy();
      this.agentCache = null;
      this.log?.info({ tls: this.prefix }, 'TLS client files changed; new connections use them');
    } catch (err) {
      this.log?.error({ err: (err as Error).message }, `${this.prefix}: the changed files cannot be used; keeping the previous ones`);
    }
    this.signature = sig;
  }

  /** Options for tls.connect / https.request (current files). */
  options(): ConnectionOptions {
    this.refresh();
    return this.connection;
  }

  /** A keep-alive agent with these options (replaced when the files change). */
  agent(): https.Agent {
    this.refresh();
    this.agentCache ??= new https.Agent({ keepAlive: true, ...this.connection });
    return this.agentCache;
  }

  close(): void {
    this.agentCache?.destroy();
    this.agentCache = null;
  }
}

/** Indexes of the URLs that are not https:// (a client `tls` block with them is a config mistake). */
export function notHttps(urls: string[]): number[] {
  return urls.flatMap((u, i) => (u.startsWith('https://') ? [] : [i]));
}

/** A bearer token sent over http:// beyond loopback crosses the network in clear: say so once, at start. */
export function warnCleartextToken(log: Logger, urls: string[], hasToken: boolean): void {
  if (!hasToken) return;
  const exposed = urls.filter((u) => {
    try {
      const url = new URL(u);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      return url.protocol === 'http:' && !(host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.')));
    } catch {
      return false;
    }
  });
  if (exposed.length > 0) log.warn({ urls: exposed }, 'INSECURE: the bearer token is sent over plain http:// beyond loopback; use https:// URLs and a tls block');
}

/** Loads an optional client block: undefined when absent. */
export function clientTls(c: TlsClientConfig | undefined, prefix: string, log?: Logger): ClientTls | undefined {
  return c ? new ClientTls(c, prefix, log) : undefined;
}

/**
 * A failed TLS handshake (or a server's TLS alert), in words an operator can act on; null when `err`
 * is not about TLS. `prefix` names the client's config block in the advice; `sentCertificate` says
 * whether this client presented a certificate (servers answer a missing one with different alerts:
 * OpenSSL "certificate required", Go's crypto/tls — Prometheus — "bad certificate").
 */
export function describeTlsError(err: unknown, prefix = 'tls', sentCertificate?: boolean): string | null {
  const e = err as { code?: string; reason?: string; message?: string; cause?: unknown };
  const code = e?.code ?? '';
  if (!code && e?.cause) return describeTlsError(e.cause, prefix, sentCertificate);
  const cause = `(${code})`;
  if (UNTRUSTED.has(code)) return `the server's certificate is not signed by a CA this client trusts ${cause}; set ${prefix}.ca_file to the CA bundle that signed it`;
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return `the server's certificate has expired ${cause}; the server must renew it`;
    case 'CERT_NOT_YET_VALID':
      return `the server's certificate is not valid yet ${cause}; check both clocks`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID': {
      const names = (e as { cert?: { subjectaltname?: string } }).cert?.subjectaltname;
      const host = (e as { host?: string }).host;
      return `the server's certificate is not valid for ${host ?? 'this host'}${names ? ` (it names ${names})` : ''} ${cause}; reissue it with this name in subjectAltName, or set ${prefix}.server_name to a name it carries`;
    }
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return `the server does not speak TLS on this port ${cause}; use an http:// URL, or enable TLS on the server`;
  }
  if (/ALERT_CERTIFICATE_REQUIRED/.test(code) || (sentCertificate === false && /ALERT_(BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|HANDSHAKE_FAILURE)/.test(code))) return `the server requires a client certificate ${cause}; set ${prefix}.cert_file and ${prefix}.key_file`;
  if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|DECRYPT_ERROR|ACCESS_DENIED|UNSUPPORTED_CERTIFICATE)/.test(code)) {
    return `the server refused this client's certificate ${cause}; ${prefix}.cert_file must be current and signed by a CA the server trusts (its client_ca_file)`;
  }
  if (/ALERT_HANDSHAKE_FAILURE/.test(code)) return `the TLS handshake failed ${cause}: a client certificate the server requires (${prefix}.cert_file), or no cipher in common`;
  if (/ALERT_PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE/.test(code)) return `no TLS version in common with the server ${cause}; check ${prefix}.min_version`;
  if (code === 'EPROTO' && /wrong version number/.test(e.message ?? '')) return `the server does not speak TLS on this port (${code}: wrong version number); use an http:// URL, or enable TLS on the server`;
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return `TLS failed ${cause}: ${(e.message ?? '').split('\n')[0]}`;
  return null;
}
