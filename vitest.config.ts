import { defineConfig } from 'vitest/config';

// Tests that take the whole machine and judge timing against it: the lab scenarios (the loop in
// network namespaces, measured at the origins against the damping law) and the scale harness (a real
// Prometheus, the decision worker and two DNS servers over 50k subnets: ~25 s of both cores). Beside
// another test file on two cores, each starves the other (a full run saw a keep-alive spill take 15.5
// cycles for 8). `npm test` runs the other files first, two at a time (SLUICE_TESTS=shared), then
// these one at a time (SLUICE_TESTS=exclusive); without the variable every file is included.
const EXCLUSIVE = ['test/lab-scenarios.test.ts', 'test/lab-keepalive.test.ts', 'test/scale-loop.test.ts'];
const group = process.env.SLUICE_TESTS;

export default defineConfig({
  test: {
    include: group === 'exclusive' ? EXCLUSIVE : ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', ...(group === 'shared' ? EXCLUSIVE : [])],
    // Tests that spawn bin/sluice.js run dist/: rebuild it first when a source changed.
    globalSetup: ['test/helpers/dist-setup.ts'],
    // Integration tests start real servers (SQLite, Prometheus, HAProxy, dig) and network namespaces;
    // two cores only, so keep files from starving each other.
    maxWorkers: group === 'exclusive' ? 1 : 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
