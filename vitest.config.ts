import { defineConfig } from 'vitest/config';

// Three tiers (DESIGN.md section 5). Every tier runs real parts; only `unit` may use fakes, and
// only for pure logic.
export default defineConfig({
  test: {
    reporters: ['default', './vitest.summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts'],
          exclude: ['**/*.pg.test.ts', '**/*.cluster.test.ts', '**/node_modules/**', '**/dist/**'],
        },
      },
      {
        test: {
          name: 'postgres',
          include: ['packages/*/src/**/*.pg.test.ts', 'packages/*/test/**/*.pg.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'cluster',
          include: ['packages/*/src/**/*.cluster.test.ts', 'packages/*/test/**/*.cluster.test.ts'],
          // One local cluster (etcd, kube-apiserver, ... see packages/testing/src/local-cluster) per run.
          globalSetup: ['packages/testing/src/local-cluster/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
