// The thread lib/config-off-thread.ts starts: imports the loader module named in workerData, calls its
// loader on the file and posts back the validated value (or the ConfigError's file and problems), then
// ends, taking the YAML parser and zod with it.
import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError } from './config-error.ts';
import { runnableUrl } from './runtime.ts';

export interface ConfigWorkerData {
  /** URL of the TypeScript module that exports the loader. */
  module: string;
  /** Name of the exported loader: (file: string) => config. */
  loader: string;
  file: string;
}

export type ConfigWorkerReply =
  | { ok: true; value: unknown }
  | { ok: false; file: string; problems: { key: string; message: string }[] }
  | { ok: false; error: string };

const { module, loader, file } = workerData as ConfigWorkerData;
let reply: ConfigWorkerReply;
try {
  const mod = (await import(runnableUrl(new URL(module)).href)) as Record<string, (file: string) => unknown>;
  const load = mod[loader];
  if (typeof load !== 'function') throw new Error(`${module} does not export a loader named ${loader}`);
  reply = { ok: true, value: load(file) };
} catch (err) {
  reply = err instanceof ConfigError ? { ok: false, file: err.file, problems: err.problems } : { ok: false, error: (err as Error).stack ?? String(err) };
}
parentPort!.postMessage(reply);
