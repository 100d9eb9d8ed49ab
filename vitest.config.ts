import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    // Tests that spawn bin/sluice.js run dist/: rebuild it first when a source changed.
    globalSetup: ['test/helpers/dist-setup.ts'],
    // Integration tests start real servers (SQLite, Prometheus, HAProxy, dig) and network namespaces;
    // two cores only, so keep files from starving each other.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
