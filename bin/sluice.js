#!/usr/bin/env node
// The `sluice` command. Sources are TypeScript run through tsx, so a fresh `npm ci` is all a user needs.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
