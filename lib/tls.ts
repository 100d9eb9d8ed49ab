// TLS for every sluice component, written once: the config blocks (zod, in tls-config.ts), loading and checking the PEM
// files, the server options, reloading a renewed certificate from disk, the client side (CA bundle,
// server-name pin, client certificate) and what a failed handshake means, in words.
//
// Conventions followed, so an operator meets nothing new:
// - Server block = Prometheus' web.config `tls_server_config`: cert_file, key_file, client_ca_file,
//   client_auth_type (NoClientCert | VerifyClientCertIfGiven | RequireAndVerifyClientCert),
//   min_version (TLS12 | TLS13). As there, client_ca_file needs a verifying client_auth_type and back.
// - Client block = Prometheus' scrape `tls_config`: ca_file, cert_file, key_file, server_name,
//   min_version. There is no insecure_skip_verify: a client that cannot verify fails closed.
// - Reload as etcd and cert-manager/certbot deployments expect: the files are watched (inotify on
//   their directories, plus a stat check every reload_interval for filesystems without it) and a
//   renewed pair becomes the server's SecureContext (`server.setSecureContext`). Existing connections
//   (and the long-polls on them) keep the context they were made with; the next handshake gets the new
//   one. A half-written or mismatched pair is refused, logged, and the pair in force stays.
//
// Defaults: TLS 1.2 or newer; for TLS 1.2 only ECDHE key exchange with AEAD ciphers (Mozilla's
// "intermediate" list without DHE, what Go's crypto/tls — so Prometheus — offers).
//
// Client certificates are verified by OpenSSL against client_ca_file and refused per request, with the
// reason, by lib/tls-server.ts (clientCertificateProblem); the client side is lib/tls-client.ts.
//
// Private keys are read through lib/secret-file.ts (permissions checked, never logged or echoed).
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import { ConfigError } from './config-error.ts';
import type { Logger } from './log.ts';
import { readSecretFile, SecretFileError } from './secret-file.ts';

export const TLS_VERSIONS = { TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;
/** TLS 1.3 suites first (all AEAD), then TLS 1.2 with forward secrecy and AEAD only. */
export const CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

// The config blocks (zod schemas) are in tls-config.ts: this module is what runs, and loads no zod, so
// the agent's main thread can serve TLS without the validator resident (agent/footprint.test.ts).
export type { ClientAuthType, TlsClientConfig, TlsServerConfig } from './tls-config.ts';
import type { TlsClientConfig, TlsServerConfig } from './tls-config.ts';

/** A TLS file that cannot be used; `key` is the full config key (e.g. "metrics.tls.cert_file"). */
export class TlsConfigError extends Error {
  constructor(
    readonly key: string,
    readonly detail: string,
  ) {
    super(`${key}: ${detail}`);
    this.name = 'TlsConfigError';
  }
}

/**
 * Runs `load` (reading TLS or secret files named by a config) and turns a file problem into a
 * ConfigError naming the config file and key, so the process exits 2 before listening, as for any
 * other config mistake.
 */
export function loadingFilesOf<T>(configFile: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof TlsConfigError) throw new ConfigError(configFile, [{ key: err.key, message: err.detail }]);
    if (err instanceof SecretFileError) throw new ConfigError(configFile, [{ key: err.key, message: err.message }]);
    throw err;
  }
}

/** Relative file names in a TLS block resolved against `baseDir` (a config file's directory). */
export function resolveTlsPaths<T extends Partial<Record<'cert_file' | 'key_file' | 'client_ca_file' | 'ca_file', string>>>(c: T, baseDir: string): T {
  const out: Record<string, unknown> = { ...c };
  for (const k of ['cert_file', 'key_file', 'client_ca_file', 'ca_file'] as const) {
    const v = c[k];
    if (v !== undefined && !isAbsolute(v)) out[k] = resolve(baseDir, v);
  }
  return out as T;
}

/** What a certificate says about itself, for logs and metrics (no secret in it). */
export interface CertificateSummary {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the DER, as openssl x509 -fingerprint -sha256 prints it. */
  fingerprint: string;
  subjectAltName: string;
}

export function summarise(cert: X509Certificate): CertificateSummary {
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    serial: cert.serialNumber,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    fingerprint: cert.fingerprint256,
    subjectAltName: cert.subjectAltName ?? '',
  };
}

export function readPublic(key: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new TlsConfigError(key, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The certificates in a PEM bundle (at least one, or an error naming the key). */
export function certificatesIn(key: string, file: string, pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new TlsConfigError(key, `${file} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new TlsConfigError(key, `${file}: certificate ${i + 1} cannot be parsed: ${(err as Error).message}`);
    }
  });
}

function readKey(key: string, file: string): { pem: string; object: ReturnType<typeof createPrivateKey> } {
  let pem: string;
  try {
    pem = readSecretFile(key, file);
  } catch (err) {
    throw err instanceof SecretFileError ? new TlsConfigError(key, err.message) : err;
  }
  try {
    return { pem, object: createPrivateKey(pem) };
  } catch {
    // The parser's message says nothing useful and must not carry key material: ours names the file.
    throw new TlsConfigError(key, `${file} is not an unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1)`);
  }
}

/** A certificate and its key, read and checked together (the key belongs to the certificate). */
export function readPair(prefix: string, certFile: string, keyFile: string): { cert: string; key: string; leaf: X509Certificate } {
  const cert = readPublic(`${prefix}.cert_file`, certFile);
  const leaf = certificatesIn(`${prefix}.cert_file`, certFile, cert)[0]!;
  const key = readKey(`${prefix}.key_file`, keyFile);
  if (!leaf.checkPrivateKey(key.object)) throw new TlsConfigError(`${prefix}.key_file`, `${keyFile} is not the private key of the certificate in ${certFile}`);
  return { cert, key: key.pem, leaf };
}

export interface ServerTls {
  /** Options for https.createServer / fastify's `https`. */
  options: TlsOptions;
  /** The secure-context part alone (what a reload replaces). */
  context: SecureContextOptions;
  certificate: CertificateSummary;
}

/** Reads and checks a server block's files; throws TlsConfigError naming `${prefix}.<key>`. */
export function loadServerTls(c: TlsServerConfig, prefix: string): ServerTls {
  const pair = readPair(prefix, c.cert_file, c.key_file);
  const context: SecureContextOptions = { cert: pair.cert, key: pair.key, minVersion: TLS_VERSIONS[c.min_version], ciphers: CIPHERS, honorCipherOrder: true };
  if (c.client_ca_file) {
    const ca = readPublic(`${prefix}.client_ca_file`, c.client_ca_file);
    certificatesIn(`${prefix}.client_ca_file`, c.client_ca_file, ca);
    context.ca = ca;
  }
  return {
    context,
    options: {
      ...context,
      requestCert: c.client_auth_type !== 'NoClientCert',
      // Verified here, refused per request (clientCertificateProblem), as nginx's `ssl_verify_client
      // on` does: Node's own rejectUnauthorized drops the connection without a TLS alert, so the
      // client would only see "socket hang up" and the server log nothing; a 401 says why.
      rejectUnauthorized: false,
    },
    certificate: summarise(pair.leaf),
  };
}

/** OpenSSL's verification errors that mean "no trusted CA signed this" (wrong CA, self-signed, broken chain). */
export const UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED']);

/** Logs what a loaded certificate is, loudly when it is outside its validity period. */
export function logCertificate(log: Logger, what: string, cert: CertificateSummary, now = Date.now()): void {
  const fields = { subject: cert.subject, issuer: cert.issuer, serial: cert.serial, not_after: cert.notAfter.toISOString(), sha256: cert.fingerprint, san: cert.subjectAltName };
  if (cert.notAfter.getTime() < now) log.error(fields, `${what}: the certificate EXPIRED on ${cert.notAfter.toISOString()}; clients will refuse it — renew it (it is reloaded from disk)`);
  else if (cert.notBefore.getTime() > now) log.error(fields, `${what}: the certificate is not valid before ${cert.notBefore.toISOString()}; clients will refuse it until then`);
  else log.info(fields, `${what}: serving certificate`);
}

/** A fingerprint of files' identity and content age: changes when any is replaced, renamed over or edited. */
export function fileSignature(files: string[]): string {
  return files
    .map((f) => {
      try {
        const st = statSync(f);
        return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
}

/**
 * Watches a server block's files and calls `apply` with a freshly loaded pair when they change. A load
 * that fails (the key written after the certificate, a mismatched pair) is logged once per change and
 * the pair in force stays; the next change, or the next periodic check, tries again.
 */
export class TlsReloader {
  private signature: string;
  private failedSignature = '';
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  /** Reloads that took effect, and attempts refused. */
  readonly counts = { ok: 0, error: 0 };

  constructor(
    private readonly config: TlsServerConfig,
    private readonly prefix: string,
    private readonly apply: (tls: ServerTls) => void,
    private readonly log: Logger,
    private readonly onResult: (result: 'ok' | 'error', tls?: ServerTls) => void = () => undefined,
  ) {
    this.signature = fileSignature(this.files());
  }

  private files(): string[] {
    return [this.config.cert_file, this.config.key_file, ...(this.config.client_ca_file ? [this.config.client_ca_file] : [])];
  }

  start(): this {
    // inotify on the directories: renames over a file (certbot, cert-manager's ..data symlink swap)
    // are seen there, not on the file's old inode.
    for (const dir of new Set(this.files().map((f) => dirname(resolve(f))))) {
      try {
        const w = watch(dir, { persistent: false }, () => this.soon());
        w.on('error', () => undefined);
        this.watchers.push(w);
      } catch {
        // no inotify here (or the directory is gone): the periodic check still sees changes
      }
    }
    this.timer = setInterval(() => this.check(), this.config.reload_interval);
    this.timer.unref();
    return this;
  }

  private soon(): void {
    clearTimeout(this.debounce);
    // Tools write the certificate and the key one after the other: look once both are likely there.
    this.debounce = setTimeout(() => this.check(), 200);
    this.debounce.unref();
  }

  /** Reloads when the files changed since the pair in force was loaded; true when a new pair was applied. */
  check(): boolean {
    const sig = fileSignature(this.files());
    if (sig === this.signature || sig === this.failedSignature) return false;
    let loaded: ServerTls;
    try {
      loaded = loadServerTls(this.config, this.prefix);
    } catch (err) {
      this.failedSignature = sig;
      this.counts.error++;
      this.onResult('error');
      this.log.error({ err: (err as Error).message }, `${this.prefix}: the changed certificate files cannot be used; still serving the previous certificate`);
      return false;
    }
    this.apply(loaded);
    this.signature = sig;
    this.failedSignature = '';
    this.counts.ok++;
    this.onResult('ok', loaded);
    logCertificate(this.log, `${this.prefix}: reloaded`, loaded.certificate);
    return true;
  }

  stop(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    clearInterval(this.timer);
    clearTimeout(this.debounce);
  }
}
