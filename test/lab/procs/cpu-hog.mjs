// A CPU hog for the "starved machine" scenario: `workers` threads that spin until `duration_ms` has
// passed, then exit (bounded even if nobody kills it; the lab kills it by PID when the script is done).
// Plain JS so it starts in milliseconds.
//
//   node cpu-hog.mjs '{"workers":2,"duration_ms":60000}'
import { Worker, isMainThread, workerData } from 'node:worker_threads';

if (isMainThread) {
  const cfg = JSON.parse(process.argv[2] ?? '{}');
  const until = Date.now() + Math.min(cfg.duration_ms ?? 30_000, 600_000);
  const workers = Array.from({ length: Math.max(1, Math.min(cfg.workers ?? 1, 16)) }, () => new Worker(new URL(import.meta.url), { workerData: { until } }));
  process.stdout.write(`cpu hog: ${workers.length} thread(s) until ${new Date(until).toISOString()}\n`);
  let left = workers.length;
  for (const w of workers) w.once('exit', () => --left === 0 && process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
} else {
  let x = 0;
  while (Date.now() < workerData.until) for (let i = 0; i < 1e6; i++) x = (x * 31 + i) | 0;
  if (x === 42) process.stdout.write('');
}
