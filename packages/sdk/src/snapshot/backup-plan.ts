// What a backup would do, without doing it: the dry run of `kubectl dbaas backup create`
// (`--dry-run=client|server`). The same discovery and mode rules as runBackup (snapshot/backup.ts),
// no writes; with `server`, the planned VolumeSnapshots are also sent to the API server with
// `dryRun=All` (admission and validation run, nothing is stored). Also: the instance of a
// CloudNativePG Cluster to back up (`--cnpg-cluster`).
import { DbaasError, isDbaasError } from '../errors.js';
import type { KubeClients } from '../kube/clients.js';
import type { VolumeSnapshot } from '../kube/snapshot-types.js';
import { chooseConsistencyMode, type SnapshotAtomicity } from '../manifests/atomicity.js';
import { backupSetNames, buildVolumeSnapshot } from '../manifests/builders.js';
import { isManagedSnapshot, type ConsistencyMode } from '../manifests/metadata.js';
import { connectionNeeded, defaultBackupName, type BackupOptions } from './backup.js';
import { discoverBackupTarget, impliedFencing, type DiscoveredTarget } from './discovery.js';

/**
 * Options of {@link planBackup}: those of `runBackup` (signal, progress and deadline are not used),
 * plus where the dry run happens.
 *
 * @example
 * ```ts
 * const opts: BackupPlanOptions = { namespace: 'db', target: { pod: 'pg-0' }, dryRun: 'server' };
 * ```
 */
export interface BackupPlanOptions extends Omit<BackupOptions, 'signal' | 'onProgress' | 'deadlineMs'> {
  /** `client` (default): build the manifests only. `server`: also send them with `dryRun=All`. */
  dryRun?: 'client' | 'server';
  /** Time used for the default name and `requested-at` (default now). */
  now?: Date;
}

/**
 * What {@link planBackup} found and would create.
 *
 * @example
 * ```ts
 * const plan = await planBackup(clients, { namespace: 'db', target: { pvc: 'data-pg-0' } });
 * console.log(plan.mode, plan.fencing, plan.manifests.map((m) => m.metadata.name));
 * ```
 */
export interface BackupPlan {
  name: string;
  namespace: string;
  pvc: string;
  mode: ConsistencyMode;
  /** Whether the mode was asked for or chosen from the driver's atomicity. */
  modeSource: 'requested' | 'default';
  driver: string;
  snapshotClass: string;
  snapshotClassSource: DiscoveredTarget['snapshotClassSource'];
  atomicity: SnapshotAtomicity;
  workload?: DiscoveredTarget['workload'];
  /** `fenced`: how the database would be stopped and started. */
  fencing?: string;
  /**
   * The VolumeSnapshots the backup would create: the data snapshot and, in `online` mode, the
   * `<name>-wal` snapshot. Engine facts (LSNs, WAL files, backup_label, system identifier) and the
   * cut/ready times are added to their annotations while the backup runs.
   */
  manifests: VolumeSnapshot[];
  /** Snapshots of this set's names that exist already: a run adopts its own and refuses others. */
  existing: { name: string; managed: boolean }[];
  dryRun: 'client' | 'server';
}


/**
 * Plans a backup exactly as `runBackup` would start it (discovery PVC -> PV -> driver ->
 * VolumeSnapshotClass, the mode from the driver's atomicity, the fencing for `fenced`, the same
 * refusals) and returns the VolumeSnapshots it would create, without creating anything. With
 * `dryRun: 'server'` they are also sent to the API server with `dryRun=All`, and the returned
 * manifests are the server's answers (defaults applied, admission run).
 *
 * @throws DbaasError as `runBackup` before its first write: `MODE_UNSAFE`, `INVALID_ARGUMENT`,
 *   `KUBE_NOT_FOUND` (PVC, PV, snapshot class), `KUBE_FORBIDDEN`; with `server` also what the API
 *   server rejects (`KUBE_CONFLICT` when a snapshot of that name exists, `KUBE_INVALID`).
 * @example
 * ```ts
 * const plan = await planBackup(clients, { namespace: 'db', target: { pod: 'pg-0' }, dryRun: 'server' });
 * for (const vs of plan.manifests) console.log(`volumesnapshot/${vs.metadata.name} (${plan.mode})`);
 * ```
 */
export async function planBackup(clients: KubeClients, options: BackupPlanOptions): Promise<BackupPlan> {
  const { namespace } = options;
  const now = options.now ?? new Date();
  const dryRun = options.dryRun ?? 'client';
  const found = await discoverBackupTarget(clients, { namespace, target: options.target, ...(options.snapshotClass ? { snapshotClass: options.snapshotClass } : {}) });
  const engineKind = options.engine?.engine ?? options.engineKind ?? 'postgres';
  const mode = chooseConsistencyMode(found.atomicity, options.mode, { force: options.force ?? false, engine: engineKind });
  const pvc = found.pvc.metadata.name;
  const name = options.name ?? defaultBackupName(pvc, now);
  const names = backupSetNames(name);

  let fencing: string | undefined;
  if (mode === 'fenced') {
    fencing = options.fencing?.description ?? (await impliedFencing(clients, found))?.description;
    if (!fencing) {
      throw new DbaasError('INVALID_ARGUMENT', `mode fenced needs a way to stop the database using PVC ${namespace}/${pvc}, and none was found (no owning StatefulSet or CloudNativePG Cluster)`, {
        fix: 'Target the database pod (--pod) of a StatefulSet or CloudNativePG Cluster, name the fencing (--fence statefulset/NAME or --fence cnpg/CLUSTER), or use --mode online with the connection flags.',
      });
    }
  }
  if ((mode === 'checkpoint' || mode === 'online') && !options.engine && options.database === undefined) throw connectionNeeded(mode, engineKind);
  // MySQL/MariaDB keep their redo and binary logs in the data directory: no -wal snapshot.
  const walSnapshot = mode === 'online' && engineKind === 'postgres';

  const existing: BackupPlan['existing'] = [];
  for (const snapshotName of walSnapshot ? [names.data, names.wal] : [names.data]) {
    try {
      const vs = await clients.volumeSnapshots.get(snapshotName, namespace);
      existing.push({ name: snapshotName, managed: isManagedSnapshot(vs) });
    } catch (error) {
      if (!isDbaasError(error, 'KUBE_NOT_FOUND')) throw error;
    }
  }

  const roles: ('data' | 'wal')[] = walSnapshot ? ['data', 'wal'] : ['data'];
  let manifests = roles.map((role) =>
    buildVolumeSnapshot({
      namespace,
      pvc,
      snapshotClass: found.snapshotClass.metadata.name,
      metadata: {
        backupSet: name,
        role,
        mode,
        requestedAt: now,
        ...(found.workload ? { sourceWorkload: { kind: found.workload.kind, name: found.workload.name } } : {}),
      },
      ...(options.extra ? { extra: options.extra } : {}),
    }),
  );
  if (dryRun === 'server') manifests = await Promise.all(manifests.map((body) => clients.volumeSnapshots.create(body, { dryRun: true })));

  return {
    name,
    namespace,
    pvc,
    mode,
    modeSource: options.mode ? 'requested' : 'default',
    driver: found.driver,
    snapshotClass: found.snapshotClass.metadata.name,
    snapshotClassSource: found.snapshotClassSource,
    atomicity: found.atomicity,
    ...(found.workload ? { workload: found.workload } : {}),
    ...(fencing ? { fencing } : {}),
    manifests,
    existing,
    dryRun,
  };
}

/**
 * The instance chosen by {@link cnpgInstanceTarget}.
 *
 * @example
 * ```ts
 * const { instance, role } = await cnpgInstanceTarget(clients, 'db', 'pg');
 * ```
 */
export interface CnpgInstance {
  cluster: string;
  /** The instance (pod) name: the backup target `{ pod: instance }`. */
  instance: string;
  role: 'primary' | 'standby';
  /** Why this one. */
  reason: string;
}

/**
 * The instance of a CloudNativePG `Cluster` (`postgresql.cnpg.io/v1`) to back up: `instance` when
 * given (it must be one of the Cluster's `status.instanceNames`), else a standby (fencing it stops
 * no application traffic; CloudNativePG's own snapshot backups prefer a standby too), else the
 * primary (`status.currentPrimary`) of a one-instance cluster.
 *
 * @throws DbaasError `KUBE_NOT_FOUND` (no such Cluster, or CloudNativePG is not installed),
 *   `INVALID_ARGUMENT` (unknown instance, or the Cluster reports no instances yet)
 * @example
 * ```ts
 * const chosen = await cnpgInstanceTarget(clients, 'db', 'pg');
 * await runBackup(clients, { namespace: 'db', target: { pod: chosen.instance } }); // fenced by cnpg.io/fencedInstances on hostpath
 * ```
 */
export async function cnpgInstanceTarget(clients: KubeClients, namespace: string, cluster: string, instance?: string): Promise<CnpgInstance> {
  let object: { status?: { instanceNames?: string[]; currentPrimary?: string } };
  try {
    object = (await clients.custom.getNamespacedCustomObject({ group: 'postgresql.cnpg.io', version: 'v1', plural: 'clusters', namespace, name: cluster })) as typeof object;
  } catch (error) {
    if (isDbaasError(error, 'KUBE_NOT_FOUND')) {
      throw new DbaasError('KUBE_NOT_FOUND', `CloudNativePG Cluster ${namespace}/${cluster} not found (or CloudNativePG is not installed: no clusters.postgresql.cnpg.io resource)`, {
        fix: `kubectl -n ${namespace} get clusters.postgresql.cnpg.io; for a plain StatefulSet use --pod, for a volume --pvc.`,
        cause: error,
      });
    }
    throw error;
  }
  const names = [...(object.status?.instanceNames ?? [])].sort();
  const primary = object.status?.currentPrimary;
  if (instance !== undefined) {
    if (!names.includes(instance)) {
      throw new DbaasError('INVALID_ARGUMENT', `${instance} is not an instance of CloudNativePG Cluster ${namespace}/${cluster} (instances: ${names.join(', ') || 'none'})`, {
        fix: 'Name one of its instances, or leave the instance out to back up a standby.',
      });
    }
    return { cluster, instance, role: instance === primary ? 'primary' : 'standby', reason: 'named' };
  }
  const standby = names.find((n) => n !== primary);
  if (standby) return { cluster, instance: standby, role: 'standby', reason: `a standby (the primary ${primary ?? '?'} keeps serving)` };
  if (primary) return { cluster, instance: primary, role: 'primary', reason: 'the only instance (the primary)' };
  throw new DbaasError('INVALID_ARGUMENT', `CloudNativePG Cluster ${namespace}/${cluster} reports no instances (status.instanceNames is empty)`, {
    fix: `kubectl -n ${namespace} describe clusters.postgresql.cnpg.io ${cluster}`,
  });
}
