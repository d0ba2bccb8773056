import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The cluster tier (a multi-process Temporal cluster, faults) runs once, in `npm run test:cluster`.
    exclude: [...configDefaults.exclude, 'test/cluster/**'],
    // Workflow tests start a time-skipping server, end-to-end tests a whole stack: give them room.
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Two cores: two files at a time, each with its own servers on free ports.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
