// One backup of a PostgreSQL volume as a CSI VolumeSnapshot, in one of the four consistency modes
// of docs/consistency.md. SnapshotClient.backup() delegates here. The fence or the backup session
// ends at the cut (boundVolumeSnapshotContentName + creationTime), never later, and always:
// also on error, deadline and abort, after which the snapshots this run created are deleted.
import type { EngineHooks, EngineMetadata, EngineOnlineBackup, FenceContext, FencingStrategy } from '../engines/engine.js';
import { postgresEngine } from '../engines/postgres/engine.js';
import { DbaasError, isDbaasError, toDbaasError } from '../errors.js';
import type { KubeClients } from '../kube/clients.js';
import type { VolumeSnapshot } from '../kube/snapshot-types.js';
import { watchUntil, type WatchUntilStats } from '../kube/watch-until.js';
import type { SnapshotAtomicity } from '../manifests/atomicity.js';
import { chooseConsistencyMode } from '../manifests/atomicity.js';
import { backupSetNames, buildVolumeSnapshot, type ExtraMetadata } from '../manifests/builders.js';
import {
  DBAAS_LABELS,
  MANAGED_BY,
  isManagedSnapshot,
  readSnapshotMetadata,
  writeSnapshotMetadata,
  type ConsistencyMode,
  type SnapshotMetadata,
} from '../manifests/metadata.js';
import { mysqlEngine } from '../engines/mysql/engine.js';
import { resolveDatabaseConnection, resolveMysqlConnection, type DatabaseConnection, type MysqlDatabaseConnection } from '../engines/postgres/secret.js';
import { discoverBackupTarget, impliedFencing, type BackupTarget } from './discovery.js';

/** Default overall deadline of a backup: 10 minutes. */
const DEFAULT_DEADLINE_MS = 10 * 60_000;

/**
 * The steps a backup reports through `onProgress`.
 *
 * @example
 * ```ts
 * const phase: BackupPhase = 'cut';
 * ```
 */
export type BackupPhase =
  | 'discovered'
  | 'adopting'
  | 'fencing'
  | 'fenced'
  | 'checkpoint'
  | 'backup-started'
  | 'snapshot-requested'
  | 'snapshot-error'
  | 'cut'
  | 'backup-stopped'
  | 'unfenced'
  | 'released'
  | 'ready'
  | 'cleanup';

/**
 * One progress event of {@link runBackup}.
 *
 * @example
 * ```ts
 * const onProgress = (e: BackupProgress) => console.error(`${(e.elapsedMs / 1000).toFixed(1)}s ${e.phase}: ${e.message}`);
 * ```
 */
export interface BackupProgress {
  phase: BackupPhase;
  message: string;
  /** Milliseconds since runBackup was called. */
  elapsedMs: number;
  /** The VolumeSnapshot concerned, if any. */
  snapshot?: string;
}

/**
 * Options of {@link runBackup}.
 *
 * @example
 * ```ts
 * const options: BackupOptions = {
 *   namespace: 'db', target: { pvc: 'data-pg-0' }, mode: 'online', name: 'nightly-2024-06-01',
 *   database: { host: '127.0.0.1', port: 5432, user: 'postgres' }, deadlineMs: 300_000,
 * };
 * ```
 */
export interface BackupOptions {
  namespace: string;
  target: BackupTarget;
  /** Default: `checkpoint` on atomic drivers, `fenced` otherwise (see `chooseConsistencyMode`). */
  mode?: ConsistencyMode;
  /** Backup set name (a DNS-1123 label of at most 59 characters). Default `<pvc>-<yyyymmddhhmmss>`. */
  name?: string;
  /** VolumeSnapshotClass. Default: the driver's default class, else its only class. */
  snapshotClass?: string;
  /** Allow `crash`/`checkpoint` on a driver whose snapshots are not atomic. */
  force?: boolean;
  /**
   * How to reach the database: needed by `checkpoint` and `online`; optional otherwise (then engine
   * facts are recorded too). A URL, client options (`pg`'s, or `mysql2`'s for MySQL/MariaDB), or
   * `{ secretRef, host?, port? }`: user, password and database (and host/port unless given) from a
   * Secret (see `resolveDatabaseConnection`, `resolveMysqlConnection`). Which engine it is, is
   * `engineKind`.
   */
  database?: DatabaseConnection | MysqlDatabaseConnection;
  /**
   * The engine of the target when no `engine` hooks are given: decides the modes
   * (`ENGINE_MODES`) and, with `database`, which client connects (`postgresEngine` or
   * `mysqlEngine`). `detectTargetEngine` reads it from the cluster. Default `postgres`.
   */
  engineKind?: 'postgres' | 'mysql' | 'mariadb';
  /** Engine hooks to use instead of connecting on `database` (another engine, or a caller's own connection). */
  engine?: EngineHooks;
  /** `fenced` mode: how to stop and restart the database. Default: from the pod's or PVC's StatefulSet / CNPG Cluster. */
  fencing?: FencingStrategy;
  /** Aborting ends the fence / backup session and deletes the snapshots this run created. */
  signal?: AbortSignal;
  onProgress?: (event: BackupProgress) => void;
  /** Overall deadline in milliseconds (fence, cut and readiness together). Default 10 minutes. */
  deadlineMs?: number;
  /** Extra labels/annotations on the snapshots (not under `dbaas.io/`). */
  extra?: ExtraMetadata;
}

/**
 * Timings of one snapshot of a backup, as this process observed them.
 *
 * @example
 * ```ts
 * console.log(result.timings.snapshots.nightly.requestToReadyMs);
 * ```
 */
export interface SnapshotTimings {
  requestedAt: Date;
  cutAt: Date | undefined;
  readyAt: Date | undefined;
  requestToCutMs: number | undefined;
  requestToReadyMs: number | undefined;
  /** The watches of this run on this snapshot (cut and ready waits together). */
  watch: SnapshotWatchStats;
}

/**
 * How much list/watch work the waits on one snapshot took: `reconnects` counts watches resumed
 * from the last resourceVersion after a dropped connection (API server restart, network),
 * `relists` the lists after 410 Gone.
 *
 * @example
 * ```ts
 * const w = result.timings.snapshots.nightly.watch;
 * if (w.reconnects > 0) console.log(`the watch was resumed ${w.reconnects} time(s), relisted ${w.relists}`);
 * ```
 */
export type SnapshotWatchStats = Omit<WatchUntilStats, 'lastError'> & { lastError?: string };

/**
 * What {@link runBackup} did.
 *
 * @example
 * ```ts
 * const r = await runBackup(clients, opts);
 * console.log(r.name, r.mode, r.snapshots.data.status?.restoreSize, r.metadata.wal?.stopLsn);
 * ```
 */
export interface BackupResult {
  name: string;
  namespace: string;
  pvc: string;
  mode: ConsistencyMode;
  driver: string;
  snapshotClass: string;
  atomicity: SnapshotAtomicity;
  /** An existing snapshot set of this backup (an earlier interrupted run) was adopted. */
  adopted: boolean;
  snapshots: { data: VolumeSnapshot; wal?: VolumeSnapshot };
  metadata: { data: SnapshotMetadata; wal?: SnapshotMetadata };
  timings: {
    totalMs: number;
    /** `fenced`: from the start of fence() until unfence() returned. */
    fencedMs?: number;
    /** `online`: from pg_backup_start until the slot was released. */
    backupSessionMs?: number;
    snapshots: Record<string, SnapshotTimings>;
  };
  /** Errors the driver reported on the snapshots while they were retried (e.g. tar's "file changed as we read it"). */
  snapshotErrors: string[];
  /** The fencing strategy used, for `fenced`. */
  fencing?: string;
}

type Meta = SnapshotMetadata;

const noWatch = (): SnapshotWatchStats => ({ lists: 0, watches: 0, reconnects: 0, relists: 0 });

/** Adds the stats of one watchUntil call (from its result, or from the details of its error). */
function addWatchStats(into: SnapshotWatchStats | undefined, stats: unknown): void {
  if (!into || !stats || typeof stats !== 'object') return;
  const s = stats as Partial<WatchUntilStats>;
  into.lists += s.lists ?? 0;
  into.watches += s.watches ?? 0;
  into.reconnects += s.reconnects ?? 0;
  into.relists += s.relists ?? 0;
  if (s.lastError) into.lastError = s.lastError;
}

const isCut = (vs: VolumeSnapshot | undefined): boolean => !!vs?.status?.boundVolumeSnapshotContentName && !!vs.status.creationTime;

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
  const base = pvc.replace(/[^a-z0-9-]/g, '-').slice(0, 44).replace(/-+$/, '') || 'backup';
  return `${base}-${stamp}`;
}

/** Why an existing snapshot of the wanted name is not ours to adopt, or undefined when it is. */
function foreignReason(vs: VolumeSnapshot, want: { backupSet: string; pvc: string; role: 'data' | 'wal'; mode: ConsistencyMode }): string | undefined {
  const labels = vs.metadata.labels ?? {};
  if (!isManagedSnapshot(vs)) {
    const by = labels[DBAAS_LABELS.managedBy];
    return `it is not managed by ${MANAGED_BY}${by ? ` (managed-by: ${by})` : ' (no app.kubernetes.io/managed-by label)'}`;
  }
  if (labels[DBAAS_LABELS.backupSet] !== want.backupSet) return `it belongs to backup set "${labels[DBAAS_LABELS.backupSet]}"`;
  if (labels[DBAAS_LABELS.backupSource] !== want.pvc) return `it is a backup of PVC "${labels[DBAAS_LABELS.backupSource]}", not "${want.pvc}"`;
  if (labels[DBAAS_LABELS.role] !== want.role) return `it is the ${labels[DBAAS_LABELS.role]} snapshot of its set, not the ${want.role} one`;
  let meta: Meta;
  try {
    meta = readSnapshotMetadata(vs);
  } catch (error) {
    return `its kubectl-dbaas metadata cannot be read: ${(error as Error).message}`;
  }
  if (meta.mode !== want.mode) return `it was taken in mode "${meta.mode}", not "${want.mode}"`;
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

const ANN_BEING_CREATED = 'snapshot.storage.kubernetes.io/volumesnapshot-being-created';
const ANN_BEING_DELETED = 'snapshot.storage.kubernetes.io/volumesnapshot-being-deleted';
/** How long the cleanup waits for a deleted partial snapshot to be gone. */
const PARTIAL_DELETE_WAIT_MS = 30_000;

/**
 * Deletes a snapshot this run created and waits until it is gone: true, or why it remains.
 *
 * A snapshot deleted while the driver is still inside CreateSnapshot can stall: the snapshot-controller
 * marks its VolumeSnapshotContent being-deleted, the csi-snapshotter refuses to delete while
 * CreateSnapshot runs, and when the call returns ready its status update can race another update so
 * the content is not requeued (kubernetes-csi/external-snapshotter#1258; seen with v8.7.0 here after
 * a snapshot-controller restart). The content then waits for the sidecar's resync (15 minutes by
 * default). When the content shows exactly that state (deletionTimestamp, being-deleted, not
 * being-created, ready), an annotation on it is touched so the sidecar syncs it again, which deletes it.
 */
async function deletePartialSnapshot(clients: KubeClients, namespace: string, snapshotName: string, log: (message: string) => void): Promise<true | string> {
  try {
    await clients.volumeSnapshots.delete(snapshotName, namespace);
  } catch (e) {
    if (isDbaasError(e, 'KUBE_NOT_FOUND')) return true;
    return `could not be deleted: ${(e as Error).message}`;
  }
  const until = Date.now() + PARTIAL_DELETE_WAIT_MS;
  let retriggered = 0;
  for (;;) {
    try {
      await watchUntil<VolumeSnapshot>(clients, {
        path: clients.volumeSnapshots.path({ namespace }),
        name: snapshotName,
        predicate: (_vs, e) => e.type === 'ABSENT' || e.type === 'DELETED',
        deadline: Math.min(until, Date.now() + 5_000),
        what: 'to be deleted',
      });
      return true;
    } catch (e) {
      if (isDbaasError(e, 'KUBE_NOT_FOUND')) return true;
      if (!isDbaasError(e, 'KUBE_TIMEOUT')) return `deletion requested, then: ${(e as Error).message}`;
    }
    if (Date.now() >= until) break;
    try {
      const vs = await clients.volumeSnapshots.get(snapshotName, namespace);
      const contentName = vs.status?.boundVolumeSnapshotContentName;
      if (!contentName) continue;
      const content = await clients.volumeSnapshotContents.get(contentName);
      const annotations = content.metadata.annotations ?? {};
      if (content.metadata.deletionTimestamp && annotations[ANN_BEING_DELETED] && !annotations[ANN_BEING_CREATED] && content.status?.readyToUse === true) {
        await clients.volumeSnapshotContents.patch(contentName, { metadata: { annotations: { 'dbaas.io/deletion-retriggered-at': new Date().toISOString() } } });
        retriggered += 1;
        log(
          `VolumeSnapshotContent ${contentName} of ${snapshotName} is marked for deletion and ready, but the csi-snapshotter has not deleted it (kubernetes-csi/external-snapshotter#1258): annotated it so the sidecar syncs it again`,
        );
      }
    } catch (e) {
      if (isDbaasError(e, 'KUBE_NOT_FOUND')) continue; // gone meanwhile: the next wait sees it
      // Not allowed to read or patch contents: keep waiting; the message below says what to do.
    }
  }
  return (
    `deletion requested, still present after ${PARTIAL_DELETE_WAIT_MS / 1000} s: its finalizers wait for the snapshot-controller and the driver (a CreateSnapshot retry may still be running)` +
    `${retriggered ? `; its VolumeSnapshotContent was annotated ${retriggered} time(s) to make the csi-snapshotter sync it again` : ''}; kubectl delete volumesnapshot finishes it`
  );
}


/**
 * Backs up a PostgreSQL volume as a CSI VolumeSnapshot (plus, in `online` mode, a second snapshot
 * `<name>-wal` holding the WAL to the backup-end record), consistent by construction:
 *
 * - `crash`: the snapshot only. `checkpoint`: `CHECKPOINT`, the LSNs recorded, the snapshot. Both
 *   are refused on a driver whose snapshots are not atomic (hostpath) unless `force`.
 * - `fenced`: the database stopped cleanly by a {@link FencingStrategy}, the snapshot, the wait for
 *   its cut, the database started again (always: also on error, deadline and abort).
 * - `online`: one held session with a temporary replication slot; `pg_backup_start`, the data
 *   snapshot, its cut, `pg_backup_stop`, the `-wal` snapshot, its cut, the slot released.
 *
 * Every snapshot carries the metadata of docs/consistency.md (labels and `dbaas.io/` annotations:
 * LSNs, WAL files, backup_label, system identifier, times requested/cut/ready). Waiting is
 * watch-based with one overall deadline; driver errors (`status.error`) are reported as they come
 * and named in the timeout error. Re-running with the same name adopts this backup's own
 * snapshots (an interrupted run) and refuses anyone else's (`KUBE_CONFLICT`). On failure or abort
 * the snapshots created by this run are deleted; the error's `details` list what was deleted and
 * what remains.
 *
 * @throws DbaasError `MODE_UNSAFE`, `INVALID_ARGUMENT`, `KUBE_NOT_FOUND`, `KUBE_CONFLICT` (a foreign
 *   snapshot of that name), `KUBE_TIMEOUT` (deadline; names the driver's error), `BACKUP_ABORTED`,
 *   `PG_*` from the database.
 * @example
 * ```ts
 * const clients = KubeClients.load({ namespace: 'db' });
 * const result = await runBackup(clients, {
 *   namespace: 'db',
 *   target: { pvc: 'data-pg-0' },
 *   mode: 'online',
 *   database: { host: '127.0.0.1', port: 5432, user: 'postgres' },
 *   onProgress: (e) => console.error(e.phase, e.message),
 * });
 * console.log(result.snapshots.data.metadata.name, result.metadata.wal?.lastWalFile);
 * ```
 */
export async function runBackup(clients: KubeClients, options: BackupOptions): Promise<BackupResult> {
  const t0 = Date.now();
  const deadline = t0 + (options.deadlineMs ?? DEFAULT_DEADLINE_MS);
  const { namespace, signal } = options;
  const progress = (phase: BackupPhase, message: string, snapshot?: string): void =>
    options.onProgress?.({ phase, message, elapsedMs: Date.now() - t0, ...(snapshot ? { snapshot } : {}) });
  const aborted = (): DbaasError => new DbaasError('BACKUP_ABORTED', 'the backup was aborted', { cause: signal?.reason });
  if (signal?.aborted) throw aborted();
  // Ends this run's waits when something other than the caller ends the backup (the online
  // session lost): the caller's signal or this one.
  const run = new AbortController();
  const waitSignal = signal ? AbortSignal.any([signal, run.signal]) : run.signal;

  // When the set's name is known before discovery (given, or the default of a PVC target), look for
  // an earlier run's snapshots while discovery runs: fewer round trips before the snapshot is requested.
  const earlyName = options.name ?? (options.target.pvc !== undefined ? defaultBackupName(options.target.pvc, new Date(t0)) : undefined);
  const early = earlyName === undefined ? undefined : backupSetNames(earlyName);
  const prefetch = (snapshotName: string | undefined): Promise<VolumeSnapshot | undefined> | undefined => {
    if (snapshotName === undefined) return undefined;
    const read = getSnapshot(clients, snapshotName, namespace);
    read.catch(() => undefined); // awaited below when used; a discovery error may come first
    return read;
  };
  // A Secret with the credentials is read while discovery runs; a bad one fails before any write.
  const engineKind = options.engine?.engine ?? options.engineKind ?? 'postgres';
  const isMysql = engineKind === 'mysql' || engineKind === 'mariadb';
  const databaseConfig =
    options.database === undefined
      ? undefined
      : isMysql
        ? resolveMysqlConnection(clients, options.database as MysqlDatabaseConnection, namespace).then((config) => ({ mysql: config }) as const)
        : resolveDatabaseConnection(clients, options.database as DatabaseConnection, namespace).then((config) => ({ postgres: config }) as const);
  databaseConfig?.catch(() => undefined); // awaited below
  const earlyData = prefetch(early?.data);
  const earlyWal = options.mode === 'online' ? prefetch(early?.wal) : undefined;
  const found = await discoverBackupTarget(clients, { namespace, target: options.target, ...(options.snapshotClass ? { snapshotClass: options.snapshotClass } : {}) });
  const mode = chooseConsistencyMode(found.atomicity, options.mode, { force: options.force ?? false, engine: engineKind });
  const pvc = found.pvc.metadata.name;
  const className = found.snapshotClass.metadata.name;
  const name = options.name ?? defaultBackupName(pvc, new Date(t0));
  const names = backupSetNames(name);
  progress(
    'discovered',
    `PVC ${namespace}/${pvc} -> PV ${found.pv.metadata?.name} -> driver ${found.driver} (${found.atomicity.atomic ? 'atomic' : 'not atomic'} snapshots: ${found.atomicity.reason}) -> VolumeSnapshotClass ${className}; mode ${mode}${options.mode ? '' : ' (default)'}`,
  );

  let fencing: FencingStrategy | undefined;
  if (mode === 'fenced') {
    fencing = options.fencing ?? (await impliedFencing(clients, found));
    if (!fencing) {
      throw new DbaasError('INVALID_ARGUMENT', `mode fenced needs a way to stop the database using PVC ${namespace}/${pvc}, and none was found (no owning StatefulSet or CloudNativePG Cluster)`, {
        fix: 'Target the database pod (--pod) of a StatefulSet or CNPG Cluster, pass a FencingStrategy, or use --mode online.',
      });
    }
  }
  if ((mode === 'checkpoint' || mode === 'online') && !options.engine && options.database === undefined) throw connectionNeeded(mode, engineKind);

  const database = await databaseConfig;

  // ---- idempotency: adopt our own snapshots, refuse foreign ones ----
  const existingData = await (early?.data === names.data && earlyData ? earlyData : getSnapshot(clients, names.data, namespace));
  const existingWal = mode === 'online' ? await (early?.wal === names.wal && earlyWal ? earlyWal : getSnapshot(clients, names.wal, namespace)) : undefined;
  for (const [vs, role] of [[existingData, 'data'], [existingWal, 'wal']] as const) {
    if (!vs) continue;
    const why = foreignReason(vs, { backupSet: name, pvc, role, mode });
    if (why) {
      throw new DbaasError('KUBE_CONFLICT', `VolumeSnapshot ${namespace}/${vs.metadata.name} already exists and is not this backup's: ${why}`, {
        fix: `Choose another backup name (--name), or delete that snapshot if it is yours to delete.`,
        details: { snapshot: vs.metadata.name, labels: vs.metadata.labels ?? {} },
      });
    }
  }
  if (existingWal && !existingData) {
    throw new DbaasError('KUBE_CONFLICT', `VolumeSnapshot ${namespace}/${names.wal} exists without its data snapshot ${names.data}: an incomplete online backup set`, {
      fix: `Delete it (kubectl -n ${namespace} delete volumesnapshot ${names.wal}) or choose another name.`,
    });
  }
  if (mode === 'online' && existingData && (!existingWal || readSnapshotMetadata(existingWal).stopLsn === undefined)) {
    throw new DbaasError('KUBE_CONFLICT', `backup set ${name} is an incomplete online backup from an earlier run; it cannot be resumed (its backup session ended with that run, so the data snapshot has no backup_label/WAL to the stop LSN)`, {
      fix: `Delete it and run again: kubectl -n ${namespace} delete volumesnapshot ${names.data}${existingWal ? ` ${names.wal}` : ''}, or choose another name.`,
    });
  }

  const created: string[] = [];
  const metas = new Map<string, Meta>();
  const timings: Record<string, SnapshotTimings> = {};
  const snapshotErrors: string[] = [];
  const current = new Map<string, VolumeSnapshot>();
  let engine: EngineHooks | undefined;
  let session: EngineOnlineBackup | undefined;
  let fenceActive = false;
  let fencedAt: number | undefined;
  let fencedMs: number | undefined;
  let sessionAt: number | undefined;
  let sessionMs: number | undefined;
  /** Online: where the backup was, for the message when the session is lost. */
  let onlineStage = 'while pg_backup_start ran';
  let sessionLost: { error: Error; stage: string; holds?: EngineOnlineBackup['holds'] } | undefined;
  let offLost: (() => void) | undefined;
  // fence() runs with the backup's deadline and signal; unfence() must run even after both.
  const fenceCtx = (stage: 'fence' | 'unfence'): FenceContext => ({
    clients,
    namespace,
    deadline: stage === 'fence' ? deadline : Math.max(deadline, Date.now() + 120_000),
    ...(stage === 'fence' && signal ? { signal } : {}),
    log: (m) => progress('fencing', m),
  });

  const patchMeta = async (snapshotName: string, meta: Meta): Promise<void> => {
    metas.set(snapshotName, meta);
    const { annotations } = writeSnapshotMetadata(meta);
    current.set(snapshotName, await clients.volumeSnapshots.patch(snapshotName, { metadata: { annotations } }, namespace));
  };

  const request = async (meta: Omit<Meta, 'schemaVersion' | 'backupType' | 'sourcePvc'>): Promise<string> => {
    const body = buildVolumeSnapshot({ namespace, pvc, snapshotClass: className, metadata: meta, ...(options.extra ? { extra: options.extra } : {}) });
    const snapshotName = body.metadata.name!;
    if (signal?.aborted) throw aborted();
    if (run.signal.aborted) throw run.signal.reason;
    const vs = await clients.volumeSnapshots.create(body);
    created.push(snapshotName);
    current.set(snapshotName, vs);
    metas.set(snapshotName, readSnapshotMetadata(vs));
    timings[snapshotName] = { requestedAt: meta.requestedAt, cutAt: undefined, readyAt: undefined, requestToCutMs: undefined, requestToReadyMs: undefined, watch: noWatch() };
    progress('snapshot-requested', `VolumeSnapshot ${namespace}/${snapshotName} of PVC ${pvc} requested`, snapshotName);
    return snapshotName;
  };

  const waitFor = async (snapshotName: string, stage: 'cut' | 'ready'): Promise<VolumeSnapshot> => {
    let lastError: string | undefined;
    const predicate = stage === 'cut' ? isCut : (vs: VolumeSnapshot | undefined) => vs?.status?.readyToUse === true;
    try {
      const { object, stats } = await watchUntil<VolumeSnapshot>(clients, {
        path: clients.volumeSnapshots.path({ namespace }),
        name: snapshotName,
        what: stage === 'cut' ? 'to be cut (status.boundVolumeSnapshotContentName and status.creationTime set)' : 'to be readyToUse',
        deadline,
        signal: waitSignal,
        onEvent: (vs) => {
          const message = vs?.status?.error?.message;
          if (message && message !== lastError) {
            lastError = message;
            snapshotErrors.push(message);
            progress('snapshot-error', `the driver reports on ${snapshotName}: ${message} (the snapshotter retries)`, snapshotName);
          }
        },
        predicate: (vs, event) => {
          if (event.type === 'DELETED' || event.type === 'ABSENT') {
            throw new DbaasError('KUBE_NOT_FOUND', `VolumeSnapshot ${namespace}/${snapshotName} was deleted while the backup waited for it ${stage === 'cut' ? 'to be cut' : 'to be ready'}`);
          }
          return predicate(vs);
        },
      });
      addWatchStats(timings[snapshotName]?.watch, stats);
      current.set(snapshotName, object!);
      return object!;
    } catch (error) {
      if (isDbaasError(error)) addWatchStats(timings[snapshotName]?.watch, error.details?.stats);
      if (isDbaasError(error, 'KUBE_TIMEOUT')) {
        const seconds = Math.round((Date.now() - t0) / 1000);
        const tarChanged = lastError !== undefined && /file changed as we read it/i.test(lastError);
        const driverSays = lastError ? ` The driver's last error: ${lastError}` : ' The driver reported no error (is the snapshot-controller / csi-snapshotter running?).';
        let fix =
          `Check kubectl -n ${namespace} describe volumesnapshot ${snapshotName} and its VolumeSnapshotContent; ` +
          'the snapshot-controller and the csi-snapshotter sidecar must be running. A longer deadline may help on slow storage.';
        if (tarChanged && mode === 'online') {
          fix =
            `${found.driver} copies the live directory with tar, which fails ("file changed as we read it") while PostgreSQL keeps writing, ` +
            'so an online snapshot only succeeds in a lull of writes. Use --mode fenced (a brief clean stop of the database, always consistent), or back up when the write load is low.';
        }
        throw new DbaasError('KUBE_TIMEOUT', `VolumeSnapshot ${namespace}/${snapshotName} was not ${stage === 'cut' ? 'cut' : 'readyToUse'} within the backup's deadline (${seconds} s).${driverSays}`, {
          fix,
          cause: error,
          details: { snapshot: snapshotName, ...(lastError ? { driverError: lastError } : {}) },
        });
      }
      throw error;
    }
  };

  const reportedReady = new Set<string>();
  const markReady = (snapshotName: string, vs: VolumeSnapshot, at: Date): void => {
    const t = timings[snapshotName];
    if (t && !t.readyAt) {
      t.readyAt = at;
      t.requestToReadyMs = at.getTime() - t.requestedAt.getTime();
    }
    if (!reportedReady.has(snapshotName)) {
      reportedReady.add(snapshotName);
      progress('ready', `VolumeSnapshot ${snapshotName} readyToUse, restoreSize ${vs.status?.restoreSize}`, snapshotName);
    }
  };

  const cut = async (snapshotName: string): Promise<void> => {
    const vs = await waitFor(snapshotName, 'cut');
    const t = timings[snapshotName];
    const at = new Date();
    if (t) {
      t.cutAt = at;
      t.requestToCutMs = at.getTime() - t.requestedAt.getTime();
    }
    progress('cut', `VolumeSnapshot ${snapshotName} cut at ${vs.status?.creationTime} (content ${vs.status?.boundVolumeSnapshotContentName})`, snapshotName);
    // Drivers that copy inside CreateSnapshot (hostpath) are ready at the cut: record both in one patch.
    const readyToo = vs.status?.readyToUse === true;
    if (readyToo) markReady(snapshotName, vs, at);
    const meta = metas.get(snapshotName) ?? readSnapshotMetadata(vs);
    if (!meta.cutAt || (readyToo && !meta.readyAt)) await patchMeta(snapshotName, { ...meta, cutAt: meta.cutAt ?? at, ...(readyToo && !meta.readyAt ? { readyAt: at } : {}) });
  };

  const ready = async (snapshotName: string): Promise<void> => {
    const known = current.get(snapshotName);
    const vs = known?.status?.readyToUse === true ? known : await waitFor(snapshotName, 'ready');
    const at = new Date();
    markReady(snapshotName, vs, at);
    const meta = metas.get(snapshotName) ?? readSnapshotMetadata(vs);
    if (!meta.readyAt) await patchMeta(snapshotName, { ...meta, cutAt: meta.cutAt ?? at, readyAt: at });
  };

  const adopt = (vs: VolumeSnapshot): string => {
    const snapshotName = vs.metadata.name!;
    current.set(snapshotName, vs);
    const meta = readSnapshotMetadata(vs);
    metas.set(snapshotName, meta);
    timings[snapshotName] = { requestedAt: meta.requestedAt, cutAt: meta.cutAt, readyAt: meta.readyAt, requestToCutMs: undefined, requestToReadyMs: undefined, watch: noWatch() };
    progress('adopting', `adopting VolumeSnapshot ${snapshotName} of an earlier run of this backup (${isCut(vs) ? 'already cut' : 'not cut yet'})`, snapshotName);
    return snapshotName;
  };

  const base = (role: 'data' | 'wal', facts: EngineMetadata) => ({
    ...facts,
    backupSet: name,
    role,
    mode,
    requestedAt: new Date(),
    ...(found.workload ? { sourceWorkload: { kind: found.workload.kind, name: found.workload.name } } : {}),
  });

  const work = async (): Promise<void> => {
    if (options.engine) engine = options.engine;
    else if (database !== undefined) engine = 'mysql' in database ? await mysqlEngine(database.mysql) : await postgresEngine(database.postgres);
    // Without a connection the engine is still recorded when the caller named it (verify and restore read it).
    const facts: EngineMetadata = engine ? await engine.describe() : options.engineKind ? { engine: options.engineKind } : {};

    if (existingData) {
      const dataName = adopt(existingData);
      if (mode === 'online') {
        adopt(existingWal!);
        await Promise.all([ready(names.data), ready(names.wal)]);
        return;
      }
      if (!isCut(existingData)) {
        if (mode === 'fenced') {
          if (engine && options.engine === undefined) await engine.close();
          progress('fencing', `fencing: ${fencing!.description}`);
          fenceActive = true;
          fencedAt = Date.now();
          await fencing!.fence(fenceCtx('fence'));
          progress('fenced', 'database stopped');
        }
        await cut(dataName);
      }
      return;
    }

    switch (mode) {
      case 'crash': {
        await cut(await request(base('data', facts)));
        break;
      }
      case 'checkpoint': {
        progress('checkpoint', 'CHECKPOINT');
        const cp = await engine!.checkpoint!();
        await cut(await request({ ...base('data', facts), ...cp }));
        break;
      }
      case 'fenced': {
        if (engine && options.engine === undefined) {
          await engine.close();
          engine = undefined;
        }
        progress('fencing', `fencing: ${fencing!.description}`);
        fenceActive = true;
        fencedAt = Date.now();
        await fencing!.fence(fenceCtx('fence'));
        progress('fenced', `database stopped (${Date.now() - fencedAt} ms)`);
        await cut(await request(base('data', facts)));
        // The fence ends at the cut, not at readiness: lifted right after the try block.
        break;
      }
      case 'online': {
        if (!engine?.beginOnlineBackup) throw new DbaasError('INVALID_ARGUMENT', `the ${engine?.engine ?? 'given'} engine has no online backup`);
        session = await engine.beginOnlineBackup({ label: `kubectl-dbaas ${name}`, ...(signal ? { signal } : {}) });
        sessionAt = Date.now();
        const held = session.holds;
        // PostgreSQL ends the backup and drops the temporary slot with a lost session (server
        // killed or restarted): no snapshot of this run can become a backup then, so the waits end
        // at once instead of at the cut, pg_backup_stop or the deadline.
        onlineStage = 'after pg_backup_start, before the data snapshot was requested';
        offLost = session.onLost?.((error) => {
          sessionLost = { error, stage: onlineStage, ...(held ? { holds: held } : {}) };
          run.abort(error);
        });
        const start = session.startMetadata;
        progress(
          'backup-started',
          engine.engine === 'postgres'
            ? `pg_backup_start: start LSN and first WAL file ${start.firstWalFile}, ${held?.description ?? 'temporary replication slot'} held`
            : `${held?.description ?? 'global lock'} held${start.binlogFile ? `; binary log at ${start.binlogFile}:${start.binlogPosition}` : ''}`,
        );
        const dataName = await request({ ...base('data', facts), ...start });
        onlineStage = `while the data snapshot ${dataName} was being cut`;
        await cut(dataName);
        onlineStage = `after the data snapshot ${dataName} was cut, at pg_backup_stop`;
        const stop = await session.stop();
        progress(
          'backup-stopped',
          session.separateWalSnapshot === false ? 'lock released' : `pg_backup_stop: last WAL file ${stop.lastWalFile}; the slot keeps the WAL until the -wal snapshot is cut`,
        );
        onlineStage = `after pg_backup_stop, before the -wal snapshot was cut (the slot held the WAL it needs)`;
        const dataMeta = metas.get(dataName)!;
        await patchMeta(dataName, { ...dataMeta, ...stop });
        // Engines whose data snapshot holds everything (MySQL/MariaDB) take no -wal snapshot.
        if (session.separateWalSnapshot !== false) {
          const walName = await request({ ...base('wal', facts), ...start, ...stop });
          onlineStage = `while the -wal snapshot ${walName} was being cut (the slot held the WAL it needs)`;
          await cut(walName);
        }
        if (sessionLost) throw sessionLost.error;
        offLost?.();
        offLost = undefined;
        await session.release();
        sessionMs = Date.now() - sessionAt;
        session = undefined;
        progress('released', engine.engine === 'postgres' ? 'replication slot released, backup session closed' : 'backup session closed');
        break;
      }
    }
  };

  const endHeld = async (problems: string[]): Promise<void> => {
    offLost?.();
    offLost = undefined;
    if (session) {
      const s = session;
      session = undefined;
      await s.abort(signal?.aborted ? signal.reason : new Error('the backup failed')).catch((e: unknown) => problems.push(`ending the online backup session: ${(e as Error).message}`));
      if (sessionAt !== undefined) sessionMs = Date.now() - sessionAt;
    }
    if (fenceActive) {
      try {
        await fencing!.unfence(fenceCtx('unfence'));
        fenceActive = false;
        fencedMs = Date.now() - (fencedAt ?? Date.now());
        progress('unfenced', `database started again (${fencing!.description}); fenced for ${fencedMs} ms`);
      } catch (e) {
        problems.push(`lifting the fence (${fencing!.description}) FAILED, the database may still be stopped: ${(e as Error).message}`);
      }
    }
    if (engine && options.engine === undefined) {
      await engine.close().catch(() => undefined);
      engine = undefined;
    }
  };

  let failure: unknown;
  try {
    await work();
  } catch (error) {
    failure = error;
  }
  if (failure !== undefined && sessionLost && !signal?.aborted) {
    const lost = sessionLost;
    const slot = lost.holds?.slotName;
    failure = new DbaasError(
      'PG_CONNECTION_FAILED',
      `the online backup's PostgreSQL session was lost ${lost.stage}: ${lost.error.message}. PostgreSQL ends a non-exclusive backup${
        slot ? ` and drops its temporary replication slot ${slot}` : ''
      } with its session (a killed or restarted server, a dropped connection), so this run cannot become a backup: the data snapshot would have no backup_label and no WAL to the stop LSN.`,
      {
        fix: 'Find out why the session ended (the PostgreSQL log: killed, out of memory, restarted by its Pod or operator). Once PostgreSQL is up again, run the backup again; the same name works, nothing of this run is kept.',
        cause: lost.error,
        details: { sessionError: lost.error.message, stage: lost.stage, ...(slot ? { slotName: slot } : {}), ...(lost.holds?.backendPid !== undefined ? { backendPid: lost.holds.backendPid } : {}) },
      },
    );
  }
  const problems: string[] = [];
  await endHeld(problems);
  if (failure === undefined && problems.length === 0) {
    try {
      for (const snapshotName of metas.keys()) await ready(snapshotName);
    } catch (error) {
      failure = error;
    }
  }

  if (failure !== undefined || problems.length > 0) {
    // Say first why the run failed, so that a progress display ends the step that was running as
    // failed (not done) before the cleanup steps.
    progress('cleanup', `cleaning up after: ${signal?.aborted ? 'aborted' : failure !== undefined ? toDbaasError(failure).message.split('\n')[0] : problems.join('; ')}`);
    // Delete what this run created (a partial set is no backup; an uncut one would be cut later
    // from a live, unfenced database) and say exactly what remains.
    const deleted: string[] = [];
    const remaining: string[] = [];
    await Promise.all(
      created.map(async (snapshotName) => {
        const outcome = await deletePartialSnapshot(clients, namespace, snapshotName, (m) => progress('cleanup', m, snapshotName));
        if (outcome === true) deleted.push(snapshotName);
        else remaining.push(`${snapshotName} (${outcome})`);
      }),
    );
    deleted.sort((a, b) => created.indexOf(a) - created.indexOf(b));
    remaining.sort((a, b) => created.indexOf(a.split(' ')[0]!) - created.indexOf(b.split(' ')[0]!));
    if (created.length) progress('cleanup', `deleted ${deleted.join(', ') || 'nothing'}${remaining.length ? `; remaining: ${remaining.join(', ')}` : ''}`);
    const cleanup = `${fencing && mode === 'fenced' ? (problems.some((p) => p.startsWith('lifting')) ? ' The fence could NOT be lifted.' : ' The fence was lifted.') : ''}${
      created.length ? ` Deleted the snapshot(s) this run created: ${deleted.join(', ') || 'none'}.` : ''
    }${remaining.length ? ` Remaining: ${remaining.join('; ')}.` : ''}${problems.length ? ` Problems: ${problems.join('; ')}.` : ''}`;
    const details = { backupSet: name, deletedSnapshots: deleted, remainingSnapshots: remaining, problems, snapshotErrors };
    if (signal?.aborted) {
      throw new DbaasError('BACKUP_ABORTED', `backup ${namespace}/${name} (${mode}) was aborted.${cleanup}`, { cause: signal.reason ?? failure, details });
    }
    const base = failure === undefined ? new DbaasError('INTERNAL', `backup ${namespace}/${name} could not end cleanly`) : isDbaasError(failure) ? failure : new DbaasError('INTERNAL', (failure as Error)?.message ?? String(failure), { cause: failure });
    throw new DbaasError(base.code, `${base.message}${cleanup}`, {
      ...(base.fix ? { fix: base.fix } : {}),
      cause: failure ?? base,
      details: { ...(base.details ?? {}), ...details },
    });
  }

  const dataSnapshot = current.get(names.data)!;
  const walSnapshot = current.get(names.wal);
  return {
    name,
    namespace,
    pvc,
    mode,
    driver: found.driver,
    snapshotClass: className,
    atomicity: found.atomicity,
    adopted: existingData !== undefined,
    snapshots: { data: dataSnapshot, ...(walSnapshot ? { wal: walSnapshot } : {}) },
    metadata: { data: metas.get(names.data)!, ...(metas.has(names.wal) ? { wal: metas.get(names.wal)! } : {}) },
    timings: {
      totalMs: Date.now() - t0,
      ...(fencedMs !== undefined ? { fencedMs } : {}),
      ...(sessionMs !== undefined ? { backupSessionMs: sessionMs } : {}),
      snapshots: timings,
    },
    snapshotErrors,
    ...(fencing ? { fencing: fencing.description } : {}),
  };
}

/**
 * The refusal of `checkpoint`/`online` without a connection, in the engine's words. Shared with
 * planBackup.
 */
export function connectionNeeded(mode: ConsistencyMode, engine: 'postgres' | 'mysql' | 'mariadb'): DbaasError {
  if (engine === 'postgres') {
    return new DbaasError('INVALID_ARGUMENT', `mode ${mode} needs a connection to the database (a SQL session runs ${mode === 'online' ? 'pg_backup_start/stop' : 'CHECKPOINT'})`, {
      fix: 'Pass the database connection (host/port/user or a postgresql:// URL).',
    });
  }
  return new DbaasError('INVALID_ARGUMENT', `mode ${mode} needs a connection to ${engine === 'mariadb' ? 'MariaDB' : 'MySQL'} (a SQL session holds the global lock across the cut)`, {
    fix: 'Pass the database connection (host/port/user, the password in $MYSQL_PWD, or a mysql:// URL, or a Secret).',
  });
}
