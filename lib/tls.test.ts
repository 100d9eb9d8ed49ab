// lib/tls.ts against real certificates made by openssl (lib/testing/pki.ts): the config blocks, the
// checks made when the files are loaded, the reload of a renewed pair, and every handshake failure a
// client meets described in words.
import { X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpGetter } from './http-get.ts';
import { makeTestPki, standardCerts, type StandardCerts, type TestPki } from './testing/pki.ts';
import { loadServerTls, TlsReloader } from './tls.ts';
import { TlsClientConfig, TlsServerConfig } from './tls-config.ts';
import { ClientTls, describeTlsError } from './tls-client.ts';
import { createHttpServer } from './tls-server.ts';

const log = pino({ level: 'silent' });
let pki: TestPki;
let c: StandardCerts;

beforeAll(() => {
  pki = makeTestPki();
  c = standardCerts(pki);
});
afterAll(() => pki.remove());

const serverCfg = (o: Record<string, unknown>) => TlsServerConfig.parse(o);

function listen(server: https.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** The serial of the certificate a fresh connection to `port` is shown. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(pki.ca), servername: 'localhost' }, () => {
      resolve(s.getPeerCertificate().serialNumber);
      s.end();
    });
    s.on('error', reject);
  });
}

describe('config blocks (Prometheus web.config / tls_config names)', () => {
  const rows: [string, 'server' | 'client', Record<string, unknown>, RegExp | null][] = [
    ['a certificate and key', 'server', { cert_file: 'a', key_file: 'b' }, null],
    ['client CAs with a verifying mode', 'server', { cert_file: 'a', key_file: 'b', client_ca_file: 'c', client_auth_type: 'RequireAndVerifyClientCert' }, null],
    ['client CAs without a client_auth_type', 'server', { cert_file: 'a', key_file: 'b', client_ca_file: 'c' }, /client_auth_type: client_ca_file is set but client_auth_type is NoClientCert/],
    ['a verifying mode without client CAs', 'server', { cert_file: 'a', key_file: 'b', client_auth_type: 'VerifyClientCertIfGiven' }, /client_ca_file: client_auth_type VerifyClientCertIfGiven needs client_ca_file/],
    ['an unknown mode', 'server', { cert_file: 'a', key_file: 'b', client_auth_type: 'RequestClientCert' }, /client_auth_type/],
    ['TLS 1.1', 'server', { cert_file: 'a', key_file: 'b', min_version: 'TLS11' }, /min_version/],
    ['no key', 'server', { cert_file: 'a' }, /key_file/],
    ['a CA bundle and a pin', 'client', { ca_file: 'a', server_name: 'cp.example.net' }, null],
    ['a client certificate without its key', 'client', { cert_file: 'a' }, /key_file: set cert_file and key_file together/],
    ['insecure_skip_verify (there is none: fail closed)', 'client', { insecure_skip_verify: true }, /insecure_skip_verify/],
  ];
  for (const [what, kind, input, expected] of rows) {
    it(`${kind}: ${what}`, () => {
      const r = (kind === 'server' ? TlsServerConfig : TlsClientConfig).safeParse(input);
      if (expected === null) expect(r.success, JSON.stringify(r.error?.issues)).toBe(true);
      else expect(r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')).toMatch(expected);
    });
  }
});

describe('loading a server pair', () => {
  it('loads a matching pair and says what it is', () => {
    const t = loadServerTls(serverCfg({ cert_file: c.server.cert, key_file: c.server.key }), 'tls');
    expect(t.certificate.subject).toBe('CN=sluice-control-plane');
    expect(t.certificate.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(t.options.minVersion).toBe('TLSv1.2');
    expect(t.options.requestCert).toBe(false);
  });

  it('refuses a key that is not the certificate\'s, naming the key and never printing it', () => {
    const keyPem = readFileSync(c.renewed.key, 'utf8');
    expect(() => loadServerTls(serverCfg({ cert_file: c.server.cert, key_file: c.renewed.key }), 'metrics.tls')).toThrow(`metrics.tls.key_file: ${c.renewed.key} is not the private key of the certificate in ${c.server.cert}`);
    try {
      loadServerTls(serverCfg({ cert_file: c.server.cert, key_file: c.renewed.key }), 'metrics.tls');
    } catch (err) {
      for (const line of keyPem.split('\n').filter((l) => l.length > 20)) expect((err as Error).message).not.toContain(line);
    }
  });

  it('refuses a group- or world-readable key file', () => {
    const open = `${pki.dir}/open.key`;
    copyFileSync(c.server.key, open);
    chmodSync(open, 0o644);
    expect(() => loadServerTls(serverCfg({ cert_file: c.server.cert, key_file: open }), 'tls')).toThrow(/^tls\.key_file: refusing .*open\.key: it has permissions 0644/);
  });

  it('names a missing certificate, a file that holds none, and a key that is not PEM', () => {
    expect(() => loadServerTls(serverCfg({ cert_file: `${pki.dir}/none.crt`, key_file: c.server.key }), 'tls')).toThrow(/^tls\.cert_file: cannot read .*none\.crt: ENOENT/);
    expect(() => loadServerTls(serverCfg({ cert_file: c.server.key, key_file: c.server.key }), 'tls')).toThrow(/^tls\.cert_file: .* holds no PEM certificate/);
    const junk = `${pki.dir}/junk.key`;
    writeFileSync(junk, 'not a key\n', { mode: 0o600 });
    expect(() => loadServerTls(serverCfg({ cert_file: c.server.cert, key_file: junk }), 'tls')).toThrow(/^tls\.key_file: .*junk\.key is not an unencrypted PEM private key/);
  });
});

describe('what a client is told when a handshake fails', () => {
  const servers: https.Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));

  async function serve(pair: { cert: string; key: string }, extra: Record<string, unknown> = {}): Promise<number> {
    const s = https.createServer({ cert: readFileSync(pair.cert), key: readFileSync(pair.key), ...extra }, (_q, r) => r.end('ok'));
    servers.push(s);
    return listen(s);
  }

  async function failure(url: string, client: Record<string, unknown> | undefined): Promise<string> {
    const getter = new HttpGetter(client ? new ClientTls(TlsClientConfig.parse(client), 'api.tls') : undefined);
    try {
      await getter.get(url);
      return 'no error';
    } catch (err) {
      return describeTlsError(err, 'api.tls') ?? `not described: ${(err as Error).message}`;
    } finally {
      getter.close();
    }
  }

  it('accepts the right CA, and a pinned name the certificate carries', async () => {
    const good = await serve(c.server);
    const getter = new HttpGetter(new ClientTls(TlsClientConfig.parse({ ca_file: pki.ca }), 'api.tls'));
    expect((await getter.get(`https://127.0.0.1:${good}/`)).body).toBe('ok');
    getter.close();
    const wrong = await serve(c.wrongName);
    expect(await failure(`https://127.0.0.1:${wrong}/`, { ca_file: pki.ca, server_name: 'wrong.example.net' })).toBe('no error');
  });

  it('wrong CA, no CA (system CAs), wrong name, expired', async () => {
    const foreign = await serve(c.foreign);
    expect(await failure(`https://127.0.0.1:${foreign}/`, { ca_file: pki.ca })).toMatch(/^the server's certificate is not signed by a CA this client trusts \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); set api\.tls\.ca_file/);
    const good = await serve(c.server);
    expect(await failure(`https://127.0.0.1:${good}/`, undefined)).toMatch(/not signed by a CA this client trusts/);
    const wrong = await serve(c.wrongName);
    expect(await failure(`https://127.0.0.1:${wrong}/`, { ca_file: pki.ca })).toBe(
      "the server's certificate is not valid for 127.0.0.1 (it names DNS:wrong.example.net) (ERR_TLS_CERT_ALTNAME_INVALID); reissue it with this name in subjectAltName, or set api.tls.server_name to a name it carries",
    );
    const expired = await serve(c.expired);
    expect(await failure(`https://127.0.0.1:${expired}/`, { ca_file: pki.ca })).toBe("the server's certificate has expired (CERT_HAS_EXPIRED); the server must renew it");
  });

  it('a server that requires a client certificate at the handshake (as Prometheus does), and https:// to a plain port', async () => {
    const strict = await serve(c.server, { ca: readFileSync(pki.ca), requestCert: true, rejectUnauthorized: true });
    expect(await failure(`https://127.0.0.1:${strict}/`, { ca_file: pki.ca })).toMatch(/^the server requires a client certificate \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\); set api\.tls\.cert_file and api\.tls\.key_file/);
    const plain = createHttpServer((_q, r) => r.end('plain'));
    servers.push(plain as unknown as https.Server);
    const port = await listen(plain as unknown as https.Server);
    expect(await failure(`https://127.0.0.1:${port}/`, { ca_file: pki.ca })).toMatch(/^the server does not speak TLS on this port/);
  });
});

describe('sluice servers with client certificates (lib/tls-server.ts)', () => {
  it('RequireAndVerifyClientCert: 401 naming why without one, with a foreign or server-only one; 200 with a good one', async () => {
    const cfg = serverCfg({ cert_file: c.server.cert, key_file: c.server.key, client_ca_file: pki.ca, client_auth_type: 'RequireAndVerifyClientCert' });
    const server = createHttpServer((req, res) => res.end(`hello ${(req.socket as tls.TLSSocket).getPeerCertificate().subject.CN}`), { config: cfg, loaded: loadServerTls(cfg, 'tls'), prefix: 'tls', log }) as https.Server;
    const port = await listen(server);
    const get = async (client: Record<string, unknown>) => {
      const g = new HttpGetter(new ClientTls(TlsClientConfig.parse({ ca_file: pki.ca, ...client }), 'api.tls'));
      try {
        const r = await g.get(`https://127.0.0.1:${port}/`);
        return `${r.status} ${r.body.trim()}`;
      } finally {
        g.close();
      }
    };
    try {
      expect(await get({})).toBe("401 a client certificate is required: present one signed by the CA this server trusts (the client's tls.cert_file and tls.key_file)");
      expect(await get({ cert_file: c.clientForeign.cert, key_file: c.clientForeign.key })).toBe("401 the client certificate (CN=dns-eu-1) was refused: it is not signed by a CA in the server's client_ca_file");
      expect(await get({ cert_file: c.server.cert, key_file: c.server.key })).toBe('401 the client certificate (CN=sluice-control-plane) was refused: it is not meant for client authentication (extendedKeyUsage lacks clientAuth)');
      expect(await get({ cert_file: c.clientRead.cert, key_file: c.clientRead.key })).toBe('200 hello dns-eu-1');
    } finally {
      server.close();
    }
  });
});

describe('reloading a renewed certificate from disk', () => {
  it('serves the new pair to the next connection while an open connection keeps working; a half-written pair is refused until complete', async () => {
    const dir = `${pki.dir}/live`;
    mkdirSync(dir);
    const cert = `${dir}/server.crt`;
    const key = `${dir}/server.key`;
    copyFileSync(c.server.cert, cert);
    copyFileSync(c.server.key, key);
    chmodSync(key, 0o600);
    const cfg = serverCfg({ cert_file: cert, key_file: key, reload_interval: '200ms' });
    const results: string[] = [];
    const server = createHttpServer((_q, r) => r.end('ok'), { config: cfg, loaded: loadServerTls(cfg, 'tls'), prefix: 'tls', log }) as https.Server;
    const port = await listen(server);
    const serial = (pem: string) => new X509Certificate(readFileSync(pem)).serialNumber;
    const before = await servedSerial(port);
    expect(before).toBe(serial(c.server.cert));

    // A keep-alive connection made before the renewal.
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(pki.ca) });
    const onOld = () =>
      new Promise<string>((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port, path: '/', agent, servername: 'localhost' }, (res) => {
            const sock = res.socket as tls.TLSSocket;
            res.resume();
            res.on('end', () => resolve(sock.getPeerCertificate().serialNumber));
          })
          .on('error', reject);
      });
    expect(await onOld()).toBe(before);

    // The certificate first, the key a moment later (as a renewal hook writes them): the mismatched
    // pair in between is refused, and the old one keeps being served.
    const reloads: string[] = [];
    const watcher = new TlsReloader(cfg, 'tls', () => reloads.push('applied'), log, (r) => results.push(r));
    copyFileSync(c.renewed.cert, `${cert}.tmp`);
    renameSync(`${cert}.tmp`, cert);
    expect(watcher.check()).toBe(false);
    expect(results).toEqual(['error']);
    expect(await servedSerial(port)).toBe(before);
    copyFileSync(c.renewed.key, `${key}.tmp`);
    chmodSync(`${key}.tmp`, 0o600);
    renameSync(`${key}.tmp`, key);
    expect(watcher.check()).toBe(true);
    watcher.stop();

    // The server's own reloader (inotify + 200 ms checks) picks it up by itself.
    const renewed = serial(c.renewed.cert);
    const deadline = Date.now() + 10_000;
    let now = before;
    while (now !== renewed && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      now = await servedSerial(port);
    }
    expect(now).toBe(renewed);
    // The connection made before the renewal is still open, still on the old certificate.
    expect(await onOld()).toBe(before);
    agent.destroy();
    server.close();
  });
});
