// One cut of several PVCs through a CSI VolumeGroupSnapshot: how crash and checkpoint backups of a
// multi-volume instance are taken (docs/consistency.md, "Multi-volume instances"). The snapshot-
// controller makes one VolumeSnapshot per PVC, owned by the group; they live and die with it, so a
// set cut this way is deleted by deleting its group.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { DbaasError, isDbaasError } from '../errors.js';
import type { KubeClients } from '../kube/clients.js';
import {
  DEFAULT_GROUP_SNAPSHOT_CLASS_ANNOTATION,
  GROUP_SNAPSHOT_API_VERSION,
  type VolumeGroupSnapshot,
  type VolumeGroupSnapshotClass,
  type VolumeGroupSnapshotContent,
  type VolumeSnapshot,
} from '../kube/snapshot-types.js';
import { isGone, watchUntil } from '../kube/watch-until.js';
import { DBAAS_LABELS, MANAGED_BY } from '../manifests/metadata.js';

/**
 * Label put on the PVCs of a set while its VolumeGroupSnapshot is cut (the group's selector; value:
 * the backup set), and taken off once the group is bound to its content.
 *
 * @example
 * ```ts
 * const selector = { matchLabels: { [GROUP_SNAPSHOT_PVC_LABEL]: 'nightly' } };
 * ```
 */
export const GROUP_SNAPSHOT_PVC_LABEL = 'dbaas.io/group-snapshot';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/**
 * The VolumeGroupSnapshotClass of `driver`: its default (`groupsnapshot.storage.kubernetes.io/is-default-class`),
 * else its only class; undefined when it has none (or group snapshots are not installed).
 *
 * @throws DbaasError `INVALID_ARGUMENT` when the driver has several classes and none is the default.
 * @example
 * ```ts
 * const cls = await groupSnapshotClassOf(clients, 'hostpath.csi.k8s.io'); // 'csi-hostpath-groupsnapclass'
 * ```
 */
export async function groupSnapshotClassOf(clients: KubeClients, driver: string): Promise<string | undefined> {
  let classes: VolumeGroupSnapshotClass[];
  try {
    classes = (await clients.volumeGroupSnapshotClasses.listAll()).filter((c) => c.driver === driver);
  } catch (error) {
    // No group snapshot CRDs: the cluster cannot cut a group.
    if (isDbaasError(error, 'KUBE_NOT_FOUND')) return undefined;
    throw error;
  }
  const defaults = classes.filter((c) => c.metadata.annotations?.[DEFAULT_GROUP_SNAPSHOT_CLASS_ANNOTATION] === 'true');
  if (defaults.length === 1) return defaults[0]!.metadata.name;
  if (classes.length === 1) return classes[0]!.metadata.name;
  if (classes.length === 0) return undefined;
  const names = classes.map((c) => c.metadata.name).join(', ');
  throw new DbaasError(
    'INVALID_ARGUMENT',
    `driver ${driver} has several VolumeGroupSnapshotClasses (${names}) and ${defaults.length ? 'more than one' : 'none'} is its default`,
    {
      fix: `Mark one as the default: kubectl annotate volumegroupsnapshotclass <name> ${DEFAULT_GROUP_SNAPSHOT_CLASS_ANNOTATION}=true`,
      details: { driver, classes: classes.map((c) => c.metadata.name) },
    },
  );
}

/**
 * The VolumeGroupSnapshot of backup set `backupSet`: named as the set, selecting the PVCs labelled
 * {@link GROUP_SNAPSHOT_PVC_LABEL}=`backupSet`.
 *
 * @example
 * ```ts
 * buildGroupSnapshot({ namespace: 'db', backupSet: 'nightly', pvc: 'data-pg-0', className: 'csi-hostpath-groupsnapclass' });
 * ```
 */
export function buildGroupSnapshot(input: { namespace: string; backupSet: string; pvc: string; className: string }): VolumeGroupSnapshot {
  return {
    apiVersion: GROUP_SNAPSHOT_API_VERSION,
    kind: 'VolumeGroupSnapshot',
    metadata: {
      name: input.backupSet,
      namespace: input.namespace,
      labels: { [DBAAS_LABELS.managedBy]: MANAGED_BY, [DBAAS_LABELS.backupSet]: input.backupSet, [DBAAS_LABELS.backupSource]: input.pvc },
    },
    spec: { volumeGroupSnapshotClassName: input.className, source: { selector: { matchLabels: { [GROUP_SNAPSHOT_PVC_LABEL]: input.backupSet } } } },
  };
}

/**
 * Labels (`value` a string) or unlabels (`null`) the PVCs `claims` with {@link GROUP_SNAPSHOT_PVC_LABEL}.
 *
 * @example
 * ```ts
 * await labelGroupMembers(clients, 'db', ['data-pg-0', 'wal-pg-0'], 'nightly');
 * ```
 */
export async function labelGroupMembers(clients: KubeClients, namespace: string, claims: readonly string[], value: string | null): Promise<void> {
  await Promise.all(
    claims.map((name) =>
      clients.core.patchNamespacedPersistentVolumeClaim({ name, namespace, body: { metadata: { labels: { [GROUP_SNAPSHOT_PVC_LABEL]: value } } } }, mergePatch),
    ),
  );
}

/**
 * The VolumeSnapshots the snapshot-controller made for group `vgs` (owned by it), by source PVC.
 *
 * @example
 * ```ts
 * const byPvc = await groupMemberSnapshots(clients, vgs); // Map { 'data-pg-0' => VolumeSnapshot, ... }
 * ```
 */
export async function groupMemberSnapshots(clients: KubeClients, vgs: VolumeGroupSnapshot): Promise<Map<string, VolumeSnapshot>> {
  const namespace = vgs.metadata.namespace!;
  const all = await clients.volumeSnapshots.listAll({ namespace });
  const members = new Map<string, VolumeSnapshot>();
  for (const vs of all) {
    if (!vs.metadata.ownerReferences?.some((o) => o.kind === 'VolumeGroupSnapshot' && o.uid === vgs.metadata.uid)) continue;
    const pvc = vs.spec.source.persistentVolumeClaimName;
    if (pvc) members.set(pvc, vs);
  }
  return members;
}

/** How long a failed run waits for its group to be bound before deleting it. */
const BIND_BEFORE_DELETE_MS = 30_000;

/**
 * Deletes group snapshot `name` (and with it its member snapshots), only if it is still the one of
 * uid `uid` when given; with `waitMs`, until it is gone: true, or why it remains.
 *
 * A group deleted before the snapshot-controller bound it to its VolumeGroupSnapshotContent leaves
 * that content, and the storage's snapshots, behind for good (seen with external-snapshotter v8.7.0:
 * the content keeps its finalizer and is never deleted). So a group not bound yet is first given
 * up to 30 s to bind; a content left anyway is named in the answer.
 *
 * @example
 * ```ts
 * await deleteGroupSnapshot(clients, 'db', 'nightly', { waitMs: 60_000 });
 * ```
 */
export async function deleteGroupSnapshot(
  clients: KubeClients,
  namespace: string,
  name: string,
  opts: { uid?: string; waitMs?: number; signal?: AbortSignal } = {},
): Promise<true | string> {
  const { group, version, plural } = clients.volumeGroupSnapshots;
  let bound = true;
  try {
    await watchUntil<VolumeGroupSnapshot>(clients, {
      path: clients.volumeGroupSnapshots.path({ namespace }),
      name,
      predicate: (vgs, e) => isGone(e) || !!vgs?.status?.boundVolumeGroupSnapshotContentName,
      deadline: Date.now() + BIND_BEFORE_DELETE_MS,
      what: 'to be bound to its content before it is deleted',
    });
  } catch {
    // Not bound in time, or its state could not be read: a failed run still deletes its group, then
    // looks for a content left behind.
    bound = false;
  }
  try {
    await clients.custom.deleteNamespacedCustomObject({
      group,
      version,
      plural,
      namespace,
      name,
      body: { preconditions: opts.uid !== undefined ? { uid: opts.uid } : {} },
    });
  } catch (error) {
    if (!isDbaasError(error, 'KUBE_NOT_FOUND')) return `could not be deleted: ${(error as Error).message}`;
  }
  if (opts.waitMs !== undefined) {
    try {
      await watchUntil<VolumeGroupSnapshot>(clients, {
        path: clients.volumeGroupSnapshots.path({ namespace }),
        name,
        predicate: (_o, e) => isGone(e),
        deadline: Date.now() + opts.waitMs,
        what: 'to be deleted',
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (error) {
      if (!isDbaasError(error, 'KUBE_NOT_FOUND'))
        return `deletion requested, then: ${(error as Error).message} (kubectl -n ${namespace} delete volumegroupsnapshot ${name} finishes it)`;
    }
  }
  if (bound || opts.uid === undefined) return true;
  const uid = opts.uid;
  let contents: VolumeGroupSnapshotContent[];
  try {
    contents = await clients.volumeGroupSnapshotContents.listAll();
  } catch (error) {
    return `deleted before the snapshot-controller bound it, and its contents could not be listed (${(error as Error).message}): a VolumeGroupSnapshotContent whose spec.volumeGroupSnapshotRef.uid is ${uid} may be left with its storage snapshots (kubectl get volumegroupsnapshotcontent)`;
  }
  const left = contents.filter((c) => c.spec?.volumeGroupSnapshotRef?.uid === uid);
  return left.length
    ? `deleted before the snapshot-controller bound it: VolumeGroupSnapshotContent ${left.map((c) => c.metadata.name).join(', ')} and its storage snapshots were left behind (kubectl get volumegroupsnapshotcontent ${left.map((c) => c.metadata.name).join(' ')})`
    : true;
}
