// Config -> the running parts (data-plane adapters, config source). Shared by the command and tests.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../lib/config-file.ts';
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

/** The bearer token from api.token or api.token_file ('' without api or token). */
export function apiToken(cfg: EdgeSyncConfig, file: string): string {
  const api = cfg.api;
  if (!api) return '';
  let token = api.token ?? '';
  if (api.token_file) {
    try {
      token = readFileSync(api.token_file, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(file, [{ key: 'api.token_file', message: `cannot read the token: ${(err as Error).message}` }]);
    }
    if (!token) throw new ConfigError(file, [{ key: 'api.token_file', message: `${api.token_file} is empty` }]);
  }
  return token;
}

export function createSource(cfg: EdgeSyncConfig, file: string): ConfigSource {
  if (cfg.config_file) return new FileSource(cfg.config_file, cfg.resync_interval);
  const api = cfg.api!;
  const token = apiToken(cfg, file);
  return new ApiSource({ urls: api.urls ?? [api.url!], token, edgeId: api.edge_id, waitMs: api.wait, retry: cfg.retry, ...(api.timeout !== undefined ? { timeoutMs: api.timeout } : {}) });
}
