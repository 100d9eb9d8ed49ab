// The control plane over HTTPS, as the real `sluice control-plane` process, with certificates made by
// openssl: what curl and `openssl s_client` see (TLS 1.2+, AEAD ciphers only), client certificates
// mapped to roles alongside bearer tokens, the data planes' long-poll client refusing a wrong CA, a
// wrong name and an expired certificate, a missing client certificate refused with a clear error, and
// a certificate renewed on disk served to the next connection while a held long-poll carries on.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LongPollClient, type LongPollError } from '../lib/long-poll.ts';
import { makeTestPki, standardCerts, type StandardCerts, type TestPki } from '../lib/testing/pki.ts';
import { TlsClientConfig } from '../lib/tls-config.ts';
import { ClientTls } from '../lib/tls-client.ts';
import type { DnsView } from '../model/views.ts';
import { SAMPLE, startControlPlaneProcess, tempDir } from './helpers/control-plane.ts';
import { unavailable } from './helpers/env.ts';
import { runSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { curl, dnsViewClient, httpsRequest, sClient } from './helpers/tls-clients.ts';
import { waitFor } from './helpers/wait.ts';

const ADMIN = 'admin-token-for-tls-tests-0123';
const READ = 'read-token-for-tls-tests-01234';
const skip = unavailable({ tools: { openssl: 'openssl', curl: 'curl' } });

const serialOf = (pem: string) => new X509Certificate(readFileSync(pem)).serialNumber;

function viewClient(url: string, tls: Record<string, unknown> | null, token?: string): LongPollClient<DnsView> {
  return dnsViewClient(url, { tls: tls ? new ClientTls(TlsClientConfig.parse(tls), 'api.tls') : undefined, token });
}

async function pollError(client: LongPollClient<DnsView>): Promise<LongPollError> {
  try {
    await client.next({ wait: false });
  } catch (err) {
    return err as LongPollError;
  } finally {
    client.close();
  }
  throw new Error('the request succeeded');
}

describe.skipIf(skip)('control plane over TLS (VerifyClientCertIfGiven: certificates or tokens)', () => {
  let pki: TestPki;
  let c: StandardCerts;
  let dir: ReturnType<typeof tempDir>;
  let cp: { proc: SluiceProcess; url: string };
  let live: { cert: string; key: string };
  let hostPort: string;

  /** Replaces the served pair the way renewal tools do (write beside, rename over). */
  function install(pair: { cert: string; key: string }): void {
    copyFileSync(pair.key, `${live.key}.new`);
    chmodSync(`${live.key}.new`, 0o600);
    copyFileSync(pair.cert, `${live.cert}.new`);
    renameSync(`${live.key}.new`, live.key);
    renameSync(`${live.cert}.new`, live.cert);
  }

  beforeAll(async () => {
    pki = makeTestPki();
    c = standardCerts(pki);
    dir = tempDir('sluice-tls-cp-');
    mkdirSync(join(dir.path, 'tls'));
    live = { cert: join(dir.path, 'tls', 'server.crt'), key: join(dir.path, 'tls', 'server.key') };
    install(c.server);
    const cfg = join(dir.path, 'control-plane.yaml');
    writeFileSync(
      cfg,
      [
        `data_dir: ${join(dir.path, 'data')}`,
        'tls:',
        `  cert_file: ${live.cert}`,
        `  key_file: ${live.key}`,
        `  client_ca_file: ${pki.ca}`,
        '  client_auth_type: VerifyClientCertIfGiven',
        '  reload_interval: 200ms',
        'auth:',
        `  admin_tokens: [${ADMIN}]`,
        `  read_tokens: [${READ}]`,
        '  client_certificates: { admin_ous: [sluice-admin], report_ous: [sluice-report], read_ous: [sluice-read] }',
        'scheduler: { enabled: false }',
        'health_checks: { enabled: false }',
      ].join('\n'),
    );
    cp = await startControlPlaneProcess(['--config', cfg]);
    hostPort = new URL(cp.url).host;
  }, 60_000);

  afterAll(async () => {
    await cp?.proc.stop();
    dir?.remove();
    pki?.remove();
  });

  it('serves HTTPS: curl verifies it with the CA and refuses it without; plain HTTP to the port gets nothing', async () => {
    expect(cp.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ok = await curl(['--cacert', pki.ca, '-w', '%{http_code} %{ssl_verify_result}', '-o', '/dev/null', `${cp.url}/healthz`]);
    expect(ok.stdout).toBe('200 0');
    const unverified = await curl(['-o', '/dev/null', `${cp.url}/healthz`]);
    expect(unverified.code).toBe(60); // CURLE_PEER_FAILED_VERIFICATION
    expect(unverified.stderr).toMatch(/certificate/i);
    const plain = await curl(['-o', '/dev/null', `http://${hostPort}/healthz`]);
    expect(plain.code).not.toBe(0);
  });

  it('openssl s_client: TLS 1.3 verified; TLS 1.2 only with ECDHE+AEAD; TLS 1.1 and CBC suites refused', async () => {
    const tls13 = await sClient(hostPort, ['-CAfile', pki.ca, '-servername', 'localhost']);
    expect(tls13).toMatch(/Verify return code: 0 \(ok\)/);
    expect(tls13).toMatch(/New, TLSv1\.3, Cipher is TLS_AES_(128|256)_GCM_SHA(256|384)/);
    expect(tls13).toContain('subject=CN = sluice-control-plane');
    const tls12 = await sClient(hostPort, ['-CAfile', pki.ca, '-tls1_2']);
    expect(tls12).toMatch(/New, TLSv1\.2, Cipher is ECDHE-ECDSA-AES(128|256)-GCM-SHA(256|384)/);
    const cbc = await sClient(hostPort, ['-CAfile', pki.ca, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA']);
    expect(cbc).toMatch(/handshake failure|no shared cipher/i);
    const tls11 = await sClient(hostPort, ['-CAfile', pki.ca, '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0']);
    expect(tls11).toMatch(/(protocol version|no protocols available|unsupported protocol|wrong version)/i);
  });

  it('maps a client certificate OU to a role, beside bearer tokens', async () => {
    const url = `${cp.url}/api/v1/load-balancers`;
    const read = { ca: pki.ca, cert: c.clientRead.cert, key: c.clientRead.key };
    const admin = { ca: pki.ca, cert: c.clientAdmin.cert, key: c.clientAdmin.key };
    expect((await httpsRequest(url, read)).status).toBe(200);
    const refused = await httpsRequest(url, read, { method: 'POST', body: SAMPLE.loadBalancer });
    expect(refused.status).toBe(403);
    expect(refused.json.detail).toBe('a read-only client certificate (CN=dns-eu-1, OU=sluice-read): it cannot POST /api/v1/load-balancers; use an admin token or certificate');
    const created = await httpsRequest(url, admin, { method: 'POST', body: SAMPLE.loadBalancer });
    expect(created.status).toBe(201);
    // An operator override made with a certificate is audited with its subject (who).
    const origin = await httpsRequest(`${url}/${created.json.id}/origins`, admin, { method: 'POST', body: SAMPLE.origins[0] });
    const override = await httpsRequest(`${url}/${created.json.id}/overrides`, admin, { method: 'POST', body: { kind: 'dial', origin_id: origin.json.id, percent: 50, reason: 'by certificate' } });
    expect(override.status).toBe(201);
    expect(override.json.created_by).toMatch(/^admin:client certificate \(CN=[^,]+, OU=sluice-admin\)$/);
    // Tokens still work without a certificate (VerifyClientCertIfGiven); the higher role of the two counts.
    expect((await httpsRequest(url, { ca: pki.ca }, { headers: { authorization: `Bearer ${READ}` } })).status).toBe(200);
    expect((await httpsRequest(`${url}/${created.json.id}`, read, { method: 'PATCH', body: { max_shift: 0.05 }, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/merge-patch+json' } })).status).toBe(200);
    // A token that is sent must be right, whatever the certificate says.
    expect((await httpsRequest(url, admin, { headers: { authorization: 'Bearer not-a-token-at-all-000' } })).status).toBe(401);
    const noRole = await httpsRequest(url, { ca: pki.ca, cert: c.clientNoRole.cert, key: c.clientNoRole.key });
    expect(noRole.status).toBe(401);
    expect(noRole.json.errors[0].detail).toBe('the client certificate (CN=someone, OU=elsewhere) has no OU in auth.client_certificates, and no token was sent');
    const nothing = await httpsRequest(url, { ca: pki.ca });
    expect(nothing.status).toBe(401);
  });

  it("an edge's report certificate (OU sluice-report) sends health reports as the edge its CN names, and nothing else", async () => {
    const admin = { ca: pki.ca, cert: c.clientAdmin.cert, key: c.clientAdmin.key };
    const edgeName = SAMPLE.edges[0]!.name;
    const asEdge = pki.issue('client-report', { cn: edgeName, ou: 'sluice-report', usage: 'client' });
    const asOther = pki.issue('client-report-other', { cn: 'some-other-edge', ou: 'sluice-report', usage: 'client' });
    const reporter = { ca: pki.ca, cert: asEdge.cert, key: asEdge.key };
    const lb = await httpsRequest(`${cp.url}/api/v1/load-balancers`, admin, { method: 'POST', body: { ...SAMPLE.loadBalancer, name: 'reported' } });
    const origin = await httpsRequest(`${cp.url}/api/v1/load-balancers/${lb.json.id}/origins`, admin, { method: 'POST', body: SAMPLE.origins[0] });
    const edge = await httpsRequest(`${cp.url}/api/v1/edges`, admin, { method: 'POST', body: SAMPLE.edges[0] });
    expect([lb.status, origin.status, edge.status]).toEqual([201, 201, 201]);
    const report = { reports: [{ origin_id: origin.json.id, healthy: false, result: 'fail', detail: 'connect: refused' }] };
    const sent = await httpsRequest(`${cp.url}/api/v1/edges/${edge.json.id}/health`, reporter, { method: 'POST', body: report });
    expect(sent.status).toBe(200);
    expect(sent.json).toEqual({ accepted: 1, ignored: [] });
    const health = await httpsRequest(`${cp.url}/api/v1/health`, reporter);
    expect(health.json.observations).toEqual(expect.arrayContaining([expect.objectContaining({ origin_id: origin.json.id, vantage: `edge:${edgeName}`, kind: 'edge', healthy: false })]));
    // Bound by its CN: another edge's certificate cannot vote as this one.
    const foreign = await httpsRequest(`${cp.url}/api/v1/edges/${edge.json.id}/health`, { ca: pki.ca, cert: asOther.cert, key: asOther.key }, { method: 'POST', body: report });
    expect(foreign.status).toBe(403);
    expect(foreign.json.detail).toContain(`bound to edge "some-other-edge"`);
    // A report credential writes nothing but reports.
    const write = await httpsRequest(`${cp.url}/api/v1/load-balancers`, reporter, { method: 'POST', body: { ...SAMPLE.loadBalancer, name: 'by-reporter' } });
    expect(write.status).toBe(403);
    expect(write.json.detail).toBe(`a report client certificate (CN=${edgeName}, OU=sluice-report) may only send health reports: it cannot POST /api/v1/load-balancers; use an admin token or certificate`);
    // A read-only certificate may not report.
    const byReader = await httpsRequest(`${cp.url}/api/v1/edges/${edge.json.id}/health`, { ca: pki.ca, cert: c.clientRead.cert, key: c.clientRead.key }, { method: 'POST', body: report });
    expect(byReader.status).toBe(403);
  });

  it('refuses a client certificate from another CA with a problem that says so, on every path', async () => {
    for (const path of ['/api/v1/load-balancers', '/healthz']) {
      const r = await httpsRequest(`${cp.url}${path}`, { ca: pki.ca, cert: c.clientForeign.cert, key: c.clientForeign.key }, { contract: path !== '/healthz' });
      expect(r.status).toBe(401);
      expect(r.json).toMatchObject({ code: 'client_certificate_refused', detail: "the client certificate (CN=dns-eu-1) was refused: it is not signed by a CA in the server's client_ca_file" });
    }
  });

  it('the long-poll client: a wrong CA and a wrong name fail closed as kind "tls" with what to fix', async () => {
    const good = viewClient(cp.url, { ca_file: pki.ca }, READ);
    expect((await good.next({ wait: false })).kind).toBe('update');
    good.close();
    const wrongCa = await pollError(viewClient(cp.url, { ca_file: pki.otherCa }, READ));
    expect(wrongCa.kind).toBe('tls');
    // OpenSSL sends the chain up to the CA when it knows it (here from client_ca_file): either code.
    expect(wrongCa.message).toMatch(/^GET \S+\/api\/v1\/dns\/view: the server's certificate is not signed by a CA this client trusts \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)\); set api\.tls\.ca_file to the CA bundle that signed it$/);
    const wrongName = await pollError(viewClient(cp.url, { ca_file: pki.ca, server_name: 'cp.example.net' }, READ));
    expect(wrongName.kind).toBe('tls');
    expect(wrongName.message).toContain("the server's certificate is not valid for cp.example.net (it names DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1)");
    const plain = await pollError(viewClient(cp.url.replace('https:', 'http:'), null, READ));
    expect(plain.kind).toBe('unreachable');
  });

  it('a renewed certificate is served to the next connection while a held long-poll continues on its connection; an expired one is refused', async () => {
    // A long-poll held on a connection made with the first certificate.
    const first = viewClient(cp.url, { ca_file: pki.ca }, READ);
    await first.next({ wait: false });
    const agent = new https.Agent({ keepAlive: true, ca: readFileSync(pki.ca) });
    const initial = await httpsRequest(`${cp.url}/api/v1/dns/view`, { ca: pki.ca }, { headers: { authorization: `Bearer ${READ}` } });
    const held = new Promise<{ status: number; serial: string }>((resolve, reject) => {
      https
        .get(`${cp.url}/api/v1/dns/view?wait=30`, { agent, headers: { authorization: `Bearer ${READ}`, 'if-none-match': initial.headers.get('etag')! } }, (res) => {
          const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, serial }));
        })
        .on('error', reject);
    });
    await waitFor(async () => (await httpsRequest(`${cp.url}/metrics`, { ca: pki.ca }, { headers: { authorization: `Bearer ${READ}` } })).text.includes('sluice_api_long_poll_waiters 1'), { timeoutMs: 10_000, what: 'the long-poll to be held' });

    install(c.renewed);
    await waitFor(async () => (await httpsRequest(`${cp.url}/healthz`, { ca: pki.ca })).serverSerial === serialOf(c.renewed.cert), { timeoutMs: 15_000, what: 'the renewed certificate to be served' });
    expect(cp.proc.output()).toMatch(/tls: reloaded: serving certificate/);
    // The expiry on /metrics follows the certificate in force (what SluiceTlsCertificateExpiringSoon reads).
    const notAfter = Math.floor(new Date(new X509Certificate(readFileSync(c.renewed.cert)).validTo).getTime() / 1000);
    const metrics = (await httpsRequest(`${cp.url}/metrics`, { ca: pki.ca }, { headers: { authorization: `Bearer ${READ}` } })).text;
    expect(metrics).toContain(`sluice_api_tls_certificate_expiry_timestamp_seconds{cert_file="${live.cert}"} ${notAfter}`);
    expect(metrics).toMatch(/sluice_api_tls_reloads_total\{result="ok"\} [1-9]/);

    // A change wakes the held long-poll: it answers on its old connection, with the old certificate.
    const lb = await httpsRequest(`${cp.url}/api/v1/load-balancers`, { ca: pki.ca }, { method: 'POST', body: { ...SAMPLE.loadBalancer, name: 'after-renewal', dns: { zone: 'example.net', hostname: 'app.example.net', ttl: 20 } }, headers: { authorization: `Bearer ${ADMIN}` } });
    expect(lb.status).toBe(201);
    const answer = await held;
    expect(answer).toEqual({ status: 200, serial: serialOf(c.server.cert) });
    agent.destroy();
    // The data planes' client follows: its next request still verifies (same CA, same names).
    expect((await first.next({ wait: false })).kind).toBe('update');
    first.close();

    install(c.expired);
    await waitFor(async () => (await pollError(viewClient(cp.url, { ca_file: pki.ca }, READ))).message.includes('has expired'), { timeoutMs: 15_000, what: 'the expired certificate to be served and refused' });
    const expired = await pollError(viewClient(cp.url, { ca_file: pki.ca }, READ));
    expect(expired.kind).toBe('tls');
    expect(expired.message).toBe(`GET ${cp.url}/api/v1/dns/view: the server's certificate has expired (CERT_HAS_EXPIRED); the server must renew it`);
    expect(cp.proc.output()).toMatch(/the certificate EXPIRED on 2020-02-01/);
    install(c.server);
  });

  it('never logs a token or the private key', () => {
    const out = cp.proc.output();
    expect(out).not.toContain(ADMIN);
    expect(out).not.toContain(READ);
    for (const line of readFileSync(c.server.key, 'utf8').split('\n').filter((l) => l.length > 20)) expect(out).not.toContain(line);
  });
});

describe.skipIf(skip)('control plane requiring client certificates (RequireAndVerifyClientCert)', () => {
  let pki: TestPki;
  let c: StandardCerts;
  let dir: ReturnType<typeof tempDir>;
  let cp: { proc: SluiceProcess; url: string };

  beforeAll(async () => {
    pki = makeTestPki();
    c = standardCerts(pki);
    dir = tempDir('sluice-tls-mtls-');
    const cfg = join(dir.path, 'control-plane.yaml');
    writeFileSync(
      cfg,
      [
        `data_dir: ${join(dir.path, 'data')}`,
        `tls: { cert_file: ${c.server.cert}, key_file: ${c.server.key}, client_ca_file: ${pki.ca}, client_auth_type: RequireAndVerifyClientCert }`,
        'auth: { client_certificates: { admin_ous: [sluice-admin], read_ous: [sluice-read] } }',
        'scheduler: { enabled: false }',
      ].join('\n'),
    );
    cp = await startControlPlaneProcess(['--config', cfg]);
  }, 60_000);

  afterAll(async () => {
    await cp?.proc.stop();
    dir?.remove();
    pki?.remove();
  });

  it('a data plane without a client certificate is refused, and told to configure one', async () => {
    const err = await pollError(viewClient(cp.url, { ca_file: pki.ca }));
    expect(err.kind).toBe('auth');
    expect(err.message).toBe(`GET ${cp.url}/api/v1/dns/view: HTTP 401: a client certificate is required: present one signed by the CA this server trusts (the client's tls.cert_file and tls.key_file) (api.tls)`);
    const withCert = viewClient(cp.url, { ca_file: pki.ca, cert_file: c.clientRead.cert, key_file: c.clientRead.key });
    expect((await withCert.next({ wait: false })).kind).toBe('update');
    withCert.close();
  });

  it('curl without a certificate gets the problem; with one, the API', async () => {
    const none = await curl(['--cacert', pki.ca, `${cp.url}/api/v1/load-balancers`]);
    expect(JSON.parse(none.stdout)).toMatchObject({ status: 401, code: 'client_certificate_refused' });
    const ok = await curl(['--cacert', pki.ca, '--cert', c.clientRead.cert, '--key', c.clientRead.key, '-w', '\n%{http_code}', `${cp.url}/api/v1/load-balancers`]);
    expect(ok.stdout.trim().split('\n').pop()).toBe('200');
  });
});

describe.skipIf(skip)('control plane start-up checks for TLS', () => {
  let pki: TestPki;
  let c: StandardCerts;
  let dir: ReturnType<typeof tempDir>;
  beforeAll(() => {
    pki = makeTestPki();
    c = standardCerts(pki);
    dir = tempDir('sluice-tls-start-');
  });
  afterAll(() => {
    dir?.remove();
    pki?.remove();
  });

  const start = (name: string, lines: string[], extra: string[] = []) => {
    const cfg = join(dir.path, `${name}.yaml`);
    writeFileSync(cfg, [`data_dir: ${join(dir.path, name)}`, ...lines].join('\n'));
    return runSluice(['control-plane', '--config', cfg, ...extra]);
  };

  it('refuses a non-loopback address without TLS (exit 2, before listening), naming the way out', async () => {
    const r = await start('plain', [`auth: { admin_tokens: [${ADMIN}] }`], ['--listen', '0.0.0.0:0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('refusing to listen on 0.0.0.0 without TLS: bearer tokens and views would cross the network in clear. Set tls.cert_file and tls.key_file, or set insecure: true');
  });

  it('refuses a world-readable key file (exit 2) naming file, key and mode, never the key', async () => {
    const open = join(dir.path, 'open.key');
    copyFileSync(c.server.key, open);
    chmodSync(open, 0o644);
    const r = await start('open-key', [`tls: { cert_file: ${c.server.cert}, key_file: ${open} }`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`tls.key_file: refusing ${open}: it has permissions 0644: readable or writable by every user on the host`);
    expect(r.stderr).not.toContain('PRIVATE KEY');
  });

  it('refuses a key that is not the certificate\'s, and a missing client CA bundle (exit 2, file and key named)', async () => {
    const mismatch = await start('mismatch', [`tls: { cert_file: ${c.server.cert}, key_file: ${c.renewed.key} }`]);
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toMatch(/mismatch\.yaml: tls\.key_file: .*renewed\.key is not the private key of the certificate in .*server\.crt/);
    const noCa = await start('no-ca', [`tls: { cert_file: ${c.server.cert}, key_file: ${c.server.key}, client_ca_file: /nonexistent/ca.pem, client_auth_type: VerifyClientCertIfGiven }`]);
    expect(noCa.code).toBe(2);
    expect(noCa.stderr).toContain('tls.client_ca_file: cannot read /nonexistent/ca.pem: ENOENT');
    const rolesWithoutCa = await start('roles', [`tls: { cert_file: ${c.server.cert}, key_file: ${c.server.key} }`, 'auth: { client_certificates: { read_ous: [sluice-read] } }']);
    expect(rolesWithoutCa.code).toBe(2);
    expect(rolesWithoutCa.stderr).toMatch(/roles\.yaml:\d+:\d+: auth\.client_certificates: client certificate roles need tls\.client_ca_file/);
  });
});
