// One active health probe: TCP connect, or an HTTP(S) GET whose status must be one of expect_status. Used
// by every vantage that checks for itself: the control plane's checker (api/health/checker.ts) and
// edge-sync for data planes that keep no health state of their own (nginx OSS, IPVS).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

export interface ProbeTarget {
  type: 'tcp' | 'http' | 'https';
  address: string;
  port: number;
  path: string;
  timeoutMs: number;
  expectStatus: number[];
}

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

export function probe(t: ProbeTarget): Promise<ProbeResult> {
  return t.type === 'tcp' ? probeTcp(t) : probeHttp(t);
}

function probeTcp(t: ProbeTarget): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: t.address, port: t.port, timeout: t.timeoutMs });
    const finish = (r: ProbeResult) => {
      socket.destroy();
      resolve(r);
    };
    socket.once('connect', () => finish({ ok: true, detail: 'tcp connect ok' }));
    socket.once('timeout', () => finish({ ok: false, detail: `tcp connect timed out after ${t.timeoutMs} ms` }));
    socket.once('error', (err) => finish({ ok: false, detail: `tcp connect failed: ${err.message}` }));
  });
}

function probeHttp(t: ProbeTarget): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const send = t.type === 'https' ? httpsRequest : httpRequest;
    const req = send(
      // Health checks verify reachability, not the certificate chain (origins are often addressed by IP).
      { host: t.address, port: t.port, path: t.path, method: 'GET', timeout: t.timeoutMs, rejectUnauthorized: false, headers: { 'user-agent': 'sluice-health-check', connection: 'close' } },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        resolve(t.expectStatus.includes(status) ? { ok: true, detail: `${t.type} ${status}` } : { ok: false, detail: `${t.type} status ${status}, expected ${t.expectStatus.join('/')}` });
      },
    );
    req.once('timeout', () => {
      req.destroy();
      resolve({ ok: false, detail: `${t.type} timed out after ${t.timeoutMs} ms` });
    });
    req.once('error', (err) => resolve({ ok: false, detail: `${t.type} failed: ${err.message}` }));
    req.end();
  });
}
