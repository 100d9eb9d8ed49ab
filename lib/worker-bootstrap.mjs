// Every sluice worker thread starts here (lib/worker.ts), then loads the module named last in its argv
// (workerData stays the caller's). Plain JavaScript, so it runs before anything else is set up:
//  - a compiled .js module (bin/sluice.js, the npm package): source maps are switched on first, so the
//    module's stack traces name the .ts line (a worker does not inherit the main thread's
//    process.setSourceMapsEnabled, and passing --enable-source-maps in execArgv would replace the
//    inherited execArgv);
//  - a .ts module (tests under vitest, benchmarks under tsx): tsx is registered first. A worker does not
//    inherit the parent's loader, and on Node 20 `--import tsx` in a worker's execArgv is not honoured.
//    tsx is a dev dependency, so it is imported only on this path.
const target = process.argv[process.argv.length - 1];
if (target.endsWith('.ts')) (await import('tsx/esm/api')).register();
else process.setSourceMapsEnabled(true);
await import(target);
