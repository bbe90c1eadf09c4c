// Backup sets for the rendering tests, built with the SDK's own pure functions (ManifestBuilder
// and the list grouping), so the tests render what `SnapshotClient.list` would return.
import { buildVolumeSnapshot, groupBackupSets, summarizeSnapshot, type BackupSet, type ConsistencyMode, type VolumeSnapshot } from '@kubectl-dbaas/sdk';

export const NOW = new Date('2026-11-22T12:00:00Z');
const HOUR = 3_600_000;

/** A snapshot of a set, with the status the snapshot-controller would give it. */
export function snapshot(
  set: string,
  role: 'data' | 'wal',
  opts: { mode?: ConsistencyMode; hoursAgo?: number; ready?: boolean; error?: string; size?: string; namespace?: string; extra?: Record<string, unknown> } = {},
): VolumeSnapshot {
  const at = new Date(NOW.getTime() - (opts.hoursAgo ?? 1) * HOUR);
  const vs = buildVolumeSnapshot({
    namespace: opts.namespace ?? 'db',
    pvc: 'data-pg-0',
    snapshotClass: 'csi-hostpath-snapclass',
    metadata: { backupSet: set, role, mode: opts.mode ?? 'fenced', engine: 'postgres', engineVersion: '17.6', requestedAt: at, ...(opts.extra ?? {}) },
  });
  vs.metadata.creationTimestamp = at;
  vs.status = {
    ...(opts.ready !== false
      ? {
          boundVolumeSnapshotContentName: `snapcontent-${set}-${role}`,
          creationTime: new Date(at.getTime() + 2000).toISOString(),
          readyToUse: true,
          restoreSize: opts.size ?? '1Gi',
        }
      : { readyToUse: false }),
    ...(opts.error ? { error: { message: opts.error } } : {}),
  } as NonNullable<VolumeSnapshot['status']>;
  return vs;
}

/** The sets of these snapshots, grouped and sorted as SnapshotClient.list returns them. */
export function sets(...snapshots: VolumeSnapshot[]): BackupSet[] {
  return groupBackupSets(snapshots.map(summarizeSnapshot));
}
