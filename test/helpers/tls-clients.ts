// Clients for TLS tests: node:https with a chosen CA and client certificate (the response checked
// against the OpenAPI document when it comes from a control plane a helper started), and the real
// `curl` and `openssl s_client` as an operator would run them.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { parseView } from '../../dns/view-source.ts';
import { LongPollClient } from '../../lib/long-poll.ts';
import type { ClientTls } from '../../lib/tls-client.ts';
import type { DnsView } from '../../model/views.ts';
import { checkResponse } from './openapi-contract.ts';

export interface TlsClientFiles {
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
}

export interface TlsResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
  /** Serial of the certificate the server showed on this connection. */
  serverSerial: string;
}

/** One request on a fresh connection. `contract: false` for answers the OpenAPI document cannot describe. */
export function httpsRequest(url: string, files: TlsClientFiles, init: { method?: string; body?: unknown; headers?: Record<string, string>; contract?: boolean } = {}): Promise<TlsResponse> {
  const body = init.body === undefined ? undefined : JSON.stringify(init.body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: init.method ?? 'GET',
        agent: false,
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...init.headers },
        ...(files.ca ? { ca: readFileSync(files.ca) } : {}),
        ...(files.cert ? { cert: readFileSync(files.cert), key: readFileSync(files.key!) } : {}),
        ...(files.servername ? { servername: files.servername } : {}),
      },
      (res) => {
        const serverSerial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
          const status = res.statusCode ?? 0;
          try {
            if (init.contract !== false) checkResponse(url, { method: init.method ?? 'GET', status, headers, text });
          } catch (err) {
            reject(err);
            return;
          }
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status, headers, text, json, serverSerial });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], input = ''): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: stdout.toString(), stderr: stderr.toString() });
    });
    // A client refused at the handshake (openssl s_client offered TLS 1.1) may exit before it reads its
    // input: the write then fails with EPIPE, which is that verdict arriving first, not an error of the
    // test. Its exit code and output (above) carry the verdict; unhandled, the EPIPE failed a CI run.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}

/** curl with the given arguments (-s -S, no config file); exit code 60 = certificate problem. */
export function curl(args: string[]): Promise<ToolResult> {
  return run('curl', ['-q', '-s', '-S', '--max-time', '15', ...args]);
}

/** `openssl s_client` connecting to host:port and closing at once; its whole report. */
export async function sClient(hostPort: string, args: string[]): Promise<string> {
  const r = await run('openssl', ['s_client', '-connect', hostPort, ...args], 'Q\n');
  return `${r.stdout}\n${r.stderr}`;
}

/** The data planes' long-poll client (lib/long-poll.ts) on the DNS view of one control plane. */
export function dnsViewClient(url: string, opts: { tls?: ClientTls | undefined; token?: string | undefined; waitMs?: number } = {}): LongPollClient<DnsView> {
  return new LongPollClient<DnsView>({
    urls: [url],
    path: '/api/v1/dns/view',
    token: opts.token,
    waitMs: opts.waitMs ?? 20_000,
    timeoutMs: 10_000,
    parse: parseView,
    version: (v) => v.version,
    seq: (v) => v.seq,
    backoff: { initial: 100, max: 1000, multiplier: 2, jitter: 0 },
    tls: opts.tls,
    tlsKey: 'api.tls',
  });
}
