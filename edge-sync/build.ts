// Config -> the running parts (data-plane adapters, config source). Shared by the command and tests.
import type { Logger } from '../lib/log.ts';
import { readSecretLine } from '../lib/secret-file.ts';
import { loadingFilesOf } from '../lib/tls.ts';
import { clientTls, type ClientTls } from '../lib/tls-client.ts';
import type { DataPlaneConfig, EdgeSyncConfig } from './config.ts';
import type { DataPlane } from './dataplane.ts';
import { HaproxyAdapter } from './haproxy/adapter.ts';
import { IpvsAdapter } from './ipvs/adapter.ts';
import { NginxAdapter } from './nginx/adapter.ts';
import { ApiSource, type ConfigSource, FileSource } from './source.ts';

export function createDataPlane(cfg: DataPlaneConfig): DataPlane {
  switch (cfg.type) {
    case 'haproxy':
      return new HaproxyAdapter(cfg);
    case 'nginx':
      return new NginxAdapter(cfg);
    case 'ipvs':
      return new IpvsAdapter(cfg);
  }
}

/** The bearer token from api.token or api.token_file (permissions checked); '' without api or token. */
export function apiToken(cfg: EdgeSyncConfig, file: string): string {
  const api = cfg.api;
  if (!api) return '';
  return loadingFilesOf(file, () => (api.token_file ? readSecretLine('api.token_file', api.token_file) : (api.token ?? '')));
}

/**
 * api.tls loaded (CA bundle, pin, client certificate), for the long-poll and the health reporter;
 * undefined without one. A bad file is a config error (exit 2) naming the key.
 */
export function apiTls(cfg: EdgeSyncConfig, file: string, log?: Logger): ClientTls | undefined {
  return loadingFilesOf(file, () => clientTls(cfg.api?.tls, 'api.tls', log));
}

/**
 * The config source; for the API, the token (token_file permission-checked) and the TLS files are read
 * now, so a bad one is a config error (exit 2) naming the key, before anything is touched.
 */
export function createSource(cfg: EdgeSyncConfig, file: string, log?: Logger): ConfigSource {
  if (cfg.config_file) return new FileSource(cfg.config_file, cfg.resync_interval);
  const api = cfg.api!;
  const token = apiToken(cfg, file);
  const tls = apiTls(cfg, file, log);
  return new ApiSource({ urls: api.urls ?? [api.url!], token, edgeId: api.edge_id, waitMs: api.wait, retry: cfg.retry, tls, ...(api.timeout !== undefined ? { timeoutMs: api.timeout } : {}) });
}
