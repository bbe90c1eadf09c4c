// What a backup will do, decided before anything is written: the one place that chooses the
// target, the engine, the mode (with the engine), the fencing and the snapshots, and that refuses
// what cannot work, with the fix. runBackup (snapshot/backup.ts) executes this plan; the dry run of
// `kubectl dbaas backup create` prints it. Planning only reads the cluster; with
// `dryRun: 'server'` the planned VolumeSnapshots are also sent with `dryRun=All` (admission and
// validation run, nothing is stored). Also: the instance of a CloudNativePG Cluster to back up.
import { CNPG_CLUSTERS } from '../kube/cnpg-cluster.js';
import type { EngineMetadata, FencingStrategy } from '../engines/engine.js';
import { fenceHolder } from '../engines/fencing.js';
import { dataLayoutOfPod, databaseVolumesBeyond, type DataLayout } from '../engines/pod-layout.js';
import { DbaasError, isDbaasError } from '../errors.js';
import type { KubeClients } from '../kube/clients.js';
import type { VolumeGroupSnapshot, VolumeSnapshot } from '../kube/snapshot-types.js';
import type { V1Pod } from '@kubernetes/client-node';
import { chooseConsistencyMode, type SnapshotAtomicity } from '../manifests/atomicity.js';
import { backupSetNames, buildVolumeSnapshot, volumeSnapshotName, type ExtraMetadata } from '../manifests/builders.js';
import {
  DBAAS_LABELS,
  ENGINE_NAMES,
  MANAGED_BY,
  hasWalSnapshot,
  isManagedSnapshot,
  readSnapshotMetadata,
  type ConsistencyMode,
  type SnapshotRole,
} from '../manifests/metadata.js';
import type { BackupOptions } from './backup.js';
import { decideSession, type BackupSessionPlan, type SessionDecision } from './backup-session.js';
import { buildGroupSnapshot, groupSnapshotClassOf } from './group-snapshot.js';
import { discoverBackupTarget, impliedFencing, podsMountingPvc, type DiscoveredTarget } from './discovery.js';

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
 * What {@link planBackup} decided: what `runBackup` executes, and what a dry run prints.
 *
 * @example
 * ```ts
 * const plan = await planBackup(clients, { namespace: 'db', target: { pvc: 'data-pg-0' } });
 * console.log(plan.mode, plan.engine, plan.fencing, plan.manifests.map((m) => m.metadata.name));
 * ```
 */
export interface BackupPlan {
  name: string;
  namespace: string;
  pvc: string;
  /** The PersistentVolume bound to the PVC. */
  pv: string;
  mode: ConsistencyMode;
  /** Whether the mode was asked for or chosen from the driver's atomicity and the engine. */
  modeSource: 'requested' | 'default';
  /** The engine the mode was chosen for. */
  engine: 'postgres' | 'mysql' | 'mariadb';
  driver: string;
  snapshotClass: string;
  snapshotClassSource: DiscoveredTarget['snapshotClassSource'];
  atomicity: SnapshotAtomicity;
  workload?: DiscoveredTarget['workload'];
  /** `fenced`: how the database is stopped and started. */
  fencing?: string;
  /** The SQL session, when the mode needs one or a connection was given: through the pod (which, with which credentials) or the given connection. */
  session?: BackupSessionPlan;
  /** Where PGDATA lies in the volume and whom its files belong to, read from the pod's spec; recorded on the snapshots for restore and verify. */
  dataLayout?: DataLayout;
  /**
   * The other PVCs of the instance that hold part of its database (its `pg_wal`, tablespaces):
   * snapshotted with the data volume as one set, each recorded with where the database container
   * mounts it. Absent for an instance on one volume.
   */
  volumes?: SetVolume[];
  /**
   * The VolumeSnapshots the backup creates: the data snapshot and, in PostgreSQL's `online` mode,
   * the `<name>-wal` snapshot. Engine facts (LSNs, WAL files, backup_label, system identifier) and
   * the cut/ready times are added to their annotations while the backup runs.
   */
  manifests: VolumeSnapshot[];
  /**
   * `crash`/`checkpoint` of a set of several volumes: the VolumeGroupSnapshot that cuts them all at
   * one instant. Its member snapshots are made and named by the snapshot-controller (`manifests` is
   * then empty); the backup labels and annotates each as its role in the set.
   */
  groupSnapshot?: VolumeGroupSnapshot;
  /** Snapshots of this set's names that exist already: an earlier interrupted run of this backup, which a run adopts (anyone else's are refused). */
  existing: { name: string; role: SnapshotRole }[];
  /** What a run does with `existing`: adopt them (`cut`: the data snapshot was cut already; a set's other volumes are checked one by one), instead of creating the set. */
  adopt?: { cut: boolean };
  dryRun: 'client' | 'server';
}

/**
 * Another PVC of the instance in a backup set (see {@link BackupPlan.volumes}).
 *
 * @example
 * ```ts
 * const v: SetVolume = { claim: 'wal-pg-0', volume: 'wal', holds: 'wal', mountPath: '/var/lib/postgresql/wal', snapshot: 'nightly-vol-wal' };
 * ```
 */
export interface SetVolume {
  claim: string;
  /** The pod's name for the volume (`spec.volumes[].name`; a StatefulSet's volumeClaimTemplate name). */
  volume: string;
  holds: 'wal' | 'tablespace';
  /** Where the database container mounts it. */
  mountPath: string;
  /** Its VolumeSnapshot in the set. */
  snapshot: string;
}

/**
 * A default backup name for a PVC at a time: `<pvc>-<yyyymmddhhmmss>`, shortened to fit 59 characters.
 *
 * @example
 * ```ts
 * defaultBackupName('data-pg-0', new Date('2024-06-01T02:00:00Z')); // 'data-pg-0-20240601020000'
 * ```
 */
export function defaultBackupName(pvc: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const base =
    pvc
      .replace(/[^a-z0-9-]/g, '-')
      .slice(0, 44)
      .replace(/-+$/, '') || 'backup';
  return `${base}-${stamp}`;
}

/** The refusal of `checkpoint`/`online` without a connection, in the engine's words. */
function connectionNeeded(mode: ConsistencyMode, engine: 'postgres' | 'mysql' | 'mariadb'): DbaasError {
  if (engine === 'postgres') {
    return new DbaasError(
      'INVALID_ARGUMENT',
      `mode ${mode} needs a connection to the database (a SQL session runs ${mode === 'online' ? 'pg_backup_start/stop' : 'CHECKPOINT'})`,
      {
        fix: "Pass database: { throughPod: {} } to reach the pod's server through the API server (credentials from its environment, or secretRef), or a connection (host/port/user or a postgresql:// URL).",
        option: 'database',
      },
    );
  }
  return new DbaasError('INVALID_ARGUMENT', `mode ${mode} needs a connection to ${ENGINE_NAMES[engine]} (a SQL session holds the global lock across the cut)`, {
    fix: "Pass database: { throughPod: {} } to reach the pod's server through the API server (credentials from its environment, or secretRef), or a connection (host/port/user, the password in $MYSQL_PWD, or a mysql:// URL, or a Secret).",
    option: 'database',
  });
}

/** Why an existing snapshot of the wanted name is not ours to adopt, or undefined when it is. */
function foreignReason(vs: VolumeSnapshot, want: { backupSet: string; pvc: string; role: SnapshotRole; mode: ConsistencyMode }): string | undefined {
  const labels = vs.metadata.labels ?? {};
  if (!isManagedSnapshot(vs)) {
    const by = labels[DBAAS_LABELS.managedBy];
    return `it is not managed by ${MANAGED_BY}${by ? ` (managed-by: ${by})` : ' (no app.kubernetes.io/managed-by label)'}`;
  }
  if (labels[DBAAS_LABELS.backupSet] !== want.backupSet) return `it belongs to backup set "${labels[DBAAS_LABELS.backupSet]}"`;
  if (labels[DBAAS_LABELS.backupSource] !== want.pvc) return `it is a backup of PVC "${labels[DBAAS_LABELS.backupSource]}", not "${want.pvc}"`;
  if (labels[DBAAS_LABELS.role] !== want.role) return `it is the ${labels[DBAAS_LABELS.role]} snapshot of its set, not the ${want.role} one`;
  try {
    const meta = readSnapshotMetadata(vs);
    if (meta.mode !== want.mode) return `it was taken in mode "${meta.mode}", not "${want.mode}"`;
  } catch (error) {
    return `its kubectl-dbaas metadata cannot be read: ${(error as Error).message}`;
  }
  return undefined;
}

async function getSnapshot(clients: KubeClients, name: string, namespace: string): Promise<VolumeSnapshot | undefined> {
  try {
    return await clients.volumeSnapshots.get(name, namespace);
  } catch (error) {
    if (isDbaasError(error, 'KUBE_NOT_FOUND')) return undefined;
    throw error;
  }
}

export const isCut = (vs: VolumeSnapshot | undefined): boolean => !!vs?.status?.boundVolumeSnapshotContentName && !!vs.status.creationTime;

/**
 * The VolumeSnapshot of one role of a planned set: the planned manifest when `facts` are empty and
 * `requestedAt` is the plan's time, the one runBackup creates with the engine's facts otherwise.
 */
export function plannedSnapshot(
  plan: BackupPlan,
  role: SnapshotRole,
  requestedAt: Date,
  extra: ExtraMetadata | undefined,
  facts: EngineMetadata = {},
  member?: SetVolume,
): VolumeSnapshot {
  if ((role === 'volume') !== (member !== undefined))
    throw new DbaasError('INTERNAL', `a ${role} snapshot ${member ? 'of a member volume' : 'without its volume'}`);
  const inSet = plan.volumes?.length
    ? member
      ? { volume: member.volume, holds: member.holds, mountPath: member.mountPath }
      : {
          setVolumes: plan.volumes.map((v) => v.volume),
          ...(plan.volumes.some((v) => v.holds === 'wal') ? { walVolume: plan.volumes.find((v) => v.holds === 'wal')!.volume } : {}),
          ...(plan.dataLayout?.volume !== undefined ? { volume: plan.dataLayout.volume } : {}),
          ...(plan.dataLayout?.mountPath !== undefined ? { mountPath: plan.dataLayout.mountPath } : {}),
        }
    : {};
  return buildVolumeSnapshot({
    namespace: plan.namespace,
    pvc: member?.claim ?? plan.pvc,
    snapshotClass: plan.snapshotClass,
    metadata: {
      ...facts,
      ...inSet,
      backupSet: plan.name,
      role,
      mode: plan.mode,
      requestedAt,
      ...(plan.dataLayout?.dataSubPath !== undefined ? { dataSubPath: plan.dataLayout.dataSubPath } : {}),
      ...(plan.dataLayout?.runAsUser !== undefined ? { runAsUser: plan.dataLayout.runAsUser } : {}),
      ...(plan.dataLayout?.fsGroup !== undefined ? { fsGroup: plan.dataLayout.fsGroup } : {}),
      ...(plan.workload ? { sourceWorkload: { kind: plan.workload.kind, name: plan.workload.name } } : {}),
    },
    ...(extra ? { extra } : {}),
  });
}

/**
 * A set cut by a group is never adopted: its members are the group's, and an earlier run's group
 * (complete or not) is refused with the command that deletes it.
 */
async function refuseEarlierGroupRun(clients: KubeClients, namespace: string, name: string): Promise<void> {
  const earlier = await clients.volumeGroupSnapshots.get(name, namespace).catch((error: unknown) => {
    if (isDbaasError(error, 'KUBE_NOT_FOUND')) return undefined;
    throw error;
  });
  const members = await clients.volumeSnapshots.list({ namespace, labelSelector: `${DBAAS_LABELS.backupSet}=${name}`, limit: 1 });
  if (!earlier && members.items.length === 0) return;
  const what = earlier ? `VolumeGroupSnapshot ${namespace}/${name}` : `VolumeSnapshot ${members.items[0]!.metadata.name} of backup set ${name}`;
  throw new DbaasError('KUBE_CONFLICT', `${what} already exists: a set cut by a VolumeGroupSnapshot is not resumed or added to`, {
    fix: earlier
      ? `Choose another backup name, or delete the earlier one if it is yours: kubectl -n ${namespace} delete volumegroupsnapshot ${name} (its member snapshots go with it).`
      : `Choose another backup name, or delete backup ${name} (kubectl dbaas backup delete ${name}).`,
    option: 'name',
    details: { backupSet: name },
  });
}

/**
 * A plan and what runBackup needs to execute it besides its printable form: the fencing strategy
 * behind `plan.fencing`, and the snapshots of an earlier run it adopts.
 */
export interface BackupDecision {
  plan: BackupPlan;
  fencing?: FencingStrategy;
  session: SessionDecision;
  adopted: { data?: VolumeSnapshot; wal?: VolumeSnapshot; volumes: VolumeSnapshot[] };
}

/** Decides a backup (see {@link planBackup}), reading the cluster only; `now` names and stamps it. */
export async function decideBackup(clients: KubeClients, options: Omit<BackupPlanOptions, 'dryRun'>, now: Date): Promise<BackupDecision> {
  const { namespace } = options;
  // When the set's name is known before discovery (given, or the default of a PVC target), look for
  // an earlier run's snapshots while discovery runs: fewer round trips before anything is requested.
  const earlyName = options.name ?? (options.target.pvc !== undefined ? defaultBackupName(options.target.pvc, now) : undefined);
  const early = earlyName === undefined ? undefined : backupSetNames(earlyName);
  const prefetch = (snapshotName: string | undefined): Promise<VolumeSnapshot | undefined> | undefined => {
    if (snapshotName === undefined) return undefined;
    const read = getSnapshot(clients, snapshotName, namespace);
    read.catch(() => undefined); // awaited below when used; a discovery error may come first
    return read;
  };
  const earlyData = prefetch(early?.data);
  const earlyWal = options.mode === 'online' ? prefetch(early?.wal) : undefined;
  const found = await discoverBackupTarget(clients, {
    namespace,
    target: options.target,
    ...(options.snapshotClass ? { snapshotClass: options.snapshotClass } : {}),
  });
  const engineKind = options.engine?.engine ?? options.engineKind ?? 'postgres';
  const mode = chooseConsistencyMode(found.atomicity, options.mode, { force: options.force ?? false, engine: engineKind });
  const pvc = found.pvc.metadata.name;
  const name = options.name ?? defaultBackupName(pvc, now);
  const names = backupSetNames(name);

  let fencing: FencingStrategy | undefined;
  if (mode === 'fenced') {
    fencing = options.fencing ?? (await impliedFencing(clients, found, { retainClaims: options.fenceRetainClaims ?? false }));
    if (!fencing) {
      throw new DbaasError(
        'TARGET_NOT_FOUND',
        `mode fenced needs a way to stop the database using PVC ${namespace}/${pvc}, and none was found (no owning StatefulSet or CloudNativePG Cluster)`,
        {
          fix: 'Target the database pod of a StatefulSet or CloudNativePG Cluster, name the fencing (a StatefulSet or a CloudNativePG instance), or use mode online with a connection to the database.',
          option: 'fencing',
          details: { pvc, namespace },
        },
      );
    }
  }
  // Refusals of the fencing itself (PVCs deleted on scale-down, a fence another backup holds) are the plan's, so a dry run shows them.
  if (fencing?.preflight) await fencing.preflight({ clients, namespace, deadline: now.getTime() + 60_000, holder: fenceHolder(namespace, name) });
  if ((mode === 'checkpoint' || mode === 'online') && !options.engine && options.database === undefined) throw connectionNeeded(mode, engineKind);
  const session = await decideSession(clients, {
    namespace,
    pvc,
    targetPod: found.pod,
    mode,
    engine: engineKind,
    database: options.database,
    ownEngine: options.engine !== undefined,
  });
  // The pod running on the volume tells where its data directory is (a PVC target: the one pod that mounts it, if any).
  const layoutPod =
    found.pod ??
    session.pod ??
    (await podsMountingPvc(clients, namespace, pvc).then(
      (pods) => (pods.length === 1 ? pods[0] : undefined),
      (error: unknown) => {
        // Optional: without `list` on pods the snapshots just do not record the layout.
        if (isDbaasError(error, 'KUBE_FORBIDDEN')) return undefined;
        throw error;
      },
    ));
  const dataLayout = layoutPod ? dataLayoutOfPod(layoutPod, pvc, engineKind) : undefined;
  const { volumes, groupSnapshotClass } =
    layoutPod && engineKind === 'postgres' ? await instanceVolumes(clients, layoutPod, pvc, { mode, backupSet: name, driver: found.driver }) : { volumes: [] };
  const groupSnapshot = groupSnapshotClass === undefined ? undefined : buildGroupSnapshot({ namespace, backupSet: name, pvc, className: groupSnapshotClass });
  if (groupSnapshot) await refuseEarlierGroupRun(clients, namespace, name);
  if (mode === 'online' && options.engine && !options.engine.beginOnlineBackup) {
    throw new DbaasError('INVALID_ARGUMENT', `the ${options.engine.engine} engine hooks given have no online backup (beginOnlineBackup)`, {
      fix: 'Give engine hooks that implement beginOnlineBackup, or choose another mode.',
      option: 'engine',
    });
  }
  if (mode === 'checkpoint' && options.engine && !options.engine.checkpoint) {
    throw new DbaasError('INVALID_ARGUMENT', `the ${options.engine.engine} engine hooks given have no checkpoint`, {
      fix: 'Give engine hooks that implement checkpoint, or choose another mode.',
      option: 'engine',
    });
  }
  // MySQL/MariaDB keep their redo and binary logs in the data directory, and an instance with pg_wal
  // on a volume of its own has that volume snapshotted after pg_backup_stop: no -wal snapshot.
  const walVolume = volumes.find((v) => v.holds === 'wal')?.volume;
  const withWalSnapshot = hasWalSnapshot({ mode, engine: engineKind, walVolume });
  const roles: ('data' | 'wal')[] = withWalSnapshot ? ['data', 'wal'] : ['data'];

  // Idempotency: adopt this backup's own snapshots (an interrupted earlier run), refuse anyone else's.
  const existingData = await (early?.data === names.data && earlyData ? earlyData : getSnapshot(clients, names.data, namespace));
  const existingWal = withWalSnapshot ? await (early?.wal === names.wal && earlyWal ? earlyWal : getSnapshot(clients, names.wal, namespace)) : undefined;
  for (const [vs, role] of [
    [existingData, 'data'],
    [existingWal, 'wal'],
  ] as const) {
    if (!vs) continue;
    const why = foreignReason(vs, { backupSet: name, pvc, role, mode });
    if (why) {
      throw new DbaasError('KUBE_CONFLICT', `VolumeSnapshot ${namespace}/${vs.metadata.name} already exists and is not this backup's: ${why}`, {
        fix: 'Choose another backup name, or delete that snapshot if it is yours to delete.',
        option: 'name',
        details: { snapshot: vs.metadata.name, labels: vs.metadata.labels ?? {} },
      });
    }
  }
  const existingVolumes = (await Promise.all(volumes.map((v) => getSnapshot(clients, v.snapshot, namespace)))).flatMap((vs, i) =>
    vs ? [{ vs, volume: volumes[i]! }] : [],
  );
  for (const { vs, volume } of existingVolumes) {
    const why = foreignReason(vs, { backupSet: name, pvc: volume.claim, role: 'volume', mode });
    if (why) {
      throw new DbaasError('KUBE_CONFLICT', `VolumeSnapshot ${namespace}/${vs.metadata.name} already exists and is not this backup's: ${why}`, {
        fix: 'Choose another backup name, or delete that snapshot if it is yours to delete.',
        option: 'name',
        details: { snapshot: vs.metadata.name, labels: vs.metadata.labels ?? {} },
      });
    }
  }
  if (existingVolumes.length && !existingData) {
    const left = existingVolumes.map((e) => e.vs.metadata.name!);
    throw new DbaasError(
      'KUBE_CONFLICT',
      `VolumeSnapshot(s) ${left.join(', ')} of backup set ${name} exist without its data snapshot ${names.data}: an incomplete set`,
      {
        fix: `Delete them (kubectl -n ${namespace} delete volumesnapshot ${left.join(' ')}) or choose another name.`,
        option: 'name',
      },
    );
  }
  if (existingWal && !existingData) {
    throw new DbaasError(
      'KUBE_CONFLICT',
      `VolumeSnapshot ${namespace}/${names.wal} exists without its data snapshot ${names.data}: an incomplete online backup set`,
      {
        fix: `Delete it (kubectl -n ${namespace} delete volumesnapshot ${names.wal}) or choose another name.`,
        option: 'name',
      },
    );
  }
  const existingWalVolume = existingVolumes.find((e) => e.volume.holds === 'wal')?.vs;
  const walCopy = withWalSnapshot ? existingWal : mode === 'online' && walVolume !== undefined ? existingWalVolume : undefined;
  // A set of several volumes is one cut: an earlier run's set is adopted only when it is whole and
  // cut (completing it now would pair volumes from two different moments).
  if (
    existingData &&
    volumes.length > 0 &&
    mode !== 'online' &&
    (existingVolumes.length < volumes.length || ![existingData, ...existingVolumes.map((e) => e.vs)].every(isCut))
  ) {
    const left = [names.data, ...existingVolumes.map((e) => e.vs.metadata.name!)];
    throw new DbaasError(
      'KUBE_CONFLICT',
      `backup set ${name} is an incomplete set of several volumes from an earlier run; it cannot be completed (its volumes must be cut in one fence)`,
      { fix: `Delete it and run again: kubectl -n ${namespace} delete volumesnapshot ${left.join(' ')}, or choose another name.`, option: 'name' },
    );
  }
  // An online set is whole or nothing: every planned volume there, and its WAL copy after pg_backup_stop.
  const onlineIncomplete =
    (withWalSnapshot || (mode === 'online' && walVolume !== undefined)) && (!walCopy || readSnapshotMetadata(walCopy).stopLsn === undefined);
  if (existingData && (onlineIncomplete || (mode === 'online' && existingVolumes.length < volumes.length))) {
    throw new DbaasError(
      'KUBE_CONFLICT',
      `backup set ${name} is an incomplete online backup from an earlier run; it cannot be resumed (its backup session ended with that run, so the data snapshot has no backup_label/WAL to the stop LSN)`,
      {
        fix: `Delete it and run again: kubectl -n ${namespace} delete volumesnapshot ${[names.data, ...(existingWal ? [names.wal] : []), ...existingVolumes.map((e) => e.vs.metadata.name!)].join(' ')}, or choose another name.`,
        option: 'name',
      },
    );
  }
  const existing: BackupPlan['existing'] = [
    ...(existingData ? [{ name: names.data, role: 'data' as const }] : []),
    ...(existingWal ? [{ name: names.wal, role: 'wal' as const }] : []),
    ...existingVolumes.map((e) => ({ name: e.vs.metadata.name!, role: 'volume' as const })),
  ];

  const plan: BackupPlan = {
    name,
    namespace,
    pvc,
    pv: found.pv.metadata?.name ?? '',
    mode,
    modeSource: options.mode ? 'requested' : 'default',
    engine: engineKind,
    driver: found.driver,
    snapshotClass: found.snapshotClass.metadata.name,
    snapshotClassSource: found.snapshotClassSource,
    atomicity: found.atomicity,
    ...(found.workload ? { workload: found.workload } : {}),
    ...(fencing ? { fencing: fencing.description } : {}),
    ...(session.plan ? { session: session.plan } : {}),
    ...(dataLayout ? { dataLayout } : {}),
    ...(volumes.length ? { volumes } : {}),
    ...(groupSnapshot ? { groupSnapshot } : {}),
    manifests: [],
    existing,
    ...(existingData ? { adopt: { cut: isCut(existingData) } } : {}),
    dryRun: 'client',
  };
  // A group's member snapshots are made and named by the snapshot-controller: only the group is planned.
  plan.manifests = groupSnapshot
    ? []
    : [
        ...roles.map((role) => plannedSnapshot(plan, role, now, options.extra)),
        ...volumes.map((v) => plannedSnapshot(plan, 'volume', now, options.extra, {}, v)),
      ];
  return {
    plan,
    ...(fencing ? { fencing } : {}),
    session,
    adopted: {
      ...(existingData ? { data: existingData } : {}),
      ...(existingWal ? { wal: existingWal } : {}),
      volumes: existingVolumes.map((e) => e.vs),
    },
  };
}

/**
 * Plans a backup: exactly what `runBackup` executes for the same options (discovery PVC -> PV ->
 * driver -> VolumeSnapshotClass, the mode from the driver's atomicity and the engine, the fencing
 * for `fenced`, the snapshots, an earlier run to adopt, the same refusals), without writing
 * anything. With `dryRun: 'server'` the VolumeSnapshots are also sent to the API server with
 * `dryRun=All`, and the returned manifests are the server's answers (defaults applied, admission run).
 *
 * @throws DbaasError as `runBackup` before its first write: `MODE_UNSAFE`, `INVALID_ARGUMENT` (the
 *   options themselves), `TARGET_NOT_FOUND` (nothing to fence with), `KUBE_NOT_FOUND` (PVC, PV,
 *   snapshot class), `KUBE_CONFLICT` (a snapshot of that name that is not this backup's),
 *   `KUBE_FORBIDDEN`; with `server` also what the API server rejects (`KUBE_INVALID`).
 * @example
 * ```ts
 * const plan = await planBackup(clients, { namespace: 'db', target: { pod: 'pg-0' }, dryRun: 'server' });
 * for (const vs of plan.manifests) console.log(`volumesnapshot/${vs.metadata.name} (${plan.mode})`);
 * ```
 */
export async function planBackup(clients: KubeClients, options: BackupPlanOptions): Promise<BackupPlan> {
  const { dryRun = 'client', now = new Date(), ...rest } = options;
  const { plan } = await decideBackup(clients, rest, now);
  if (dryRun === 'client') return plan;
  // An adopted snapshot exists: sending it again would only repeat the server's "already exists".
  const adopted = new Set(plan.existing.map((e) => e.name));
  const manifests = await Promise.all(
    plan.manifests.map((body) => (adopted.has(body.metadata.name!) ? body : clients.volumeSnapshots.create(body, { dryRun: true }))),
  );
  const groupSnapshot = plan.groupSnapshot ? await clients.volumeGroupSnapshots.create(plan.groupSnapshot, { dryRun: true }) : undefined;
  return { ...plan, manifests, ...(groupSnapshot ? { groupSnapshot } : {}), dryRun };
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
 * @throws DbaasError `TARGET_NOT_FOUND` (no such Cluster, or CloudNativePG is not installed; an
 *   unknown instance), `TARGET_UNSUPPORTED` (the Cluster reports no instances yet)
 * @example
 * ```ts
 * const chosen = await cnpgInstanceTarget(clients, 'db', 'pg');
 * await runBackup(clients, { namespace: 'db', target: { pod: chosen.instance } }); // fenced by cnpg.io/fencedInstances on hostpath
 * ```
 */
export async function cnpgInstanceTarget(clients: KubeClients, namespace: string, cluster: string, instance?: string): Promise<CnpgInstance> {
  let object: { status?: { instanceNames?: string[]; currentPrimary?: string } };
  try {
    object = (await clients.custom.getNamespacedCustomObject({
      ...CNPG_CLUSTERS,
      namespace,
      name: cluster,
    })) as typeof object;
  } catch (error) {
    if (isDbaasError(error, 'KUBE_NOT_FOUND')) {
      throw new DbaasError(
        'TARGET_NOT_FOUND',
        `CloudNativePG Cluster ${namespace}/${cluster} not found (or CloudNativePG is not installed: no clusters.postgresql.cnpg.io resource)`,
        {
          fix: `kubectl -n ${namespace} get clusters.postgresql.cnpg.io; for a plain StatefulSet target its pod, for a volume its PVC.`,
          details: { cluster, namespace },
          cause: error,
        },
      );
    }
    throw error;
  }
  const names = [...(object.status?.instanceNames ?? [])].sort();
  const primary = object.status?.currentPrimary;
  if (instance !== undefined) {
    if (!names.includes(instance)) {
      throw new DbaasError(
        'TARGET_NOT_FOUND',
        `${instance} is not an instance of CloudNativePG Cluster ${namespace}/${cluster} (instances: ${names.join(', ') || 'none'})`,
        {
          fix: 'Name one of its instances, or leave the instance out to back up a standby.',
          option: 'instance',
          details: { cluster, instance, instances: names },
        },
      );
    }
    return { cluster, instance, role: instance === primary ? 'primary' : 'standby', reason: 'named' };
  }
  const standby = names.find((n) => n !== primary);
  if (standby) return { cluster, instance: standby, role: 'standby', reason: `a standby (the primary ${primary ?? '?'} keeps serving)` };
  if (primary) return { cluster, instance: primary, role: 'primary', reason: 'the only instance (the primary)' };
  throw new DbaasError('TARGET_UNSUPPORTED', `CloudNativePG Cluster ${namespace}/${cluster} reports no instances (status.instanceNames is empty)`, {
    fix: `kubectl -n ${namespace} describe clusters.postgresql.cnpg.io ${cluster}`,
  });
}

/**
 * The other PVCs of a PostgreSQL instance that hold part of its database (`pg_wal`, tablespaces),
 * to be snapshotted with `pvc` as one set; refuses what such a set cannot be in this mode. `fenced`
 * takes any: the instance is stopped, so snapshots of its volumes taken one after another are one
 * cut. `online` takes tablespace volumes inside `pg_backup_start`/`pg_backup_stop` with the data
 * volume (fuzzy copies the WAL repairs; `tablespace_map` restores their links) and pg_wal's own
 * volume after `pg_backup_stop` (it holds the WAL from start to stop, as the `-wal` snapshot does
 * otherwise). `crash` and `checkpoint` need the volumes cut at one instant: a VolumeGroupSnapshot
 * of the driver's VolumeGroupSnapshotClass (`groupSnapshotClass`), refused when it has none.
 * Better no backup than one that looks fine and cannot restore.
 */
async function instanceVolumes(
  clients: KubeClients,
  pod: V1Pod,
  pvc: string,
  context: { mode: ConsistencyMode; backupSet: string; driver: string },
): Promise<{ volumes: SetVolume[]; groupSnapshotClass?: string }> {
  const namespace = pod.metadata?.namespace ?? clients.namespace;
  const others = (pod.spec?.volumes ?? []).map((v) => v.persistentVolumeClaim?.claimName).filter((c): c is string => !!c && c !== pvc);
  if (others.length === 0) return { volumes: [] };
  const claims = new Map(
    await Promise.all(
      others.map(async (claim) => {
        // Optional: without the PVC's labels only the pod spec speaks.
        const read = await clients.core.readNamespacedPersistentVolumeClaim({ name: claim, namespace }).catch(() => undefined);
        return [claim, read] as const;
      }),
    ),
  );
  const beyond = databaseVolumesBeyond(pod, pvc, Object.fromEntries([...claims].map(([claim, read]) => [claim, read?.metadata?.labels])));
  if (beyond.length === 0) return { volumes: [] };
  const podName = `${namespace}/${pod.metadata?.name}`;
  const parts = beyond.map((v) => `${v.holds === 'wal' ? 'its WAL' : 'a tablespace'} on PVC ${v.claim} (${v.source})`).join(', ');
  const details = { pod: pod.metadata?.name, pvc, volumes: beyond.map((v) => ({ claim: v.claim, holds: v.holds })) };
  const walVolumes = beyond.filter((v) => v.holds === 'wal');
  if (walVolumes.length > 1) {
    throw new DbaasError('TARGET_UNSUPPORTED', `PostgreSQL in pod ${podName} keeps ${parts}: more than one volume claims to hold its pg_wal`, {
      fix: 'Label only the PVC that holds pg_wal (dbaas.io/holds=wal), or none when the image variables say it.',
      option: 'target',
      details,
    });
  }
  let groupSnapshotClass: string | undefined;
  if (context.mode === 'crash' || context.mode === 'checkpoint') {
    groupSnapshotClass = await groupSnapshotClassOf(clients, context.driver);
    if (groupSnapshotClass === undefined) {
      throw new DbaasError(
        'TARGET_UNSUPPORTED',
        `PostgreSQL in pod ${podName} keeps ${parts}: its volumes must be cut at one instant in mode ${context.mode}, by a VolumeGroupSnapshot, and driver ${context.driver} has no VolumeGroupSnapshotClass`,
        {
          fix: `If the driver offers group snapshots (its controller advertises the group controller service), create a VolumeGroupSnapshotClass for ${context.driver}; otherwise use mode fenced (the instance is stopped briefly and every one of its volumes is snapshotted in the same fence) or mode online (the volumes inside pg_backup_start/stop, pg_wal after it). docs/consistency.md says what each mode does with such an instance.`,
          option: 'mode',
          details,
        },
      );
    }
  }
  const unmounted = beyond.filter((v) => v.mountPath === undefined || v.subPath !== undefined);
  if (unmounted.length) {
    throw new DbaasError(
      'TARGET_UNSUPPORTED',
      `PostgreSQL in pod ${podName} keeps ${parts}, and the database container ${unmounted
        .map((v) => (v.mountPath === undefined ? `does not mount volume ${v.volume}` : `mounts only subPath ${v.subPath} of volume ${v.volume}`))
        .join(', ')}: a restored set could not be mounted where the links in its data directory point`,
      {
        fix: 'Mount each volume of the database whole (no subPath) in its container, or keep pg_wal and tablespaces in the data volume.',
        option: 'target',
        details,
      },
    );
  }
  const elsewhere = [];
  for (const v of beyond) {
    const pv = claims.get(v.claim)?.spec?.volumeName;
    const driver = pv ? (await clients.core.readPersistentVolume({ name: pv }).catch(() => undefined))?.spec?.csi?.driver : undefined;
    if (driver !== context.driver) elsewhere.push(`${v.claim} (${driver ?? (pv ? `PV ${pv} unreadable or not CSI` : 'not bound')})`);
  }
  if (elsewhere.length) {
    throw new DbaasError(
      'TARGET_UNSUPPORTED',
      `PostgreSQL in pod ${podName} keeps ${parts}, but not every one of those PVCs is a bound volume of ${context.driver}, the data volume's driver: ${elsewhere.join(', ')}`,
      {
        fix: 'Keep all volumes of the instance on one CSI driver (one StorageClass), so that one VolumeSnapshotClass snapshots them all.',
        option: 'target',
        details,
      },
    );
  }
  const volumes = beyond.map((v) => ({
    claim: v.claim,
    volume: v.volume,
    holds: v.holds,
    mountPath: v.mountPath!,
    snapshot: volumeSnapshotName(context.backupSet, v.volume),
  }));
  return { volumes, ...(groupSnapshotClass !== undefined ? { groupSnapshotClass } : {}) };
}
