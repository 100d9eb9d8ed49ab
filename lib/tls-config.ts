// The TLS config blocks, validated by zod: a server block as Prometheus' web.config
// `tls_server_config`, a client block as Prometheus' scrape `tls_config` (lib/tls.ts says why and does
// the rest). Apart from tls.ts so that code which only serves or dials TLS does not load zod.
import { z } from 'zod';
import { Duration } from '../model/primitives.ts';

const TlsVersion = z.enum(['TLS12', 'TLS13']).describe('oldest protocol version accepted');

export const ClientAuthType = z
  .enum(['NoClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'])
  .describe('as Prometheus web.config: whether clients must present a certificate signed by client_ca_file');

export const TlsServerConfig = z
  .strictObject({
    cert_file: z.string().min(1).describe('certificate (PEM), followed by its intermediates'),
    key_file: z.string().min(1).describe('private key (PEM); refused when group- or world-readable (0600, or 0640 owned by root)'),
    client_ca_file: z.string().min(1).optional().describe('CA bundle (PEM) that client certificates must chain to'),
    client_auth_type: ClientAuthType.default('NoClientCert'),
    min_version: TlsVersion.default('TLS12'),
    reload_interval: Duration.refine((ms) => ms >= 100, 'must be at least 100ms').default(10_000).describe('stat check of the files besides inotify; a renewed pair is served to the next connection'),
  })
  .superRefine((c, ctx) => {
    if (c.client_ca_file && c.client_auth_type === 'NoClientCert') {
      ctx.addIssue({ code: 'custom', path: ['client_auth_type'], message: 'client_ca_file is set but client_auth_type is NoClientCert: set RequireAndVerifyClientCert or VerifyClientCertIfGiven' });
    }
    if (!c.client_ca_file && c.client_auth_type !== 'NoClientCert') {
      ctx.addIssue({ code: 'custom', path: ['client_ca_file'], message: `client_auth_type ${c.client_auth_type} needs client_ca_file (the CA that signs client certificates)` });
    }
  });
export type TlsServerConfig = z.output<typeof TlsServerConfig>;

export const TlsClientConfig = z
  .strictObject({
    ca_file: z.string().min(1).optional().describe("CA bundle (PEM) the server's certificate must chain to; default: the system's CAs"),
    cert_file: z.string().min(1).optional().describe('client certificate (PEM), for servers that require one'),
    key_file: z.string().min(1).optional().describe('its private key (PEM); refused when group- or world-readable'),
    server_name: z.string().min(1).optional().describe("name the server's certificate must carry (and SNI); default: the URL's host"),
    min_version: TlsVersion.default('TLS12'),
  })
  .superRefine((c, ctx) => {
    if (!c.cert_file !== !c.key_file) ctx.addIssue({ code: 'custom', path: [c.cert_file ? 'key_file' : 'cert_file'], message: 'set cert_file and key_file together' });
  });
export type TlsClientConfig = z.output<typeof TlsClientConfig>;

export type ClientAuthType = z.output<typeof ClientAuthType>;
