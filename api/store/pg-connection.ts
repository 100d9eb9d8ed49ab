// How the control plane connects to PostgreSQL: the `postgres:` config block, its password (from a
// file or an environment variable, never from a log line), TLS, pool size and timeouts, turned into
// node-postgres options. The password is redacted from every URL and error message we print.
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { parse as parseConnectionString } from 'pg-connection-string';
import { z } from 'zod';
import { Duration } from '../../model/primitives.ts';
import { readSecretFile, readSecretLine, SecretFileError } from '../../lib/secret-file.ts';

export const PostgresConfig = z
  .strictObject({
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'expected a URL such as postgres://sluice@db.example.net:5432/sluice')
      .describe('connection URL; put the password in password_file or password_env rather than here'),
    password_file: z.string().min(1).optional().describe('file holding the password (first line)'),
    password_env: z.string().min(1).optional().describe('environment variable holding the password'),
    pool_size: z.number().int().min(2).max(200).default(10).describe('connections per replica (one more is kept for LISTEN)'),
    connect_timeout: Duration.default(5_000),
    statement_timeout: Duration.default(10_000).describe('a statement running longer is cancelled'),
    idle_in_transaction_timeout: Duration.default(5_000).describe('a session idle inside a transaction this long (a paused replica) is ended by the server, releasing its locks'),
    change_poll: Duration.default(1_000).describe('re-check of the change sequence, so a lost NOTIFY only delays a change'),
    ssl: z
      .strictObject({
        mode: z.enum(['disable', 'require', 'verify-ca', 'verify-full']).default('disable').describe('require = encrypt without checking the certificate; verify-full also checks the host name'),
        ca_file: z.string().min(1).optional().describe('CA bundle (PEM) for verify-ca / verify-full'),
        cert_file: z.string().min(1).optional().describe('client certificate (PEM), when the server asks for one'),
        key_file: z.string().min(1).optional(),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.password_file && c.password_env) ctx.addIssue({ code: 'custom', path: ['password_env'], message: 'set password_file or password_env, not both' });
    let parsed: URL | undefined;
    try {
      parsed = new URL(c.url);
    } catch {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'not a URL' });
    }
    if (parsed?.password && (c.password_file || c.password_env)) ctx.addIssue({ code: 'custom', path: ['url'], message: 'the URL has a password and password_file/password_env is set too; keep one' });
    if (parsed?.searchParams.has('sslmode')) ctx.addIssue({ code: 'custom', path: ['url'], message: 'set TLS with postgres.ssl.mode, not ?sslmode= in the URL' });
    if ((c.ssl.mode === 'verify-ca' || c.ssl.mode === 'verify-full') && !c.ssl.ca_file) ctx.addIssue({ code: 'custom', path: ['ssl', 'ca_file'], message: `ssl.mode ${c.ssl.mode} needs the CA that signed the server certificate` });
    if (!c.ssl.cert_file !== !c.ssl.key_file) ctx.addIssue({ code: 'custom', path: ['ssl', 'key_file'], message: 'set cert_file and key_file together' });
  });
export type PostgresConfig = z.output<typeof PostgresConfig>;

/** The URL with its password (if any) replaced, for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

export class PostgresConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`postgres.${key}: ${message}`);
    this.name = 'PostgresConfigError';
  }
}

export interface PgConnection {
  /** Options for pg.Pool / pg.Client (password included; never log this object). */
  options: pg.PoolConfig;
  /** The URL without its password. */
  display: string;
  /** Removes the password from any text (error messages from the driver or the server). */
  redact(text: string): string;
}

function readPublicFile(key: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new PostgresConfigError(key, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The password and the client key: permissions checked (lib/secret-file.ts), content never in an error. */
function readSecret(key: string, file: string, firstLine: boolean): string {
  try {
    return firstLine ? readSecretLine(key, file) : readSecretFile(key, file);
  } catch (err) {
    throw err instanceof SecretFileError ? new PostgresConfigError(key, err.message) : err;
  }
}

function urlOptions(url: URL): pg.PoolConfig {
  const parsed = parseConnectionString(url.toString());
  const out: pg.PoolConfig = {};
  if (parsed.host) out.host = parsed.host;
  if (parsed.port) out.port = Number(parsed.port);
  if (parsed.database) out.database = parsed.database;
  if (parsed.user) out.user = parsed.user;
  if (parsed.options) out.options = parsed.options;
  return out;
}

/** Resolves the password and TLS files now, so a missing one stops the start with the key that names it. */
export function pgConnection(c: PostgresConfig, applicationName: string, env: NodeJS.ProcessEnv = process.env): PgConnection {
  const url = new URL(c.url);
  let password: string | undefined = url.password ? decodeURIComponent(url.password) : undefined;
  if (c.password_file) password = readSecret('password_file', c.password_file, true);
  if (c.password_env) {
    password = env[c.password_env];
    if (!password) throw new PostgresConfigError('password_env', `the environment variable ${c.password_env} is not set or empty`);
  }
  url.password = '';
  let ssl: pg.PoolConfig['ssl'] = false;
  if (c.ssl.mode !== 'disable') {
    const tls: Exclude<pg.PoolConfig['ssl'], boolean | undefined> = { rejectUnauthorized: c.ssl.mode !== 'require' };
    if (c.ssl.ca_file) tls.ca = readPublicFile('ssl.ca_file', c.ssl.ca_file);
    if (c.ssl.cert_file) tls.cert = readPublicFile('ssl.cert_file', c.ssl.cert_file);
    if (c.ssl.key_file) tls.key = readSecret('ssl.key_file', c.ssl.key_file, false);
    // verify-ca: the chain must lead to the CA, whatever name the certificate carries.
    if (c.ssl.mode === 'verify-ca') tls.checkServerIdentity = () => undefined;
    ssl = tls;
  }
  const secret = password;
  return {
    display: url.toString(),
    redact: (text) => (secret ? text.split(secret).join('***') : text),
    options: {
      // Host, port, database, user and options from the URL; the password only from here (pg lets a
      // connectionString's absent password override an explicit one, so the URL is not passed on).
      ...urlOptions(url),
      ...(password !== undefined ? { password } : {}),
      ssl,
      max: c.pool_size,
      connectionTimeoutMillis: c.connect_timeout,
      statement_timeout: c.statement_timeout,
      idle_in_transaction_session_timeout: c.idle_in_transaction_timeout,
      application_name: applicationName.slice(0, 63),
      keepAlive: true,
      keepAliveInitialDelayMillis: 5_000,
    },
  };
}
