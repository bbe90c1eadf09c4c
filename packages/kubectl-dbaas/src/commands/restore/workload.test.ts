// Rendering of `restore --in-place` (the report, the dry run's lines), from SDK results built here.
import type { InPlaceRestorePlan, InPlaceRestoreResult } from '@kubectl-dbaas/sdk';
import { describe, expect, it } from 'vitest';
import { restoreResult } from '../../test-support/restore-result.js';
import { inPlacePlanLines, inPlaceReport, renderInPlace } from './workload.js';

const rollback = ['kubectl scale statefulset pg --replicas=0 -n db', 'kubectl delete pvc data-pg-0 -n db   (the restored copy)'];

/** The result of an in-place restore of StatefulSet db/pg's data-pg-0, with `overrides`. */
function inPlaceResult(overrides: Pick<InPlaceRestoreResult, 'volumes' | 'timings'>): InPlaceRestoreResult {
  return {
    namespace: 'db',
    statefulSet: 'pg',
    pvcName: 'data-pg-0',
    previousPvcName: 'data-pg-0-previous',
    volume: 'pvc-old',
    reclaimPolicyBefore: 'Delete',
    replicas: 1,
    restore: restoreResult({ namespace: 'db', pvcName: 'data-pg-0', remaining: [] }),
    rollback,
    ...overrides,
  };
}

describe('restore --in-place output', () => {
  it('text: the StatefulSet, the new PVC, where the data from before is and how to roll back; -o json drops the PVC object', () => {
    const report = inPlaceReport(inPlaceResult({ volumes: [], timings: { downMs: 12_300, totalMs: 15_000 } }));
    expect(report).toMatchObject({ kind: 'InPlaceRestore', pvc: 'data-pg-0', previousPvc: 'data-pg-0-previous', previousVolume: 'pvc-old', rollback });
    expect(JSON.stringify(report)).not.toContain('"metadata"');
    const text = renderInPlace(report);
    expect(text).toMatch(/^StatefulSet: +db\/pg \(1 replica\(s\), Ready\)$/m);
    expect(text).toMatch(/^previous data: +PVC data-pg-0-previous on PV pvc-old \(reclaim policy Retain; was Delete\)$/m);
    expect(text).toMatch(/^down: +12\.3s$/m);
    expect(text).toContain('1. kubectl scale statefulset pg --replicas=0 -n db');
    expect(text).toContain('2. kubectl delete pvc data-pg-0 -n db');
  });

  it('text of a set: every previous PVC and the other PVCs replaced', () => {
    const report = inPlaceReport(
      inPlaceResult({
        volumes: [{ template: 'wal', pvcName: 'wal-pg-0', previousPvcName: 'wal-pg-0-previous', volume: 'pvc-old-wal', reclaimPolicyBefore: 'Retain' }],
        timings: { downMs: 20_000, totalMs: 21_000 },
      }),
    );
    expect(report.volumes).toEqual([{ pvc: 'wal-pg-0', previousPvc: 'wal-pg-0-previous', previousVolume: 'pvc-old-wal', reclaimPolicyBefore: 'Retain' }]);
    const text = renderInPlace(report);
    expect(text).toContain('PVC wal-pg-0-previous on PV pvc-old-wal (reclaim policy Retain; was Retain)');
    expect(text).toMatch(/^other PVCs: +wal-pg-0$/m);
  });

  it('dry run: the retention policy, every step numbered, the rollback, and that a real run needs --yes', () => {
    const plan = {
      namespace: 'db',
      statefulSet: 'pg',
      pvcName: 'data-pg-0',
      volume: 'pvc-old',
      retentionPolicy: { whenScaled: 'Delete', whenDeleted: 'Retain' },
      steps: ['PV pvc-old: reclaim policy Delete -> Retain', 'scale StatefulSet pg 1 -> 0'],
      rollback,
      restore: { backupNamespace: 'db', set: 'nightly' },
    } as unknown as InPlaceRestorePlan;
    expect(inPlacePlanLines({ dryRun: 'client', plan })).toEqual([
      'dry run (client): restore backup db/nightly in place under StatefulSet db/pg (PVC data-pg-0, PV pvc-old); nothing is changed',
      'persistentVolumeClaimRetentionPolicy: whenScaled Delete, whenDeleted Retain',
      '1. PV pvc-old: reclaim policy Delete -> Retain',
      '2. scale StatefulSet pg 1 -> 0',
      `afterwards, to go back to the data from before: ${rollback.join('; ')}`,
      'a real run needs --yes',
    ]);
  });
});
