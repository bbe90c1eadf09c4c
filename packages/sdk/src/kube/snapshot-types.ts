// Typed shapes of the snapshot.storage.k8s.io/v1 custom resources, written from the CRD schemas of
// github.com/kubernetes-csi/external-snapshotter/client/v8 (config/crd/*.yaml, v8.7.0). Only v1.
import type { V1ObjectMeta } from '@kubernetes/client-node';

/**
 * API group of the CSI snapshot resources.
 *
 * @example
 * ```ts
 * const path = `/apis/${SNAPSHOT_GROUP}/v1/volumesnapshotclasses`;
 * ```
 */
export const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';
/**
 * The only served, non-deprecated version of {@link SNAPSHOT_GROUP}.
 *
 * @example
 * ```ts
 * const path = `/apis/snapshot.storage.k8s.io/${SNAPSHOT_VERSION}/volumesnapshotclasses`;
 * ```
 */
export const SNAPSHOT_VERSION = 'v1';
/**
 * `apiVersion` of every snapshot object.
 *
 * @example
 * ```ts
 * const vs = { apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshot' };
 * ```
 */
export const SNAPSHOT_API_VERSION = `${SNAPSHOT_GROUP}/${SNAPSHOT_VERSION}` as const;

/**
 * `Delete` removes the storage-side snapshot with its content object; `Retain` keeps it.
 *
 * @example
 * ```ts
 * const policy: SnapshotDeletionPolicy = 'Retain'; // cross-namespace contents
 * ```
 */
export type SnapshotDeletionPolicy = 'Delete' | 'Retain';

/**
 * The error a snapshot controller or CSI sidecar records on a snapshot (`status.error`).
 *
 * @example
 * ```ts
 * if (vs.status?.error) console.error(vs.status.error.message);
 * ```
 */
export interface VolumeSnapshotError {
  message?: string;
  /** RFC 3339 time. */
  time?: string;
}

/**
 * `snapshot.storage.k8s.io/v1` VolumeSnapshot: a user's request for a snapshot of a PVC, or a
 * reference to an existing {@link VolumeSnapshotContent}. Exactly one of the two sources is set
 * (the CRD enforces it with CEL rules).
 *
 * @example
 * ```ts
 * const vs: VolumeSnapshot = {
 *   apiVersion: 'snapshot.storage.k8s.io/v1',
 *   kind: 'VolumeSnapshot',
 *   metadata: { name: 'nightly', namespace: 'db' },
 *   spec: { volumeSnapshotClassName: 'csi-hostpath-snapclass', source: { persistentVolumeClaimName: 'data-pg-0' } },
 * };
 * ```
 */
export interface VolumeSnapshot {
  apiVersion: typeof SNAPSHOT_API_VERSION;
  kind: 'VolumeSnapshot';
  metadata: V1ObjectMeta;
  spec: {
    source: { persistentVolumeClaimName: string; volumeSnapshotContentName?: never } | { volumeSnapshotContentName: string; persistentVolumeClaimName?: never };
    /** Must not be the empty string when set (CEL rule). Unset = the driver's default class. */
    volumeSnapshotClassName?: string;
  };
  status?: {
    /** Set by the snapshot controller when bound: half of the "cut". */
    boundVolumeSnapshotContentName?: string;
    /** RFC 3339 time the storage system took the snapshot: the other half of the "cut". */
    creationTime?: string;
    error?: VolumeSnapshotError;
    readyToUse?: boolean;
    /** A Kubernetes quantity (e.g. `1Gi`, `1073741824`): the minimum size of a volume restored from it. */
    restoreSize?: string;
    volumeGroupSnapshotName?: string;
  };
}

/**
 * `snapshot.storage.k8s.io/v1` VolumeSnapshotContent (cluster-scoped): the storage-side snapshot.
 * Dynamic ones have `source.volumeHandle`; pre-provisioned (static) ones `source.snapshotHandle`.
 *
 * @example
 * ```ts
 * const handle = content.status?.snapshotHandle ?? content.spec.source.snapshotHandle;
 * ```
 */
export interface VolumeSnapshotContent {
  apiVersion: typeof SNAPSHOT_API_VERSION;
  kind: 'VolumeSnapshotContent';
  metadata: V1ObjectMeta;
  spec: {
    deletionPolicy: SnapshotDeletionPolicy;
    driver: string;
    source: { volumeHandle: string; snapshotHandle?: never } | { snapshotHandle: string; volumeHandle?: never };
    /** `Filesystem` or `Block`; immutable once set. */
    sourceVolumeMode?: 'Filesystem' | 'Block';
    volumeSnapshotClassName?: string;
    /** The VolumeSnapshot this content is (to be) bound to; name and namespace are required. */
    volumeSnapshotRef: {
      apiVersion?: string;
      kind?: string;
      name: string;
      namespace: string;
      resourceVersion?: string;
      uid?: string;
      fieldPath?: string;
    };
  };
  status?: {
    /** Nanoseconds since the Unix epoch (int64 in the schema). */
    creationTime?: number;
    error?: VolumeSnapshotError;
    readyToUse?: boolean;
    /** Bytes (int64 in the schema, unlike the VolumeSnapshot's quantity string). */
    restoreSize?: number;
    snapshotHandle?: string;
    volumeGroupSnapshotHandle?: string;
  };
}

/**
 * `snapshot.storage.k8s.io/v1` VolumeSnapshotClass (cluster-scoped). The annotation
 * `snapshot.storage.kubernetes.io/is-default-class: "true"` marks the driver's default class;
 * `dbaas.io/atomic-snapshots` overrides the built-in atomicity table (see `snapshotAtomicity`).
 *
 * @example
 * ```ts
 * const isDefault = cls.metadata.annotations?.['snapshot.storage.kubernetes.io/is-default-class'] === 'true';
 * ```
 */
export interface VolumeSnapshotClass {
  apiVersion: typeof SNAPSHOT_API_VERSION;
  kind: 'VolumeSnapshotClass';
  metadata: V1ObjectMeta;
  driver: string;
  deletionPolicy: SnapshotDeletionPolicy;
  parameters?: Record<string, string>;
}

/**
 * API group of CSI volume group snapshots (a crash-consistent cut of several PVCs at one instant).
 *
 * @example
 * ```ts
 * const path = `/apis/${GROUP_SNAPSHOT_GROUP}/v1/volumegroupsnapshotclasses`;
 * ```
 */
export const GROUP_SNAPSHOT_GROUP = 'groupsnapshot.storage.k8s.io';
/**
 * The served storage version of {@link GROUP_SNAPSHOT_GROUP} (GA in external-snapshotter v8.7.0).
 *
 * @example
 * ```ts
 * const apiVersion = `${GROUP_SNAPSHOT_GROUP}/${GROUP_SNAPSHOT_VERSION}`;
 * ```
 */
export const GROUP_SNAPSHOT_VERSION = 'v1';
/**
 * `apiVersion` of every group snapshot object.
 *
 * @example
 * ```ts
 * const vgs = { apiVersion: GROUP_SNAPSHOT_API_VERSION, kind: 'VolumeGroupSnapshot' };
 * ```
 */
export const GROUP_SNAPSHOT_API_VERSION = `${GROUP_SNAPSHOT_GROUP}/${GROUP_SNAPSHOT_VERSION}` as const;

/**
 * `groupsnapshot.storage.k8s.io/v1` VolumeGroupSnapshot: one cut of every PVC its label selector
 * matches. The snapshot-controller creates one VolumeSnapshot per PVC, owned by the group; they
 * live and die with it (deleting one of them alone is refused).
 *
 * @example
 * ```ts
 * const vgs: VolumeGroupSnapshot = {
 *   apiVersion: 'groupsnapshot.storage.k8s.io/v1',
 *   kind: 'VolumeGroupSnapshot',
 *   metadata: { name: 'nightly', namespace: 'db' },
 *   spec: { volumeGroupSnapshotClassName: 'csi-hostpath-groupsnapclass', source: { selector: { matchLabels: { 'dbaas.io/group-snapshot': 'nightly' } } } },
 * };
 * ```
 */
export interface VolumeGroupSnapshot {
  apiVersion: typeof GROUP_SNAPSHOT_API_VERSION;
  kind: 'VolumeGroupSnapshot';
  metadata: V1ObjectMeta;
  spec: {
    source: { selector: { matchLabels: Record<string, string> } };
    volumeGroupSnapshotClassName?: string;
  };
  status?: {
    boundVolumeGroupSnapshotContentName?: string;
    /** RFC 3339 time the storage system cut the group. */
    creationTime?: string;
    error?: VolumeSnapshotError;
    readyToUse?: boolean;
  };
}

/**
 * `groupsnapshot.storage.k8s.io/v1` VolumeGroupSnapshotClass (cluster-scoped); the annotation
 * `groupsnapshot.storage.kubernetes.io/is-default-class: "true"` marks the driver's default.
 *
 * @example
 * ```ts
 * const isDefault = cls.metadata.annotations?.[DEFAULT_GROUP_SNAPSHOT_CLASS_ANNOTATION] === 'true';
 * ```
 */
export interface VolumeGroupSnapshotClass {
  apiVersion: typeof GROUP_SNAPSHOT_API_VERSION;
  kind: 'VolumeGroupSnapshotClass';
  metadata: V1ObjectMeta;
  driver: string;
  deletionPolicy: SnapshotDeletionPolicy;
  parameters?: Record<string, string>;
}

/**
 * `groupsnapshot.storage.k8s.io/v1` VolumeGroupSnapshotContent (cluster-scoped): the storage side of
 * a group, bound to its VolumeGroupSnapshot by `volumeGroupSnapshotRef`.
 *
 * @example
 * ```ts
 * const ours = contents.filter((c) => c.spec.volumeGroupSnapshotRef?.uid === vgs.metadata.uid);
 * ```
 */
export interface VolumeGroupSnapshotContent {
  apiVersion: typeof GROUP_SNAPSHOT_API_VERSION;
  kind: 'VolumeGroupSnapshotContent';
  metadata: V1ObjectMeta;
  spec: {
    deletionPolicy: SnapshotDeletionPolicy;
    driver: string;
    volumeGroupSnapshotClassName?: string;
    volumeGroupSnapshotRef?: { name?: string; namespace?: string; uid?: string };
  };
  status?: { readyToUse?: boolean; creationTime?: string; error?: VolumeSnapshotError };
}

/**
 * Annotation that marks a VolumeGroupSnapshotClass as its driver's default.
 *
 * @example
 * ```ts
 * const isDefault = cls.metadata.annotations?.[DEFAULT_GROUP_SNAPSHOT_CLASS_ANNOTATION] === 'true';
 * ```
 */
export const DEFAULT_GROUP_SNAPSHOT_CLASS_ANNOTATION = 'groupsnapshot.storage.kubernetes.io/is-default-class';

/**
 * A list of snapshot objects as the API returns it (`continue` for pagination).
 *
 * @example
 * ```ts
 * const list: SnapshotObjectList<VolumeSnapshot> = await clients.volumeSnapshots.list({ namespace: 'db' });
 * ```
 */
export interface SnapshotObjectList<T> {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

/**
 * Annotation that marks a VolumeSnapshotClass as its driver's default.
 *
 * @example
 * ```ts
 * const isDefault = cls.metadata.annotations?.[DEFAULT_SNAPSHOT_CLASS_ANNOTATION] === 'true';
 * ```
 */
export const DEFAULT_SNAPSHOT_CLASS_ANNOTATION = 'snapshot.storage.kubernetes.io/is-default-class';

// Core object types the manifest builders produce, re-exported so that only kube/ names the library.
export type { V1Job, V1ObjectMeta, V1PersistentVolumeClaim } from '@kubernetes/client-node';
