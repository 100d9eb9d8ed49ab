// Opens the store the config names: PostgreSQL when `postgres:` is set, else SQLite in data_dir.
import type { Logger } from 'pino';
import { ConfigError } from '../../lib/config-file.ts';
import type { ControlPlaneConfig } from '../config.ts';
import { PostgresConfigError } from './pg-connection.ts';
import { openPostgresStore } from './postgres.ts';
import { openSqliteStore } from './sqlite.ts';
import type { Store } from './store.ts';

export interface OpenedStore {
  store: Store;
  kind: 'sqlite' | 'postgres';
  /** Where, for logs: a path, or the URL without its password. */
  where: string;
}

export async function openStore(config: ControlPlaneConfig, replica: string, log: Logger, configFile = '(config)'): Promise<OpenedStore> {
  if (!config.postgres) {
    const store = openSqliteStore(config.data_dir, log.child({ part: 'store' }));
    return { store, kind: 'sqlite', where: store.path };
  }
  try {
    const store = await openPostgresStore({ config: config.postgres, replica, log: log.child({ part: 'store' }) });
    return { store, kind: 'postgres', where: store.display };
  } catch (err) {
    if (err instanceof PostgresConfigError) throw new ConfigError(configFile, [{ key: `postgres.${err.key}`, message: err.message.replace(/^postgres\.\S+: /, '') }]);
    throw err;
  }
}
