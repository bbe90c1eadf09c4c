// ManifestBuilder's building blocks: pure functions from typed inputs to typed Kubernetes objects.
// Nothing here talks to a cluster; everything is validated before an object is returned, so a bad
// input never gets as far as creating half of a restore.
import path from 'node:path';
import { DbaasError } from '../errors.js';
import {
  SNAPSHOT_API_VERSION,
  SNAPSHOT_GROUP,
  type V1Job,
  type V1PersistentVolumeClaim,
  type VolumeSnapshot,
  type VolumeSnapshotContent,
} from '../kube/snapshot-types.js';
import { DEFAULT_WAL_SEGMENT_SIZE, isWalFileName, walFileNameForEnd, walFileName, walSegmentNumber, parseWalFileName, type Lsn } from '../wal/lsn.js';
import {
  DBAAS_ANNOTATIONS,
  DBAAS_LABELS,
  MANAGED_BY,
  SNAPSHOT_METADATA_SCHEMA_VERSION,
  writeRestoreMetadata,
  writeSnapshotMetadata,
  type SnapshotMetadata,
} from './metadata.js';
import { DNS1123_SUBDOMAIN_MAX, assertDnsLabel, assertDnsSubdomain, assertLabelValue, assertQualifiedName, derivedName } from './names.js';
import { bytesToQuantity, compareQuantities, parseQuantity, quantityToBytes } from './quantity.js';

/**
 * CPU and memory of a container the tool creates (a verification pod, the restore-prep Job):
 * quantities as Kubernetes writes them. Given fields replace the defaults one by one.
 *
 * @example
 * ```ts
 * const big: ContainerResources = { requests: { memory: '1Gi' }, limits: { memory: '4Gi', cpu: '4' } };
 * ```
 */
export interface ContainerResources {
  requests?: { cpu?: string; memory?: string };
  limits?: { cpu?: string; memory?: string };
}

/**
 * The requests and limits of every pod the tool creates. Every field is set, CPU limits included:
 * a namespace whose ResourceQuota covers `limits.cpu` or `limits.memory` rejects a pod that omits
 * them, and a LimitRange's defaults may be far too small for PostgreSQL. The scratch server gets
 * room for recovery and amcheck (shared_buffers 128MB by default); the inspect pod runs only `tar`;
 * the restore-prep Job only `cp`.
 *
 * @example
 * ```ts
 * DEFAULT_RESOURCES.server.limits.memory; // '1Gi'
 * ```
 */
export const DEFAULT_RESOURCES = Object.freeze({
  inspect: Object.freeze({ requests: Object.freeze({ cpu: '50m', memory: '64Mi' }), limits: Object.freeze({ cpu: '500m', memory: '256Mi' }) }),
  server: Object.freeze({ requests: Object.freeze({ cpu: '100m', memory: '256Mi' }), limits: Object.freeze({ cpu: '2', memory: '1Gi' }) }),
  restorePrep: Object.freeze({ requests: Object.freeze({ cpu: '50m', memory: '32Mi' }), limits: Object.freeze({ cpu: '500m', memory: '128Mi' }) }),
});

type FullResources = { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } };

/**
 * `override` laid over `defaults`, checked: every value a quantity, no request above its limit. A
 * default limit below a request the caller raised is raised to it (asking for more memory should
 * not also need the limit spelled out); a limit the caller gave below a request is refused.
 *
 * @throws DbaasError `INVALID_QUANTITY`, `INVALID_ARGUMENT` (with `option`)
 * @example
 * ```ts
 * containerResources(DEFAULT_RESOURCES.server, { requests: { memory: '2Gi' } }, 'resources');
 * // { requests: { cpu: '100m', memory: '2Gi' }, limits: { cpu: '2', memory: '2Gi' } }
 * ```
 */
export function containerResources(defaults: FullResources, override: ContainerResources | undefined, option: string): FullResources {
  const out: FullResources = { requests: { ...defaults.requests }, limits: { ...defaults.limits } };
  for (const resource of ['cpu', 'memory'] as const) {
    const request = override?.requests?.[resource];
    const limit = override?.limits?.[resource];
    const checked = (text: string, where: string) => {
      try {
        const q = parseQuantity(text);
        if (q.numerator <= 0n) throw new DbaasError('INVALID_QUANTITY', `"${text}" must be positive`);
        return q;
      } catch (error) {
        throw new DbaasError('INVALID_QUANTITY', `${option}.${where}.${resource} "${text}" is not a positive Kubernetes quantity`, {
          fix: `Write a quantity such as ${resource === 'cpu' ? "'500m' or '2'" : "'512Mi' or '2Gi'"}.`,
          option,
          cause: error,
        });
      }
    };
    if (request !== undefined) {
      checked(request, 'requests');
      out.requests[resource] = request;
    }
    if (limit !== undefined) {
      checked(limit, 'limits');
      out.limits[resource] = limit;
    }
    if (compareQuantities(out.requests[resource], out.limits[resource]) > 0) {
      if (limit !== undefined) {
        throw new DbaasError('INVALID_ARGUMENT', `${option}: the ${resource} request ${out.requests[resource]} is above its limit ${limit}`, {
          fix: `Raise limits.${resource} to at least ${out.requests[resource]}, or lower requests.${resource}.`,
          option,
        });
      }
      out.limits[resource] = out.requests[resource];
    }
  }
  return out;
}

/**
 * Checks a pod's `nodeSelector`: label keys and values as Kubernetes takes them.
 *
 * @throws DbaasError `INVALID_NAME` with `option: 'nodeSelector'`
 * @example
 * ```ts
 * assertNodeSelector({ 'topology.kubernetes.io/zone': 'eu-west-1a' });
 * ```
 */
export function assertNodeSelector(selector: Record<string, string> | undefined): void {
  for (const [key, value] of Object.entries(selector ?? {})) {
    try {
      assertQualifiedName(key);
      assertLabelValue(value, key);
    } catch (error) {
      const e = error as DbaasError;
      throw new DbaasError(e.code, `nodeSelector: ${e.message}`, { ...(e.fix ? { fix: e.fix } : {}), option: 'nodeSelector', cause: e });
    }
  }
}

/**
 * Suffix of the second snapshot of an `online` backup, which holds the WAL to the stop LSN.
 *
 * @example
 * ```ts
 * const walName = `${backupSet}${WAL_SNAPSHOT_SUFFIX}`; // 'nightly-wal'
 * ```
 */
export const WAL_SNAPSHOT_SUFFIX = '-wal';

/**
 * Extra labels and annotations a caller wants on an object. Keys under `dbaas.io/` and
 * `app.kubernetes.io/managed-by` are reserved for the metadata schema and refused.
 *
 * @example
 * ```ts
 * const extra: ExtraMetadata = { labels: { team: 'payments' }, annotations: { 'example.com/ticket': 'OPS-1' } };
 * ```
 */
export interface ExtraMetadata {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function isReserved(key: string): boolean {
  return key.startsWith('dbaas.io/') || key === DBAAS_LABELS.managedBy;
}

/**
 * Checks extra labels and annotations as every builder does (qualified names, label values, no
 * reserved keys), so a default set once (as {@link ManifestBuilder} takes them) fails at once.
 *
 * @throws DbaasError `INVALID_ARGUMENT` (a reserved key), `INVALID_NAME`
 * @example
 * ```ts
 * assertExtraMetadata({ labels: { team: 'payments' } });
 * ```
 */
export function assertExtraMetadata(extra: ExtraMetadata | undefined): void {
  mergeExtra({ labels: {}, annotations: {} }, extra);
}

function mergeExtra(own: { labels: Record<string, string>; annotations: Record<string, string> }, extra: ExtraMetadata | undefined) {
  const labels = { ...own.labels };
  const annotations = { ...own.annotations };
  for (const [k, v] of Object.entries(extra?.labels ?? {})) {
    if (isReserved(k)) throw new DbaasError('INVALID_ARGUMENT', `label ${k} is reserved for kubectl-dbaas metadata`, { fix: 'Use your own label prefix.' });
    labels[assertQualifiedName(k)] = assertLabelValue(v, k);
  }
  for (const [k, v] of Object.entries(extra?.annotations ?? {})) {
    if (isReserved(k))
      throw new DbaasError('INVALID_ARGUMENT', `annotation ${k} is reserved for kubectl-dbaas metadata`, { fix: 'Use your own annotation prefix.' });
    annotations[assertQualifiedName(k)] = v;
  }
  return { labels, annotations };
}

/**
 * The snapshot names of a backup set: the data snapshot is named after the set, the `online`
 * mode's WAL snapshot `<set>-wal`. The set name is a label value and a DNS-1123 label, and the
 * `-wal` name must fit too, so a set name has at most 59 characters.
 *
 * @throws DbaasError `INVALID_NAME`
 * @example
 * ```ts
 * backupSetNames('nightly-2024-06-01'); // { data: 'nightly-2024-06-01', wal: 'nightly-2024-06-01-wal' }
 * ```
 */
export function backupSetNames(backupSet: string): { data: string; wal: string } {
  assertDnsLabel(backupSet, 'backup name');
  return { data: backupSet, wal: derivedName(backupSet, WAL_SNAPSHOT_SUFFIX, 'label', 'WAL snapshot name') };
}

/**
 * The name of the snapshot of another volume of the instance in a set (its `pg_wal` or a
 * tablespace PVC): `<set>-vol-<volume>`, after the pod's name for the volume.
 *
 * @throws DbaasError `INVALID_NAME`
 * @example
 * ```ts
 * volumeSnapshotName('nightly', 'wal'); // 'nightly-vol-wal'
 * ```
 */
export function volumeSnapshotName(backupSet: string, volume: string): string {
  assertDnsLabel(volume, 'volume name');
  return derivedName(backupSet, `-vol-${volume}`, 'subdomain', `snapshot name of volume ${volume}`);
}

/**
 * Input of {@link buildVolumeSnapshot}.
 *
 * @example
 * ```ts
 * const input: VolumeSnapshotInput = {
 *   namespace: 'db', pvc: 'data-pg-0', snapshotClass: 'csi-hostpath-snapclass',
 *   metadata: { backupSet: 'nightly', role: 'data', mode: 'fenced', requestedAt: new Date() },
 * };
 * ```
 */
export interface VolumeSnapshotInput {
  namespace: string;
  /** Source PVC (a DNS-1123 subdomain that also fits a label value: at most 63 characters). */
  pvc: string;
  /** VolumeSnapshotClass; omitted = the driver's default class. */
  snapshotClass?: string;
  /** Metadata; `schemaVersion`, `backupType` and `sourcePvc` are filled in. */
  metadata: Omit<SnapshotMetadata, 'schemaVersion' | 'backupType' | 'sourcePvc'>;
  extra?: ExtraMetadata;
}

/**
 * A VolumeSnapshot of a PVC with the kubectl-dbaas labels and annotations. Named after the backup
 * set (`role: 'data'`) or `<set>-wal` (`role: 'wal'`).
 *
 * @throws DbaasError `INVALID_NAME`, `METADATA_INVALID`, `INVALID_ARGUMENT`
 * @example
 * ```ts
 * const vs = buildVolumeSnapshot({
 *   namespace: 'db', pvc: 'data-pg-0', snapshotClass: 'csi-hostpath-snapclass',
 *   metadata: { backupSet: 'nightly', role: 'data', mode: 'fenced', engine: 'postgres', engineVersion: '17.6', requestedAt: new Date() },
 * });
 * await clients.volumeSnapshots.create(vs);
 * ```
 */
export function buildVolumeSnapshot(input: VolumeSnapshotInput): VolumeSnapshot {
  assertDnsLabel(input.namespace, 'namespace');
  assertDnsSubdomain(input.pvc, 'PVC name');
  assertLabelValue(input.pvc, DBAAS_LABELS.backupSource);
  if (input.snapshotClass !== undefined) assertDnsSubdomain(input.snapshotClass, 'VolumeSnapshotClass name');
  const names = backupSetNames(input.metadata.backupSet);
  const own = writeSnapshotMetadata({
    ...input.metadata,
    schemaVersion: SNAPSHOT_METADATA_SCHEMA_VERSION,
    backupType: 'volumesnapshot',
    sourcePvc: input.pvc,
  });
  const { labels, annotations } = mergeExtra(own, input.extra);
  return {
    apiVersion: SNAPSHOT_API_VERSION,
    kind: 'VolumeSnapshot',
    metadata: { name: snapshotNameOf(input.metadata, names), namespace: input.namespace, labels, annotations },
    spec: {
      source: { persistentVolumeClaimName: input.pvc },
      ...(input.snapshotClass !== undefined ? { volumeSnapshotClassName: input.snapshotClass } : {}),
    },
  };
}

function snapshotNameOf(meta: VolumeSnapshotInput['metadata'], names: { data: string; wal: string }): string {
  if (meta.role === 'wal') return names.wal;
  if (meta.role === 'volume') return volumeSnapshotName(meta.backupSet, meta.volume!);
  return names.data;
}

/**
 * Input of {@link buildPvcFromSnapshot}.
 *
 * @example
 * ```ts
 * const input: PvcFromSnapshotInput = {
 *   name: 'data-pg-restored', namespace: 'db',
 *   snapshot: { name: 'nightly', restoreSize: '1Gi', driver: 'hostpath.csi.k8s.io' },
 *   storageClass: { name: 'csi-hostpath-sc', provisioner: 'hostpath.csi.k8s.io' },
 * };
 * ```
 */
export interface PvcFromSnapshotInput {
  name: string;
  namespace: string;
  /** The VolumeSnapshot (in `namespace`) and what is known of it. */
  snapshot: {
    name: string;
    /** `status.restoreSize` of the snapshot (a quantity). Required: the size rule needs it. */
    restoreSize: string | undefined;
    /** CSI driver of its content, to check the StorageClass. */
    driver?: string;
  };
  /** Requested size; default the snapshot's restoreSize; never below it. */
  size?: string;
  /** StorageClass name, or name and provisioner (then it must equal the snapshot's driver). */
  storageClass: string | { name: string; provisioner: string };
  /** Default `['ReadWriteOnce']`. */
  accessModes?: ('ReadWriteOnce' | 'ReadOnlyMany' | 'ReadWriteMany' | 'ReadWriteOncePod')[];
  volumeMode?: 'Filesystem' | 'Block';
  /** Default `'snapshot'`; `'cross-namespace'` with `restoredFromNamespace`. */
  restoreType?: 'snapshot' | 'cross-namespace';
  /** The namespace of the original snapshot, for a cross-namespace restore. */
  restoredFromNamespace?: string;
  /** The backup set the snapshot belongs to (the `dbaas.io/restored-from` label); default the snapshot's name. */
  restoredFrom?: string;
  extra?: ExtraMetadata;
}

/**
 * A PVC restored from a VolumeSnapshot (`spec.dataSource`). Its size defaults to the snapshot's
 * `restoreSize` and is refused below it before anything is created (drivers such as hostpath
 * refuse smaller volumes, and the PVC would stay Pending). Labelled `dbaas.io/restored-from` and
 * `dbaas.io/restore-type`.
 *
 * @throws DbaasError `RESTORE_SIZE_TOO_SMALL`, `STORAGE_CLASS_MISMATCH`, `INVALID_QUANTITY`, `INVALID_NAME`, `INVALID_ARGUMENT`
 * @example
 * ```ts
 * const pvc = buildPvcFromSnapshot({
 *   name: 'data-pg-restored', namespace: 'db',
 *   snapshot: { name: vs.metadata.name!, restoreSize: vs.status?.restoreSize, driver: 'hostpath.csi.k8s.io' },
 *   storageClass: 'csi-hostpath-sc',
 * });
 * ```
 */
export function buildPvcFromSnapshot(input: PvcFromSnapshotInput): V1PersistentVolumeClaim {
  assertDnsSubdomain(input.name, 'PVC name');
  assertDnsLabel(input.namespace, 'namespace');
  assertDnsSubdomain(input.snapshot.name, 'VolumeSnapshot name');
  const restoreSizeText = input.snapshot.restoreSize;
  if (restoreSizeText === undefined || restoreSizeText === '') {
    throw new DbaasError(
      'INVALID_ARGUMENT',
      `VolumeSnapshot "${input.snapshot.name}" has no status.restoreSize yet, so the size of the restored volume cannot be checked`,
      {
        fix: 'Wait until the snapshot is readyToUse (its restoreSize is set), then restore.',
      },
    );
  }
  const restoreSize = parseQuantity(restoreSizeText);
  const size = input.size === undefined ? restoreSize : parseQuantity(input.size);
  if (size.numerator <= 0n) throw new DbaasError('INVALID_QUANTITY', `size "${size.text}" must be positive`);
  if (compareQuantities(size, restoreSize) < 0) {
    throw new DbaasError(
      'RESTORE_SIZE_TOO_SMALL',
      `size ${size.text} (${quantityToBytes(size)} bytes) is below the restoreSize ${restoreSize.text} (${quantityToBytes(restoreSize)} bytes) of VolumeSnapshot "${input.snapshot.name}"`,
      {
        fix: `Use a size of at least ${bytesToQuantity(quantityToBytes(restoreSize))}, or omit the size to use the restoreSize.`,
        details: { size: size.text, restoreSize: restoreSize.text },
      },
    );
  }
  const storageClassName = typeof input.storageClass === 'string' ? input.storageClass : input.storageClass.name;
  assertDnsSubdomain(storageClassName, 'StorageClass name');
  if (typeof input.storageClass !== 'string' && input.snapshot.driver !== undefined && input.storageClass.provisioner !== input.snapshot.driver) {
    throw new DbaasError(
      'STORAGE_CLASS_MISMATCH',
      `StorageClass "${storageClassName}" provisions with ${input.storageClass.provisioner}, but VolumeSnapshot "${input.snapshot.name}" was taken by ${input.snapshot.driver}: that driver cannot restore it`,
      { fix: `Choose a StorageClass whose provisioner is ${input.snapshot.driver}.` },
    );
  }
  const restoreType = input.restoreType ?? 'snapshot';
  if (restoreType === 'cross-namespace' && input.restoredFromNamespace === undefined) {
    throw new DbaasError('INVALID_ARGUMENT', 'a cross-namespace restore needs restoredFromNamespace (the namespace of the original snapshot)');
  }
  if (input.restoredFromNamespace !== undefined) assertDnsLabel(input.restoredFromNamespace, 'source namespace');
  const own = writeRestoreMetadata({
    schemaVersion: SNAPSHOT_METADATA_SCHEMA_VERSION,
    restoredFrom: assertLabelValue(input.restoredFrom ?? input.snapshot.name, DBAAS_LABELS.restoredFrom),
    restoreType,
    ...(input.restoredFromNamespace !== undefined ? { restoredFromNamespace: input.restoredFromNamespace } : {}),
  });
  const { labels, annotations } = mergeExtra(own, input.extra);
  const accessModes = input.accessModes ?? ['ReadWriteOnce'];
  if (accessModes.length === 0) throw new DbaasError('INVALID_ARGUMENT', 'accessModes must not be empty');
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: input.name, namespace: input.namespace, labels, annotations },
    spec: {
      accessModes: [...accessModes],
      storageClassName,
      ...(input.volumeMode ? { volumeMode: input.volumeMode } : {}),
      resources: { requests: { storage: size.text } },
      dataSource: { apiGroup: SNAPSHOT_GROUP, kind: 'VolumeSnapshot', name: input.snapshot.name },
    },
  };
}

/**
 * The annotation kube-scheduler writes on a WaitForFirstConsumer PVC when it places its first pod;
 * set by the tool to provision a volume for a node before any pod uses it.
 *
 * @example
 * ```ts
 * pvc.metadata!.annotations = { [SELECTED_NODE_ANNOTATION]: 'node-1' };
 * ```
 */
export const SELECTED_NODE_ANNOTATION = 'volume.kubernetes.io/selected-node';

/**
 * Input of {@link buildPvcClone}.
 *
 * @example
 * ```ts
 * const input: PvcCloneInput = { name: 'verify-restored-1a2b3c', source: await core.readNamespacedPersistentVolumeClaim({ name: 'restored', namespace: 'db' }) };
 * ```
 */
export interface PvcCloneInput {
  /** The clone's name, in the source's namespace. */
  name: string;
  /** The PVC to clone, as read from the cluster: Bound, with a StorageClass. */
  source: V1PersistentVolumeClaim;
  /** WaitForFirstConsumer classes: provision now for this node (`volume.kubernetes.io/selected-node`). */
  bindToNode?: string;
  /** `app.kubernetes.io/component` of the clone: what it is for. */
  component: string;
}

/**
 * A CSI volume clone of a PVC (`spec.dataSource` kind PersistentVolumeClaim): same namespace,
 * StorageClass, access modes and volume mode, and the source's size, as Kubernetes requires of a
 * clone. Labelled as the tool's (`app.kubernetes.io/managed-by`).
 *
 * @throws DbaasError `TARGET_UNSUPPORTED` (the source is not Bound, or has no StorageClass: a static
 *   volume has no driver to clone it), `INVALID_NAME`.
 * @example
 * ```ts
 * const clone = buildPvcClone({ name: 'verify-restored-1a2b3c', source: pvc, component: 'verify-clone' });
 * await core.createNamespacedPersistentVolumeClaim({ namespace: 'db', body: clone });
 * ```
 */
export function buildPvcClone(input: PvcCloneInput): V1PersistentVolumeClaim {
  assertDnsSubdomain(input.name, 'PVC name');
  if (input.bindToNode !== undefined) assertDnsSubdomain(input.bindToNode, 'node name');
  const sourceName = input.source.metadata?.name ?? '';
  const namespace = assertDnsLabel(input.source.metadata?.namespace ?? '', 'namespace');
  const where = `PVC ${namespace}/${sourceName}`;
  if (input.source.status?.phase !== 'Bound') {
    throw new DbaasError('TARGET_UNSUPPORTED', `${where} is ${input.source.status?.phase ?? 'not Bound'}: only a Bound volume can be cloned`, {
      fix: `Wait until it is Bound (kubectl -n ${namespace} get pvc ${sourceName}).`,
      option: 'pvc',
    });
  }
  const storageClassName = input.source.spec?.storageClassName;
  if (!storageClassName) {
    throw new DbaasError('TARGET_UNSUPPORTED', `${where} has no StorageClass: its volume was not made by a CSI driver that can clone it`, {
      fix: 'Verify it in place (clone: false), which changes its files, or verify the backup it came from.',
      option: 'clone',
    });
  }
  const size = input.source.status?.capacity?.['storage'] ?? input.source.spec?.resources?.requests?.['storage'];
  if (size === undefined)
    throw new DbaasError('TARGET_UNSUPPORTED', `${where} has neither a capacity nor a requested size to give its clone`, { option: 'pvc' });
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: input.name,
      namespace,
      labels: { [DBAAS_LABELS.managedBy]: MANAGED_BY, 'app.kubernetes.io/component': assertLabelValue(input.component, 'app.kubernetes.io/component') },
      ...(input.bindToNode !== undefined ? { annotations: { [SELECTED_NODE_ANNOTATION]: input.bindToNode } } : {}),
    },
    spec: {
      accessModes: [...(input.source.spec?.accessModes ?? ['ReadWriteOnce'])],
      storageClassName,
      ...(input.source.spec?.volumeMode ? { volumeMode: input.source.spec.volumeMode } : {}),
      resources: { requests: { storage: size } },
      dataSource: { kind: 'PersistentVolumeClaim', name: sourceName },
    },
  };
}

/**
 * Input of {@link buildCrossNamespaceSnapshot}.
 *
 * @example
 * ```ts
 * const input: CrossNamespaceSnapshotInput = {
 *   source: { snapshotHandle: content.status!.snapshotHandle!, driver: content.spec.driver },
 *   target: { namespace: 'staging', name: 'nightly' },
 * };
 * ```
 */
export interface CrossNamespaceSnapshotInput {
  /** The original snapshot's content: its `status.snapshotHandle` and driver. */
  source: {
    snapshotHandle: string;
    driver: string;
    /** Copied to the new content (volume mode conversion checks use it). */
    sourceVolumeMode?: 'Filesystem' | 'Block';
    /** VolumeSnapshotClass to record on the new content and snapshot. */
    snapshotClassName?: string;
    /** The original namespace (recorded on the new snapshot). */
    namespace?: string;
  };
  /** The new VolumeSnapshot. */
  target: { namespace: string; name: string };
  /** Name of the new VolumeSnapshotContent (cluster-scoped). Default `dbaas-<namespace>-<name>`. */
  contentName?: string;
  /** The original's kubectl-dbaas metadata, carried over to the new snapshot. */
  metadata?: SnapshotMetadata;
  extra?: ExtraMetadata;
}

/**
 * The pre-provisioned pair for a cross-namespace restore: a static VolumeSnapshotContent
 * (`deletionPolicy: Retain`, so deleting it never deletes the storage snapshot the original still
 * uses; the same `snapshotHandle` and driver; `volumeSnapshotRef` to the new namespace) and the
 * VolumeSnapshot there that names it in `spec.source.volumeSnapshotContentName`. The snapshot
 * controller binds the two; then {@link buildPvcFromSnapshot} in the target namespace.
 *
 * @throws DbaasError `INVALID_NAME`, `INVALID_ARGUMENT`, `METADATA_INVALID`
 * @example
 * ```ts
 * const { content, snapshot } = buildCrossNamespaceSnapshot({
 *   source: { snapshotHandle: 'a1b2c3', driver: 'hostpath.csi.k8s.io', namespace: 'prod' },
 *   target: { namespace: 'staging', name: 'nightly' },
 *   metadata: readSnapshotMetadata(original),
 * });
 * await clients.volumeSnapshotContents.create(content);
 * await clients.volumeSnapshots.create(snapshot);
 * ```
 */
export function buildCrossNamespaceSnapshot(input: CrossNamespaceSnapshotInput): { content: VolumeSnapshotContent; snapshot: VolumeSnapshot } {
  const { namespace, name } = input.target;
  assertDnsLabel(namespace, 'target namespace');
  assertDnsSubdomain(name, 'VolumeSnapshot name');
  if (!input.source.snapshotHandle) throw new DbaasError('INVALID_ARGUMENT', 'the source snapshotHandle is empty: the original snapshot is not cut yet');
  if (!input.source.driver) throw new DbaasError('INVALID_ARGUMENT', 'the source driver is empty');
  if (input.source.snapshotClassName !== undefined) assertDnsSubdomain(input.source.snapshotClassName, 'VolumeSnapshotClass name');
  if (input.source.namespace !== undefined) assertDnsLabel(input.source.namespace, 'source namespace');
  const contentName = input.contentName ?? `dbaas-${namespace}-${name}`;
  if (contentName.length > DNS1123_SUBDOMAIN_MAX) {
    throw new DbaasError(
      'INVALID_NAME',
      `the VolumeSnapshotContent name "${contentName.slice(0, 40)}..." would have ${contentName.length} characters (at most ${DNS1123_SUBDOMAIN_MAX})`,
      {
        fix: 'Pass a shorter contentName or a shorter snapshot name.',
      },
    );
  }
  assertDnsSubdomain(contentName, 'VolumeSnapshotContent name');

  const own = input.metadata ? writeSnapshotMetadata(input.metadata) : { labels: { [DBAAS_LABELS.managedBy]: MANAGED_BY }, annotations: {} };
  if (input.source.namespace !== undefined) own.annotations[DBAAS_ANNOTATIONS.restoredFromNamespace] = input.source.namespace;
  const { labels, annotations } = mergeExtra(own, input.extra);
  const content: VolumeSnapshotContent = {
    apiVersion: SNAPSHOT_API_VERSION,
    kind: 'VolumeSnapshotContent',
    metadata: { name: contentName, labels: { [DBAAS_LABELS.managedBy]: MANAGED_BY } },
    spec: {
      deletionPolicy: 'Retain',
      driver: input.source.driver,
      source: { snapshotHandle: input.source.snapshotHandle },
      ...(input.source.sourceVolumeMode ? { sourceVolumeMode: input.source.sourceVolumeMode } : {}),
      ...(input.source.snapshotClassName ? { volumeSnapshotClassName: input.source.snapshotClassName } : {}),
      volumeSnapshotRef: { apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshot', name, namespace },
    },
  };
  const snapshot: VolumeSnapshot = {
    apiVersion: SNAPSHOT_API_VERSION,
    kind: 'VolumeSnapshot',
    metadata: { name, namespace, labels, annotations },
    spec: {
      source: { volumeSnapshotContentName: contentName },
      ...(input.source.snapshotClassName ? { volumeSnapshotClassName: input.source.snapshotClassName } : {}),
    },
  };
  return { content, snapshot };
}

/**
 * The WAL segment files an online backup needs, from the one holding `startLsn` to the one holding
 * the last byte before `stopLsn`, on `timeline`.
 *
 * @throws DbaasError `INVALID_ARGUMENT` when stop is before start.
 * @example
 * ```ts
 * walFilesForBackup(parseLsn('0/2000028'), parseLsn('0/4000100'), 1);
 * // ['000000010000000000000002', '000000010000000000000003', '000000010000000000000004']
 * ```
 */
export function walFilesForBackup(startLsn: Lsn, stopLsn: Lsn, timeline: number, segmentSize: number = DEFAULT_WAL_SEGMENT_SIZE): string[] {
  if (stopLsn < startLsn) throw new DbaasError('INVALID_ARGUMENT', 'the stop LSN is before the start LSN');
  const first = parseWalFileName(walFileName(startLsn, timeline, segmentSize), segmentSize).segmentNumber;
  const last =
    stopLsn === startLsn
      ? walSegmentNumber(startLsn, segmentSize)
      : parseWalFileName(walFileNameForEnd(stopLsn, timeline, segmentSize), segmentSize).segmentNumber;
  const files: string[] = [];
  for (let seg = first; seg <= last; seg++) files.push(walFileName(seg * BigInt(segmentSize), timeline, segmentSize));
  return files;
}

/**
 * The shell script of the restore-prep Job (POSIX sh; needs cp, mv, mkdir, base64, cmp, chmod; id and stat
 * only to word a permission error).
 * Volumes are mounted at `$DBAAS_ROOT/data` and `$DBAAS_ROOT/wal` (`DBAAS_ROOT` default `/dbaas`).
 *
 * @example
 * ```ts
 * spawnSync('/bin/sh', ['-ec', RESTORE_PREP_SCRIPT], { env: { DBAAS_ROOT: dir, DBAAS_WAL_FILES: '...', DBAAS_BACKUP_LABEL_B64: '...' } });
 * ```
 */
export const RESTORE_PREP_SCRIPT = `set -eu
fail() { echo "dbaas-restore-prep: $*" >&2; exit 1; }
ROOT="\${DBAAS_ROOT:-/dbaas}"
# A directory this uid cannot enter looks empty to the tests below: say so as what it is.
enterable() {
  [ ! -d "$1" ] || { [ -r "$1" ] && [ -x "$1" ]; } || fail "permission denied: $1 is not readable by uid $(id -u 2>/dev/null || echo ?) (it belongs to uid $(stat -c %u "$1" 2>/dev/null || echo ?), mode $(stat -c %a "$1" 2>/dev/null || echo ?)): run the Job as the data directory's owner (runAsUser)"
}
# PGDATA in a volume: the subpath when one is given (set, '' = the root), else the root when it
# holds $4 (PG_VERSION; pg_wal in the WAL volume), else its one subdirectory that does (how verify
# finds PGDATA, e.g. PGDATA=/var/lib/postgresql/data/pgdata on a volume mounted at .../data).
locate() {
  enterable "$1"
  if [ "$2" = set ]; then enterable "$1\${3:+/$3}"; echo "$1\${3:+/$3}"; return 0; fi
  if [ -e "$1/$4" ]; then echo "$1"; return 0; fi
  found=
  hidden=
  for d in "$1"/*; do
    # A subdirectory it cannot enter may be the data directory (lost+found, root's 0700, is not).
    if [ -d "$d" ] && ! { [ -r "$d" ] && [ -x "$d" ]; }; then [ "\${d##*/}" = lost+found ] || hidden=$d; continue; fi
    [ -e "$d/$4" ] || continue
    [ -z "$found" ] || fail "$1 holds several data directories (\${found##*/}, \${d##*/}): pass the data subpath"
    found=$d
  done
  [ -n "$found" ] || [ -z "$hidden" ] || enterable "$hidden"
  [ -n "$found" ] || fail "no $4 in $1 or one level below: not a PostgreSQL data directory (pass the data subpath when PGDATA is deeper)"
  echo "$found"
}
DATA=$(locate "$ROOT/data" "\${DBAAS_DATA_SUBPATH+set}" "\${DBAAS_DATA_SUBPATH:-}" PG_VERSION)
[ -f "$DATA/PG_VERSION" ] || fail "no PG_VERSION in $DATA: not a PostgreSQL data directory"
# A restored set mounted elsewhere than its source: links into a volume's old mount path (pg_wal,
# pg_tblspc/*) re-pointed to its new one. DBAAS_RELINK holds "old=new" pairs (paths without spaces).
relinked=0
relink() {
  t=$(readlink "$1")
  for pair in $DBAAS_RELINK; do
    old=\${pair%%=*}
    new=\${pair#*=}
    case "$t" in
      "$old" | "$old"/*)
        ln -sfn "$new\${t#"$old"}" "$1.dbaas-tmp"
        mv -fT "$1.dbaas-tmp" "$1"
        relinked=$((relinked + 1))
        return 0
        ;;
    esac
  done
}
if [ -n "\${DBAAS_RELINK:-}" ]; then
  [ ! -L "$DATA/pg_wal" ] || relink "$DATA/pg_wal"
  for l in "$DATA"/pg_tblspc/*; do [ ! -L "$l" ] || relink "$l"; done
fi
# A copy of a CloudNativePG instance for a plain PostgreSQL server: settings only CloudNativePG
# serves (certificates, socket and logs under /controller, archiving through its manager, its
# standbys) are turned off at the end of postgresql.conf, which CloudNativePG does not write (its
# own settings are in the custom.conf and override.conf it includes), and standby.signal goes.
plain=""
if [ -n "\${DBAAS_PLAIN_SERVER_SETTINGS:-}" ]; then
  [ -f "$DATA/postgresql.conf" ] || fail "no postgresql.conf in $DATA to turn CloudNativePG's settings off in"
  nl='
'
  # Its first line (a comment) marks the block: a retried Job does not append it twice.
  mark=\${DBAAS_PLAIN_SERVER_SETTINGS%%"$nl"*}
  appended=""
  while IFS= read -r line; do [ "$line" != "$mark" ] || appended=1; done < "$DATA/postgresql.conf"
  [ -n "$appended" ] || printf '\n%s\n' "$DBAAS_PLAIN_SERVER_SETTINGS" >> "$DATA/postgresql.conf"
  rm -f "$DATA/standby.signal"
  plain=", turned CloudNativePG's settings off for a plain server"
fi
if [ "\${DBAAS_RELINK_ONLY:-}" = 1 ]; then
  sync
  echo "dbaas-restore-prep: re-pointed $relinked link(s)$plain in $DATA"
  exit 0
fi
n=0
if [ -n "\${DBAAS_WAL_VOLUME_MOUNT:-}" ]; then
  # pg_wal on a volume of its own, restored from its snapshot taken after pg_backup_stop: the WAL
  # is in place behind the link (the server's pod mounts that volume at DBAAS_WAL_VOLUME_MOUNT,
  # this Job at $ROOT/wal); check that every segment is there, copy nothing.
  M=$DBAAS_WAL_VOLUME_MOUNT
  [ -L "$DATA/pg_wal" ] || fail "$DATA/pg_wal is not a link into the WAL volume (mounted at $M in the source pod)"
  target=$(readlink "$DATA/pg_wal")
  case "$target" in "$M" | "$M"/*) ;; *) fail "$DATA/pg_wal links to $target, outside the WAL volume's mount $M" ;; esac
  SRC="$ROOT/wal\${target#"$M"}"
  enterable "$SRC"
  [ -d "$SRC" ] || fail "no WAL directory at $SRC in the WAL volume (pg_wal links to $target)"
  for f in $DBAAS_WAL_FILES; do
    [ -f "$SRC/$f" ] || fail "WAL segment $f is missing from the WAL volume ($SRC): without it PostgreSQL stops with 'WAL ends before end of online backup'"
    n=$((n + 1))
  done
  done_wal="found $n WAL segment(s) in the WAL volume"
else
  SRC=$(locate "$ROOT/wal" "\${DBAAS_WAL_SUBPATH+set}" "\${DBAAS_WAL_SUBPATH:-}" pg_wal)/pg_wal
  [ -d "$SRC" ] || fail "no pg_wal directory at $SRC in the WAL snapshot's volume"
  [ ! -L "$DATA/pg_wal" ] || fail "$DATA/pg_wal is a symbolic link: WAL on another volume needs that volume's mount path (the backup records it)"
  mkdir -p "$DATA/pg_wal"
  for f in $DBAAS_WAL_FILES; do
    [ -f "$SRC/$f" ] || fail "WAL segment $f is missing from the WAL snapshot ($SRC): without it PostgreSQL stops with 'WAL ends before end of online backup'"
    cp "$SRC/$f" "$DATA/pg_wal/.$f.dbaas-tmp"
    mv -f "$DATA/pg_wal/.$f.dbaas-tmp" "$DATA/pg_wal/$f"
    n=$((n + 1))
  done
  for h in "$SRC"/*.history; do
    [ -f "$h" ] || continue
    b=\${h##*/}
    [ -f "$DATA/pg_wal/$b" ] || cp "$h" "$DATA/pg_wal/$b"
  done
  done_wal="copied $n WAL segment(s)"
fi
put() {
  tmp="$DATA/.$1.dbaas-tmp"
  printf '%s' "$2" | base64 -d > "$tmp"
  if [ -f "$DATA/$1" ] && ! cmp -s "$DATA/$1" "$tmp"; then rm -f "$tmp"; fail "$DATA/$1 exists with different content: refusing to overwrite it"; fi
  chmod 0600 "$tmp"
  mv -f "$tmp" "$DATA/$1"
}
put backup_label "$DBAAS_BACKUP_LABEL_B64"
if [ -n "\${DBAAS_TABLESPACE_MAP_B64:-}" ]; then put tablespace_map "$DBAAS_TABLESPACE_MAP_B64"; fi
# The live server's lock file came with the copy; pg_basebackup leaves it out of a base backup too.
rm -f "$DATA/postmaster.pid"
sync
echo "dbaas-restore-prep: $done_wal, wrote backup_label\${DBAAS_TABLESPACE_MAP_B64:+ and tablespace_map}\${DBAAS_RELINK:+, re-pointed $relinked link(s)}$plain in $DATA"
`;

/**
 * Input of {@link buildRestorePrepJob}.
 *
 * @example
 * ```ts
 * const input: RestorePrepJobInput = {
 *   name: 'nightly-prep', namespace: 'db', image: 'postgres:17.6',
 *   dataPvc: 'data-pg-restored', walPvc: 'data-pg-restored-wal',
 *   walFiles: ['000000010000000000000002'], backupLabel: 'START WAL LOCATION: ...', runAsUser: 999,
 * };
 * ```
 */
export interface RestorePrepJobInput {
  /** Job name: a DNS-1123 label (its pods get it as a label value). */
  name: string;
  namespace: string;
  /** An image with a POSIX shell, cp, mv, base64, cmp: usually the PostgreSQL image itself. */
  image: string;
  /** Overrides `['/bin/sh', '-ec', RESTORE_PREP_SCRIPT]`; the env variables stay the same. */
  command?: string[];
  /** The PVC restored from the data snapshot (written). */
  dataPvc: string;
  /** The PVC restored from the `-wal` snapshot (mounted read-only). */
  walPvc: string;
  /**
   * PGDATA relative to the volume root ('' = the root). Default: found when the Job runs, as verify
   * finds it: the root if it holds PG_VERSION, else its one subdirectory that does.
   */
  dataSubPath?: string | undefined;
  /** PGDATA relative to the root of the WAL snapshot's volume. Default: `dataSubPath` (found the same way when that is not given). */
  walSubPath?: string;
  /**
   * `walPvc` is the instance's own pg_wal volume (restored from its snapshot taken after
   * `pg_backup_stop`), which the source pod mounted here: the data directory's `pg_wal` links into
   * it, the Job checks that every segment is there and copies none.
   */
  walVolumeMountPath?: string;
  /**
   * A restored set mounted elsewhere than its source pod had it: links of the data directory into
   * `from` (a volume's old mount path) are re-pointed into `to` before anything else.
   */
  relinks?: { from: string; to: string }[];
  /**
   * A copy of a CloudNativePG instance restored for a plain PostgreSQL server: these settings are
   * appended to its postgresql.conf and its standby.signal is removed (see {@link PLAIN_SERVER_SETTINGS}).
   */
  plainServerSettings?: Readonly<Record<string, string>>;
  /** Segment file names to copy (see {@link walFilesForBackup}). */
  walFiles: string[];
  /** `backup_label` text (as pg_backup_stop returned it). */
  backupLabel: string;
  /** `tablespace_map` text, when there are tablespaces. */
  tablespaceMap?: string;
  /** The PostgreSQL uid of the image (999 for the official image, 26 for CloudNativePG). Never 0. */
  runAsUser: number;
  /** Default: `runAsUser`. */
  runAsGroup?: number;
  /** Only when the volume needs it; applied `OnRootMismatch`. */
  fsGroup?: number;
  serviceAccountName?: string;
  /** Default 900. */
  activeDeadlineSeconds?: number;
  /** Default 1. */
  backoffLimit?: number;
  /** Default 3600. */
  ttlSecondsAfterFinished?: number;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Laid over {@link DEFAULT_RESOURCES}`.restorePrep`. */
  resources?: ContainerResources;
  /** Node labels the Job's pod must run on (its `nodeSelector`). */
  nodeSelector?: Record<string, string>;
  extra?: ExtraMetadata;
}

function assertSubPath(p: string, what: string): string {
  if (p === '') return p;
  if (p.startsWith('/') || p.split('/').some((s) => s === '' || s === '.' || s === '..') || !/^[\w./-]+$/.test(p)) {
    throw new DbaasError('INVALID_ARGUMENT', `${what} "${p}" must be a relative path without "." or ".." segments`);
  }
  return p;
}

function assertId(n: number | undefined, what: string, allowZero: boolean): void {
  if (n === undefined) return;
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 2147483647) {
    throw new DbaasError('INVALID_ARGUMENT', `${what} ${n} is not valid${allowZero ? '' : ': the restore-prep Job never runs as root'}`, {
      ...(allowZero ? {} : { fix: 'Pass the uid PostgreSQL runs as in its image (999 for the official image, 26 for CloudNativePG).' }),
    });
  }
}

/**
 * The restore-prep Job of an `online` restore: copies the WAL segments from the `-wal` snapshot's
 * volume into the data volume's `pg_wal/` and writes `backup_label` (and `tablespace_map`), so that
 * PostgreSQL replays to the backup-end record instead of starting a torn copy. Runs as the
 * PostgreSQL uid, non-root, read-only root filesystem, no privilege escalation, all capabilities
 * dropped; values reach the script through environment variables only.
 *
 * @throws DbaasError `INVALID_NAME`, `INVALID_ARGUMENT`, `INVALID_WAL_FILE_NAME`
 * @example
 * ```ts
 * const job = buildRestorePrepJob({
 *   name: 'nightly-prep', namespace: 'db', image: 'postgres:17.6', runAsUser: 999,
 *   dataPvc: 'pg-restored', walPvc: 'pg-restored-wal',
 *   walFiles: walFilesForBackup(meta.startLsn!, meta.stopLsn!, meta.timeline!),
 *   backupLabel: meta.backupLabel!,
 * });
 * await clients.batch.createNamespacedJob({ namespace: 'db', body: job });
 * ```
 */
export function buildRestorePrepJob(input: RestorePrepJobInput): V1Job {
  assertDnsSubdomain(input.walPvc, 'WAL PVC name');
  if (input.dataPvc === input.walPvc) throw new DbaasError('INVALID_ARGUMENT', 'the data PVC and the WAL PVC must be different volumes');
  const dataSubPath = input.dataSubPath === undefined ? undefined : assertSubPath(input.dataSubPath, 'dataSubPath');
  const walSubPath = input.walSubPath === undefined ? dataSubPath : assertSubPath(input.walSubPath, 'walSubPath');
  const walMount = input.walVolumeMountPath;
  if (walMount !== undefined) assertMountPath(walMount, 'walVolumeMountPath');
  if (input.walFiles.length === 0) throw new DbaasError('INVALID_ARGUMENT', 'walFiles is empty: an online backup needs at least the segment of its start LSN');
  for (const f of input.walFiles) {
    if (!isWalFileName(f)) throw new DbaasError('INVALID_WAL_FILE_NAME', `"${f}" is not a WAL segment file name`);
  }
  if (!input.backupLabel.includes('START WAL LOCATION:')) {
    throw new DbaasError('INVALID_ARGUMENT', 'backupLabel does not look like a backup_label (no "START WAL LOCATION:" line)');
  }
  return restoreJob(
    input,
    [
      { name: 'DBAAS_WAL_FILES', value: [...new Set(input.walFiles)].sort().join(' ') },
      { name: 'DBAAS_BACKUP_LABEL_B64', value: Buffer.from(input.backupLabel, 'utf8').toString('base64') },
      ...(walMount !== undefined
        ? [{ name: 'DBAAS_WAL_VOLUME_MOUNT', value: walMount }]
        : walSubPath !== undefined
          ? [{ name: 'DBAAS_WAL_SUBPATH', value: walSubPath }]
          : []),
      ...(input.tablespaceMap ? [{ name: 'DBAAS_TABLESPACE_MAP_B64', value: Buffer.from(input.tablespaceMap, 'utf8').toString('base64') }] : []),
    ],
    input.walPvc,
  );
}

/**
 * Input of {@link buildRelinkJob}: the Job options of {@link RestorePrepJobInput} without the WAL.
 *
 * @example
 * ```ts
 * const input: RelinkJobInput = { name: 'nightly-relink', namespace: 'db', image: 'postgres:17', dataPvc: 'pg-restored', runAsUser: 999, relinks: [{ from: '/pg/wal', to: '/wal' }] };
 * ```
 */
export type RelinkJobInput = Omit<RestorePrepJobInput, 'walPvc' | 'walSubPath' | 'walVolumeMountPath' | 'walFiles' | 'backupLabel' | 'tablespaceMap'>;

/**
 * The Job that re-points the data directory's links (`pg_wal`, `pg_tblspc/*`) of a restored set of
 * several volumes from the mount paths of its source pod to the ones given (a set restored
 * `fenced`, which needs no restore-prep otherwise); the restore-prep Job of an `online` set does
 * the same with `relinks`. Same script, user and hardening as {@link buildRestorePrepJob}.
 *
 * @throws DbaasError `INVALID_NAME`, `INVALID_ARGUMENT`
 * @example
 * ```ts
 * const job = buildRelinkJob({ name: 'nightly-relink', namespace: 'db', image: 'postgres:17', dataPvc: 'pg-restored', runAsUser: 999, relinks: [{ from: '/var/lib/postgresql/wal', to: '/wal' }] });
 * ```
 */
export function buildRelinkJob(input: RelinkJobInput): V1Job {
  if (!input.relinks?.length && !input.plainServerSettings) {
    throw new DbaasError('INVALID_ARGUMENT', 'relinks is empty and no plainServerSettings are given: the Job would have nothing to do');
  }
  return restoreJob(input, [{ name: 'DBAAS_RELINK_ONLY', value: '1' }], undefined);
}

/**
 * A mount path a Job's script may take as a word: absolute, normalised, not /, no spaces or "=".
 *
 * @throws DbaasError `INVALID_ARGUMENT` (with `option` when given)
 * @example
 * ```ts
 * assertMountPath('/var/lib/postgresql/wal', 'walVolumeMountPath'); // '/var/lib/postgresql/wal'
 * ```
 */
export function assertMountPath(p: string, what: string, option?: string): string {
  if (!path.posix.isAbsolute(p) || path.posix.normalize(p) !== p || p === '/' || !/^[\w./-]+$/.test(p)) {
    throw new DbaasError('INVALID_ARGUMENT', `${what} "${p}" is not a normalised absolute path other than / (letters, digits, . _ - and / only)`, {
      ...(option ? { option } : {}),
    });
  }
  return p;
}

/**
 * Settings as postgresql.conf lines (`name = 'value'`, quotes doubled), under a comment naming who
 * wrote them.
 *
 * @throws DbaasError `INVALID_ARGUMENT` (a name that is not a setting's, a value with a newline)
 * @example
 * ```ts
 * postgresqlConfLines({ ssl: 'off' }); // "# kubectl-dbaas restore: ...\nssl = 'off'"
 * ```
 */
export function postgresqlConfLines(settings: Readonly<Record<string, string>>): string {
  const lines = Object.entries(settings).map(([name, value]) => {
    if (!/^[a-z_][a-z0-9_.]*$/.test(name)) throw new DbaasError('INVALID_ARGUMENT', `"${name}" is not a PostgreSQL setting name`);
    if (/[\n\r\0]/.test(value)) throw new DbaasError('INVALID_ARGUMENT', `the value of ${name} has a line break`);
    return `${name} = '${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  });
  return ["# kubectl-dbaas restore: CloudNativePG's settings turned off for a plain PostgreSQL server (docs/cnpg.md)", ...lines].join('\n');
}

/** The Job shape shared by restore-prep and relink: `dataPvc` at /dbaas/data, `walPvc` (if any) read-only at /dbaas/wal. */
function restoreJob(input: RelinkJobInput | RestorePrepJobInput, ownEnv: { name: string; value: string }[], walPvc: string | undefined): V1Job {
  assertDnsLabel(input.name, 'Job name');
  assertDnsLabel(input.namespace, 'namespace');
  assertDnsSubdomain(input.dataPvc, 'data PVC name');
  if (!input.image || /\s/.test(input.image)) throw new DbaasError('INVALID_ARGUMENT', `image "${input.image}" is not an image reference`);
  if (input.command !== undefined && input.command.length === 0) throw new DbaasError('INVALID_ARGUMENT', 'command must not be empty');
  assertId(input.runAsUser, 'runAsUser', false);
  assertId(input.runAsGroup, 'runAsGroup', true);
  assertId(input.fsGroup, 'fsGroup', true);
  const dataSubPath = input.dataSubPath === undefined ? undefined : assertSubPath(input.dataSubPath, 'dataSubPath');
  const relinks = (input.relinks ?? []).map((r) => `${assertMountPath(r.from, 'relink from')}=${assertMountPath(r.to, 'relink to')}`);
  if (input.serviceAccountName !== undefined) assertDnsSubdomain(input.serviceAccountName, 'ServiceAccount name');
  const resources = containerResources(DEFAULT_RESOURCES.restorePrep, input.resources, 'resources');
  assertNodeSelector(input.nodeSelector);
  const own = {
    labels: { [DBAAS_LABELS.managedBy]: MANAGED_BY, 'app.kubernetes.io/component': 'restore-prep' },
    annotations: {} as Record<string, string>,
  };
  const { labels, annotations } = mergeExtra(own, input.extra);
  const env = [
    ...ownEnv,
    // Absent: the script finds PGDATA in the volume.
    ...(dataSubPath !== undefined ? [{ name: 'DBAAS_DATA_SUBPATH', value: dataSubPath }] : []),
    ...(relinks.length ? [{ name: 'DBAAS_RELINK', value: relinks.join(' ') }] : []),
    ...(input.plainServerSettings ? [{ name: 'DBAAS_PLAIN_SERVER_SETTINGS', value: postgresqlConfLines(input.plainServerSettings) }] : []),
  ];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: input.name, namespace: input.namespace, labels, annotations },
    spec: {
      backoffLimit: input.backoffLimit ?? 1,
      activeDeadlineSeconds: input.activeDeadlineSeconds ?? 900,
      ttlSecondsAfterFinished: input.ttlSecondsAfterFinished ?? 3600,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          ...(input.serviceAccountName ? { serviceAccountName: input.serviceAccountName } : {}),
          ...(input.nodeSelector && Object.keys(input.nodeSelector).length > 0 ? { nodeSelector: { ...input.nodeSelector } } : {}),
          automountServiceAccountToken: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: input.runAsUser,
            runAsGroup: input.runAsGroup ?? input.runAsUser,
            ...(input.fsGroup !== undefined ? { fsGroup: input.fsGroup, fsGroupChangePolicy: 'OnRootMismatch' } : {}),
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'restore-prep',
              image: input.image,
              ...(input.imagePullPolicy ? { imagePullPolicy: input.imagePullPolicy } : {}),
              command: input.command ? [...input.command] : ['/bin/sh', '-ec', RESTORE_PREP_SCRIPT],
              env,
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
              },
              resources,
              volumeMounts: [
                { name: 'data', mountPath: '/dbaas/data' },
                ...(walPvc !== undefined ? [{ name: 'wal', mountPath: '/dbaas/wal', readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            { name: 'data', persistentVolumeClaim: { claimName: input.dataPvc } },
            ...(walPvc !== undefined ? [{ name: 'wal', persistentVolumeClaim: { claimName: walPvc, readOnly: true } }] : []),
          ],
        },
      },
    },
  };
}
