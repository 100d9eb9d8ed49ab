// DNS over TCP under abuse (RFC 7766 §6.2.3), against the real `sluice dns` process: a client that
// pipelines queries and never reads, thousands of idle connections, the connection limit, idle and
// trickling clients. Every limit is checked by what a client sees and by the sluice_dns_tcp_* metrics.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { record, threeOrigins, view } from '../dns/testing/fixtures.ts';
import { buildQuery, decodeResponse, tcpExchange, udpExchange } from '../dns/testing/packets.ts';
import { freePort, freeServerPort } from './helpers/ports.ts';
import { childPids, rssBytes, treeRssBytes } from './helpers/rss.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { closedWithin, connect, framed, pipelineWithoutReading, startIdleClients, type IdleClients } from './helpers/tcp-abuse.ts';
import { waitFor } from './helpers/wait.ts';

const IDLE_CLIENTS = 5_000;
const RSS_BOUND = 64 << 20;

interface Server {
  port: number;
  metricsPort: number;
  proc: SluiceProcess;
  dir: string;
  metric(name: string, labels?: string): Promise<number>;
  stop(): Promise<void>;
}

async function startServer(tcp: string): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-dns-tcp-'));
  const port = await freeServerPort();
  const metricsPort = await freePort();
  writeFileSync(join(dir, 'view.json'), JSON.stringify(view('example.com', [record('app.example.com', threeOrigins(), { subnets: { '10.0.0.0/8': { 'us-east': 1 } } })])));
  writeFileSync(join(dir, 'dns.yaml'), `listen: ["127.0.0.1:${port}"]\nview_file: view.json\nmetrics: { listen: "127.0.0.1:${metricsPort}" }\ntcp: ${tcp}\nlog_level: warn\n`);
  // Thousands of sockets: the server's open-files limit is raised by its shell (CI runs as root).
  const proc = startSluice(['dns', '--config', join(dir, 'dns.yaml')], { fdLimit: 16_384 });
  await waitFor(async () => decodeResponse(await tcpExchange(port, buildQuery({ name: 'app.example.com' }), { timeoutMs: 500 })).answers.length === 1, {
    timeoutMs: 20_000,
    what: `sluice dns to answer over TCP; output: ${proc.output()}`,
  });
  const metric = async (name: string, labels = ''): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const m = new RegExp(`^${name}${labels ? `\\{${labels.replace(/[{}]/g, '')}\\}` : ''} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : Number.NaN;
  };
  return {
    port,
    metricsPort,
    proc,
    dir,
    metric,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const QUERY = buildQuery({ name: 'app.example.com', edns: { ecs: { address: '10.1.2.0', source: 24 } } });

describe('sluice dns over TCP, under abuse', () => {
  describe('memory: a client that never reads and 5,000 idle connections', () => {
    let server: Server;
    let clients: IdleClients | undefined;
    beforeAll(async () => {
      // Long timeouts here: the point is what the connections cost while they are held open.
      server = await startServer('{ max_connections: 6000, idle_timeout: 120s, message_timeout: 120s, max_unsent: 16384 }');
    });
    afterAll(async () => {
      clients?.stop();
      await server?.stop();
    });

    it('keeps RSS within 64 MB of its start and still serves new TCP clients', async () => {
      // Warm up (JIT, buffers, the first connections) before taking the starting value.
      for (let i = 0; i < 200; i++) await tcpExchange(server.port, QUERY);
      const start = treeRssBytes(server.proc.child.pid!);

      // 1. A client that pipelines queries and never reads its answers. Without backpressure the
      //    server would read all 64 MB of queries and queue ~100 MB of answers.
      const greedy = await connect(server.port);
      greedy.pause();
      const sent = await pipelineWithoutReading(greedy, QUERY, 64 << 20, 2_000);
      expect(sent.stalled).toBe(true); // the server stopped reading this connection
      expect(await server.metric('sluice_dns_tcp_backpressure_total')).toBeGreaterThanOrEqual(1);
      const afterGreedy = treeRssBytes(server.proc.child.pid!);

      // 2. 5,000 idle connections, from a child process whose open-files limit is raised.
      clients = await startIdleClients(server.port, IDLE_CLIENTS);
      expect(clients.last()).toEqual({ open: IDLE_CLIENTS, closed: 0, failed: 0 });
      await waitFor(async () => (await server.metric('sluice_dns_tcp_connections')) >= IDLE_CLIENTS + 1, { timeoutMs: 30_000, what: 'the server to hold every connection' });
      const peak = treeRssBytes(server.proc.child.pid!);
      const primary = server.proc.child.pid!;
      const perProcess = [primary, ...childPids(primary)].map((pid) => `${pid === primary ? 'primary' : 'worker'} ${Math.round(rssBytes(pid) / 2 ** 20)} MB`).join(', ');

      // 3. New clients are served, over TCP and UDP, while all of that is held open.
      const d = decodeResponse(await tcpExchange(server.port, QUERY, { timeoutMs: 3_000 }));
      expect([d.rcode, d.answers[0]!.value]).toEqual([0, '203.0.113.30']);
      expect(decodeResponse(await udpExchange(server.port, QUERY)).answers[0]!.value).toBe('203.0.113.30');
      expect(greedy.destroyed).toBe(false); // held, not dropped: backpressure, not a timeout

      const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
      process.stdout.write(
        `dns tcp abuse: RSS start ${mb(start)} MB, after a never-reading client (${mb(sent.bytes)} MB of queries written before the server stopped reading) ${mb(afterGreedy)} MB, with ${IDLE_CLIENTS} idle connections ${mb(peak)} MB (+${mb(peak - start)} MB; ${perProcess})\n`,
      );
      expect(peak - start).toBeLessThan(RSS_BOUND);
      greedy.destroy();
    });
  });

  describe('the connection limit', () => {
    let server: Server;
    beforeAll(async () => {
      server = await startServer('{ max_connections: 20, idle_timeout: 60s, message_timeout: 60s }');
    });
    afterAll(async () => server?.stop());

    it('closes the least recently active idle connection for a new client, never refuses the new one', async () => {
      // Make sure the readiness probe's connection is gone before counting.
      await waitFor(async () => (await server.metric('sluice_dns_tcp_connections')) === 0, { what: 'no open connection' });
      const conns: net.Socket[] = [];
      for (let i = 0; i < 20; i++) conns.push(await connect(server.port));
      await waitFor(async () => (await server.metric('sluice_dns_tcp_connections')) === 20, { what: '20 open connections' });
      // conns[0] asks a query: it becomes the most recently active; conns[1] is now the oldest idle.
      const answered = new Promise<Buffer>((resolve) => conns[0]!.once('data', resolve));
      conns[0]!.write(framed(QUERY));
      await answered;
      const evicted = closedWithin(conns[1]!, 10_000);
      const d = decodeResponse(await tcpExchange(server.port, QUERY, { timeoutMs: 3_000 }));
      expect(d.answers[0]!.value).toBe('203.0.113.30');
      await evicted;
      expect(conns[0]!.destroyed).toBe(false);
      expect(await server.metric('sluice_dns_tcp_closed_total', '{reason="evicted"}')).toBeGreaterThanOrEqual(1);
      for (const c of conns) c.destroy();
    });
  });

  describe('timeouts and framing', () => {
    let server: Server;
    beforeAll(async () => {
      server = await startServer('{ max_connections: 100, idle_timeout: 400ms, message_timeout: 400ms, max_unsent: 4096 }');
    });
    afterAll(async () => server?.stop());

    it('closes an idle connection after idle_timeout', async () => {
      const s = await connect(server.port);
      const ms = await closedWithin(s, 10_000);
      expect(ms).toBeGreaterThanOrEqual(300);
      expect(await server.metric('sluice_dns_tcp_closed_total', '{reason="idle_timeout"}')).toBeGreaterThanOrEqual(1);
    });

    it('closes a client trickling one query a byte at a time after message_timeout, though it is never idle', async () => {
      const s = await connect(server.port);
      const bytes = framed(QUERY);
      let i = 0;
      // One byte every 100 ms: the whole query would take over 5 s; each byte is "activity".
      const timer = setInterval(() => i < bytes.length && !s.destroyed && s.write(bytes.subarray(i, ++i)), 100);
      try {
        await closedWithin(s, 5_000);
      } finally {
        clearInterval(timer);
      }
      expect(i).toBeLessThan(bytes.length);
      expect(await server.metric('sluice_dns_tcp_closed_total', '{reason="message_timeout"}')).toBeGreaterThanOrEqual(1);
    });

    it('closes a client that never takes its answers after message_timeout', async () => {
      const s = await connect(server.port);
      s.pause();
      await pipelineWithoutReading(s, QUERY, 16 << 20, 1_000);
      await closedWithin(s, 10_000);
      expect(await server.metric('sluice_dns_tcp_backpressure_total')).toBeGreaterThanOrEqual(1);
    });

    it('answers pipelined queries split at every possible byte boundary, in order', async () => {
      const ids = Array.from({ length: 30 }, (_, k) => 1000 + k);
      const stream = Buffer.concat(ids.map((id) => framed(buildQuery({ id, name: 'app.example.com' }))));
      const s = await connect(server.port);
      const got: number[] = [];
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          got.push(decodeResponse(buf.subarray(2, 2 + buf.readUInt16BE(0))).id);
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
      });
      // Chunks of 1, 2, 3, … bytes: every frame boundary falls inside some chunk.
      for (let off = 0, n = 1; off < stream.length; off += n, n = (n % 7) + 1) s.write(stream.subarray(off, off + n));
      await waitFor(() => got.length === ids.length, { what: 'all pipelined answers' });
      expect(got).toEqual(ids);
      s.destroy();
    });

    it('answers a client that half-closes after its query; closes on a zero-length frame', async () => {
      const s = await connect(server.port);
      const reply = new Promise<Buffer>((resolve) => {
        let buf = Buffer.alloc(0);
        s.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
        s.on('end', () => resolve(buf));
      });
      s.end(framed(QUERY));
      const buf = await reply;
      expect(decodeResponse(buf.subarray(2)).answers[0]!.value).toBe('203.0.113.30');
      const z = await connect(server.port);
      z.write(Buffer.from([0, 0]));
      await closedWithin(z, 5_000);
      expect(await server.metric('sluice_dns_tcp_closed_total', '{reason="malformed"}')).toBe(1);
    });
  });
});
