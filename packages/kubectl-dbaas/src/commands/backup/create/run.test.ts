import type { BackupProgress } from '@kubectl-dbaas/sdk';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../../../progress.js';
import { planLines, progressFollower, renderBackupCreate, summaryLine, type BackupCreateReport } from './run.js';

function lines(events: Omit<BackupProgress, 'elapsedMs'>[]): string[] {
  const out: string[] = [];
  let now = 0;
  const progress = createProgress({ stream: { write: (t: string) => void out.push(t) }, tty: false, now: () => now });
  progress.phase('discovering the target');
  const follow = progressFollower(progress);
  for (const e of events) {
    now += 1000;
    follow({ ...e, elapsedMs: now });
  }
  progress.done('backup db/b ready (fenced)');
  return out.join('').trimEnd().split('\n');
}

describe('backup create progress', () => {
  it('after the backup session stops, says whether a -wal snapshot follows from the event, not its text', () => {
    const pg = lines([{ phase: 'backup-stopped', message: 'words that may change', walSnapshotFollows: true }]);
    expect(pg).toContain('[  1.0s] pg_backup_stop done; requesting the -wal snapshot');
    const mariadb = lines([{ phase: 'backup-stopped', message: 'pg_backup_stop: (any text)', walSnapshotFollows: false }]);
    expect(mariadb).toContain('[  1.0s] lock released; finishing');
  });

  it('never says "done" for the step that was running when the backup failed or timed out', () => {
    const out = lines([
      { phase: 'discovered', message: 'PVC db/data -> driver x; mode online' },
      { phase: 'snapshot-requested', message: 'VolumeSnapshot db/orders-load requested', snapshot: 'orders-load' },
      {
        phase: 'cleanup',
        message: 'cleaning up after: backup db/orders-load timed out',
        failure: 'backup db/orders-load timed out waiting for orders-load to be cut (last seen: readyToUse false)',
      },
      { phase: 'cleanup', message: 'deleting orders-load', snapshot: 'orders-load' },
      { phase: 'cleanup', message: 'deleted orders-load' },
    ]);
    expect(out).toContain(
      '[  3.0s] waiting for orders-load to be cut: timed out after 1.0s: backup db/orders-load timed out waiting for orders-load to be cut (last seen: readyToUse false)',
    );
    expect(out.filter((l) => /waiting for orders-load to be cut: done/.test(l))).toEqual([]);
    expect(out).toContain('[  3.0s] cleaning up');
    expect(out).toContain('[  4.0s] cleaning up: deleting orders-load');
    const failed = lines([
      { phase: 'discovered', message: 'PVC db/data -> driver x; mode fenced' },
      { phase: 'cleanup', message: 'cleaning up after: a failure', failure: 'mode fenced needs a way to stop the database' },
    ]);
    expect(failed).toContain('[  2.0s] starting the backup: failed after 1.0s: mode fenced needs a way to stop the database');
  });

  it('shows what a fenced backup waits for, phase by phase, with elapsed times, ending in the summary', () => {
    expect(
      lines([
        { phase: 'discovered', message: 'PVC db/data -> driver hostpath.csi.k8s.io; mode fenced (default)' },
        { phase: 'fencing', message: 'fencing: StatefulSet pg scaled to 0 and back' },
        { phase: 'fencing', message: 'fencing: StatefulSet pg replicas 1 -> 0' },
        { phase: 'fenced', message: 'database stopped (900 ms)' },
        { phase: 'snapshot-requested', message: 'VolumeSnapshot db/b of PVC data requested', snapshot: 'b' },
        {
          phase: 'snapshot-error',
          message: 'the driver reports on b: something else entirely',
          snapshot: 'b',
          role: 'data',
          driverError: 'tar: file changed as we read it',
        },
        { phase: 'cut', message: 'VolumeSnapshot b cut', snapshot: 'b' },
        { phase: 'unfenced', message: 'database started again' },
        { phase: 'ready', message: 'VolumeSnapshot b readyToUse', snapshot: 'b' },
      ]),
    ).toEqual([
      '[  0.0s] discovering the target',
      '[  1.0s] discovering the target: PVC db/data -> driver hostpath.csi.k8s.io; mode fenced (default)',
      '[  1.0s] discovering the target: done in 1.0s',
      '[  1.0s] starting the backup',
      '[  2.0s] starting the backup: done in 1.0s',
      '[  2.0s] stopping the database (fence)',
      '[  2.0s] stopping the database (fence): fencing: StatefulSet pg scaled to 0 and back',
      '[  3.0s] stopping the database (fence): fencing: StatefulSet pg replicas 1 -> 0',
      '[  4.0s] stopping the database (fence): done in 2.0s',
      '[  4.0s] database stopped; requesting the snapshot',
      '[  5.0s] database stopped; requesting the snapshot: done in 1.0s',
      '[  5.0s] waiting for b to be cut',
      '[  6.0s] waiting for b to be cut: driver error (retrying): tar: file changed as we read it',
      '[  7.0s] waiting for b to be cut: done in 2.0s',
      '[  7.0s] b cut; finishing',
      '[  8.0s] b cut; finishing: done in 1.0s',
      '[  8.0s] database started again; waiting for the snapshot to be ready',
      '[  8.0s] database started again; waiting for the snapshot to be ready: database started again',
      '[  9.0s] database started again; waiting for the snapshot to be ready: b ready',
      '[  9.0s] database started again; waiting for the snapshot to be ready: done in 1.0s',
      '[  9.0s] backup db/b ready (fenced)',
    ]);
  });
});

const report: BackupCreateReport = {
  kind: 'Backup',
  name: 'nightly',
  namespace: 'db',
  pvc: 'data-pg-0',
  mode: 'online',
  driver: 'hostpath.csi.k8s.io',
  atomicSnapshots: false,
  atomicityReason: 'tar',
  snapshotClass: 'csi-hostpath-snapclass',
  adopted: false,
  snapshots: [
    { name: 'nightly', role: 'data', restoreSize: '1Gi', requestToCutMs: 4200 },
    { name: 'nightly-wal', role: 'wal', restoreSize: '1Gi', requestToCutMs: 3100 },
  ],
  metadata: {
    engine: 'postgres',
    engineVersion: '17.6',
    startLsn: '0/3000028',
    stopLsn: '0/3000100',
    firstWalFile: '000000010000000000000003',
    lastWalFile: '000000010000000000000003',
  },
  timings: { totalMs: 12_345, backupSessionMs: 9000 },
  snapshotErrors: [],
};

describe('backup create output', () => {
  it('text: what was made, from what, how; summary line', () => {
    const text = renderBackupCreate(report);
    expect(text).toMatch(/^backup: +db\/nightly$/m);
    expect(text).toMatch(/^driver: +hostpath\.csi\.k8s\.io \(not atomic snapshots\)$/m);
    expect(text).toMatch(/^data snapshot: +nightly \(1Gi\), cut after 4\.2s$/m);
    expect(text).toMatch(/^wal snapshot: +nightly-wal \(1Gi\), cut after 3\.1s$/m);
    expect(text).toMatch(/^stop LSN: +0\/3000100$/m);
    expect(text).toMatch(/^took: +12\.3s$/m);
    expect(summaryLine(report)).toBe('backup db/nightly ready (online; backup session held 9.0s)');
  });

  it('dry-run lines name the mode and why, the fencing, and what exists already', () => {
    const found = planLines({
      name: 'b',
      namespace: 'db',
      pvc: 'data',
      pv: 'pvc-1234',
      mode: 'fenced',
      modeSource: 'default',
      engine: 'postgres',
      driver: 'hostpath.csi.k8s.io',
      snapshotClass: 'csi-hostpath-snapclass',
      snapshotClassSource: 'only-class',
      atomicity: { driver: 'hostpath.csi.k8s.io', atomic: false, source: 'table', reason: 'tar czf' },
      fencing: 'StatefulSet pg scaled to 0 and back',
      manifests: [],
      existing: [{ name: 'b', role: 'data' }],
      adopt: { cut: false },
      dryRun: 'client',
    });
    expect(found[0]).toBe('dry run (client: nothing sent to the API server): backup db/b');
    expect(found).toContain('mode fenced (the default for non-atomic snapshots)');
    expect(found).toContain('fencing: StatefulSet pg scaled to 0 and back');
    expect(found.at(-1)).toBe('VolumeSnapshot b exists already: the data snapshot of an earlier run of this backup, which a run adopts (not cut yet)');
  });
});
