// What a TLS listener says about its certificate, in every component's own metric namespace
// (sluice_<component>_tls_*): when the certificate in force expires, and how reloads went — so an
// alert can fire two weeks before a renewal that did not happen, or when renewed files are refused.
import { Counter, Gauge, type Registry } from './prom.ts';
import type { ServerTls } from './tls.ts';

export interface TlsMetrics {
  /** notAfter of the certificate in force, per configured cert_file (no series without TLS). */
  expiry: Gauge<'cert_file'>;
  /** Reloads of changed files: ok, or error (refused; the previous certificate stays). */
  reloads: Counter<'result'>;
}

export function registerTlsMetrics(registry: Registry, component: 'api' | 'dns' | 'edge' | 'agent'): TlsMetrics {
  return {
    expiry: new Gauge({
      name: `sluice_${component}_tls_certificate_expiry_timestamp_seconds`,
      help: 'notAfter of the TLS certificate in force (Unix time), per cert_file',
      labelNames: ['cert_file'],
      registers: [registry],
    }),
    reloads: new Counter({
      name: `sluice_${component}_tls_reloads_total`,
      help: 'reloads of changed TLS files: ok, or error (refused: the certificate in force stays)',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
}

/** Records the certificate now in force (at start, and after each reload). */
export function observeCertificate(m: TlsMetrics | undefined, certFile: string, tls: ServerTls): void {
  m?.expiry.set({ cert_file: certFile }, Math.floor(tls.certificate.notAfter.getTime() / 1000));
}

/** A TlsReloader onResult callback feeding these metrics. */
export function reloadObserver(m: TlsMetrics | undefined, certFile: string): (result: 'ok' | 'error', tls?: ServerTls) => void {
  return (result, tls) => {
    m?.reloads.inc({ result });
    if (tls) observeCertificate(m, certFile, tls);
  };
}
