// The control plane's connection to PostgreSQL over TLS against a real TLS-enabled PostgreSQL 15
// (ssl = on with a certificate made by openssl for 127.0.0.1/localhost): each `postgres.ssl.mode`
// does what libpq's sslmode of the same name does, a wrong CA and a wrong name fail with the
// certificate named, and the client key file is permission-checked like every other secret.
import { chmodSync, chownSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgConnection, PostgresConfig } from '../api/store/pg-connection.ts';
import { makeTestPki, standardCerts, type StandardCerts, type TestPki } from '../lib/testing/pki.ts';
import { isRoot } from './helpers/env.ts';
import { postgresUnavailable, startPostgres, type RunningPostgres } from './helpers/postgres.ts';

const skip = postgresUnavailable();

describe.skipIf(skip)('PostgreSQL over TLS (postgres.ssl)', () => {
  let pki: TestPki;
  let c: StandardCerts;
  let server: RunningPostgres;
  let serverFiles: string;

  beforeAll(async () => {
    pki = makeTestPki();
    c = standardCerts(pki);
    // PostgreSQL runs as nobody when the tests run as root, and refuses a key others can read: its
    // own copy, owned by the server's user, 0600.
    serverFiles = mkdtempSync(join(tmpdir(), 'sluice-pg-tls-'));
    copyFileSync(c.server.cert, join(serverFiles, 'server.crt'));
    copyFileSync(c.server.key, join(serverFiles, 'server.key'));
    chmodSync(join(serverFiles, 'server.key'), 0o600);
    chmodSync(serverFiles, 0o755);
    if (isRoot()) for (const f of ['', 'server.crt', 'server.key']) chownSync(join(serverFiles, f), 65534, 65534);
    server = await startPostgres({
      settings: {
        // Two loopback addresses: 127.0.0.2 is not a name the certificate carries.
        listen_addresses: '127.0.0.1,127.0.0.2',
        ssl: 'on',
        ssl_cert_file: join(serverFiles, 'server.crt'),
        ssl_key_file: join(serverFiles, 'server.key'),
      },
    });
  }, 60_000);

  afterAll(async () => {
    await server?.destroy();
    if (serverFiles) rmSync(serverFiles, { recursive: true, force: true });
    pki?.remove();
  });

  /** Connects with the control plane's own option mapping; the TLS state PostgreSQL reports, or the error. */
  async function connect(host: string, ssl: Record<string, unknown>): Promise<string> {
    const config = PostgresConfig.parse({ url: `postgres://${server.user}@${host}:${server.port}/postgres`, password_file: server.passwordFile, connect_timeout: '5s', ssl });
    const client = new pg.Client(pgConnection(config, 'tls-test').options);
    try {
      await client.connect();
      const r = await client.query<{ ssl: boolean; version: string }>('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      return r.rows[0]!.ssl ? `encrypted ${r.rows[0]!.version}` : 'plain';
    } catch (err) {
      return `error: ${(err as Error).message}`;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  it('disable: plain; require: encrypted without checking the certificate', async () => {
    expect(await connect('127.0.0.1', { mode: 'disable' })).toBe('plain');
    expect(await connect('127.0.0.1', { mode: 'require' })).toMatch(/^encrypted TLSv1\.[23]$/);
  });

  it('verify-full: the CA and the name are checked', async () => {
    expect(await connect('127.0.0.1', { mode: 'verify-full', ca_file: pki.ca })).toMatch(/^encrypted TLSv1\.3$/);
    expect(await connect('127.0.0.1', { mode: 'verify-full', ca_file: pki.otherCa })).toMatch(/^error: (self[- ]signed certificate in certificate chain|unable to verify the first certificate)/);
    expect(await connect('127.0.0.2', { mode: 'verify-full', ca_file: pki.ca })).toMatch(/^error: Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.2 is not in the cert's list/);
  });

  it('verify-ca: the CA is checked, the name is not', async () => {
    expect(await connect('127.0.0.2', { mode: 'verify-ca', ca_file: pki.ca })).toMatch(/^encrypted /);
    expect(await connect('127.0.0.2', { mode: 'verify-ca', ca_file: pki.otherCa })).toMatch(/^error: /);
  });

  it('a client key others can read is refused before connecting, naming the key', () => {
    const open = join(pki.dir, 'pg-client.key');
    copyFileSync(c.clientRead.key, open);
    chmodSync(open, 0o644);
    const config = PostgresConfig.parse({ url: `postgres://${server.user}@127.0.0.1:${server.port}/postgres`, ssl: { mode: 'verify-full', ca_file: pki.ca, cert_file: c.clientRead.cert, key_file: open } });
    expect(() => pgConnection(config, 'tls-test')).toThrow(`postgres.ssl.key_file: refusing ${open}: it has permissions 0644`);
  });
});
