// Worker bootstrap for TypeScript sources (tests under vitest, benchmarks under tsx; lib/worker.ts picks
// it only then: compiled workers run their .js directly). A worker does not inherit the main thread's
// tsx loader, and on Node 20 `--import tsx` in a worker's execArgv is not honoured, so the worker
// registers tsx itself and then loads the TypeScript module named in its argv (workerData stays the
// caller's).
import { register } from 'tsx/esm/api';

register();
await import(process.argv[process.argv.length - 1]);
