// What to snapshot and how: PVC -> bound PV -> CSI driver -> VolumeSnapshotClass -> atomicity, and
// for a pod target its data PVC and the workload that owns it (for the default fencing strategy).
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { FencingStrategy } from '../engines/engine.js';
import { dataLayoutOfPod } from '../engines/pod-layout.js';
import { cnpgFencing, statefulSetFencing } from '../engines/fencing.js';
import { DbaasError, isDbaasError } from '../errors.js';
import type { KubeClients } from '../kube/clients.js';
import { DEFAULT_SNAPSHOT_CLASS_ANNOTATION, type VolumeSnapshotClass } from '../kube/snapshot-types.js';
import { snapshotAtomicity, type SnapshotAtomicity } from '../manifests/atomicity.js';

/**
 * Annotation on a pod naming its data volume (`spec.volumes[].name`) when it mounts several PVCs.
 *
 * @example
 * ```ts
 * // kubectl annotate pod pg-0 dbaas.io/data-volume=pgdata
 * ```
 */
export const DATA_VOLUME_ANNOTATION = 'dbaas.io/data-volume';

/**
 * What to back up: a PVC, or a pod whose data PVC is found from its volumes.
 *
 * @example
 * ```ts
 * const t1: BackupTarget = { pvc: 'data-pg-0' };
 * const t2: BackupTarget = { pod: 'pg-0' };
 * ```
 */
export type BackupTarget = { pvc: string; pod?: never } | { pod: string; pvc?: never };

/**
 * Starts reading the VolumeSnapshotClass a backup will choose from: the named one, else all of them.
 * For {@link chooseSnapshotClass}'s `prefetched`; a rejection is left for that call to report.
 *
 * @example
 * ```ts
 * const classes = prefetchSnapshotClasses(clients);
 * const pv = await readPv();
 * const { snapshotClass } = await chooseSnapshotClass(clients, pv.spec!.csi!.driver, undefined, classes);
 * ```
 */
export function prefetchSnapshotClasses(clients: KubeClients, named?: string): Promise<VolumeSnapshotClass[]> {
  const read = named !== undefined ? clients.volumeSnapshotClasses.get(named).then((c) => [c]) : clients.volumeSnapshotClasses.listAll();
  read.catch(() => undefined); // awaited (and so reported) by chooseSnapshotClass; no unhandled rejection meanwhile
  return read;
}

/**
 * The result of {@link discoverBackupTarget}.
 *
 * @example
 * ```ts
 * const d = await discoverBackupTarget(clients, { namespace: 'db', target: { pvc: 'data' } });
 * console.log(d.driver, d.snapshotClass.metadata.name, d.atomicity.atomic);
 * ```
 */
export interface DiscoveredTarget {
  namespace: string;
  pvc: V1PersistentVolumeClaim & { metadata: { name: string } };
  pv: V1PersistentVolume;
  /** `spec.csi.driver` of the bound PV. */
  driver: string;
  snapshotClass: VolumeSnapshotClass & { metadata: { name: string } };
  /** How the class was chosen. */
  snapshotClassSource: 'named' | 'default-annotation' | 'only-class';
  atomicity: SnapshotAtomicity;
  /** The pod, for a pod target. */
  pod?: V1Pod;
  /** The workload owning the pod (StatefulSet, or a CloudNativePG Cluster by its `cnpg.io/cluster` label). */
  workload?: { kind: 'StatefulSet' | 'Cluster'; name: string; instance?: string };
}

function snapshotClassHowTo(driver: string): string {
  return (
    `Create one: kubectl apply -f - <<EOF\napiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshotClass\nmetadata:\n  name: ${driver.replace(/[^a-z0-9-]/g, '-').slice(0, 40)}-snapclass\n` +
    `  annotations:\n    ${DEFAULT_SNAPSHOT_CLASS_ANNOTATION}: "true"\ndriver: ${driver}\ndeletionPolicy: Delete\nEOF`
  );
}

/**
 * The VolumeSnapshotClass to use for `driver`: the named one (which must be for that driver), else
 * the one annotated `snapshot.storage.kubernetes.io/is-default-class: "true"` for the driver, else
 * the driver's only class.
 *
 * @throws DbaasError `KUBE_NOT_FOUND` (no class; the fix shows how to create one), `TARGET_UNSUPPORTED`
 *   with option `snapshotClass` (the named class is for another driver; several classes and no
 *   single default).
 * @example
 * ```ts
 * const { snapshotClass } = await chooseSnapshotClass(clients, 'hostpath.csi.k8s.io');
 * ```
 */
export async function chooseSnapshotClass(
  clients: KubeClients,
  driver: string,
  named?: string,
  /** The classes already being read (`prefetchSnapshotClasses`), so the read overlaps other lookups. */
  prefetched?: Promise<VolumeSnapshotClass[]>,
): Promise<{ snapshotClass: DiscoveredTarget['snapshotClass']; source: DiscoveredTarget['snapshotClassSource'] }> {
  if (named !== undefined) {
    const cls = (await (prefetched ? prefetched.then((list) => list[0]!) : clients.volumeSnapshotClasses.get(named)).catch((error: unknown) => {
      if (error instanceof DbaasError && error.code === 'KUBE_NOT_FOUND') {
        throw new DbaasError('KUBE_NOT_FOUND', `VolumeSnapshotClass "${named}" does not exist`, {
          fix: `List the classes with kubectl get volumesnapshotclass, or omit the class to use ${driver}'s default. ${snapshotClassHowTo(driver)}`,
          option: 'snapshotClass',
          cause: error,
        });
      }
      throw error;
    })) as DiscoveredTarget['snapshotClass'];
    if (cls.driver !== driver) {
      throw new DbaasError('TARGET_UNSUPPORTED', `VolumeSnapshotClass "${named}" is for driver ${cls.driver}, but the volume is a ${driver} volume`, {
        fix: `Use a VolumeSnapshotClass whose driver is ${driver} (kubectl get volumesnapshotclass).`,
        option: 'snapshotClass',
        details: { snapshotClass: named, classDriver: cls.driver, volumeDriver: driver },
      });
    }
    return { snapshotClass: cls, source: 'named' };
  }
  const all = (await (prefetched ?? clients.volumeSnapshotClasses.listAll())).filter((c) => c.driver === driver) as DiscoveredTarget['snapshotClass'][];
  if (all.length === 0) {
    throw new DbaasError('KUBE_NOT_FOUND', `no VolumeSnapshotClass for CSI driver ${driver}`, { fix: snapshotClassHowTo(driver) });
  }
  const defaults = all.filter((c) => c.metadata.annotations?.[DEFAULT_SNAPSHOT_CLASS_ANNOTATION] === 'true');
  if (defaults.length === 1) return { snapshotClass: defaults[0]!, source: 'default-annotation' };
  if (defaults.length > 1) {
    throw new DbaasError(
      'TARGET_UNSUPPORTED',
      `several VolumeSnapshotClasses for ${driver} are marked default: ${defaults.map((c) => c.metadata.name).join(', ')}`,
      {
        fix: `Name the class to use, or keep ${DEFAULT_SNAPSHOT_CLASS_ANNOTATION}="true" on only one of them.`,
        option: 'snapshotClass',
        details: { driver, defaultClasses: defaults.map((c) => c.metadata.name) },
      },
    );
  }
  if (all.length === 1) return { snapshotClass: all[0]!, source: 'only-class' };
  throw new DbaasError(
    'TARGET_UNSUPPORTED',
    `${all.length} VolumeSnapshotClasses for ${driver} (${all.map((c) => c.metadata.name).join(', ')}) and none is the default`,
    {
      fix: `Name the class to use, or mark one the default: kubectl annotate volumesnapshotclass ${all[0]!.metadata.name} ${DEFAULT_SNAPSHOT_CLASS_ANNOTATION}=true`,
      option: 'snapshotClass',
      details: { driver, classes: all.map((c) => c.metadata.name) },
    },
  );
}

/**
 * Of several PVCs of a pod, the one whose mount in the database container holds the data directory
 * (PGDATA, or the image's default; MySQL's and MariaDB's datadir), the deepest such mount: its
 * `pg_wal` or a tablespace on another PVC is not the data volume. Undefined when that does not
 * name exactly one.
 */
function dataClaimByDirectory(pod: V1Pod, claims: { volume: string; claim: string }[]): string | undefined {
  const found = new Set<string>();
  for (const family of ['postgres', 'mysql'] as const) {
    const holding = claims
      .map((c) => ({ claim: c.claim, layout: dataLayoutOfPod(pod, c.claim, family) }))
      .filter((c) => c.layout?.dataSubPath !== undefined && c.layout.mountPath !== undefined)
      .sort((a, b) => b.layout!.mountPath!.length - a.layout!.mountPath!.length);
    if (holding[0]) found.add(holding[0].claim);
  }
  return found.size === 1 ? [...found][0] : undefined;
}

/**
 * The data PVC of a pod: the volume named by its `dbaas.io/data-volume` annotation, else its only
 * PVC-backed volume, else the one whose mount holds the data directory.
 *
 * @throws DbaasError `TARGET_NOT_FOUND` when the pod mounts no PVC or the annotation names no PVC
 *   volume; `TARGET_UNSUPPORTED` when it mounts several and no annotation says which holds the data.
 * @example
 * ```ts
 * dataPvcOfPod(pod); // 'data-pg-0'
 * ```
 */
export function dataPvcOfPod(pod: V1Pod): string {
  const name = pod.metadata?.name ?? '(unnamed)';
  const claims = (pod.spec?.volumes ?? [])
    .filter((v) => v.persistentVolumeClaim?.claimName)
    .map((v) => ({ volume: v.name, claim: v.persistentVolumeClaim!.claimName }));
  const wanted = pod.metadata?.annotations?.[DATA_VOLUME_ANNOTATION];
  if (wanted !== undefined) {
    const hit = claims.find((c) => c.volume === wanted);
    if (!hit) {
      throw new DbaasError(
        'TARGET_NOT_FOUND',
        `pod ${name} has ${DATA_VOLUME_ANNOTATION}: "${wanted}", but no PVC-backed volume of that name (it has: ${claims.map((c) => c.volume).join(', ') || 'none'})`,
        {
          fix: `kubectl annotate pod ${name} ${DATA_VOLUME_ANNOTATION}=<volume name> --overwrite`,
          option: 'target',
          details: { pod: name, dataVolume: wanted, pvcVolumes: claims.map((c) => c.volume) },
        },
      );
    }
    return hit.claim;
  }
  if (claims.length === 1) return claims[0]!.claim;
  const byDirectory = claims.length > 1 ? dataClaimByDirectory(pod, claims) : undefined;
  if (byDirectory !== undefined) return byDirectory;
  if (claims.length === 0) {
    throw new DbaasError('TARGET_NOT_FOUND', `pod ${name} mounts no PersistentVolumeClaim: there is no volume to snapshot`, {
      fix: "Back up the pod that mounts the database's PVC, or name the PVC as the target.",
      option: 'target',
      details: { pod: name },
    });
  }
  throw new DbaasError(
    'TARGET_UNSUPPORTED',
    `pod ${name} mounts ${claims.length} PVCs (${claims.map((c) => `${c.volume}=${c.claim}`).join(', ')}); which one holds the data directory?`,
    {
      fix: `Annotate the pod (or its template): kubectl annotate pod ${name} ${DATA_VOLUME_ANNOTATION}=<volume name>, or name the PVC as the target.`,
      option: 'target',
      details: { pod: name, pvcs: claims.map((c) => c.claim) },
    },
  );
}

/**
 * Finds everything a backup of `target` needs: the PVC (Bound), its PV (a CSI volume), the CSI
 * driver, the VolumeSnapshotClass and the driver's atomicity; for a pod, also the owning
 * StatefulSet or CloudNativePG Cluster.
 *
 * @throws DbaasError `TARGET_NOT_FOUND` (the pod or PVC, or the pod's data volume, is not there),
 *   `TARGET_UNSUPPORTED` (not Bound, not a CSI volume, no single class to choose: each names the
 *   fix), `KUBE_NOT_FOUND` (no VolumeSnapshotClass for the driver), `INVALID_ARGUMENT` (neither pod
 *   nor pvc given)
 * @example
 * ```ts
 * const found = await discoverBackupTarget(clients, { namespace: 'db', target: { pod: 'pg-0' } });
 * console.log(found.pvc.metadata.name, found.driver, found.atomicity.atomic, found.workload);
 * ```
 */
export async function discoverBackupTarget(
  clients: KubeClients,
  opts: { namespace: string; target: BackupTarget; snapshotClass?: string },
): Promise<DiscoveredTarget> {
  const { namespace } = opts;
  // The class lookup does not depend on the PVC: read it while the pod/PVC/PV are read (one round
  // trip instead of two on the backup's critical path). Its error, if any, surfaces where it is awaited.
  const classes = prefetchSnapshotClasses(clients, opts.snapshotClass);
  let pod: V1Pod | undefined;
  let workload: DiscoveredTarget['workload'];
  let pvcName: string;
  if (opts.target.pod !== undefined) {
    const podName = opts.target.pod;
    pod = await readTarget(
      () => clients.core.readNamespacedPod({ name: podName, namespace }),
      `pod ${namespace}/${podName}`,
      `kubectl get pods -n ${namespace}`,
    );
    pvcName = dataPvcOfPod(pod);
    const cnpg = pod.metadata?.labels?.['cnpg.io/cluster'];
    const owner = pod.metadata?.ownerReferences?.find((o) => o.controller && o.kind === 'StatefulSet');
    if (cnpg) workload = { kind: 'Cluster', name: cnpg, instance: pod.metadata!.name! };
    else if (owner) workload = { kind: 'StatefulSet', name: owner.name };
  } else if (opts.target.pvc !== undefined) {
    pvcName = opts.target.pvc;
  } else {
    throw new DbaasError('INVALID_ARGUMENT', 'the backup target needs a pvc or a pod', {
      fix: 'Pass target: { pvc: name } or target: { pod: name }.',
      option: 'target',
    });
  }
  const pvc = (await readTarget(
    () => clients.core.readNamespacedPersistentVolumeClaim({ name: pvcName, namespace }),
    pod ? `PVC ${namespace}/${pvcName} (the data volume of pod ${pod.metadata?.name})` : `PVC ${namespace}/${pvcName}`,
    `kubectl get pvc -n ${namespace}`,
  )) as DiscoveredTarget['pvc'];
  if (pvc.status?.phase !== 'Bound' || !pvc.spec?.volumeName) throw await unboundPvcError(clients, namespace, pvcName, pvc);
  const pv = await clients.core.readPersistentVolume({ name: pvc.spec.volumeName });
  const driver = pv.spec?.csi?.driver;
  if (!driver) {
    throw new DbaasError(
      'TARGET_UNSUPPORTED',
      `PV ${pv.metadata?.name} of PVC ${namespace}/${pvcName} is not a CSI volume: VolumeSnapshots need a CSI driver with snapshot support`,
      {
        fix: 'Move the data to a StorageClass of a CSI driver that supports snapshots (kubectl get csidrivers).',
        details: { pvc: pvcName, pv: pv.metadata?.name },
      },
    );
  }
  const { snapshotClass, source } = await chooseSnapshotClass(clients, driver, opts.snapshotClass, classes);
  return {
    namespace,
    pvc,
    pv,
    driver,
    snapshotClass,
    snapshotClassSource: source,
    atomicity: snapshotAtomicity(driver, snapshotClass),
    ...(pod ? { pod } : {}),
    ...(workload ? { workload } : {}),
  };
}

/**
 * The pods (not being deleted, unless `includeTerminating`: a pod being deleted may still run its
 * database) that mount a PVC: for a ReadWriteOnce database volume, the one pod running the database on it.
 *
 * @example
 * ```ts
 * const [pod] = await podsMountingPvc(clients, 'db', 'data-pg-0');
 * ```
 */
export async function podsMountingPvc(clients: KubeClients, namespace: string, pvc: string, opts: { includeTerminating?: boolean } = {}): Promise<V1Pod[]> {
  const pods = await clients.core.listNamespacedPod({ namespace });
  return pods.items.filter(
    (p) => (opts.includeTerminating || !p.metadata?.deletionTimestamp) && (p.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === pvc),
  );
}

/**
 * The fencing strategy a `fenced` backup of the discovered target uses when the caller gives none:
 * the CloudNativePG instance's, the owning StatefulSet's, or the StatefulSet whose
 * volumeClaimTemplates made the PVC (`<template>-<statefulset>-<ordinal>`); undefined otherwise.
 *
 * @example
 * ```ts
 * const fencing = await impliedFencing(clients, await discoverBackupTarget(clients, { namespace: 'db', target: { pvc: 'data-pg-0' } }));
 * ```
 */
export async function impliedFencing(
  clients: KubeClients,
  found: DiscoveredTarget,
  opts: { retainClaims?: boolean } = {},
): Promise<FencingStrategy | undefined> {
  if (found.workload?.kind === 'Cluster' && found.workload.instance) return cnpgFencing(found.workload.name, found.workload.instance);
  const stsOptions = opts.retainClaims ? { retainClaims: true } : {};
  if (found.workload?.kind === 'StatefulSet') return statefulSetFencing(found.workload.name, stsOptions);
  const pvc = found.pvc.metadata.name;
  const list = await clients.apps.listNamespacedStatefulSet({ namespace: found.namespace });
  const owners = list.items.filter((s: V1StatefulSet) =>
    (s.spec?.volumeClaimTemplates ?? []).some((t) => {
      const prefix = `${t.metadata?.name}-${s.metadata?.name}-`;
      return pvc.startsWith(prefix) && /^\d+$/.test(pvc.slice(prefix.length));
    }),
  );
  return owners.length === 1 ? statefulSetFencing(owners[0]!.metadata!.name!, stsOptions) : undefined;
}

/**
 * Reads a pod or PVC the backup is about: a missing one is TARGET_NOT_FOUND naming it and the
 * command that lists what there is, rather than the API's bare 404.
 */
async function readTarget<T>(read: () => Promise<T>, what: string, listCommand: string): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!isDbaasError(error, 'KUBE_NOT_FOUND')) throw error;
    throw new DbaasError('TARGET_NOT_FOUND', `${what} does not exist`, {
      fix: `Check the name: ${listCommand} lists what there is.`,
      option: 'target',
      cause: error,
    });
  }
}

/**
 * Why a PVC is not Bound, from its StorageClass's volumeBindingMode: a WaitForFirstConsumer class
 * binds when a pod uses the claim; an Immediate one should have provisioned already, so its
 * provisioner's events say what went wrong. The class is read when it can be (a missing one, or
 * no permission to read it, leaves the generic fix).
 */
async function unboundPvcError(
  clients: KubeClients,
  namespace: string,
  pvcName: string,
  pvc: { spec?: { storageClassName?: string }; status?: { phase?: string } },
): Promise<DbaasError> {
  const phase = pvc.status?.phase ?? 'not bound';
  const className = pvc.spec?.storageClassName;
  const describe = `kubectl -n ${namespace} describe pvc ${pvcName}`;
  const message = `PVC ${namespace}/${pvcName} is ${phase}: only a Bound volume can be snapshotted`;
  const mode = className
    ? await clients.storage.readStorageClass({ name: className }).then(
        (c) => c.volumeBindingMode ?? 'Immediate',
        () => undefined,
      )
    : undefined;
  if (mode === 'WaitForFirstConsumer') {
    return new DbaasError(
      'TARGET_UNSUPPORTED',
      `${message}; its StorageClass ${className} is WaitForFirstConsumer: the volume is made when a pod that uses the claim is scheduled`,
      {
        fix: `Start the workload that mounts ${pvcName} (or any pod using it), wait until it is Bound (kubectl -n ${namespace} get pvc ${pvcName}), then back up.`,
        details: { phase, storageClass: className, volumeBindingMode: mode },
      },
    );
  }
  if (mode !== undefined) {
    return new DbaasError(
      'TARGET_UNSUPPORTED',
      `${message}; its StorageClass ${className} binds ${mode === 'Immediate' ? 'immediately' : `as ${mode}`}, so the provisioner has not made the volume`,
      {
        fix: `${describe} shows the provisioner's events (no provisioner running for the class, no capacity, a quota).`,
        details: { phase, storageClass: className!, volumeBindingMode: mode },
      },
    );
  }
  return new DbaasError('TARGET_UNSUPPORTED', message, {
    fix: `${describe} shows why${className ? ` (StorageClass ${className} could not be read)` : ' (it names no StorageClass: a matching PV must be created by hand)'}.`,
    details: { phase, ...(className ? { storageClass: className } : {}) },
  });
}
