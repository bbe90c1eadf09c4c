// Backups without a CSI driver: a pre-provisioned VolumeSnapshotContent + VolumeSnapshot pair with
// kubectl-dbaas metadata, of a driver no sidecar serves, made ready by writing the status the CSI
// snapshotter sidecar would write. The real snapshot-controller binds the pair and copies the
// status to the snapshot, so list/describe/delete/restore checks run in CI where no driver exists.
import {
  DbaasError,
  SNAPSHOT_METADATA_SCHEMA_VERSION,
  buildCrossNamespaceSnapshot,
  isDbaasError,
  type ConsistencyMode,
  type KubeClients,
  type SnapshotMetadata,
  type VolumeSnapshotContent,
} from '@kubectl-dbaas/sdk';

/** A CSI driver name no sidecar in the test cluster serves. */
export const UNSERVED_DRIVER = 'unserved.csi.kubectl-dbaas.test';

/**
 * What {@link provisionBackupSnapshot} makes.
 *
 * @example
 * const spec: ProvisionedBackupSpec = { namespace: 'db', set: 'nightly', role: 'data', mode: 'fenced' };
 */
export interface ProvisionedBackupSpec {
  namespace: string;
  set: string;
  role: 'data' | 'wal';
  mode: ConsistencyMode;
  /** Default {@link UNSERVED_DRIVER}. */
  driver?: string;
  /** Write the ready status (default true); false leaves the set pending. */
  ready?: boolean;
  /** `status.restoreSize` in bytes. Default 1 GiB. */
  restoreSizeBytes?: number;
  /** When the backup was requested/cut. Default now. */
  at?: Date;
  /** Metadata fields added to (or overriding) the defaults. */
  metadata?: Partial<SnapshotMetadata>;
  labels?: Record<string, string>;
}

/**
 * Writes the status the CSI snapshotter sidecar writes on a pre-provisioned content once the driver
 * confirms the snapshot (retrying while the snapshot-controller updates the same object).
 *
 * @example
 * await writeContentReady(clients, 'dbaas-db-nightly', { restoreSizeBytes: 2 ** 30 });
 */
export async function writeContentReady(clients: KubeClients, contentName: string, opts: { restoreSizeBytes?: number; at?: Date } = {}): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const content = await clients.volumeSnapshotContents.get(contentName);
    const status = {
      readyToUse: true,
      restoreSize: opts.restoreSizeBytes ?? 2 ** 30,
      snapshotHandle: content.spec.source.snapshotHandle!,
      creationTime: (opts.at ?? new Date()).getTime() * 1e6,
    };
    try {
      await clients.custom.replaceClusterCustomObjectStatus({
        group: 'snapshot.storage.k8s.io',
        version: 'v1',
        plural: 'volumesnapshotcontents',
        name: contentName,
        body: { ...content, status } satisfies VolumeSnapshotContent,
      });
      return;
    } catch (error) {
      if (!isDbaasError(error, 'KUBE_CONFLICT') || attempt >= 20) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Creates one snapshot of a backup set as a pre-provisioned pair (content `dbaas-<ns>-<name>`,
 * snapshot `<set>` or `<set>-wal`) and, unless `ready: false`, makes it ready. Returns the content
 * name (cluster-scoped: delete it after the test).
 *
 * @example
 * const content = await provisionBackupSnapshot(clients, { namespace: ns, set: 'alpha', role: 'data', mode: 'fenced' });
 */
export async function provisionBackupSnapshot(clients: KubeClients, spec: ProvisionedBackupSpec): Promise<string> {
  const name = spec.role === 'wal' ? `${spec.set}-wal` : spec.set;
  const contentName = `dbaas-${spec.namespace}-${name}`;
  const at = spec.at ?? new Date();
  const online = spec.mode === 'online';
  const pair = buildCrossNamespaceSnapshot({
    source: { snapshotHandle: `handle-${name}`, driver: spec.driver ?? UNSERVED_DRIVER, namespace: 'elsewhere', sourceVolumeMode: 'Filesystem' },
    target: { namespace: spec.namespace, name },
    contentName,
    metadata: {
      schemaVersion: SNAPSHOT_METADATA_SCHEMA_VERSION,
      backupSet: spec.set,
      role: spec.role,
      sourcePvc: 'data-pg-0',
      backupType: 'volumesnapshot',
      mode: spec.mode,
      engine: 'postgres',
      engineVersion: '17.6',
      requestedAt: at,
      // As runBackup records them: the data snapshot knows the start, the -wal snapshot the whole backup.
      ...(online ? { startLsn: 0x3000028n, timeline: 1, firstWalFile: '000000010000000000000003' } : {}),
      ...(online && spec.role === 'wal'
        ? {
            stopLsn: 0x3000100n,
            lastWalFile: '000000010000000000000003',
            backupLabel:
              'START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\nCHECKPOINT LOCATION: 0/3000080\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIMELINE: 1\n',
          }
        : {}),
      ...spec.metadata,
    },
    ...(spec.labels ? { extra: { labels: spec.labels } } : {}),
  });
  await clients.volumeSnapshotContents.create(pair.content);
  try {
    await clients.volumeSnapshots.create(pair.snapshot);
    if (spec.ready ?? true)
      await writeContentReady(clients, contentName, { ...(spec.restoreSizeBytes ? { restoreSizeBytes: spec.restoreSizeBytes } : {}), at });
  } catch (error) {
    await clients.volumeSnapshotContents.delete(contentName).catch(() => undefined);
    throw error instanceof DbaasError ? error : new Error(`provisioning ${spec.namespace}/${name}: ${(error as Error).message}`, { cause: error });
  }
  return contentName;
}
