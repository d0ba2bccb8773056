import { defineConfig } from 'vitest/config';

// `npm run test:cluster`: the tier that starts the production topology (Temporal services,
// APIs, workers as processes of their own) and injects faults. One file at a time: it uses
// both cores on its own. The first run builds the pinned Temporal server (about 5 minutes).
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 900_000,
    pool: 'forks',
    maxWorkers: 1,
    reporters: ['default'],
  },
});
