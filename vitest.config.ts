import { defineConfig } from 'vitest/config';

// Tests live beside the code they test (`*.test.ts`) and under `spec/` (conformance).
// Native-heavy suites run in forks so a crashing addon cannot take the runner down.
export default defineConfig({
  test: {
    include: ['grammar/**/*.test.ts', 'compiler/**/*.test.ts', 'runtime/**/*.test.ts', 'spec/**/*.test.ts', 'examples/**/*.test.ts', 'native/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
