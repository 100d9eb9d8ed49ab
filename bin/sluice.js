#!/usr/bin/env node
// The `sluice` command. It runs the compiled JavaScript in dist/: `npm ci` / `npm install` build it (the
// prepare script runs `npm run build`) and the npm package ships it, so no TypeScript is transpiled at
// run time. Source maps are on, so a stack trace names the .ts file and line.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('sluice: dist/ is missing: run `npm run build` (npm ci and npm install run it)\n');
  process.exit(1);
}
process.setSourceMapsEnabled(true);
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
