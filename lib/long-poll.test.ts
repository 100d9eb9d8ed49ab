// LongPollClient against real HTTP servers standing in for control-plane replicas (each answers the
// long-poll contract: ETag, If-None-Match, 304, Sluice-Change-Seq).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LongPollClient, LongPollError } from './long-poll.ts';
import { makeTestPki, standardCerts, type StandardCerts, type TestPki } from './testing/pki.ts';
import { TlsClientConfig } from './tls-config.ts';
import { ClientTls } from './tls-client.ts';

interface View {
  version: string;
  seq: number | null;
}

interface Replica {
  url: string;
  server: Server;
  view: View;
  status: number;
  requests: number;
}

const replicas: Replica[] = [];
afterEach(async () => {
  for (const r of replicas.splice(0)) await new Promise((res) => r.server.close(res));
});

async function replica(view: View, tls?: { cert: string; key: string }): Promise<Replica> {
  const r = { view, status: 200, requests: 0 } as Replica;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    r.requests++;
    if (r.status !== 200) return void res.writeHead(r.status).end('nope');
    const etag = `"${r.view.version}"`;
    const headers: Record<string, string> = { etag, ...(r.view.seq !== null ? { 'sluice-change-seq': String(r.view.seq) } : {}) };
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304, headers).end();
    res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(r.view));
  };
  r.server = tls ? (createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, handler) as unknown as Server) : createServer(handler);
  await new Promise<void>((res) => r.server.listen(0, '127.0.0.1', () => res()));
  r.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(r.server.address() as AddressInfo).port}`;
  replicas.push(r);
  return r;
}

/** A loopback port nothing listens on (lib/ may not import test helpers). */
async function closedPort(): Promise<number> {
  const srv = createTcpServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
  const { port } = srv.address() as AddressInfo;
  await new Promise((res) => srv.close(res));
  return port;
}

function client(urls: string[], tls?: ClientTls) {
  return new LongPollClient<View>({
    urls,
    tls,
    path: '/view',
    token: 't',
    waitMs: 0,
    timeoutMs: 1000,
    parse: (doc) => {
      if (typeof (doc as View).version !== 'string') throw new Error('not a view');
      return doc as View;
    },
    version: (v) => v.version,
    seq: (v) => v.seq,
    backoff: { initial: 100, max: 1000, multiplier: 2, jitter: 0 },
  });
}

describe('LongPollClient', () => {
  it('fetches, then answers unchanged on a 304 and records the seq the replica confirms', async () => {
    const a = await replica({ version: 'v1', seq: 5 });
    const c = client([a.url]);
    expect(await c.next()).toMatchObject({ kind: 'update', view: { version: 'v1', seq: 5 } });
    a.view = { version: 'v1', seq: 9 }; // the store moved on, this view did not change
    expect(await c.next()).toMatchObject({ kind: 'unchanged' });
    expect(c.confirmedSeq).toBe(9);
    expect(c.seqInForce).toBe(5);
  });

  it('moves to the next replica at once when one is unreachable, and backs off only after all failed', async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const b = await replica({ version: 'v1', seq: 3 });
    const c = client([dead, b.url]);
    const err = (await c.next().catch((e: unknown) => e)) as LongPollError;
    expect(err).toBeInstanceOf(LongPollError);
    expect(err).toMatchObject({ kind: 'unreachable', url: dead, failover: true, retryable: true });
    expect(c.retryDelay(err)).toBe(0);
    expect(c.url).toBe(b.url);
    expect(await c.next()).toMatchObject({ kind: 'update', url: b.url });
    // Both down: the second failure in a row has no untried replica left, so it backs off.
    b.status = 503;
    const e1 = (await c.next().catch((e: unknown) => e)) as LongPollError;
    expect(e1).toMatchObject({ kind: 'http', failover: true });
    const e2 = (await c.next().catch((e: unknown) => e)) as LongPollError;
    expect(e2).toMatchObject({ kind: 'unreachable', failover: false });
    expect(c.retryDelay(e2)).toBe(100);
  });

  it('refuses a view older than the one in force (lower seq), and tries the next replica', async () => {
    const a = await replica({ version: 'new', seq: 10 });
    const b = await replica({ version: 'old', seq: 7 });
    const c = client([a.url, b.url]);
    expect(await c.next()).toMatchObject({ kind: 'update', view: { version: 'new' } });
    // a dies; b serves an older snapshot.
    a.status = 502;
    await expect(c.next()).rejects.toMatchObject({ kind: 'http' });
    const stale = (await c.next().catch((e: unknown) => e)) as LongPollError;
    expect(stale).toMatchObject({ kind: 'stale', url: b.url, retryable: true });
    expect(c.seqInForce).toBe(10);
    // b catches up: accepted.
    b.view = { version: 'newer', seq: 11 };
    a.status = 200;
    a.view = b.view;
    const got = await c.next();
    expect(got).toMatchObject({ kind: 'update', view: { version: 'newer', seq: 11 } });
  });

  it('says auth and invalid do not fix themselves: retried only at the longest backoff', async () => {
    const a = await replica({ version: 'v', seq: 1 });
    a.status = 401;
    const c = client([a.url]);
    const err = (await c.next().catch((e: unknown) => e)) as LongPollError;
    expect(err).toMatchObject({ kind: 'auth', retryable: false });
    expect(err.message).toMatch(/token was refused/);
    expect(c.retryDelay(err)).toBe(1000);
    a.status = 200;
    a.view = { nope: true } as unknown as View;
    await expect(c.next()).rejects.toMatchObject({ kind: 'invalid', retryable: false });
  });

  describe('over TLS', () => {
    let pki: TestPki;
    let c: StandardCerts;
    beforeAll(() => {
      pki = makeTestPki();
      c = standardCerts(pki);
    });
    afterAll(() => pki.remove());

    it('fails closed on a replica with an expired certificate ("tls": the view in force stays), moves on to the next at once, and backs off the longest once all failed', async () => {
      const expired = await replica({ version: 'v1', seq: 4 }, c.expired);
      const good = await replica({ version: 'v1', seq: 4 }, c.server);
      const tls = new ClientTls(TlsClientConfig.parse({ ca_file: pki.ca }), 'api.tls');
      const cl = client([expired.url, good.url], tls);
      const err = (await cl.next().catch((e: unknown) => e)) as LongPollError;
      expect(err).toMatchObject({ kind: 'tls', url: expired.url, failover: true, retryable: false });
      expect(err.message).toBe(`GET ${expired.url}/view: the server's certificate has expired (CERT_HAS_EXPIRED); the server must renew it`);
      expect(expired.requests).toBe(0); // refused at the handshake: not one request reached it
      expect(cl.retryDelay(err)).toBe(0);
      expect(await cl.next()).toMatchObject({ kind: 'update', url: good.url });
      good.status = 503;
      await expect(cl.next()).rejects.toMatchObject({ kind: 'http', failover: true });
      const last = (await cl.next().catch((e: unknown) => e)) as LongPollError;
      expect(last).toMatchObject({ kind: 'tls', failover: false });
      expect(cl.retryDelay(last)).toBe(1000);
      expect(cl.seqInForce).toBe(4);
      cl.close();
    });
  });
});
