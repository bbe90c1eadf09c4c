// Restores that end behind a StatefulSet (issue 15): (a) the PVC a new StatefulSet's controller
// adopts (`<template>-<statefulset>-<ordinal>`), and (b) in place, under a running StatefulSet: the
// old data is kept on its own PV (reclaim policy Retain, rebound to a `-previous` PVC) before the PVC
// of the same name is made from the snapshot. Nothing of the old data is ever deleted: only the old
// PVC object goes, after its PV is Retain and a `-previous` PVC waits to take it. The StatefulSet is
// scaled to zero through the fence of engines/fencing.ts (lease, replica record), so a killed run is
// undone with `liftFence` (the CLI's `unfence`).
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StatefulSet } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { DbaasError, isDbaasError, toDbaasError } from '../errors.js';
import { FENCED_REPLICAS_ANNOTATION, fenceHolder, statefulSetFencing } from '../engines/fencing.js';
import type { FenceContext } from '../engines/engine.js';
import type { KubeClients } from '../kube/clients.js';
import { isGone, watchUntil } from '../kube/watch-until.js';
import { SnapshotClient } from '../snapshot/snapshot-client.js';
import { assertDnsLabel, assertDnsSubdomain, derivedName } from '../manifests/names.js';
import {
  executeRestore,
  planRestore,
  type RestoreExecution,
  type RestoreOptions,
  type RestorePlan,
  type RestoreProgress,
  type RestoreResult,
} from './restore.js';

/** Suffix of the PVC an in-place restore binds the old PV to: the data as it was before the restore. */
export const PREVIOUS_PVC_SUFFIX = '-previous';
/**
 * Annotation on a PV whose reclaim policy an in-place restore set to Retain: the policy before, so
 * that it can be put back once the old data is no longer wanted.
 *
 * @example
 * ```ts
 * // kubectl get pv NAME -o jsonpath='{.metadata.annotations.dbaas\.io/reclaim-policy-before}'
 * ```
 */
export const RECLAIM_POLICY_BEFORE_ANNOTATION = 'dbaas.io/reclaim-policy-before';

// Labels of ours are the restore's to set, never copied from another object.
const DBAAS_PREFIX = 'dbaas.io/';
const DEFAULT_DEADLINE_MS = 15 * 60_000;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

/** The data volume's name a backup of several volumes recorded (the source pod's volume, a template name for a StatefulSet's pod). */
async function recordedDataVolume(clients: KubeClients, options: { backup: string; backupNamespace?: string; namespace: string }): Promise<string | undefined> {
  const set = await new SnapshotClient(clients)
    .describe({ namespace: options.backupNamespace ?? options.namespace, name: options.backup })
    .catch(() => undefined);
  return set?.volumes.length ? set.data?.metadata?.volume : undefined;
}

/**
 * Options of {@link planRestoreForStatefulSet}: a restore into the PVC a StatefulSet's controller
 * adopts, `<template>-<statefulSet>-<ordinal>`.
 *
 * @example
 * ```ts
 * const options: StatefulSetRestoreOptions = { backup: 'nightly', namespace: 'db', statefulSet: 'pg-new', template: 'data', ordinal: 0 };
 * ```
 */
export interface StatefulSetRestoreOptions extends Omit<RestoreOptions, 'pvcName'> {
  /** The StatefulSet that will run on the PVC (it need not exist yet). */
  statefulSet: string;
  /** Its volumeClaimTemplate. Default: the StatefulSet's only template if it exists, else `data`. */
  template?: string;
  /** The pod's ordinal. Default 0. */
  ordinal?: number;
}

/**
 * The checked plan of a restore for a StatefulSet: the restore plan of its PVC, and where the name came from.
 *
 * @example
 * ```ts
 * const plan: StatefulSetRestorePlan = await planRestoreForStatefulSet(clients, options);
 * console.log(plan.restore.pvcName, plan.statefulSetExists);
 * ```
 */
export interface StatefulSetRestorePlan {
  statefulSet: string;
  template: string;
  ordinal: number;
  /** False: the StatefulSet is to be created after the restore (its pod then starts on the PVC). */
  statefulSetExists: boolean;
  restore: RestorePlan;
}

function templateNames(sts: V1StatefulSet | undefined): string[] {
  return (sts?.spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name ?? '').filter((n) => n !== '');
}

function chooseTemplate(sts: V1StatefulSet | undefined, requested: string | undefined, where: string, recorded?: string): string {
  const names = templateNames(sts);
  if (requested !== undefined) {
    assertDnsLabel(requested, 'volumeClaimTemplate name');
    if (sts && !names.includes(requested)) {
      throw new DbaasError('TARGET_NOT_FOUND', `${where} has no volumeClaimTemplate "${requested}" (it has: ${names.join(', ') || 'none'})`, {
        fix: `Name one of its volumeClaimTemplates: ${names.join(', ') || 'none (its pods mount no PVC of their own)'}.`,
        option: 'template',
        details: { templates: names },
      });
    }
    return requested;
  }
  if (!sts) return recorded ?? 'data';
  if (names.length === 1) return names[0]!;
  // A backup of several volumes recorded its data volume's name: a StatefulSet's template of that name.
  if (recorded !== undefined && names.includes(recorded)) return recorded;
  if (names.length === 0) {
    throw new DbaasError('TARGET_UNSUPPORTED', `${where} has no volumeClaimTemplates: its pods have no PVC of their own to restore into`, {
      fix: 'Restore into a PVC by name and mount it in the StatefulSet yourself.',
      details: { templates: names },
    });
  }
  throw new DbaasError('TARGET_UNSUPPORTED', `${where} has several volumeClaimTemplates (${names.join(', ')}): which one holds the database?`, {
    fix: `Name the template: one of ${names.join(', ')}.`,
    option: 'template',
    details: { templates: names },
  });
}

function checkOrdinal(ordinal: number | undefined): number {
  const o = ordinal ?? 0;
  if (!Number.isInteger(o) || o < 0) {
    throw new DbaasError('INVALID_ARGUMENT', `ordinal ${o} is not a pod ordinal (an integer from 0)`, { fix: 'Pass 0 for the first pod.', option: 'ordinal' });
  }
  return o;
}

async function readOptional<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (isDbaasError(error, 'KUBE_NOT_FOUND')) return undefined;
    throw error;
  }
}

/** Labels a StatefulSet's controller puts on the PVCs it creates: the template's and the selector's (not ours). */
function adoptedLabels(sts: V1StatefulSet | undefined, template: string): Record<string, string> {
  const t = sts?.spec?.volumeClaimTemplates?.find((v) => v.metadata?.name === template);
  return Object.fromEntries(
    Object.entries({ ...(sts?.spec?.selector?.matchLabels ?? {}), ...(t?.metadata?.labels ?? {}) }).filter(([k]) => !k.startsWith(DBAAS_PREFIX)),
  );
}

/** An existing StatefulSet adopts only the PVCs of its own templates: a volume of the set without one would be left out. */
function refuseUntemplatedVolumes(sts: V1StatefulSet | undefined, restore: RestorePlan, namespace: string, statefulSet: string): void {
  const untemplated = sts ? (restore.volumes ?? []).filter((v) => !templateNames(sts).includes(v.volume)) : [];
  if (untemplated.length === 0) return;
  throw new DbaasError(
    'TARGET_UNSUPPORTED',
    `StatefulSet ${namespace}/${statefulSet} has no volumeClaimTemplate for volume ${untemplated.map((v) => v.volume).join(', ')} of backup "${restore.set}" (its templates: ${templateNames(sts).join(', ')}): its pod would start without them`,
    {
      fix: `Give the StatefulSet a volumeClaimTemplate named ${untemplated.map((v) => v.volume).join(', ')} mounted at ${untemplated.map((v) => v.mountPath).join(', ')}, or restore into a StatefulSet created after the restore with that layout.`,
      option: 'statefulSet',
      details: { templates: templateNames(sts), volumes: untemplated.map((v) => v.volume) },
    },
  );
}

/**
 * Plans a restore into the PVC a StatefulSet's pod `ordinal` mounts from `template`
 * (`<template>-<statefulSet>-<ordinal>`): created before the StatefulSet (or while it is scaled
 * below that ordinal), the controller adopts it and the pod starts on the backup. Refused when that
 * PVC exists (a restore never writes into a volume); the in-place restore is {@link planRestoreInPlace}.
 *
 * @throws DbaasError as {@link planRestore}; `TARGET_NOT_FOUND` (an existing StatefulSet without that template), `INVALID_ARGUMENT` (ordinal).
 * @example
 * ```ts
 * const plan = await planRestoreForStatefulSet(clients, { backup: 'nightly', namespace: 'db', statefulSet: 'pg-new' });
 * const result = await executeRestore(clients, plan.restore);
 * ```
 */
export async function planRestoreForStatefulSet(clients: KubeClients, options: StatefulSetRestoreOptions): Promise<StatefulSetRestorePlan> {
  const namespace = assertDnsLabel(options.namespace, 'namespace');
  const statefulSet = assertDnsLabel(options.statefulSet, 'StatefulSet name');
  const ordinal = checkOrdinal(options.ordinal);
  const sts = await readOptional(() => clients.apps.readNamespacedStatefulSet({ name: statefulSet, namespace }));
  const template = chooseTemplate(sts, options.template, `StatefulSet ${namespace}/${statefulSet}`, await recordedDataVolume(clients, options));
  const pvcName = assertDnsSubdomain(`${template}-${statefulSet}-${ordinal}`, 'PVC name');
  const { statefulSet: _s, template: _t, ordinal: _o, ...restoreOptions } = options;
  const labels = { ...adoptedLabels(sts, template), ...(options.extra?.labels ?? {}) };
  // The StatefulSet's controller names the PVC of each of its templates so; a set's other volumes are its other templates.
  const restore = await planRestore(clients, {
    ...restoreOptions,
    pvcName,
    volumePvcNames: (volume) => `${volume}-${statefulSet}-${ordinal}`,
    extra: { ...(options.extra ?? {}), labels },
  });
  refuseUntemplatedVolumes(sts, restore, namespace, statefulSet);
  return { statefulSet, template, ordinal, statefulSetExists: sts !== undefined, restore };
}

/**
 * Options of {@link planRestoreInPlace} and {@link restoreInPlace}.
 *
 * @example
 * ```ts
 * const options: InPlaceRestoreOptions = { backup: 'nightly', namespace: 'db', statefulSet: 'pg', confirm: true };
 * ```
 */
export interface InPlaceRestoreOptions extends Omit<RestoreOptions, 'pvcName' | 'onProgress'> {
  /** The StatefulSet whose PVC is replaced; one replica at most. */
  statefulSet: string;
  /** Its volumeClaimTemplate. Default: its only one. */
  template?: string;
  /**
   * {@link restoreInPlace} refuses without it: the StatefulSet's database stops and comes back on the
   * backup (the old data is kept, under the `-previous` PVC). Plans need no confirmation.
   */
  confirm?: boolean;
  /** Progress of each step, and of the restore of the new PVC (`restore`). */
  onProgress?: (event: InPlaceRestoreProgress) => void;
}

/**
 * The steps of an in-place restore, in order.
 *
 * @example
 * ```ts
 * const step: InPlaceRestoreStep = 'previous-bound';
 * ```
 */
export type InPlaceRestoreStep =
  | 'planned'
  | 'reclaim-retained'
  | 'fenced'
  | 'previous-created'
  | 'old-pvc-deleted'
  | 'previous-bound'
  | 'restore'
  | 'restored'
  | 'scaled-back'
  | 'ready'
  | 'cleanup';

/**
 * One progress event of an in-place restore; `restore` carries the inner restore's own event.
 *
 * @example
 * ```ts
 * const onProgress = (e: InPlaceRestoreProgress) => console.error(`${e.step}: ${e.message}`);
 * ```
 */
export interface InPlaceRestoreProgress {
  step: InPlaceRestoreStep;
  message: string;
  elapsedMs: number;
  restore?: RestoreProgress;
}

/**
 * One PVC an in-place restore replaces: the StatefulSet's PVC of a template, the PV holding its
 * old data, and the `-previous` PVC that data is bound to.
 *
 * @example
 * ```ts
 * const v: InPlaceVolume = plan.volumes[0]!; // { template: 'wal', pvcName: 'wal-pg-0', previousPvcName: 'wal-pg-0-previous', ... }
 * ```
 */
export interface InPlaceVolume {
  /** The volumeClaimTemplate (for a set's other volume: the recorded volume name). */
  template: string;
  /** The PVC replaced: `<template>-<statefulSet>-0`. */
  pvcName: string;
  /** Where the old data goes: `<pvcName>-previous`, bound to the old PV. */
  previousPvcName: string;
  /** The PV holding the old data. */
  volume: string;
  /** Its reclaim policy before (set to Retain, recorded in `dbaas.io/reclaim-policy-before`). */
  reclaimPolicyBefore: string;
  /** The `-previous` PVC, created Pending and bound to `volume` once the old PVC is gone. */
  previousPvc: V1PersistentVolumeClaim;
}

/**
 * The checked plan of an in-place restore: the objects it touches and the steps, in order. See {@link planRestoreInPlace}.
 *
 * @example
 * ```ts
 * const plan: InPlaceRestorePlan = await planRestoreInPlace(clients, options);
 * for (const step of plan.steps) console.log(step);
 * ```
 */
export interface InPlaceRestorePlan {
  namespace: string;
  statefulSet: string;
  template: string;
  /** Replicas the StatefulSet is scaled back to (0 or 1; a fence an earlier run left is adopted). */
  replicas: number;
  /** The data PVC replaced: `<template>-<statefulSet>-0`. */
  pvcName: string;
  /** Where its old data goes: `<pvcName>-previous`, bound to the old PV. */
  previousPvcName: string;
  /** The PV holding the old data. */
  volume: string;
  /** Its reclaim policy before (set to Retain, recorded in `dbaas.io/reclaim-policy-before`). */
  reclaimPolicyBefore: string;
  /** The StatefulSet's persistentVolumeClaimRetentionPolicy (whenScaled Delete is kept Retain while scaled down). */
  retentionPolicy: { whenScaled: string; whenDeleted: string };
  /** The `-previous` PVC, created Pending and bound to `volume` once the old PVC is gone. */
  previousPvc: V1PersistentVolumeClaim;
  /** A backup of several volumes (pg_wal, tablespaces on PVCs of their own): each other volume's PVC, replaced the same way. Empty for one volume. */
  volumes: InPlaceVolume[];
  /** The restore of the new PVCs of the same names (the old ones are deleted first). */
  restore: RestorePlan;
  /** What will be done, in order, for people. */
  steps: string[];
  /** How to go back to the old data after the restore, for people. */
  rollback: string[];
}

/**
 * What {@link restoreInPlace} did.
 *
 * @example
 * ```ts
 * const r: InPlaceRestoreResult = await restoreInPlace(clients, options);
 * console.log(`old data in PVC ${r.previousPvcName} (PV ${r.volume}); ready after ${r.timings.totalMs} ms`);
 * ```
 */
export interface InPlaceRestoreResult {
  namespace: string;
  statefulSet: string;
  pvcName: string;
  previousPvcName: string;
  volume: string;
  reclaimPolicyBefore: string;
  /** The set's other volumes, each replaced the same way (empty for one volume). */
  volumes: Omit<InPlaceVolume, 'previousPvc'>[];
  replicas: number;
  restore: RestoreResult;
  rollback: string[];
  timings: { downMs: number | undefined; totalMs: number };
}

/** Every PVC an in-place plan replaces: the data PVC first, then the set's other volumes. */
function replacedVolumes(plan: InPlaceRestorePlan): InPlaceVolume[] {
  const { template, pvcName, previousPvcName, volume, reclaimPolicyBefore, previousPvc } = plan;
  return [{ template, pvcName, previousPvcName, volume, reclaimPolicyBefore, previousPvc }, ...plan.volumes];
}

/**
 * How to put the old data back behind the StatefulSet by hand: after a restore (`done`: scale down,
 * drop the restored PVCs) or after a failure that left the StatefulSet fenced without its PVCs.
 * Each PV is handed to the new claim by name in one replace of its claimRef, never left Available.
 */
function rollbackSteps(p: { namespace: string; statefulSet: string; replicas: number; volumes: InPlaceVolume[] }, after: 'done' | 'failed'): string[] {
  const n = `-n ${p.namespace}`;
  const perVolume = (v: InPlaceVolume): string[] => {
    const spec = v.previousPvc.spec!;
    const claimRef = JSON.stringify([{ op: 'replace', path: '/spec/claimRef', value: { namespace: p.namespace, name: v.pvcName } }]);
    return [
      ...(after === 'done' ? [`kubectl delete pvc ${v.pvcName} ${n}   (the restored copy)`] : []),
      `kubectl delete pvc ${v.previousPvcName} ${n}   (PV ${v.volume} is Retain: the data stays on it)`,
      `create PVC ${v.pvcName} in ${p.namespace} with spec.volumeName: ${v.volume}, storageClassName: ${spec.storageClassName ?? '""'}, accessModes: ${(spec.accessModes ?? []).join(',')}, storage: ${spec.resources?.requests?.['storage']}`,
      `kubectl patch pv ${v.volume} --type json -p '${claimRef}'`,
    ];
  };
  return [
    ...(after === 'done' ? [`kubectl scale statefulset ${p.statefulSet} --replicas=0 ${n}`] : []),
    ...p.volumes.flatMap(perVolume),
    after === 'done'
      ? `kubectl scale statefulset ${p.statefulSet} --replicas=${p.replicas} ${n}`
      : `lift the fence of StatefulSet ${p.statefulSet} (it scales back to ${p.replicas}; the lease is this restore's, so lift it with force)`,
  ];
}

/**
 * The StatefulSet's PVC of `template` that an in-place restore replaces, checked: it exists, is
 * Bound, no pod outside the StatefulSet mounts it, and its `-previous` PVC does not exist yet.
 */
async function replacedVolume(
  clients: KubeClients,
  at: { namespace: string; statefulSet: string; template: string },
): Promise<Omit<InPlaceVolume, 'previousPvc'> & { pvc: V1PersistentVolumeClaim; pv: V1PersistentVolume }> {
  const { namespace, statefulSet, template } = at;
  const where = `StatefulSet ${namespace}/${statefulSet}`;
  const pvcName = `${template}-${statefulSet}-0`;
  const previousPvcName = derivedName(pvcName, PREVIOUS_PVC_SUFFIX, 'subdomain', 'previous PVC name');
  const pvc = await readOptional(() => clients.core.readNamespacedPersistentVolumeClaim({ name: pvcName, namespace }));
  if (!pvc) {
    throw new DbaasError(
      'TARGET_NOT_FOUND',
      `${where} has no PVC ${pvcName} (from its volumeClaimTemplate ${template}): there is nothing to restore in place`,
      {
        fix: `Restore into a new PVC for it instead (the StatefulSet's controller adopts ${pvcName}), or check: kubectl get pvc -n ${namespace}`,
        option: 'statefulSet',
      },
    );
  }
  const volume = pvc.spec?.volumeName;
  if (pvc.status?.phase !== 'Bound' || !volume) {
    throw new DbaasError('TARGET_UNSUPPORTED', `PVC ${namespace}/${pvcName} is ${pvc.status?.phase ?? 'not Bound'}: there is no volume to keep aside`, {
      fix: `Wait until it is Bound (kubectl get pvc ${pvcName} -n ${namespace}), or delete it and restore into a new PVC of that name.`,
      details: { phase: pvc.status?.phase },
    });
  }
  const pv: V1PersistentVolume = await clients.core.readPersistentVolume({ name: volume });
  const reclaimPolicyBefore = pv.metadata?.annotations?.[RECLAIM_POLICY_BEFORE_ANNOTATION] ?? pv.spec?.persistentVolumeReclaimPolicy ?? 'Delete';
  const others = (await clients.core.listNamespacedPod({ namespace })).items.filter(
    (pod) =>
      !pod.metadata?.ownerReferences?.some((o) => o.kind === 'StatefulSet' && o.name === statefulSet) &&
      pod.spec?.volumes?.some((v) => v.persistentVolumeClaim?.claimName === pvcName),
  );
  if (others.length > 0) {
    const names = others.map((p) => p.metadata?.name).join(', ');
    throw new DbaasError(
      'TARGET_UNSUPPORTED',
      `PVC ${namespace}/${pvcName} is also mounted by pod(s) ${names}, which scaling ${statefulSet} down would not stop`,
      {
        fix: `Stop them first (kubectl get pod ${names} -n ${namespace}).`,
        details: { pods: others.map((p) => p.metadata?.name) },
      },
    );
  }
  if (await readOptional(() => clients.core.readNamespacedPersistentVolumeClaim({ name: previousPvcName, namespace }))) {
    throw new DbaasError(
      'RESTORE_TARGET_EXISTS',
      `PVC ${namespace}/${previousPvcName} exists (an earlier in-place restore kept the data before it there?): a second one would have nowhere to keep the current data`,
      {
        fix: `Once its data is no longer wanted: kubectl delete pvc ${previousPvcName} -n ${namespace} (its PV is Retain: delete the PV too to free the space), then restore again.`,
        details: { namespace, name: previousPvcName },
      },
    );
  }
  return { template, pvcName, previousPvcName, volume, reclaimPolicyBefore, pvc, pv };
}

/** The `-previous` PVC that keeps a replaced PVC's old data: Pending, bound to its PV by name. */
function previousPvcOf(
  replaced: Omit<InPlaceVolume, 'previousPvc'> & { pvc: V1PersistentVolumeClaim; pv: V1PersistentVolume },
  namespace: string,
  restore: RestorePlan,
  restoredSize: string,
): V1PersistentVolumeClaim {
  const { pvc, pv } = replaced;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: replaced.previousPvcName,
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'kubectl-dbaas', 'app.kubernetes.io/component': 'restore-previous' },
      annotations: { 'dbaas.io/previous-of': `${namespace}/${replaced.pvcName}`, 'dbaas.io/replaced-by-backup': `${restore.backupNamespace}/${restore.set}` },
    },
    spec: {
      accessModes: pvc.spec?.accessModes ?? ['ReadWriteOnce'],
      resources: { requests: { storage: pv.spec?.capacity?.['storage'] ?? pvc.spec?.resources?.requests?.['storage'] ?? restoredSize } },
      ...(pvc.spec?.storageClassName !== undefined ? { storageClassName: pvc.spec.storageClassName } : {}),
      ...(pvc.spec?.volumeMode ? { volumeMode: pvc.spec.volumeMode } : {}),
      volumeName: replaced.volume,
    },
  };
}

/**
 * Plans an in-place restore of a StatefulSet (at most one replica): its PVC
 * `<template>-<statefulSet>-0` is replaced by one made from the backup, and the old data is kept on
 * its PV, bound to `<pvc>-previous`. A backup of several volumes (pg_wal, tablespaces on PVCs of
 * their own) replaces the PVC of each of its volumes so (`<volume>-<statefulSet>-0`, the
 * StatefulSet's template of that name). Checks everything before anything changes: the StatefulSet,
 * its templates, each PVC Bound and used by no other pod, the PVs, no `-previous` PVC yet, no live
 * fence of another run, and the restore itself (backup, size, StorageClass). Reads only.
 *
 * @throws DbaasError `TARGET_NOT_FOUND` (no StatefulSet, template or PVC), `TARGET_UNSUPPORTED`
 *   (several replicas, a PVC not Bound or used by another pod, a volume of the set without a
 *   template), `RESTORE_TARGET_EXISTS` (a `-previous` PVC exists), `KUBE_CONFLICT` (another run's
 *   live fence), and as {@link planRestore}.
 * @example
 * ```ts
 * const plan = await planRestoreInPlace(clients, { backup: 'nightly', namespace: 'db', statefulSet: 'pg' });
 * console.log(plan.steps.join('\n'));
 * ```
 */
export async function planRestoreInPlace(clients: KubeClients, options: InPlaceRestoreOptions): Promise<InPlaceRestorePlan> {
  const namespace = assertDnsLabel(options.namespace, 'namespace');
  const statefulSet = assertDnsLabel(options.statefulSet, 'StatefulSet name');
  const where = `StatefulSet ${namespace}/${statefulSet}`;
  const sts = await readOptional(() => clients.apps.readNamespacedStatefulSet({ name: statefulSet, namespace }));
  if (!sts) {
    throw new DbaasError('TARGET_NOT_FOUND', `${where} does not exist`, {
      fix: `Check the name: kubectl get statefulsets -n ${namespace}`,
      option: 'statefulSet',
    });
  }
  const template = chooseTemplate(sts, options.template, where, await recordedDataVolume(clients, options));
  const recorded = sts.metadata?.annotations?.[FENCED_REPLICAS_ANNOTATION];
  const replicas = recorded !== undefined && /^\d+$/.test(recorded) ? Number(recorded) : (sts.spec?.replicas ?? 1);
  if (replicas > 1) {
    throw new DbaasError(
      'TARGET_UNSUPPORTED',
      `${where} has ${replicas} replicas: an in-place restore replaces one pod's volume, and the other pods would keep data of another time`,
      {
        fix: `Restore into new PVCs for a new StatefulSet instead (statefulSet with ordinal 0..${replicas - 1}), or scale ${statefulSet} to 1 first.`,
        details: { replicas },
      },
    );
  }
  const data = await replacedVolume(clients, { namespace, statefulSet, template });
  const { pvcName, previousPvcName, volume, reclaimPolicyBefore, pvc } = data;
  const fencing = statefulSetFencing(statefulSet, { retainClaims: true });
  await fencing.preflight!({ clients, namespace, deadline: Date.now() + DEFAULT_DEADLINE_MS });
  const { statefulSet: _s, template: _t, confirm: _c, onProgress: _p, ...restoreOptions } = options;
  const labels = {
    ...adoptedLabels(sts, template),
    ...Object.fromEntries(Object.entries(pvc.metadata?.labels ?? {}).filter(([k]) => !k.startsWith(DBAAS_PREFIX))),
  };
  // A set's other volumes go to the PVCs of the StatefulSet's templates of the same names, replaced as the data PVC is.
  const volumePvcNames = (v: string) => `${v}-${statefulSet}-0`;
  const restore = await planRestore(
    clients,
    {
      ...restoreOptions,
      pvcName,
      volumePvcNames,
      // The StatefulSet's pod expects what it had: at least the old size, the old class unless told otherwise.
      ...(options.size === undefined && pvc.spec?.resources?.requests?.['storage'] ? { size: pvc.spec.resources.requests['storage'] } : {}),
      ...(options.storageClass === undefined && pvc.spec?.storageClassName ? { storageClass: pvc.spec.storageClassName } : {}),
      extra: { ...(options.extra ?? {}), labels: { ...labels, ...(options.extra?.labels ?? {}) } },
    },
    { pvc: true, volumes: true },
  ).catch((error: unknown) => {
    // The old PVC's size below the snapshot's restoreSize: restore at the snapshot's size instead.
    if (isDbaasError(error, 'RESTORE_SIZE_TOO_SMALL') && options.size === undefined) {
      const { size: _z, ...rest } = restoreOptions;
      return planRestore(clients, { ...rest, pvcName, volumePvcNames, extra: { ...(options.extra ?? {}), labels } }, { pvc: true, volumes: true });
    }
    throw error;
  });
  refuseUntemplatedVolumes(sts, restore, namespace, statefulSet);
  const others = await Promise.all((restore.volumes ?? []).map((v) => replacedVolume(clients, { namespace, statefulSet, template: v.volume })));
  const previousPvc = previousPvcOf(data, namespace, restore, restore.restoreSize);
  const volumes: InPlaceVolume[] = others.map(({ pvc: _pvc, pv: _pv, ...v }, i) => ({
    ...v,
    previousPvc: previousPvcOf(others[i]!, namespace, restore, restore.volumes![i]!.pvc.spec!.resources!.requests!['storage']!),
  }));
  const retentionPolicy = {
    whenScaled: sts.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled ?? 'Retain',
    whenDeleted: sts.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted ?? 'Retain',
  };
  const all = [{ template, pvcName, previousPvcName, volume, reclaimPolicyBefore, previousPvc }, ...volumes];
  const pvcs = all.map((v) => v.pvcName).join(', ');
  const steps = [
    ...all.map(
      (v) =>
        `PV ${v.volume} (the data of PVC ${v.pvcName}): reclaim policy ${v.reclaimPolicyBefore} -> Retain (the policy before recorded in ${RECLAIM_POLICY_BEFORE_ANNOTATION})`,
    ),
    `scale StatefulSet ${statefulSet} ${replicas} -> 0 (fence lease and replica record: a killed run is undone by lifting the fence)${retentionPolicy.whenScaled === 'Delete' ? '; whenScaled Delete -> Retain while scaled down' : ''}`,
    ...all.map((v) => `create PVC ${v.previousPvcName} for PV ${v.volume} (Pending until the old PVC is gone)`),
    ...all.map((v) => `delete the PVC object ${v.pvcName} (PV ${v.volume} is Retain: its data stays)`),
    ...all.map((v) => `bind PV ${v.volume} to ${v.previousPvcName} (spec.claimRef)`),
    `create PVC${all.length > 1 ? 's' : ''} ${pvcs} from backup ${restore.backupNamespace}/${restore.set}${restore.online ? ' (online: WAL and backup_label by the restore-prep Job)' : ''}, StorageClass ${restore.storageClassName}`,
    `scale StatefulSet ${statefulSet} back to ${replicas} and wait until Ready`,
  ];
  return {
    namespace,
    statefulSet,
    template,
    replicas,
    pvcName,
    previousPvcName,
    volume,
    reclaimPolicyBefore,
    retentionPolicy,
    previousPvc,
    volumes,
    restore,
    steps,
    rollback: rollbackSteps({ namespace, statefulSet, replicas, volumes: all }, 'done'),
  };
}

/**
 * How {@link executeRestoreInPlace} runs a plan.
 *
 * @example
 * ```ts
 * const run: InPlaceRestoreExecution = { deadline: Date.now() + 900_000, onProgress: (e) => console.error(e.step) };
 * ```
 */
export interface InPlaceRestoreExecution extends Omit<RestoreExecution, 'onProgress'> {
  onProgress?: (event: InPlaceRestoreProgress) => void;
}

/** What an in-place run has done so far, for its undo: PVs set Retain, `-previous` PVCs created, old PVCs deleted (by PVC name). */
interface InPlaceDone {
  reclaimRetained: Set<string>;
  fenced: boolean;
  previousCreated: Set<string>;
  oldPvcDeleted: Set<string>;
  restored: boolean;
}

/**
 * Carries out an {@link InPlaceRestorePlan}. On failure or abort before an old PVC is deleted, it
 * undoes what it did (the `-previous` PVCs, the reclaim policies, the fence); after that it keeps
 * the StatefulSet scaled down (started now, it would get an empty volume) and the error says where
 * the old data is and how to go back. It never deletes a PV or data.
 *
 * @throws DbaasError as {@link executeRestore}; after an old PVC is gone `RESTORE_FAILED` (or `KUBE_ABORTED`) with `details.oldData`.
 * @example
 * ```ts
 * const plan = await planRestoreInPlace(clients, { backup: 'nightly', namespace: 'db', statefulSet: 'pg' });
 * const r = await executeRestoreInPlace(clients, plan, { signal });
 * ```
 */
export async function executeRestoreInPlace(
  clients: KubeClients,
  plan: InPlaceRestorePlan,
  execution: InPlaceRestoreExecution = {},
): Promise<InPlaceRestoreResult> {
  const started = execution.startedAt ?? Date.now();
  const deadline = execution.deadline ?? started + DEFAULT_DEADLINE_MS;
  const { signal } = execution;
  const { namespace, statefulSet } = plan;
  const all = replacedVolumes(plan);
  const progress = (step: InPlaceRestoreStep, message: string, extra: Partial<InPlaceRestoreProgress> = {}) =>
    execution.onProgress?.({ step, message, elapsedMs: Date.now() - started, ...extra });
  const checkAborted = () => {
    if (signal?.aborted) throw new DbaasError('KUBE_ABORTED', 'the in-place restore was aborted', { cause: signal.reason });
  };
  const fencing = statefulSetFencing(statefulSet, { retainClaims: true });
  const fenceCtx: FenceContext = {
    clients,
    namespace,
    deadline,
    ...(signal ? { signal } : {}),
    log: (message) => progress('fenced', message),
    holder: fenceHolder(namespace, `restore-in-place.${plan.restore.set}`),
  };
  const done: InPlaceDone = { reclaimRetained: new Set(), fenced: false, previousCreated: new Set(), oldPvcDeleted: new Set(), restored: false };
  let fencedAt: number | undefined;
  progress('planned', `in-place restore of StatefulSet ${namespace}/${statefulSet}: ${plan.steps.length} steps`);
  try {
    for (const v of all) {
      checkAborted();
      if (v.reclaimPolicyBefore !== 'Retain') {
        await clients.core.patchPersistentVolume(
          {
            name: v.volume,
            body: {
              metadata: { annotations: { [RECLAIM_POLICY_BEFORE_ANNOTATION]: v.reclaimPolicyBefore } },
              spec: { persistentVolumeReclaimPolicy: 'Retain' },
            },
          },
          mergePatch,
        );
        done.reclaimRetained.add(v.pvcName);
      }
      progress('reclaim-retained', `PV ${v.volume} is Retain (was ${v.reclaimPolicyBefore}): deleting its PVC keeps the data`);
    }
    checkAborted();
    fencedAt = Date.now();
    done.fenced = true;
    await fencing.fence(fenceCtx);
    progress('fenced', `StatefulSet ${statefulSet} scaled to 0, its pod is gone`);
    for (const v of all) {
      checkAborted();
      await clients.core.createNamespacedPersistentVolumeClaim({ namespace, body: v.previousPvc });
      done.previousCreated.add(v.pvcName);
      progress('previous-created', `PVC ${v.previousPvcName} created for PV ${v.volume}`);
    }
    for (const v of all) {
      checkAborted();
      await clients.core.deleteNamespacedPersistentVolumeClaim({ name: v.pvcName, namespace });
      done.oldPvcDeleted.add(v.pvcName);
      await watchUntil<V1PersistentVolumeClaim>(clients, {
        path: `/api/v1/namespaces/${namespace}/persistentvolumeclaims`,
        name: v.pvcName,
        predicate: (_o, event) => isGone(event),
        deadline,
        ...(signal ? { signal } : {}),
        what: 'to be deleted (its PV keeps the data)',
      });
      progress('old-pvc-deleted', `PVC ${v.pvcName} deleted; PV ${v.volume} is Released and keeps the data`);
      const previous = await clients.core.readNamespacedPersistentVolumeClaim({ name: v.previousPvcName, namespace });
      // Replacing the claimRef in one operation: the PV is never Available for another claim to take.
      await clients.core.patchPersistentVolume(
        {
          name: v.volume,
          body: [
            {
              op: 'replace',
              path: '/spec/claimRef',
              value: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name: v.previousPvcName, uid: previous.metadata!.uid! },
            },
          ],
        },
        jsonPatch,
      );
      await watchUntil<V1PersistentVolumeClaim>(clients, {
        path: `/api/v1/namespaces/${namespace}/persistentvolumeclaims`,
        name: v.previousPvcName,
        predicate: (o) => o?.status?.phase === 'Bound',
        deadline,
        ...(signal ? { signal } : {}),
        what: `to be Bound to PV ${v.volume}`,
      });
      progress('previous-bound', `PVC ${v.previousPvcName} is Bound to PV ${v.volume}: the old data is there`);
    }
    checkAborted();
    const restore = await executeRestore(clients, plan.restore, {
      startedAt: started,
      deadline,
      ...(execution.prepExecutor ? { prepExecutor: execution.prepExecutor } : {}),
      ...(signal ? { signal } : {}),
      onProgress: (event) => progress('restore', event.message, { restore: event }),
    });
    done.restored = true;
    progress(
      'restored',
      `PVC${all.length > 1 ? 's' : ''} ${all.map((v) => v.pvcName).join(', ')} made from backup ${plan.restore.backupNamespace}/${plan.restore.set} (${restore.state})`,
    );
    await fencing.unfence(fenceCtx);
    progress('scaled-back', `StatefulSet ${statefulSet} scaled back to ${plan.replicas}`);
    await fencing.waitRestored!(fenceCtx);
    const downMs = Date.now() - fencedAt;
    progress('ready', `StatefulSet ${statefulSet} has ${plan.replicas} ready replica(s) on the restored data after ${downMs} ms down`);
    return {
      namespace,
      statefulSet,
      pvcName: plan.pvcName,
      previousPvcName: plan.previousPvcName,
      volume: plan.volume,
      reclaimPolicyBefore: plan.reclaimPolicyBefore,
      volumes: plan.volumes.map(({ previousPvc: _p, ...v }) => v),
      replicas: plan.replicas,
      restore,
      rollback: plan.rollback,
      timings: { downMs, totalMs: Date.now() - started },
    };
  } catch (thrown) {
    const failure = toDbaasError(
      signal?.aborted && !isDbaasError(thrown, 'KUBE_ABORTED') ? new DbaasError('KUBE_ABORTED', 'the in-place restore was aborted', { cause: thrown }) : thrown,
    );
    progress('cleanup', `after: ${failure.message}`);
    return await undo(clients, plan, done, fencing, { ...fenceCtx, deadline: Math.max(deadline, Date.now() + 2 * 60_000) }, failure);
  }
}

async function undo(
  clients: KubeClients,
  plan: InPlaceRestorePlan,
  done: InPlaceDone,
  fencing: ReturnType<typeof statefulSetFencing>,
  ctx: FenceContext,
  failure: DbaasError,
): Promise<never> {
  const { namespace, statefulSet } = plan;
  const all = replacedVolumes(plan);
  const { signal: _signal, ...undoCtx } = ctx;
  const problems: string[] = [];
  const attempt = async (what: string, action: () => Promise<unknown>) => {
    try {
      await action();
    } catch (error) {
      problems.push(`${what}: ${(error as Error).message}`);
    }
  };
  if (done.oldPvcDeleted.size === 0) {
    // Nothing was lost yet: put everything back as it was.
    for (const v of all) {
      if (done.previousCreated.has(v.pvcName))
        await attempt(`deleting PVC ${v.previousPvcName}`, () => clients.core.deleteNamespacedPersistentVolumeClaim({ name: v.previousPvcName, namespace }));
      if (done.reclaimRetained.has(v.pvcName))
        await attempt(`restoring the reclaim policy of PV ${v.volume}`, () =>
          clients.core.patchPersistentVolume(
            {
              name: v.volume,
              body: {
                metadata: { annotations: { [RECLAIM_POLICY_BEFORE_ANNOTATION]: null } },
                spec: { persistentVolumeReclaimPolicy: v.reclaimPolicyBefore },
              },
            },
            mergePatch,
          ),
        );
    }
    if (done.fenced) await attempt(`scaling StatefulSet ${statefulSet} back`, () => fencing.unfence(undoCtx));
    if (problems.length === 0) throw failure;
    throw new DbaasError('RESTORE_FAILED', `${failure.message}; undoing it left: ${problems.join('; ')}`, {
      cause: failure,
      fix: `The old data is still in PVC${all.length > 1 ? 's' : ''} ${all.map((v) => `${v.pvcName} (PV ${v.volume})`).join(', ')}. ${failure.fix ?? ''}`.trim(),
      details: { code: failure.code, oldData: all.map((v) => ({ pvc: v.pvcName, volume: v.volume })), remaining: problems },
    });
  }
  if (done.restored) {
    // The new PVCs exist: starting the StatefulSet again is safe.
    await attempt(`scaling StatefulSet ${statefulSet} back`, () => fencing.unfence(undoCtx));
  }
  const fenceLeft = !done.restored || problems.length > 0;
  const rollback = done.restored ? plan.rollback : rollbackSteps({ namespace, statefulSet, replicas: plan.replicas, volumes: all }, 'failed');
  // An old PVC not deleted yet still holds its data under its own name.
  const oldData = all.map((v) => (done.oldPvcDeleted.has(v.pvcName) ? { pvc: v.previousPvcName, volume: v.volume } : { pvc: v.pvcName, volume: v.volume }));
  const where = all
    .map((v) =>
      done.oldPvcDeleted.has(v.pvcName)
        ? `the old data of ${v.pvcName} is on PV ${v.volume} (reclaim policy Retain), bound or being bound to PVC ${namespace}/${v.previousPvcName}`
        : `the old data of ${v.pvcName} is still in it (PV ${v.volume})`,
    )
    .join('; ');
  // An interrupted run stays interrupted (the CLI exits 130), with the same account of the old data.
  throw new DbaasError(
    failure.code === 'KUBE_ABORTED' ? 'KUBE_ABORTED' : 'RESTORE_FAILED',
    `${failure.message}; ${where}${fenceLeft ? `; StatefulSet ${statefulSet} is left scaled to 0 (fenced): started without its PVC${all.length > 1 ? 's' : ` ${plan.pvcName}`} it would get an empty volume` : ''}${problems.length ? `; ${problems.join('; ')}` : ''}`,
    {
      cause: failure,
      fix: `To go back to the old data: ${rollback.join('; ')}.`,
      details: { code: failure.code, oldData: all.length > 1 ? oldData : oldData[0], fenced: fenceLeft, rollback },
    },
  );
}

/**
 * Restores a backup in place under a StatefulSet: {@link planRestoreInPlace}, then
 * {@link executeRestoreInPlace}. Refused without `confirm: true`.
 *
 * @throws DbaasError `INVALID_ARGUMENT` (no confirmation), and as {@link planRestoreInPlace} and {@link executeRestoreInPlace}.
 * @example
 * ```ts
 * const r = await restoreInPlace(clients, { backup: 'nightly', namespace: 'db', statefulSet: 'pg', confirm: true });
 * console.log(r.previousPvcName, r.rollback);
 * ```
 */
export async function restoreInPlace(clients: KubeClients, options: InPlaceRestoreOptions): Promise<InPlaceRestoreResult> {
  if (options.confirm !== true) {
    throw new DbaasError(
      'INVALID_ARGUMENT',
      `restoring in place stops StatefulSet ${options.namespace}/${options.statefulSet} and replaces its data with the backup (the current data is kept, under the -previous PVC)`,
      { fix: 'Confirm it (confirm: true), or look at the plan first.', option: 'confirm' },
    );
  }
  const startedAt = Date.now();
  const deadline = startedAt + (options.deadlineMs ?? DEFAULT_DEADLINE_MS);
  const plan = await planRestoreInPlace(clients, options);
  return await executeRestoreInPlace(clients, plan, {
    startedAt,
    deadline,
    ...(options.prep?.executor ? { prepExecutor: options.prep.executor } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
}
