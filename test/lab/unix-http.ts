// HTTP over a unix socket: how the lab process (root namespace) talks to services in the core
// namespace through bridge.mjs. With the lab's TLS on, HTTPS through the same sockets (the bridge
// forwards bytes): the lab's CA, its client certificate, and the name the servers' certificate carries.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { LabTls } from './state.ts';

export interface UnixResponse {
  status: number;
  text: string;
  json: unknown;
}

export function unixRequest(
  socketPath: string,
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number; tls?: LabTls | undefined } = {},
): Promise<UnixResponse> {
  return new Promise((resolve, reject) => {
    const body = init.body === undefined ? undefined : JSON.stringify(init.body);
    const tls = init.tls;
    const req = (tls ? https : http).request(
      {
        ...(tls ? { ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key), servername: tls.servername, agent: false } : {}),
        socketPath,
        path,
        method: init.method ?? 'GET',
        headers: { host: tls?.servername ?? 'lab', ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}), ...(init.headers ?? {}) },
        timeout: init.timeoutMs ?? 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${init.method ?? 'GET'} ${path} via ${socketPath}: timed out`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

/** A JSON API client bound to one socket and bearer token; throws on non-2xx with the problem text. */
export class LabApi {
  constructor(
    readonly socket: string,
    private readonly token: string,
    private readonly tls?: LabTls,
  ) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await unixRequest(this.socket, path, { method, body, headers: { authorization: `Bearer ${this.token}` }, tls: this.tls });
    if (res.status < 200 || res.status >= 300) throw new Error(`${method} ${path}: HTTP ${res.status}: ${res.text.slice(0, 500)}`);
    return res.json as T;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  /** A non-JSON page (/metrics). */
  async text(path: string): Promise<string> {
    const res = await unixRequest(this.socket, path, { headers: { authorization: `Bearer ${this.token}` }, tls: this.tls });
    if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}: ${res.text.slice(0, 500)}`);
    return res.text;
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PATCH', path, body);
  }
}
