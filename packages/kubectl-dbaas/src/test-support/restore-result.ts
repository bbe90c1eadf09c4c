// A RestoreResult as the SDK returns it, for the rendering tests of `restore` and `verify`.
import type { RestoreResult } from '@kubectl-dbaas/sdk';

/**
 * A finished cross-namespace restore of an online backup, with its timings; `overrides` replace fields.
 *
 * @example
 * ```ts
 * renderRestore(restoreReport(restoreResult({ state: 'waiting-for-first-consumer' })));
 * ```
 */
export function restoreResult(overrides: Partial<RestoreResult> = {}): RestoreResult {
  return {
    namespace: 'staging',
    pvcName: 'pg-copy',
    state: 'ready',
    backup: { namespace: 'prod', name: 'nightly', mode: 'online', engine: 'postgres', engineVersion: '17.6' },
    restoreType: 'cross-namespace',
    size: '1Gi',
    storageClass: 'csi-hostpath-sc',
    driver: 'hostpath.csi.k8s.io',
    pvc: { metadata: { name: 'pg-copy' }, spec: { volumeName: 'pvc-123' } },
    remaining: [],
    prepOutput: 'dbaas-restore-prep: copied 1 segment',
    timings: {
      phases: [
        { phase: 'resolved', atMs: 120 },
        { phase: 'source-created', atMs: 900 },
        { phase: 'pvc-created', atMs: 960 },
        { phase: 'bound', atMs: 6950 },
        { phase: 'prep-started', atMs: 6960 },
        { phase: 'data-ready', atMs: 7800 },
      ],
      createToBoundMs: 6000,
      prepMs: 840,
      totalMs: 8100,
    },
    ...overrides,
  };
}
