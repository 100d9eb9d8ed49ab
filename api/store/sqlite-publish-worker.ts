// Worker thread entry: the SQLite store's publish transaction on a connection of its own (see
// sqlite-publish.ts for why). Protocol: { id, request: PublishRequest } in, { id, outcome } out;
// { id, request: null } (a warm-up: the worker is loaded and its connection open) in, { id, outcome: null } out.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { publishTransaction, type PublishRequest } from './sqlite-publish.ts';

const { path, busyTimeoutMs } = workerData as { path: string; busyTimeoutMs: number };
// The store's connection created the file, switched it to WAL and migrated it before starting this one.
const db = new Database(path, { timeout: busyTimeoutMs });
db.pragma('synchronous = FULL');
db.pragma('foreign_keys = ON');

parentPort!.on('message', (msg: { id: number; request: PublishRequest | null }) => {
  parentPort!.postMessage({ id: msg.id, outcome: msg.request ? publishTransaction(db, msg.request) : null });
});
