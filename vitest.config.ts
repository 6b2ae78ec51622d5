import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 10_000,
    hookTimeout: 20_000,
    // Two cores: keep the pool small so socket scenarios are not starved.
    maxWorkers: 2,
  },
});
