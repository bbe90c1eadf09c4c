// Restore of a backup set into a new PVC (docs/consistency.md): same namespace through
// `spec.dataSource`, another namespace through a pre-provisioned VolumeSnapshotContent (Retain,
// same snapshotHandle) and a VolumeSnapshot bound to it. `online` sets get their WAL segments and
// backup_label from the `-wal` snapshot through the restore-prep step. Everything is checked before
// the first object is created; on failure or abort what was created is deleted again, or named.
import { cnpgClusterImage } from '../kube/cnpg-cluster.js';
import { PLAIN_SERVER_SETTINGS } from '../engines/postgres/operator-settings.js';
import type { V1Job, V1PersistentVolumeClaim, V1StorageClass } from '@kubernetes/client-node';
import { DbaasError, isDbaasError, toDbaasError } from '../errors.js';
import type { KubeClients } from '../kube/clients.js';
import type { VolumeSnapshot, VolumeSnapshotContent } from '../kube/snapshot-types.js';
import { isGone, watchUntil, type KubeObjectLike } from '../kube/watch-until.js';
import {
  buildCrossNamespaceSnapshot,
  buildPvcFromSnapshot,
  buildRestorePrepJob,
  buildRelinkJob,
  assertMountPath,
  SELECTED_NODE_ANNOTATION,
  walFilesForBackup,
  type ContainerResources,
  type ExtraMetadata,
} from '../manifests/builders.js';
import { DBAAS_LABELS, hasWalSnapshot, isPostgresOnline, type ConsistencyMode, type SnapshotMetadata } from '../manifests/metadata.js';
import { assertDnsLabel, assertDnsSubdomain, derivedName } from '../manifests/names.js';
import type { DescribedSnapshot } from '../snapshot/snapshot-client.js';
import { SnapshotClient } from '../snapshot/snapshot-client.js';
import type { RestorePrepExecutor } from './restore-prep.js';
import { jobRestorePrepExecutor } from './restore-prep.js';

/** Default overall deadline of a restore: 15 minutes. */
const DEFAULT_RESTORE_DEADLINE_MS = 15 * 60_000;
// The snapshot controller releases a bound PVC's source within a resync or two; past this the restore
// is still done and says what is left to go.
const TEMPORARY_GONE_WAIT_MS = 60_000;
export { SELECTED_NODE_ANNOTATION } from '../manifests/builders.js';
const DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';
/** Suffix of the scratch PVC an `online` restore makes from the `-wal` snapshot (deleted afterwards). */
export const RESTORE_WAL_PVC_SUFFIX = '-dbaas-wal';
/** Suffix of the temporary VolumeSnapshot a cross-namespace restore makes in the target namespace. */
export const RESTORE_SOURCE_SUFFIX = '-dbaas-src';

/**
 * The steps a restore reports: the RTO breakdown of the restore side.
 *
 * @example
 * ```ts
 * const phase: RestorePhase = 'bound';
 * ```
 */
export type RestorePhase = 'resolved' | 'source-created' | 'pvc-created' | 'waiting-for-first-consumer' | 'bound' | 'prep-started' | 'data-ready' | 'cleanup';

/**
 * One progress event of a restore.
 *
 * @example
 * ```ts
 * const onProgress = (e: RestoreProgress) => console.error(`${e.elapsedMs} ms ${e.phase}: ${e.message}`);
 * ```
 */
export interface RestoreProgress {
  phase: RestorePhase;
  /** For people; programs read the fields below. */
  message: string;
  /** Milliseconds since the restore was called. */
  elapsedMs: number;
  /** `resolved`: how the PVC is made from the snapshot (`cross-namespace` creates a temporary content and snapshot first). */
  restoreType?: 'snapshot' | 'cross-namespace';
  /** The objects the event is about: the temporary pair (`source-created`), the PVCs (`pvc-created`, `bound`, `data-ready`), the restore-prep Job (`prep-started`). */
  objects?: RestoreObjectRef[];
  /** `cleanup`: why the restore failed (the error's message). */
  failure?: string;
}

/**
 * A Kubernetes object a restore or verify creates or reports on.
 *
 * @example
 * ```ts
 * const ref: RestoreObjectRef = { kind: 'PersistentVolumeClaim', name: 'pg-restored', namespace: 'db' };
 * ```
 */
export interface RestoreObjectRef {
  kind: string;
  name: string;
  /** Absent for cluster-scoped objects (a VolumeSnapshotContent). */
  namespace?: string;
}

/**
 * How the restore-prep step of an `online` restore runs: by default a Job with the PostgreSQL image
 * of the backup's major version, as uid 999 (the official image; 26 for CloudNativePG).
 *
 * @example
 * ```ts
 * const prep: RestorePrepOptions = { image: 'ghcr.io/cloudnative-pg/postgresql:17', runAsUser: 26 };
 * ```
 */
export interface RestorePrepOptions {
  executor?: RestorePrepExecutor;
  /** Default: a CloudNativePG instance's backup, its Cluster's image while the Cluster exists; else `postgres:<major of the backup>`. */
  image?: string;
  /** Default 999. */
  runAsUser?: number;
  fsGroup?: number;
  /** PGDATA relative to the volume root ('' = the root). Default: the root if it holds PG_VERSION, else its one subdirectory that does (found by the Job). */
  dataSubPath?: string;
  serviceAccountName?: string;
  /** The Job's `imagePullPolicy` (`Never` for images imported into the node). Default: Kubernetes' default for the tag. */
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** The Job's CPU and memory, laid over `DEFAULT_RESOURCES.restorePrep`. */
  resources?: ContainerResources;
}

/**
 * Options of {@link RestoreClient.restore}.
 *
 * @example
 * ```ts
 * const options: RestoreOptions = { backup: 'nightly', backupNamespace: 'prod', namespace: 'staging', pvcName: 'pg-restored' };
 * ```
 */
export interface RestoreOptions {
  /** Backup set name (or its `-wal` snapshot's name). */
  backup: string;
  /** Namespace of the backup. Default: `namespace`. */
  backupNamespace?: string;
  /** Namespace of the new PVC. */
  namespace: string;
  /** Name of the new PVC; refused if it exists. */
  pvcName: string;
  /**
   * A set of several volumes (the instance kept `pg_wal` or tablespaces on other PVCs): the name of
   * the PVC restored for each of them, by the pod's volume name (a record, or a function of the
   * volume name). Default `<pvcName>-<volume>`.
   */
  volumePvcNames?: Record<string, string> | ((volume: string) => string);
  /**
   * A set of several volumes restored for a pod that mounts them elsewhere than the source pod did:
   * the new mount path of each such volume, by volume name. The data directory's links into it
   * (`pg_wal`, `pg_tblspc/*`, and an `online` set's `tablespace_map`) are re-pointed there by the
   * restore's Job. Default: where the source pod mounted each (nothing re-pointed).
   */
  volumeMountPaths?: Record<string, string>;
  /** Default and minimum: the snapshot's restoreSize. */
  size?: string;
  /** Must provision with the snapshot's driver. Default: the source PVC's class if it still exists, else the default class, else the driver's only class. */
  storageClass?: string;
  /**
   * WaitForFirstConsumer classes: bind for this node now, as kube-scheduler does when it places the
   * volume's first pod (`volume.kubernetes.io/selected-node`). Without it the restore returns in
   * state `waiting-for-first-consumer` (an `online` restore binds through its restore-prep Job).
   */
  consumerNode?: string;
  prep?: RestorePrepOptions;
  /**
   * A copy of a CloudNativePG instance, for a plain PostgreSQL server: the restore's Job appends
   * {@link PLAIN_SERVER_SETTINGS} to its postgresql.conf and removes its standby.signal. Default:
   * true when the backup was taken from a CloudNativePG Cluster. False leaves the files as they were
   * (a restore for CloudNativePG, which writes its own configuration).
   */
  plainServer?: boolean;
  signal?: AbortSignal;
  onProgress?: (event: RestoreProgress) => void;
  /** Overall deadline in ms. Default 15 minutes. */
  deadlineMs?: number;
  /** Extra labels/annotations on the new PVC (not under `dbaas.io/`). */
  extra?: ExtraMetadata;
}

/**
 * What a restore did, with the RTO breakdown as this process saw it.
 *
 * @example
 * ```ts
 * const r = await restoreClient.restore(options);
 * if (r.state === 'waiting-for-first-consumer') console.log('start the pod that uses', r.pvcName);
 * console.log(r.timings.createToBoundMs, r.timings.prepMs, r.timings.totalMs);
 * ```
 */
export interface RestoreResult {
  namespace: string;
  pvcName: string;
  state: 'ready' | 'waiting-for-first-consumer';
  backup: { namespace: string; name: string; mode: ConsistencyMode | undefined; engine: SnapshotMetadata['engine']; engineVersion: string | undefined };
  restoreType: 'snapshot' | 'cross-namespace';
  size: string;
  storageClass: string;
  driver: string;
  pvc: V1PersistentVolumeClaim;
  /**
   * A set of several volumes: the PVC restored for each of the instance's other volumes, and where
   * the database container must mount it (the data directory's `pg_wal` and tablespace links point there).
   */
  volumes?: { volume: string; holds: 'wal' | 'tablespace'; mountPath: string; sourceMountPath: string; pvcName: string }[];
  /** Objects this restore leaves besides the PVC, each with why (a cross-namespace source kept until the PVC binds). */
  remaining: string[];
  /** Output of the restore-prep step (`online`). */
  prepOutput?: string;
  /** A CloudNativePG instance's copy made ready for a plain PostgreSQL server: the settings appended to its postgresql.conf (standby.signal removed). */
  plainServerSettings?: Readonly<Record<string, string>>;
  timings: {
    phases: { phase: RestorePhase; atMs: number }[];
    createToBoundMs: number | undefined;
    prepMs: number | undefined;
    totalMs: number;
  };
}

interface Created {
  kind: 'PersistentVolumeClaim' | 'VolumeSnapshot' | 'VolumeSnapshotContent';
  name: string;
  namespace?: string;
}

function describeCreated(c: Created): string {
  return c.namespace ? `${c.kind} ${c.namespace}/${c.name}` : `${c.kind} ${c.name}`;
}

function deleteCommand(c: Created): string {
  const kind = c.kind === 'PersistentVolumeClaim' ? 'pvc' : c.kind.toLowerCase();
  return `kubectl delete ${kind} ${c.name}${c.namespace ? ` -n ${c.namespace}` : ''}`;
}

async function deleteCreated(clients: KubeClients, c: Created): Promise<void> {
  try {
    if (c.kind === 'PersistentVolumeClaim') await clients.core.deleteNamespacedPersistentVolumeClaim({ name: c.name, namespace: c.namespace! });
    else if (c.kind === 'VolumeSnapshot') await clients.volumeSnapshots.delete(c.name, c.namespace);
    else await clients.volumeSnapshotContents.delete(c.name);
  } catch (error) {
    if (!isDbaasError(error, 'KUBE_NOT_FOUND')) throw error;
  }
}

/** The temporary pair of a cross-namespace restore: what {@link deleteUntilGone} waits out. */
type TemporaryObject = Created & { kind: 'VolumeSnapshot' | 'VolumeSnapshotContent' };

/**
 * Deletes and waits until the object is gone, not only marked: the snapshot controller keeps its
 * finalizers a moment after a PVC made from the snapshot is Bound, and a content cannot go before its
 * snapshot. Returns what still holds it when `waitUntil` passes (the object then goes by itself).
 */
async function deleteUntilGone(clients: KubeClients, c: TemporaryObject, waitUntil: number, signal?: AbortSignal): Promise<string | undefined> {
  await deleteCreated(clients, c);
  if (c.kind === 'VolumeSnapshotContent') return await pollContentUntilGone(clients, c.name, waitUntil, signal);
  let holding = '';
  try {
    await watchUntil<KubeObjectLike & { metadata: { finalizers?: string[] } }>(clients, {
      path: clients.volumeSnapshots.path({ namespace: c.namespace! }),
      name: c.name,
      predicate: (_o, event) => isGone(event),
      deadline: waitUntil,
      what: 'to be deleted',
      ...(signal ? { signal } : {}),
      describe: (o) => (holding = o ? `finalizers ${JSON.stringify(o.metadata.finalizers ?? [])}` : 'none left'),
    });
    return undefined;
  } catch (error) {
    if (isDbaasError(error, 'KUBE_TIMEOUT')) return `still deleting (${holding || 'no state seen'})`;
    throw error;
  }
}

const CONTENT_GONE_POLL_MS = 250;

/**
 * Contents are cluster-scoped: watching one needs `list`/`watch` on every content in the cluster,
 * which the restore role of docs/rbac.md does not grant (it has get, create, delete). A `get` until
 * NotFound needs only what the role has.
 */
async function pollContentUntilGone(clients: KubeClients, name: string, waitUntil: number, signal?: AbortSignal): Promise<string | undefined> {
  for (;;) {
    let finalizers: string[];
    try {
      finalizers = (await clients.volumeSnapshotContents.get(name)).metadata.finalizers ?? [];
    } catch (error) {
      if (isDbaasError(error, 'KUBE_NOT_FOUND')) return undefined;
      throw error;
    }
    if (Date.now() >= waitUntil) return `still deleting (finalizers ${JSON.stringify(finalizers)})`;
    if (signal?.aborted) throw new DbaasError('KUBE_ABORTED', `waiting for VolumeSnapshotContent ${name} to be deleted was aborted`, { cause: signal.reason });
    await new Promise((resolve) => setTimeout(resolve, Math.min(CONTENT_GONE_POLL_MS, Math.max(0, waitUntil - Date.now()))));
  }
}

async function absent(check: () => Promise<unknown>): Promise<boolean> {
  try {
    await check();
    return false;
  } catch (error) {
    if (isDbaasError(error, 'KUBE_NOT_FOUND')) return true;
    throw error;
  }
}

/** The restorable parts of a set, checked: ready, cut, with restoreSize; `online` with its WAL facts. */
function restorableSnapshot(
  d: DescribedSnapshot | undefined,
  role: 'data' | 'wal' | 'volume',
  set: string,
  namespace: string,
): DescribedSnapshot & { content: NonNullable<DescribedSnapshot['content']> } {
  if (!d) {
    throw new DbaasError(
      'BACKUP_NOT_READY',
      `backup "${set}" in namespace "${namespace}" has no ${role} snapshot${role === 'wal' ? ` (${set}-wal): an online backup cannot be restored without its WAL` : ''}`,
      {
        fix: `Check it with: kubectl dbaas backup describe ${set} -n ${namespace}`,
        option: 'backup',
      },
    );
  }
  if (d.state !== 'ready' || !d.content?.snapshotHandle || !d.restoreSize) {
    throw new DbaasError(
      'BACKUP_NOT_READY',
      `VolumeSnapshot ${namespace}/${d.name} is not ready to restore (state ${d.state}${d.error ? `: ${d.error}` : ''}${d.restoreSize ? '' : ', no restoreSize'}${d.content?.snapshotHandle ? '' : ', no snapshotHandle'})`,
      {
        fix:
          d.state === 'pending'
            ? 'Wait until it is readyToUse, then restore.'
            : `Take a new backup; this one failed. Inspect it with: kubectl dbaas backup describe ${set} -n ${namespace}`,
        details: { snapshot: d.name, state: d.state },
        option: 'backup',
      },
    );
  }
  return d as DescribedSnapshot & { content: NonNullable<DescribedSnapshot['content']> };
}

/** Picks and checks the StorageClass: it must provision with the snapshot's driver. */
async function resolveStorageClass(
  clients: KubeClients,
  driver: string,
  requested: string | undefined,
  sourcePvc: { namespace: string; name: string | undefined },
): Promise<V1StorageClass> {
  const all = (await clients.storage.listStorageClass()).items;
  const matching = all.filter((c) => c.provisioner === driver).sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
  const names = matching.map((c) => c.metadata!.name!).join(', ') || 'none';
  if (requested !== undefined) {
    const sc = all.find((c) => c.metadata?.name === requested);
    if (!sc) {
      throw new DbaasError('STORAGE_CLASS_MISMATCH', `StorageClass "${requested}" does not exist`, {
        fix: `Pass a StorageClass whose provisioner is ${driver}: ${names}.`,
        option: 'storageClass',
      });
    }
    if (sc.provisioner !== driver) {
      throw new DbaasError(
        'STORAGE_CLASS_MISMATCH',
        `StorageClass "${requested}" provisions with ${sc.provisioner}, but the backup was taken by ${driver}: that driver cannot restore it`,
        {
          fix: `Pass a StorageClass whose provisioner is ${driver}: ${names}.`,
          option: 'storageClass',
        },
      );
    }
    return sc;
  }
  if (matching.length === 0) {
    throw new DbaasError('STORAGE_CLASS_MISMATCH', `no StorageClass provisions with ${driver}, the driver that took the backup`, {
      fix: `Create a StorageClass with provisioner: ${driver}, then restore.`,
    });
  }
  if (sourcePvc.name) {
    const source = await clients.core.readNamespacedPersistentVolumeClaim({ name: sourcePvc.name, namespace: sourcePvc.namespace }).catch(() => undefined);
    const same = matching.find((c) => c.metadata?.name === source?.spec?.storageClassName);
    if (same) return same;
  }
  const defaults = matching.filter((c) => c.metadata?.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true');
  if (defaults.length === 1) return defaults[0]!;
  if (matching.length === 1) return matching[0]!;
  // Not the caller's input being wrong: the cluster offers a choice the restore will not make for them.
  throw new DbaasError(
    'STORAGE_CLASS_MISMATCH',
    `several StorageClasses provision with ${driver} (${names}) and none is the source PVC's or the default: which one to restore into?`,
    {
      fix: `Pass storageClass with one of: ${names}.`,
      option: 'storageClass',
    },
  );
}

function phaseOf(pvc: V1PersistentVolumeClaim | undefined): string {
  return pvc ? `phase ${pvc.status?.phase ?? 'unknown'}` : 'absent';
}

/**
 * The checked plan of a restore: every object it creates, in order. See {@link planRestore}.
 *
 * @example
 * ```ts
 * const plan: RestorePlan = await planRestore(clients, options);
 * console.log(plan.storageClassName, plan.restoreType, plan.manifests.length);
 * ```
 */
export interface RestorePlan {
  namespace: string;
  backupNamespace: string;
  pvcName: string;
  /** The backup set. */
  set: string;
  mode: ConsistencyMode | undefined;
  /** The backed-up engine (a set that does not record one is PostgreSQL's). */
  engine: SnapshotMetadata['engine'];
  engineVersion: string | undefined;
  restoreSize: string;
  driver: string;
  storageClassName: string;
  waitForConsumer: boolean;
  /** The node the PVCs are bound for now (`consumerNode`), on a WaitForFirstConsumer class. */
  consumerNode?: string;
  /** The restore returns in state `waiting-for-first-consumer`: the class waits, no node is given and no restore-prep Job binds it. */
  endsWaitingForConsumer: boolean;
  crossNamespace: boolean;
  restoreType: 'snapshot' | 'cross-namespace';
  online: boolean;
  /** `online`: the scratch PVC the `-wal` snapshot is restored into (deleted after restore-prep). */
  walPvcName?: string;
  /** `online`: the PVC restore-prep reads the WAL from: the scratch PVC, or the restored pg_wal volume of a set. */
  prepWalPvc?: string;
  /** `online`: the segments restore-prep copies (or, from a set's pg_wal volume, checks). */
  walFiles: string[];
  /** The VolumeSnapshot each PVC is made from; `pair` is the temporary cross-namespace content + snapshot. */
  sources: { data: RestoreSource; wal?: RestoreSource };
  pvcs: { data: V1PersistentVolumeClaim; wal?: V1PersistentVolumeClaim };
  /** A set of several volumes: the PVC of each of the instance's other volumes, with its source. */
  volumes?: RestoredVolume[];
  prepJob?: V1Job;
  /** A CloudNativePG instance's copy for a plain server: what the Job appends to its postgresql.conf (and it removes standby.signal). */
  plainServerSettings?: Readonly<Record<string, string>>;
  /** Everything the restore creates, in creation order. */
  manifests: (VolumeSnapshot | VolumeSnapshotContent | V1PersistentVolumeClaim | V1Job)[];
}

/**
 * Another volume of a restored set (see {@link RestorePlan.volumes}).
 *
 * @example
 * ```ts
 * const v: RestoredVolume = { volume: 'wal', holds: 'wal', mountPath: '/var/lib/postgresql/wal', pvcName: 'pg-restored-wal', source: { vsName: 'nightly-vol-wal' }, pvc };
 * ```
 */
export interface RestoredVolume {
  volume: string;
  holds: 'wal' | 'tablespace';
  /** Where the restored volume must be mounted: `volumeMountPaths`, else where the source pod had it. */
  mountPath: string;
  /** Where the source pod mounted it (the links in the backed-up data directory point there). */
  sourceMountPath: string;
  pvcName: string;
  source: RestoreSource;
  pvc: V1PersistentVolumeClaim;
}

/**
 * The VolumeSnapshot a restored PVC is made from: the backup's own (same namespace) or a temporary
 * one bound to a pre-provisioned content (another namespace).
 *
 * @example
 * ```ts
 * const source: RestoreSource = { vsName: 'nightly' };
 * ```
 */
export interface RestoreSource {
  vsName: string;
  pair?: { content: VolumeSnapshotContent; snapshot: VolumeSnapshot };
}

/**
 * How a plan may name a PVC that exists now: an in-place restore (restore/workload.ts) plans the PVC
 * it will create under the name of the one it deletes first, so the check that refuses an existing
 * target must not refuse that one.
 *
 * @example
 * ```ts
 * const plan = await planRestore(clients, { backup: 'nightly', namespace: 'db', pvcName: 'data-pg-0' }, { pvc: true });
 * ```
 */
export interface RestoreReplacing {
  /** The data PVC exists and is deleted before the plan is executed. */
  pvc?: boolean;
  /** The PVCs of a set's other volumes exist and are deleted before the plan is executed. */
  volumes?: boolean;
}

/**
 * What a restore would create, checked against the cluster without writing anything: the backup
 * set is managed and ready, the size is at least its restoreSize, the StorageClass provisions with
 * its driver, and no target exists. {@link runRestore} creates exactly these objects, in
 * `manifests` order; the CLI's restore dry run prints them.
 *
 * @throws DbaasError as {@link runRestore} does before it creates anything.
 * @example
 * ```ts
 * const plan = await planRestore(clients, { backup: 'nightly', namespace: 'db', pvcName: 'pg-restored' });
 * for (const m of plan.manifests) console.log(m.kind, m.metadata?.name);
 * ```
 */
export async function planRestore(clients: KubeClients, options: RestoreOptions, replacing: RestoreReplacing = {}): Promise<RestorePlan> {
  const namespace = assertDnsLabel(options.namespace, 'namespace');
  const backupNamespace = assertDnsLabel(options.backupNamespace ?? namespace, 'backup namespace');
  const pvcName = assertDnsSubdomain(options.pvcName, 'PVC name');
  if (options.consumerNode !== undefined) assertDnsSubdomain(options.consumerNode, 'consumer node name');
  const details = await new SnapshotClient(clients).describe({ namespace: backupNamespace, name: options.backup });
  const set = details.name;
  if (!details.managed) {
    throw new DbaasError(
      'SNAPSHOT_NOT_MANAGED',
      `VolumeSnapshot ${backupNamespace}/${options.backup} was not taken by kubectl-dbaas: it carries no consistency mode, so a restore of it cannot be trusted`,
      {
        fix: `Restore it with a plain PVC (spec.dataSource) if you know how it was taken, or take a backup with: kubectl dbaas backup create -n ${backupNamespace}`,
        option: 'backup',
      },
    );
  }
  const data = restorableSnapshot(details.data, 'data', set, backupNamespace);
  const meta: SnapshotMetadata | undefined = data.metadata;
  if (details.missingVolumes.length) {
    throw new DbaasError(
      'BACKUP_NOT_READY',
      `backup "${set}" in namespace "${backupNamespace}" has no snapshot of volume ${details.missingVolumes.join(', ')}, which its data snapshot lists as part of the set: the data directory's links into it would point nowhere`,
      { fix: `Check it with: kubectl dbaas backup describe ${set} -n ${backupNamespace}; restore another backup of this instance.`, option: 'backup' },
    );
  }
  const members = details.volumes.map((d) => restorableSnapshot(d, 'volume', set, backupNamespace));
  // A PostgreSQL online set: backup_label and the WAL to the stop LSN complete the data, from its
  // -wal snapshot or, with pg_wal on a volume of its own, from that volume's snapshot taken after
  // pg_backup_stop (MariaDB's is one snapshot).
  const online = meta !== undefined && isPostgresOnline(meta);
  const wal = meta !== undefined && hasWalSnapshot(meta) ? restorableSnapshot(details.wal, 'wal', set, backupNamespace) : undefined;
  const walVolumeSnapshot = online && meta?.walVolume !== undefined ? members.find((m) => m.metadata?.volume === meta.walVolume) : undefined;
  if (online && meta?.walVolume !== undefined && !walVolumeSnapshot) {
    throw new DbaasError('BACKUP_NOT_READY', `online backup "${set}" names ${meta.walVolume} as its WAL volume, and that volume has no snapshot in the set`, {
      option: 'backup',
    });
  }
  const walMeta = wal?.metadata ?? walVolumeSnapshot?.metadata ?? meta;
  let walFiles: string[] = [];
  if (online) {
    if (!walMeta?.startLsn || !walMeta.stopLsn || walMeta.timeline === undefined || !walMeta.backupLabel) {
      throw new DbaasError(
        'METADATA_INVALID',
        `online backup "${set}" does not record its start/stop LSN, timeline and backup_label: it cannot be restored consistently`,
        {
          fix: `Inspect it with: kubectl dbaas backup describe ${set} -n ${backupNamespace}`,
        },
      );
    }
    walFiles = walFilesForBackup(
      walMeta.startLsn,
      walMeta.stopLsn,
      Number(walMeta.timeline),
      walMeta.walSegmentSize ? Number(walMeta.walSegmentSize) : undefined,
    );
  }
  const driver = data.content.driver;
  const foreignDriver = members.find((m) => m.content.driver !== driver);
  if (foreignDriver) {
    throw new DbaasError(
      'TARGET_UNSUPPORTED',
      `the snapshots of backup "${set}" come from two CSI drivers (${driver}, ${foreignDriver.content.driver}): one StorageClass cannot restore them`,
      {
        option: 'backup',
      },
    );
  }
  const storageClass = await resolveStorageClass(clients, driver, options.storageClass, { namespace: backupNamespace, name: data.sourcePvc });
  const storageClassName = storageClass.metadata!.name!;
  const waitForConsumer = storageClass.volumeBindingMode === 'WaitForFirstConsumer';
  const crossNamespace = backupNamespace !== namespace;
  const restoreType = crossNamespace ? 'cross-namespace' : 'snapshot';
  const walPvcName = wal ? derivedName(pvcName, RESTORE_WAL_PVC_SUFFIX, 'subdomain', 'WAL scratch PVC name') : undefined;

  const bindAnnotations: Record<string, string> = options.consumerNode ? { [SELECTED_NODE_ANNOTATION]: options.consumerNode } : {};
  const sourceFor = (snapshot: DescribedSnapshot & { content: NonNullable<DescribedSnapshot['content']> }, target: string): RestoreSource => {
    if (!crossNamespace) return { vsName: snapshot.name };
    const vsName = derivedName(target, RESTORE_SOURCE_SUFFIX, 'subdomain', 'temporary VolumeSnapshot name');
    const pair = buildCrossNamespaceSnapshot({
      source: {
        snapshotHandle: snapshot.content.snapshotHandle!,
        driver,
        namespace: backupNamespace,
        ...(snapshot.snapshotClass ? { snapshotClassName: snapshot.snapshotClass } : {}),
      },
      target: { namespace, name: vsName },
      contentName: derivedName(`dbaas-${namespace}-${vsName}`, '', 'subdomain', 'VolumeSnapshotContent name'),
      extra: { labels: { 'app.kubernetes.io/component': 'restore-source' } },
    });
    pair.snapshot.metadata.labels![DBAAS_LABELS.restoredFrom] = set;
    return { vsName, pair };
  };
  const dataSource = sourceFor(data, pvcName);
  const walSource = wal ? sourceFor(wal, walPvcName!) : undefined;
  const pvcFor = (name: string, snapshot: DescribedSnapshot, vsName: string, size: string | undefined) =>
    buildPvcFromSnapshot({
      name,
      namespace,
      snapshot: { name: vsName, restoreSize: snapshot.restoreSize, driver },
      ...(size !== undefined ? { size } : {}),
      storageClass: { name: storageClassName, provisioner: storageClass.provisioner },
      restoreType,
      // The backup set, also for a PVC made from a temporary copy or from a member snapshot the
      // snapshot-controller named (a group's).
      restoredFrom: set,
      ...(crossNamespace ? { restoredFromNamespace: backupNamespace } : {}),
      extra: {
        labels: { ...(options.extra?.labels ?? {}) },
        annotations: { ...(options.extra?.annotations ?? {}), ...bindAnnotations },
      },
    });
  const dataPvc = pvcFor(pvcName, data, dataSource.vsName, options.size);
  const walPvc = wal && walPvcName ? pvcFor(walPvcName, wal, walSource!.vsName, undefined) : undefined;
  if (walPvc) {
    walPvc.metadata!.labels!['app.kubernetes.io/component'] = 'restore-wal-scratch';
  }
  const volumes: RestoredVolume[] = members.map((member) => {
    const { volume, holds, mountPath } = member.metadata ?? {};
    if (volume === undefined || holds === undefined || mountPath === undefined) {
      throw new DbaasError(
        'METADATA_INVALID',
        `snapshot ${backupNamespace}/${member.name} of backup "${set}" does not record its volume, what it holds and its mount path`,
        {
          option: 'backup',
        },
      );
    }
    const named = typeof options.volumePvcNames === 'function' ? options.volumePvcNames(volume) : options.volumePvcNames?.[volume];
    const name = assertDnsSubdomain(named ?? derivedName(pvcName, `-${volume}`, 'subdomain', `PVC name of volume ${volume}`), `PVC name of volume ${volume}`);
    const source = sourceFor(member, name);
    const pvc = pvcFor(name, member, source.vsName, undefined);
    const target = options.volumeMountPaths?.[volume] ?? mountPath;
    assertMountPath(target, `mount path of volume ${volume}`, 'volumeMountPaths');
    return { volume, holds, mountPath: target, sourceMountPath: mountPath, pvcName: name, source, pvc };
  });
  const unknownMounts = Object.keys(options.volumeMountPaths ?? {}).filter((v) => !volumes.some((m) => m.volume === v));
  if (unknownMounts.length) {
    throw new DbaasError(
      'INVALID_ARGUMENT',
      `backup "${set}" has no volume ${unknownMounts.join(', ')} to mount elsewhere (its other volumes: ${volumes.map((v) => v.volume).join(', ') || 'none'})`,
      { option: 'volumeMountPaths' },
    );
  }
  // A volume mounted elsewhere than in the source pod: the links into it are re-pointed by the restore's Job.
  const relinks = volumes.filter((v) => v.mountPath !== v.sourceMountPath).map((v) => ({ from: v.sourceMountPath, to: v.mountPath }));
  const relocated = (location: string) => {
    const moved = relinks.find((r) => location === r.from || location.startsWith(`${r.from}/`));
    return moved ? `${moved.to}${location.slice(moved.from.length)}` : location;
  };
  const unknownVolumes = Object.keys(typeof options.volumePvcNames === 'object' ? options.volumePvcNames : {}).filter(
    (v) => !volumes.some((m) => m.volume === v),
  );
  if (unknownVolumes.length) {
    throw new DbaasError(
      'INVALID_ARGUMENT',
      `backup "${set}" has no volume ${unknownVolumes.join(', ')} (its volumes: ${volumes.map((v) => v.volume).join(', ') || 'only the data volume'})`,
      {
        option: 'volumePvcNames',
      },
    );
  }
  const pvcNames = [pvcName, ...(walPvcName ? [walPvcName] : []), ...volumes.map((v) => v.pvcName)];
  if (new Set(pvcNames).size !== pvcNames.length) {
    throw new DbaasError('INVALID_ARGUMENT', `the restore would create two PVCs of one name (${pvcNames.join(', ')})`, {
      fix: 'Give each volume its own PVC name.',
      option: 'volumePvcNames',
    });
  }
  const prep = options.prep ?? {};
  const fromCnpg = meta?.sourceWorkload?.kind === 'Cluster' && meta.engine !== 'mysql';
  const plainServerSettings = (options.plainServer ?? fromCnpg) && fromCnpg ? PLAIN_SERVER_SETTINGS : undefined;
  // The restore-prep Job reads the WAL from the -wal snapshot's scratch PVC, or from the restored pg_wal volume itself.
  const walVolumeRestored = walVolumeSnapshot ? volumes.find((v) => v.volume === meta?.walVolume) : undefined;
  const prepWalPvc = walPvcName ?? walVolumeRestored?.pvcName;
  const jobName = (suffix: string) => derivedName(pvcName.slice(0, 50).replace(/[.]/g, '-').replace(/-+$/, ''), suffix, 'label', 'restore Job name');
  // A CloudNativePG instance's copy is worked on with its Cluster's own image (it has the tools and the uid).
  const cnpgImage =
    prep.image === undefined && fromCnpg && (online || relinks.length || plainServerSettings)
      ? await cnpgClusterImage(clients, backupNamespace, meta!.sourceWorkload!.name, Number((meta?.engineVersion ?? '').split('.')[0]) || undefined)
      : undefined;
  const jobOptions = {
    namespace,
    image: prep.image ?? cnpgImage ?? `postgres:${(meta?.engineVersion ?? '').split('.')[0] || 'latest'}`,
    dataPvc: pvcName,
    // The layout the backup recorded from the pod's spec, unless the caller says otherwise.
    runAsUser: prep.runAsUser ?? meta?.runAsUser ?? 999,
    ...((prep.fsGroup ?? meta?.fsGroup) !== undefined ? { fsGroup: (prep.fsGroup ?? meta?.fsGroup)! } : {}),
    ...((prep.dataSubPath ?? meta?.dataSubPath) !== undefined ? { dataSubPath: (prep.dataSubPath ?? meta?.dataSubPath)! } : {}),
    ...(prep.serviceAccountName !== undefined ? { serviceAccountName: prep.serviceAccountName } : {}),
    ...(prep.imagePullPolicy !== undefined ? { imagePullPolicy: prep.imagePullPolicy } : {}),
    ...(prep.resources !== undefined ? { resources: prep.resources } : {}),
    ...(relinks.length ? { relinks } : {}),
    ...(plainServerSettings ? { plainServerSettings } : {}),
    activeDeadlineSeconds: Math.max(60, Math.ceil((options.deadlineMs ?? DEFAULT_RESTORE_DEADLINE_MS) / 1000)),
  };
  const tablespaceMap = walMeta?.tablespaceMap
    ?.split('\n')
    .map((line) => line.replace(/^(\d+ )(.*)$/, (_all, oid: string, location: string) => `${oid}${relocated(location)}`))
    .join('\n');
  const prepJob = online
    ? buildRestorePrepJob({
        ...jobOptions,
        name: jobName('-prep'),
        walPvc: prepWalPvc!,
        ...(walVolumeRestored ? { walVolumeMountPath: walVolumeRestored.mountPath } : {}),
        walFiles,
        backupLabel: walMeta!.backupLabel!,
        ...(tablespaceMap ? { tablespaceMap } : {}),
      })
    : relinks.length || plainServerSettings
      ? buildRelinkJob({ ...jobOptions, name: jobName(relinks.length ? '-relink' : '-plain') })
      : undefined;
  if (prepJob) prepJob.metadata!.labels![DBAAS_LABELS.restoredFrom] = set;

  for (const name of [...(replacing.pvc ? [] : [pvcName]), ...(walPvcName ? [walPvcName] : []), ...(replacing.volumes ? [] : volumes.map((v) => v.pvcName))]) {
    if (!(await absent(() => clients.core.readNamespacedPersistentVolumeClaim({ name, namespace })))) {
      throw new DbaasError('RESTORE_TARGET_EXISTS', `PVC ${namespace}/${name} already exists: a restore never overwrites or adopts a volume`, {
        fix:
          name === pvcName
            ? 'Choose another PVC name, or delete that PVC first if it is really unused.'
            : `Delete the scratch PVC of an earlier interrupted restore: kubectl delete pvc ${name} -n ${namespace}`,
        details: { namespace, name },
        ...(name === pvcName ? { option: 'pvcName' } : {}),
      });
    }
  }
  for (const source of [dataSource, walSource, ...volumes.map((v) => v.source)]) {
    if (!source?.pair) continue;
    const vs = source.pair.snapshot.metadata.name!;
    const vsc = source.pair.content.metadata.name!;
    if (!(await absent(() => clients.volumeSnapshots.get(vs, namespace))) || !(await absent(() => clients.volumeSnapshotContents.get(vsc)))) {
      throw new DbaasError(
        'RESTORE_TARGET_EXISTS',
        `the temporary source VolumeSnapshot ${namespace}/${vs} or VolumeSnapshotContent ${vsc} of a cross-namespace restore already exists (an earlier restore into ${namespace}/${pvcName} was interrupted?)`,
        {
          fix: `Delete them if that restore is over: kubectl delete volumesnapshot ${vs} -n ${namespace}; kubectl delete volumesnapshotcontent ${vsc}`,
        },
      );
    }
  }
  const sources = { data: dataSource, ...(walSource ? { wal: walSource } : {}) };
  const manifests: RestorePlan['manifests'] = [];
  for (const source of [dataSource, walSource, ...volumes.map((v) => v.source)]) if (source?.pair) manifests.push(source.pair.content, source.pair.snapshot);
  manifests.push(dataPvc, ...(walPvc ? [walPvc] : []), ...volumes.map((v) => v.pvc), ...(prepJob ? [prepJob] : []));
  return {
    namespace,
    backupNamespace,
    pvcName,
    set,
    mode: meta?.mode,
    engine: meta?.engine,
    engineVersion: meta?.engineVersion,
    restoreSize: data.restoreSize!,
    driver,
    storageClassName,
    waitForConsumer,
    ...(options.consumerNode !== undefined ? { consumerNode: options.consumerNode } : {}),
    endsWaitingForConsumer: waitForConsumer && !options.consumerNode && !prepJob,
    crossNamespace,
    restoreType,
    online,
    ...(walPvcName ? { walPvcName } : {}),
    ...(prepWalPvc ? { prepWalPvc } : {}),
    walFiles,
    sources,
    pvcs: { data: dataPvc, ...(walPvc ? { wal: walPvc } : {}) },
    ...(volumes.length ? { volumes } : {}),
    ...(prepJob ? { prepJob } : {}),
    ...(plainServerSettings ? { plainServerSettings } : {}),
    manifests,
  };
}

/**
 * Restores a backup set into a new PVC: {@link planRestore}, then {@link executeRestore} of that plan.
 * See {@link RestoreClient.restore}.
 *
 * @throws DbaasError `KUBE_NOT_FOUND` (no such backup), `BACKUP_NOT_READY`, `RESTORE_SIZE_TOO_SMALL`,
 *   `STORAGE_CLASS_MISMATCH`, `RESTORE_TARGET_EXISTS`, `RESTORE_PREP_FAILED`, `KUBE_TIMEOUT`, `KUBE_ABORTED`,
 *   `RESTORE_FAILED` (when cleaning up after a failure left objects behind: `details.remaining` names them)
 * @example
 * ```ts
 * const r = await runRestore(clients, { backup: 'nightly', namespace: 'db', pvcName: 'pg-restored' });
 * ```
 */
export async function runRestore(clients: KubeClients, options: RestoreOptions): Promise<RestoreResult> {
  const startedAt = Date.now();
  const deadline = startedAt + (options.deadlineMs ?? DEFAULT_RESTORE_DEADLINE_MS);
  // 1. Everything checked, and every object built, before anything is created.
  const plan = await planRestore(clients, { ...options, deadlineMs: deadline - Date.now() });
  return await executeRestore(clients, plan, {
    startedAt,
    deadline,
    ...(options.prep?.executor ? { prepExecutor: options.prep.executor } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
}

/**
 * How {@link executeRestore} runs a plan: its clock, how restore-prep runs, progress and abort.
 *
 * @example
 * ```ts
 * const run: RestoreExecution = { deadline: Date.now() + 600_000, onProgress: (e) => console.error(e.phase) };
 * ```
 */
export interface RestoreExecution {
  /** When the restore began (timings count from it). Default: now. */
  startedAt?: number;
  /** Epoch ms. Default: 15 minutes after `startedAt`. */
  deadline?: number;
  /** Default: a Job ({@link jobRestorePrepExecutor}). */
  prepExecutor?: RestorePrepExecutor;
  signal?: AbortSignal;
  onProgress?: (event: RestoreProgress) => void;
}

/**
 * Creates exactly the objects of a {@link RestorePlan}, in `manifests` order, waits for them, runs
 * restore-prep and removes the temporary objects; on failure or abort it deletes what it created,
 * or names what remains.
 *
 * @throws DbaasError as {@link runRestore} does once it creates objects.
 * @example
 * ```ts
 * const plan = await planRestore(clients, { backup: 'nightly', namespace: 'db', pvcName: 'pg-restored' });
 * const r = await executeRestore(clients, plan, { signal });
 * ```
 */
export async function executeRestore(clients: KubeClients, plan: RestorePlan, execution: RestoreExecution = {}): Promise<RestoreResult> {
  const started = execution.startedAt ?? Date.now();
  const deadline = execution.deadline ?? started + DEFAULT_RESTORE_DEADLINE_MS;
  const signal = execution.signal;
  const phases: { phase: RestorePhase; atMs: number }[] = [];
  const progress = (phase: RestorePhase, message: string, fields: Omit<RestoreProgress, 'phase' | 'message' | 'elapsedMs'> = {}): void => {
    const atMs = Date.now() - started;
    phases.push({ phase, atMs });
    execution.onProgress?.({ phase, message, elapsedMs: atMs, ...fields });
  };
  const checkAborted = (): void => {
    if (signal?.aborted) throw new DbaasError('KUBE_ABORTED', 'the restore was aborted', { cause: signal.reason });
  };

  const { namespace, backupNamespace, pvcName, set, storageClassName, crossNamespace, restoreType, online, walPvcName, walFiles, driver } = plan;
  const { data: dataPvc, wal: walPvc } = plan.pvcs;
  const volumes = plan.volumes ?? [];
  const sources = [plan.sources.data, plan.sources.wal, ...volumes.map((v) => v.source)];
  const volumePvcNames = volumes.map((v) => v.pvcName);
  const andVolumes = volumePvcNames.length ? ` and the set's other volume(s) ${volumePvcNames.join(', ')}` : '';
  const prepJob = plan.prepJob;
  checkAborted();
  progress(
    'resolved',
    `backup ${backupNamespace}/${set} (${plan.mode ?? 'unknown mode'}, ${plan.restoreSize}) -> PVC ${namespace}/${pvcName} in StorageClass ${storageClassName}${crossNamespace ? ' (cross-namespace)' : ''}`,
    { restoreType },
  );
  const pvcRefs: RestoreObjectRef[] = [pvcName, ...(walPvcName ? [walPvcName] : []), ...volumePvcNames].map((name) => ({
    kind: 'PersistentVolumeClaim',
    name,
    namespace,
  }));

  // 2. Create, in an order that lets a failure undo it.
  const created: Created[] = [];
  const temporary: TemporaryObject[] = [];
  const cleanupAfterFailure = async (error: unknown): Promise<never> => {
    const failure = toDbaasError(error);
    progress('cleanup', `removing what this restore created after: ${failure.message}`, { failure: failure.message });
    const remaining: string[] = [];
    for (const c of [...created].reverse()) {
      try {
        await deleteCreated(clients, c);
      } catch (deleteError) {
        remaining.push(`${describeCreated(c)} (${(deleteError as Error).message}; delete it with: ${deleteCommand(c)})`);
      }
    }
    if (remaining.length === 0) throw failure;
    throw new DbaasError('RESTORE_FAILED', `${failure.message}; cleaning up left: ${remaining.join('; ')}`, {
      cause: failure,
      fix: failure.fix ?? 'Delete the objects named above.',
      details: { remaining, code: failure.code },
    });
  };

  try {
    for (const source of sources) {
      if (!source?.pair) continue;
      await clients.volumeSnapshotContents.create(source.pair.content);
      const content: TemporaryObject = { kind: 'VolumeSnapshotContent', name: source.pair.content.metadata.name! };
      created.push(content);
      temporary.push(content);
      await clients.volumeSnapshots.create(source.pair.snapshot);
      const snapshot: TemporaryObject = { kind: 'VolumeSnapshot', name: source.pair.snapshot.metadata.name!, namespace };
      created.push(snapshot);
      temporary.push(snapshot);
    }
    if (crossNamespace) {
      for (const source of sources) {
        if (!source?.pair) continue;
        await watchUntil<VolumeSnapshot>(clients, {
          path: clients.volumeSnapshots.path({ namespace }),
          name: source.vsName,
          predicate: (vs) => vs?.status?.readyToUse === true && !!vs.status.restoreSize,
          deadline,
          ...(signal ? { signal } : {}),
          what: 'to be ready (bound to the pre-provisioned content)',
          describe: (vs) => (vs?.status?.error?.message ? `error: ${vs.status.error.message}` : `readyToUse ${vs?.status?.readyToUse ?? false}`),
        });
      }
      progress(
        'source-created',
        `temporary VolumeSnapshot(s) ${sources
          .filter((s) => s?.pair)
          .map((s) => s!.vsName)
          .join(', ')} bound to the backup's snapshotHandle (Retain)`,
        { objects: temporary.map(({ kind, name, namespace: ns }) => ({ kind, name, ...(ns ? { namespace: ns } : {}) })) },
      );
    }

    const pvcCreatedAt = Date.now();
    for (const body of [dataPvc, ...(walPvc ? [walPvc] : []), ...volumes.map((v) => v.pvc)]) {
      try {
        await clients.core.createNamespacedPersistentVolumeClaim({ namespace, body });
      } catch (error) {
        if (isDbaasError(error, 'KUBE_CONFLICT')) {
          throw new DbaasError('RESTORE_TARGET_EXISTS', `PVC ${namespace}/${body.metadata!.name} was created by someone else meanwhile: not touching it`, {
            cause: error,
          });
        }
        throw error;
      }
      created.push({ kind: 'PersistentVolumeClaim', name: body.metadata!.name!, namespace });
    }
    progress(
      'pvc-created',
      `PVC ${namespace}/${pvcName}${walPvcName ? ` and WAL scratch PVC ${walPvcName}` : ''}${andVolumes} created (${dataPvc.spec!.resources!.requests!.storage})`,
      { objects: pvcRefs },
    );

    const remaining: string[] = [];
    let createToBoundMs: number | undefined;
    let prepMs: number | undefined;
    let prepOutput: string | undefined;
    let state: RestoreResult['state'] = 'ready';

    const waitBound = async (name: string) =>
      await watchUntil<V1PersistentVolumeClaim>(clients, {
        path: `/api/v1/namespaces/${namespace}/persistentvolumeclaims`,
        name,
        predicate: (p) => p === undefined || p.status?.phase === 'Bound' || p.status?.phase === 'Lost',
        deadline,
        ...(signal ? { signal } : {}),
        what: 'to be Bound',
        describe: phaseOf,
      });

    if (plan.endsWaitingForConsumer) {
      state = 'waiting-for-first-consumer';
      progress(
        'waiting-for-first-consumer',
        `StorageClass ${storageClassName} binds on first use: the volume is provisioned from the snapshot when a pod that mounts PVC ${pvcName}${andVolumes} is scheduled`,
        { objects: pvcRefs },
      );
      for (const t of temporary) remaining.push(`${describeCreated(t)}: the source of the pending PVC; delete it after the PVC is Bound (${deleteCommand(t)})`);
    } else {
      // An online restore on a class that waits binds through its restore-prep Job.
      if (!(prepJob && plan.waitForConsumer && !plan.consumerNode)) {
        for (const name of [pvcName, ...(walPvcName ? [walPvcName] : []), ...volumePvcNames]) {
          const bound = await waitBound(name);
          if (bound.object?.status?.phase !== 'Bound') {
            throw new DbaasError(
              'RESTORE_FAILED',
              `PVC ${namespace}/${name} ${bound.object ? `is ${bound.object.status?.phase}` : 'was deleted'} instead of Bound`,
            );
          }
        }
        createToBoundMs = Date.now() - pvcCreatedAt;
        progress(
          'bound',
          `PVC ${pvcName}${walPvcName ? ` and ${walPvcName}` : ''}${andVolumes} Bound after ${createToBoundMs} ms (the driver has written the snapshot's data)`,
          { objects: pvcRefs },
        );
      }
      const prepWalPvc = plan.prepWalPvc;
      if (prepJob) {
        const executor = execution.prepExecutor ?? jobRestorePrepExecutor();
        const prepStarted = Date.now();
        progress(
          'prep-started',
          online
            ? `${walPvcName ? 'copying' : 'checking'} ${walFiles.length} WAL segment(s) ${walFiles[0]}..${walFiles[walFiles.length - 1]} and writing backup_label with ${executor.description}`
            : plan.volumes?.some((v) => v.mountPath !== v.sourceMountPath)
              ? `re-pointing the data directory's links to the volumes' new mount paths${plan.plainServerSettings ? " and turning CloudNativePG's settings off" : ''} with ${executor.description}`
              : `turning CloudNativePG's settings off for a plain PostgreSQL server (end of postgresql.conf) and removing standby.signal with ${executor.description}`,
          { objects: [{ kind: 'Job', name: prepJob.metadata!.name!, namespace }] },
        );
        const out = await executor.run(clients, {
          namespace,
          job: prepJob,
          dataPvc: pvcName,
          ...(prepWalPvc ? { walPvc: prepWalPvc } : {}),
          deadline,
          ...(signal ? { signal } : {}),
        });
        prepOutput = out.output;
        prepMs = Date.now() - prepStarted;
        if (createToBoundMs === undefined) createToBoundMs = Date.now() - pvcCreatedAt;
        const walScratch = walPvcName ? created.find((c) => c.kind === 'PersistentVolumeClaim' && c.name === walPvcName) : undefined;
        if (walScratch) {
          await deleteCreated(clients, walScratch);
          created.splice(created.indexOf(walScratch), 1);
        }
      }
      progress(
        'data-ready',
        `PVC ${namespace}/${pvcName} holds the backup${online ? ', its WAL and backup_label: PostgreSQL replays to the end of the backup on start' : ''}`,
        { objects: [pvcRefs[0]!] },
      );
      // A bound PVC no longer needs its source: drop the temporary cross-namespace pair (Retain keeps the backup's data).
      // Snapshot before content, each waited out: `remaining: []` means both are gone, not only marked.
      const waitUntil = Math.min(deadline, Date.now() + TEMPORARY_GONE_WAIT_MS);
      for (const t of [...temporary].reverse()) {
        try {
          const still = await deleteUntilGone(clients, t, waitUntil, signal);
          if (still)
            remaining.push(
              `${describeCreated(t)}: ${still}; it goes once the snapshot controller releases it (check with: kubectl get ${deleteCommand(t).slice('kubectl delete '.length)})`,
            );
        } catch (error) {
          remaining.push(`${describeCreated(t)}: could not be deleted (${(error as Error).message}); delete it with: ${deleteCommand(t)}`);
        }
      }
    }
    const pvc = await clients.core.readNamespacedPersistentVolumeClaim({ name: pvcName, namespace });
    return {
      namespace,
      pvcName,
      state,
      backup: { namespace: backupNamespace, name: set, mode: plan.mode, engine: plan.engine, engineVersion: plan.engineVersion },
      restoreType,
      size: dataPvc.spec!.resources!.requests!.storage!,
      storageClass: storageClassName,
      driver,
      pvc,
      ...(volumes.length
        ? {
            volumes: volumes.map(({ volume, holds, mountPath, sourceMountPath, pvcName: name }) => ({
              volume,
              holds,
              mountPath,
              sourceMountPath,
              pvcName: name,
            })),
          }
        : {}),
      remaining,
      ...(prepOutput !== undefined ? { prepOutput } : {}),
      ...(plan.plainServerSettings ? { plainServerSettings: plan.plainServerSettings } : {}),
      timings: { phases, createToBoundMs, prepMs, totalMs: Date.now() - started },
    };
  } catch (error) {
    return await cleanupAfterFailure(signal?.aborted ? new DbaasError('KUBE_ABORTED', 'the restore was aborted', { cause: error }) : error);
  }
}
