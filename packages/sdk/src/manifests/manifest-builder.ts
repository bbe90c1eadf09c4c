// ManifestBuilder: the front door of manifest building. It holds what every object of one caller
// shares (the namespace, the caller's own labels and annotations) and hands each build to the pure
// function in builders.ts, which stays the one place the object's shape and checks are written.
import type { V1Job, V1PersistentVolumeClaim, VolumeSnapshot, VolumeSnapshotContent } from '../kube/snapshot-types.js';
import type { Lsn } from '../wal/lsn.js';
import {
  assertExtraMetadata,
  backupSetNames,
  buildCrossNamespaceSnapshot,
  buildPvcFromSnapshot,
  buildRestorePrepJob,
  buildVolumeSnapshot,
  walFilesForBackup,
  type CrossNamespaceSnapshotInput,
  type ExtraMetadata,
  type PvcFromSnapshotInput,
  type RestorePrepJobInput,
  type VolumeSnapshotInput,
} from './builders.js';
import { assertDnsLabel } from './names.js';

/**
 * What every object a {@link ManifestBuilder} builds shares: its namespace, and the caller's own
 * labels and annotations (never under `dbaas.io/`, which the metadata schema owns).
 *
 * @example
 * ```ts
 * import { ManifestBuilder, type ManifestBuilderOptions } from '@kubectl-dbaas/sdk';
 * const options: ManifestBuilderOptions = { namespace: 'db', labels: { team: 'payments' } };
 * const manifests = new ManifestBuilder(options);
 * ```
 */
export interface ManifestBuilderOptions {
  /** The namespace of every namespaced object built (for a cross-namespace pair: the target's). */
  namespace: string;
  /** Labels put on every object; a build's own `extra.labels` win over them. */
  labels?: Record<string, string>;
  /** Annotations put on every object; a build's own `extra.annotations` win over them. */
  annotations?: Record<string, string>;
}

/**
 * A build of the cross-namespace pair: the original's content and metadata, and the name of the
 * new VolumeSnapshot in the builder's namespace.
 *
 * @example
 * ```ts
 * import type { ManifestCrossNamespaceInput } from '@kubectl-dbaas/sdk';
 * const input: ManifestCrossNamespaceInput = { name: 'nightly', source: { snapshotHandle: 'a1b2c3', driver: 'hostpath.csi.k8s.io', namespace: 'prod' } };
 * ```
 */
export type ManifestCrossNamespaceInput = Omit<CrossNamespaceSnapshotInput, 'target'> & { name: string };

/**
 * Builds the Kubernetes objects of backups and restores: the VolumeSnapshot of a PVC, a PVC
 * restored from a snapshot, the cross-namespace content/snapshot pair, and the restore-prep Job of
 * an `online` restore. Pure: nothing is sent to a cluster; every input is checked and a bad one is
 * a {@link DbaasError} before any object exists. The objects carry the kubectl-dbaas metadata
 * schema and the builder's labels and annotations.
 *
 * The functions it uses stay exported as building blocks: {@link buildVolumeSnapshot},
 * {@link buildPvcFromSnapshot}, {@link buildCrossNamespaceSnapshot}, {@link buildRestorePrepJob}.
 *
 * @throws DbaasError `INVALID_NAME` (namespace, label names), `INVALID_ARGUMENT` (a reserved label
 *   or annotation)
 * @example
 * ```ts
 * import { KubeClients, ManifestBuilder } from '@kubectl-dbaas/sdk';
 * const clients = KubeClients.load({ namespace: 'db' });
 * const manifests = new ManifestBuilder({ namespace: 'db', labels: { team: 'payments' } });
 *
 * const snapshot = manifests.volumeSnapshot({
 *   pvc: 'data-pg-0',
 *   snapshotClass: 'csi-hostpath-snapclass',
 *   metadata: { backupSet: 'nightly', role: 'data', mode: 'fenced', engine: 'postgres', requestedAt: new Date() },
 * });
 * await clients.volumeSnapshots.create(snapshot);
 *
 * const pvc = manifests.pvcFromSnapshot({
 *   name: 'pg-restored',
 *   snapshot: { name: 'nightly', restoreSize: '1Gi', driver: 'hostpath.csi.k8s.io' },
 *   storageClass: 'csi-hostpath-sc',
 * });
 * await clients.core.createNamespacedPersistentVolumeClaim({ namespace: 'db', body: pvc });
 * ```
 */
export class ManifestBuilder {
  /** The namespace of the objects built. */
  readonly namespace: string;
  readonly #extra: { labels: Record<string, string>; annotations: Record<string, string> };

  /**
   * @throws DbaasError `INVALID_NAME` (option `namespace`, or a label or annotation name),
   *   `INVALID_ARGUMENT` (a key under `dbaas.io/`)
   * @example
   * ```ts
   * import { ManifestBuilder } from '@kubectl-dbaas/sdk';
   * const manifests = new ManifestBuilder({ namespace: 'staging', annotations: { 'example.com/ticket': 'OPS-1' } });
   * ```
   */
  constructor(options: ManifestBuilderOptions) {
    this.namespace = assertDnsLabel(options.namespace, 'namespace');
    this.#extra = { labels: { ...options.labels }, annotations: { ...options.annotations } };
    assertExtraMetadata(this.#extra);
  }

  /**
   * A VolumeSnapshot of a PVC in the builder's namespace, named after the backup set (`role:
   * 'data'`) or `<set>-wal` (`role: 'wal'`), with the snapshot metadata. See {@link buildVolumeSnapshot}.
   *
   * @throws DbaasError `INVALID_NAME`, `METADATA_INVALID`, `INVALID_ARGUMENT`
   * @example
   * ```ts
   * import { ManifestBuilder } from '@kubectl-dbaas/sdk';
   * const wal = new ManifestBuilder({ namespace: 'db' }).volumeSnapshot({
   *   pvc: 'data-pg-0',
   *   metadata: { backupSet: 'nightly', role: 'wal', mode: 'online', requestedAt: new Date() },
   * });
   * console.log(wal.metadata.name); // 'nightly-wal'
   * ```
   */
  volumeSnapshot(input: Omit<VolumeSnapshotInput, 'namespace'>): VolumeSnapshot {
    return buildVolumeSnapshot({ ...input, namespace: this.namespace, extra: this.#withDefaults(input.extra) });
  }

  /**
   * A PVC in the builder's namespace restored from a VolumeSnapshot there: at least its
   * `restoreSize`, with a StorageClass of the snapshot's driver. See {@link buildPvcFromSnapshot}.
   *
   * @throws DbaasError `RESTORE_SIZE_TOO_SMALL`, `STORAGE_CLASS_MISMATCH`, `INVALID_QUANTITY`, `INVALID_NAME`, `INVALID_ARGUMENT`
   * @example
   * ```ts
   * import { ManifestBuilder } from '@kubectl-dbaas/sdk';
   * const pvc = new ManifestBuilder({ namespace: 'db' }).pvcFromSnapshot({
   *   name: 'pg-restored',
   *   snapshot: { name: 'nightly', restoreSize: '1Gi', driver: 'hostpath.csi.k8s.io' },
   *   storageClass: { name: 'csi-hostpath-sc', provisioner: 'hostpath.csi.k8s.io' },
   *   size: '2Gi',
   * });
   * ```
   */
  pvcFromSnapshot(input: Omit<PvcFromSnapshotInput, 'namespace'>): V1PersistentVolumeClaim {
    return buildPvcFromSnapshot({ ...input, namespace: this.namespace, extra: this.#withDefaults(input.extra) });
  }

  /**
   * The pair that brings a snapshot of another namespace into the builder's: a static
   * VolumeSnapshotContent (`deletionPolicy: Retain`, the original's `snapshotHandle` and driver)
   * and the VolumeSnapshot `name` bound to it. See {@link buildCrossNamespaceSnapshot}.
   *
   * @throws DbaasError `INVALID_NAME`, `INVALID_ARGUMENT`, `METADATA_INVALID`
   * @example
   * ```ts
   * import { KubeClients, ManifestBuilder } from '@kubectl-dbaas/sdk';
   * const clients = KubeClients.load({ namespace: 'staging' });
   * const { content, snapshot } = new ManifestBuilder({ namespace: 'staging' }).crossNamespaceSnapshot({
   *   name: 'nightly',
   *   source: { snapshotHandle: 'a1b2c3', driver: 'hostpath.csi.k8s.io', namespace: 'prod' },
   * });
   * await clients.volumeSnapshotContents.create(content);
   * await clients.volumeSnapshots.create(snapshot);
   * ```
   */
  crossNamespaceSnapshot(input: ManifestCrossNamespaceInput): { content: VolumeSnapshotContent; snapshot: VolumeSnapshot } {
    const { name, ...rest } = input;
    return buildCrossNamespaceSnapshot({ ...rest, target: { namespace: this.namespace, name }, extra: this.#withDefaults(input.extra) });
  }

  /**
   * The restore-prep Job of an `online` restore in the builder's namespace: copies the backup's
   * WAL segments into the data volume and writes `backup_label`. See {@link buildRestorePrepJob}.
   *
   * @throws DbaasError `INVALID_NAME`, `INVALID_ARGUMENT`, `INVALID_WAL_FILE_NAME`
   * @example
   * ```ts
   * import { ManifestBuilder, parseLsn } from '@kubectl-dbaas/sdk';
   * const manifests = new ManifestBuilder({ namespace: 'db' });
   * const job = manifests.restorePrepJob({
   *   name: 'nightly-prep', image: 'postgres:17.6', runAsUser: 999,
   *   dataPvc: 'pg-restored', walPvc: 'pg-restored-wal',
   *   walFiles: manifests.walFilesForBackup(parseLsn('0/2000028'), parseLsn('0/3000100'), 1),
   *   backupLabel: 'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n',
   * });
   * ```
   */
  restorePrepJob(input: Omit<RestorePrepJobInput, 'namespace'>): V1Job {
    return buildRestorePrepJob({ ...input, namespace: this.namespace, extra: this.#withDefaults(input.extra) });
  }

  /**
   * The snapshot names of a backup set: `{ data: set, wal: set + '-wal' }`. See {@link backupSetNames}.
   *
   * @throws DbaasError `INVALID_NAME`
   * @example
   * ```ts
   * import { ManifestBuilder } from '@kubectl-dbaas/sdk';
   * new ManifestBuilder({ namespace: 'db' }).backupSetNames('nightly'); // { data: 'nightly', wal: 'nightly-wal' }
   * ```
   */
  backupSetNames(backupSet: string): { data: string; wal: string } {
    return backupSetNames(backupSet);
  }

  /**
   * The WAL segment files an online backup from `startLsn` to `stopLsn` needs. See {@link walFilesForBackup}.
   *
   * @throws DbaasError `INVALID_ARGUMENT` when stop is before start.
   * @example
   * ```ts
   * import { ManifestBuilder, parseLsn } from '@kubectl-dbaas/sdk';
   * new ManifestBuilder({ namespace: 'db' }).walFilesForBackup(parseLsn('0/2000028'), parseLsn('0/3000100'), 1);
   * // ['000000010000000000000002', '000000010000000000000003']
   * ```
   */
  walFilesForBackup(startLsn: Lsn, stopLsn: Lsn, timeline: number, segmentSize?: number): string[] {
    return walFilesForBackup(startLsn, stopLsn, timeline, segmentSize);
  }

  /** The builder's labels and annotations, overridden key by key by a build's own. */
  #withDefaults(extra: ExtraMetadata | undefined): ExtraMetadata {
    return { labels: { ...this.#extra.labels, ...extra?.labels }, annotations: { ...this.#extra.annotations, ...extra?.annotations } };
  }
}
