import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000, // a guard against hangs (see PATIENCE in test/helpers/server.ts), never a speed limit
    hookTimeout: 120_000,
    pool: 'forks',
    // Two test files at a time: on the 2-CPU CI machine the suite is CPU-bound (vitest's default
    // here is one worker; two took it from ~6.8 to ~5.1 minutes, three gained nothing).
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
