// Connection turnover read from the real kernel table: keep-alive connections of a known lifetime to a
// local server, and what the agent (the real CLI, sock_diag through koffi) reports about them — open
// connections, closes, connection-seconds (their ratio is the mean lifetime the scheduler fits) and bytes.
import { createServer, request, Agent as HttpAgent, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePromText } from '../lib/prom-text.ts';
import { freePort } from './helpers/ports.ts';
import { startSluice } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-agent-turnover-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function get(agent: HttpAgent, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end();
  });
}

/** One keep-alive connection: a request every 100 ms for `lifeMs`, then closed by the client. */
async function connection(port: number, lifeMs: number): Promise<void> {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const end = Date.now() + lifeMs;
  while (Date.now() < end) {
    await get(agent, port);
    await new Promise((r) => setTimeout(r, 100));
  }
  agent.destroy();
}

describe.skipIf(process.platform !== 'linux')('agent connection turnover (real kernel table)', () => {
  it('counts closes and connection-seconds of keep-alive connections: their ratio is the lifetime', async () => {
    const servicePort = await freePort();
    const server: Server = createServer((_req, res) => res.end('x'.repeat(2000)));
    await new Promise<void>((r) => server.listen(servicePort, '127.0.0.1', r));
    const listen = await freePort();
    const cfg = join(dir, 'agent.yaml');
    writeFileSync(cfg, [`listen: 127.0.0.1:${listen}`, `service_ports: [${servicePort}]`, 'include_loopback: true', 'poll_interval: 100ms', 'min_samples: 1'].join('\n'));
    const agent = startSluice(['agent', '--config', cfg]);
    try {
      const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
        const text = await (await fetch(`http://127.0.0.1:${listen}/metrics`)).text();
        const s = parsePromText(text).samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
        return s.reduce((t, x) => t + x.value, 0);
      };
      await waitFor(async () => (await fetch(`http://127.0.0.1:${listen}/healthz`)).ok, { timeoutMs: 20_000, what: `agent healthz: ${agent.output()}` });
      const lifeMs = 2000;
      const running = Promise.all([0, 1, 2, 3].map(() => connection(servicePort, lifeMs)));
      // While they run: four open.
      await waitFor(async () => (await metric('sluice_agent_open_connections', { port: String(servicePort) })) === 4, { timeoutMs: 5000, intervalMs: 50, what: 'four open connections' });
      await running;
      await waitFor(async () => (await metric('sluice_agent_connection_closes_total', { port: String(servicePort) })) === 4, { timeoutMs: 5000, intervalMs: 100, what: 'four closes' });
      const seconds = await metric('sluice_agent_connection_seconds_total', { port: String(servicePort) });
      // Each was first seen up to one poll (100 ms, plus scheduling) after it opened; its close counts
      // half a poll. A loaded machine delays the agent's polls, so a connection may be first seen late
      // (0.5 s late at load average 15 in a full run); nothing makes it count longer than it lived.
      expect(seconds / 4).toBeGreaterThan((lifeMs - 900) / 1000);
      expect(seconds / 4).toBeLessThan((lifeMs + 300) / 1000);
      expect(await metric('sluice_agent_open_connections', { port: String(servicePort) })).toBe(0);
      // ~20 responses of 2 kB per connection, sent and acknowledged.
      expect(await metric('sluice_agent_bytes_total', { port: String(servicePort), direction: 'sent' })).toBeGreaterThan(4 * 15 * 2000);
      const subnets = await (await fetch(`http://127.0.0.1:${listen}/metrics/subnets`)).text();
      expect(subnets).toMatch(/sluice_agent_subnet_connection_closes_total\{subnet="127\.0\.0\.0\/24",node="[^"]+"\} 4/);
      // The collector writes /metrics/subnets once per export and the main thread keeps the bytes: a
      // scrape in the same poll gets no body back (it holds that export), one after a poll a new one.
      // Nothing changes any more here, so every scrape, alone or together, reads the same text.
      for (let i = 0; i < 3; i++) expect(await (await fetch(`http://127.0.0.1:${listen}/metrics/subnets`)).text()).toBe(subnets);
      const together = await Promise.all([0, 1, 2].map(async () => (await fetch(`http://127.0.0.1:${listen}/metrics/subnets`)).text()));
      expect(together).toEqual([subnets, subnets, subnets]);
    } finally {
      expect(await agent.stop()).toBe(0);
      server.closeAllConnections();
      server.close();
    }
  });
});
