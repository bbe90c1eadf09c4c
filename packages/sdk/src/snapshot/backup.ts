// One backup of a database volume as CSI VolumeSnapshots, in one of the four consistency modes of
// docs/consistency.md: planBackup (backup-plan.ts) decides, runBackup executes that plan. One
// executor per mode works on an explicit run state (what was created, the session held, the
// fence, the timings); one cleanup path ends the fence or the backup session at the cut, never
// later, and always (also on error, deadline and abort), then deletes the snapshots this run
// created when it failed. SnapshotClient.backup() delegates here.
import type { EngineHooks, EngineMetadata, EngineOnlineBackup, FenceContext, FencingStrategy } from '../engines/engine.js';
import { fenceHolder } from '../engines/fencing.js';
import { DbaasError, isDbaasError, toDbaasError } from '../errors.js';
import type { KubeClients } from '../kube/clients.js';
import type { VolumeGroupSnapshot, VolumeSnapshot } from '../kube/snapshot-types.js';
import { isGone, watchUntil, type WatchUntilStats } from '../kube/watch-until.js';
import type { SnapshotAtomicity } from '../manifests/atomicity.js';
import type { ExtraMetadata } from '../manifests/builders.js';
import {
  DBAAS_LABELS,
  readSnapshotMetadata,
  writeSnapshotMetadata,
  type ConsistencyMode,
  type SnapshotMetadata,
  type SnapshotRole,
} from '../manifests/metadata.js';
import { decideBackup, isCut, plannedSnapshot, type BackupPlan, type SetVolume } from './backup-plan.js';
import { deleteGroupSnapshot, GROUP_SNAPSHOT_PVC_LABEL, groupMemberSnapshots, labelGroupMembers } from './group-snapshot.js';
import { openSession, prefetchConnection, type BackupDatabase, type OpenSession } from './backup-session.js';
import type { BackupTarget } from './discovery.js';

export { defaultBackupName } from './backup-plan.js';

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
 * const onProgress = (e: BackupProgress) => console.error(`${(e.elapsedMs / 1000).toFixed(1)}s ${e.phase}${e.snapshot ? ` ${e.role} ${e.snapshot}` : ''}: ${e.message}`);
 * ```
 */
export interface BackupProgress {
  phase: BackupPhase;
  /** For people; programs read the fields below. */
  message: string;
  /** Milliseconds since runBackup was called. */
  elapsedMs: number;
  /** The VolumeSnapshot concerned, if any. */
  snapshot?: string;
  /** The role of `snapshot` in its set. */
  role?: SnapshotRole;
  /** The object concerned other than the snapshot: the PVC (`discovered`), the VolumeSnapshotContent (`cut`), the replication slot (`backup-started`). */
  object?: { kind: string; name: string };
  /** `snapshot-error`: the error the driver reports on `snapshot` (the snapshotter retries). */
  driverError?: string;
  /** `backup-stopped`: whether a `-wal` snapshot follows (PostgreSQL) or the data snapshot holds everything (MySQL/MariaDB). */
  walSnapshotFollows?: boolean;
  /** `cleanup`: set on its first event only: why the run failed (the error's first line, or `aborted`). */
  failure?: string;
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
   * How to reach the database: needed by `checkpoint` and `online`. `{ throughPod: {} }`: through
   * the API server to the pod whose volume is backed up (credentials from the pod's environment or
   * a Secret; see `PodDatabaseConnection`), used only by the modes that need a session. Or a
   * connection used in every mode (then engine facts are recorded in `crash`/`fenced` too): a URL,
   * client options (`pg`'s, or `mysql2`'s for MySQL/MariaDB), or `{ secretRef, host?, port? }`
   * (see `resolveDatabaseConnection`, `resolveMysqlConnection`). Before the cut the session must
   * show it is on the target pod's server. Which engine it is, is `engineKind`.
   */
  database?: BackupDatabase;
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
  /**
   * `fenced` mode, the default StatefulSet fencing of a StatefulSet whose `persistentVolumeClaimRetentionPolicy.whenScaled`
   * is `Delete` (scaling to 0 would delete the PVC being backed up, so it is refused): set `whenScaled: Retain`
   * while fenced and `Delete` again afterwards.
   */
  fenceRetainClaims?: boolean;
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
  /** `volumes`: the snapshots of the instance's other volumes (its `pg_wal`, tablespaces), by the pod's volume name. */
  snapshots: { data: VolumeSnapshot; wal?: VolumeSnapshot; volumes?: Record<string, VolumeSnapshot> };
  metadata: { data: SnapshotMetadata; wal?: SnapshotMetadata; volumes?: Record<string, SnapshotMetadata> };
  timings: {
    totalMs: number;
    /** `fenced`: the downtime, from the start of fence() until the database served again (its pods Ready), else until unfence() returned. */
    fencedMs?: number;
    /** `online`: from pg_backup_start until the slot was released. */
    backupSessionMs?: number;
    snapshots: Record<string, SnapshotTimings>;
  };
  /** Errors the driver reported on the snapshots while they were retried (e.g. tar's "file changed as we read it"). */
  snapshotErrors: string[];
  /** The fencing strategy used, for `fenced`. */
  fencing?: string;
  /** What went wrong without spoiling the backup, e.g. the database not Ready again in time after the fence. */
  warnings: string[];
  /** The plan this run executed: what `planBackup` returns for the same options. */
  plan: BackupPlan;
}

type Meta = SnapshotMetadata;
type Role = SnapshotRole;

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

/** The online backup session this run holds, and what its loss message needs. */
interface HeldSession {
  backup: EngineOnlineBackup;
  startedAt: number;
  /** Where the backup was, for the message when the session is lost. */
  stage: string;
  lost?: { error: Error; stage: string };
  stopListening?: () => void;
}

/**
 * Everything one execution of a plan knows and holds: the fixed inputs, then the state the
 * executors change and the cleanup reads.
 */
interface BackupRun {
  readonly clients: KubeClients;
  readonly plan: BackupPlan;
  readonly t0: number;
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
  /** Ends this run's waits when something other than the caller ends the backup (the online session lost). */
  readonly internal: AbortController;
  readonly waitSignal: AbortSignal;
  readonly extra: ExtraMetadata | undefined;
  readonly onProgress: ((event: BackupProgress) => void) | undefined;
  /** The engine: the caller's, or that of the session this run opened (and so closes). */
  engine: EngineHooks | undefined;
  sql: OpenSession | undefined;
  /** Engine facts recorded on every snapshot. */
  facts: EngineMetadata;
  /** Snapshots this run created, in order: what a failed run deletes. */
  readonly created: string[];
  readonly snapshots: Map<string, VolumeSnapshot>;
  readonly metas: Map<string, Meta>;
  readonly roles: Map<string, Role>;
  readonly timings: Record<string, SnapshotTimings>;
  readonly snapshotErrors: string[];
  readonly reportedReady: Set<string>;
  fence: { strategy: FencingStrategy; active: boolean; startedAt?: number; ms?: number } | undefined;
  readonly warnings: string[];
  session: HeldSession | undefined;
  sessionMs: number | undefined;
  /** The VolumeGroupSnapshot this run created (crash/checkpoint of a set): what a failed run deletes, with its members. */
  group: { name: string; uid: string | undefined } | undefined;
}

type ProgressFields = Omit<BackupProgress, 'phase' | 'message' | 'elapsedMs'>;

function report(r: BackupRun, phase: BackupPhase, message: string, fields: ProgressFields = {}): void {
  if (fields.snapshot && !fields.role) {
    const role = r.roles.get(fields.snapshot);
    if (role) fields = { ...fields, role };
  }
  r.onProgress?.({ phase, message, elapsedMs: Date.now() - r.t0, ...fields });
}

function aborted(signal: AbortSignal | undefined): DbaasError {
  return new DbaasError('BACKUP_ABORTED', 'the backup was aborted', { cause: signal?.reason });
}

// fence() runs with the backup's deadline and signal; unfence() must run even after both.
function fenceContext(r: BackupRun, stage: 'fence' | 'unfence'): FenceContext {
  return {
    clients: r.clients,
    namespace: r.plan.namespace,
    deadline: stage === 'fence' ? r.deadline : Math.max(r.deadline, Date.now() + 120_000),
    ...(stage === 'fence' && r.signal ? { signal: r.signal } : {}),
    log: (m) => report(r, 'fencing', m),
    holder: fenceHolder(r.plan.namespace, r.plan.name),
  };
}

/** The cut must fall inside the fence: checked before the snapshot is requested and after it is cut. */
async function assertFenceHolds(r: BackupRun, when: string): Promise<void> {
  const why = await r.fence?.strategy.check?.(fenceContext(r, 'fence'));
  if (why) {
    throw new DbaasError('TARGET_UNSUPPORTED', `the fence did not hold ${when}: ${why}. A snapshot taken then may be torn, so this run is not a backup`, {
      fix: 'Keep whatever scales the database (a GitOps controller, an autoscaler, an operator) from doing so during the backup, or use mode online.',
      details: { fence: r.fence!.strategy.description },
    });
  }
}

async function patchMeta(r: BackupRun, snapshotName: string, meta: Meta): Promise<void> {
  r.metas.set(snapshotName, meta);
  const { annotations } = writeSnapshotMetadata(meta);
  r.snapshots.set(snapshotName, await r.clients.volumeSnapshots.patch(snapshotName, { metadata: { annotations } }, r.plan.namespace));
}

function startTimings(r: BackupRun, snapshotName: string, meta: Pick<Meta, 'requestedAt' | 'cutAt' | 'readyAt'>): void {
  r.timings[snapshotName] = {
    requestedAt: meta.requestedAt,
    cutAt: meta.cutAt,
    readyAt: meta.readyAt,
    requestToCutMs: undefined,
    requestToReadyMs: undefined,
    watch: noWatch(),
  };
}

/** Creates the planned snapshot of `role` (of `member`, another volume of the set), with the engine's facts. */
async function request(r: BackupRun, role: Role, facts: EngineMetadata = {}, member?: SetVolume): Promise<string> {
  const body = plannedSnapshot(r.plan, role, new Date(), r.extra, { ...r.facts, ...facts }, member);
  const snapshotName = body.metadata.name!;
  if (r.signal?.aborted) throw aborted(r.signal);
  if (r.internal.signal.aborted) throw r.internal.signal.reason;
  const vs = await r.clients.volumeSnapshots.create(body);
  r.created.push(snapshotName);
  r.roles.set(snapshotName, role);
  r.snapshots.set(snapshotName, vs);
  const meta = readSnapshotMetadata(vs);
  r.metas.set(snapshotName, meta);
  startTimings(r, snapshotName, { requestedAt: meta.requestedAt, cutAt: undefined, readyAt: undefined });
  report(r, 'snapshot-requested', `VolumeSnapshot ${r.plan.namespace}/${snapshotName} of PVC ${member?.claim ?? r.plan.pvc} requested`, {
    snapshot: snapshotName,
  });
  return snapshotName;
}

function adopt(r: BackupRun, vs: VolumeSnapshot, role: Role): string {
  const snapshotName = vs.metadata.name!;
  r.roles.set(snapshotName, role);
  r.snapshots.set(snapshotName, vs);
  const meta = readSnapshotMetadata(vs);
  r.metas.set(snapshotName, meta);
  startTimings(r, snapshotName, meta);
  report(r, 'adopting', `adopting VolumeSnapshot ${snapshotName} of an earlier run of this backup (${isCut(vs) ? 'already cut' : 'not cut yet'})`, {
    snapshot: snapshotName,
  });
  return snapshotName;
}

/** The deadline's error for a snapshot that was not cut or ready in time, naming the driver's last error. */
function snapshotTimeout(r: BackupRun, snapshotName: string, stage: 'cut' | 'ready', lastError: string | undefined, cause: unknown): DbaasError {
  const { namespace, mode, driver } = r.plan;
  const seconds = Math.round((Date.now() - r.t0) / 1000);
  const tarChanged = lastError !== undefined && /file changed as we read it/i.test(lastError);
  const driverSays = lastError
    ? ` The driver's last error: ${lastError}`
    : ' The driver reported no error (is the snapshot-controller / csi-snapshotter running?).';
  const fix =
    tarChanged && mode === 'online'
      ? `${driver} copies the live directory with tar, which fails ("file changed as we read it") while PostgreSQL keeps writing, ` +
        'so an online snapshot only succeeds in a lull of writes. Use mode fenced (a brief clean stop of the database, always consistent), or back up when the write load is low.'
      : `Check kubectl -n ${namespace} describe volumesnapshot ${snapshotName} and its VolumeSnapshotContent; ` +
        'the snapshot-controller and the csi-snapshotter sidecar must be running. A longer deadline may help on slow storage.';
  return new DbaasError(
    'KUBE_TIMEOUT',
    `VolumeSnapshot ${namespace}/${snapshotName} was not ${stage === 'cut' ? 'cut' : 'readyToUse'} within the backup's deadline (${seconds} s).${driverSays}`,
    {
      fix,
      cause,
      ...(tarChanged && mode === 'online' ? { option: 'mode' } : {}),
      details: { snapshot: snapshotName, ...(lastError ? { driverError: lastError } : {}) },
    },
  );
}

async function waitFor(r: BackupRun, snapshotName: string, stage: 'cut' | 'ready'): Promise<VolumeSnapshot> {
  const { namespace } = r.plan;
  let lastError: string | undefined;
  const predicate = stage === 'cut' ? isCut : (vs: VolumeSnapshot | undefined) => vs?.status?.readyToUse === true;
  try {
    const { object, stats } = await watchUntil<VolumeSnapshot>(r.clients, {
      path: r.clients.volumeSnapshots.path({ namespace }),
      name: snapshotName,
      what: stage === 'cut' ? 'to be cut (status.boundVolumeSnapshotContentName and status.creationTime set)' : 'to be readyToUse',
      deadline: r.deadline,
      signal: r.waitSignal,
      onEvent: (vs) => {
        const message = vs?.status?.error?.message;
        if (message && message !== lastError) {
          lastError = message;
          r.snapshotErrors.push(message);
          report(r, 'snapshot-error', `the driver reports on ${snapshotName}: ${message} (the snapshotter retries)`, {
            snapshot: snapshotName,
            driverError: message,
          });
        }
      },
      predicate: (vs, event) => {
        if (isGone(event)) {
          throw new DbaasError(
            'KUBE_NOT_FOUND',
            `VolumeSnapshot ${namespace}/${snapshotName} was deleted while the backup waited for it ${stage === 'cut' ? 'to be cut' : 'to be ready'}`,
          );
        }
        return predicate(vs);
      },
    });
    addWatchStats(r.timings[snapshotName]?.watch, stats);
    r.snapshots.set(snapshotName, object!);
    return object!;
  } catch (error) {
    if (isDbaasError(error)) addWatchStats(r.timings[snapshotName]?.watch, error.details?.stats);
    if (isDbaasError(error, 'KUBE_TIMEOUT')) throw snapshotTimeout(r, snapshotName, stage, lastError, error);
    throw error;
  }
}

function markReady(r: BackupRun, snapshotName: string, vs: VolumeSnapshot, at: Date): void {
  const t = r.timings[snapshotName];
  if (t && !t.readyAt) {
    t.readyAt = at;
    t.requestToReadyMs = at.getTime() - t.requestedAt.getTime();
  }
  if (!r.reportedReady.has(snapshotName)) {
    r.reportedReady.add(snapshotName);
    report(r, 'ready', `VolumeSnapshot ${snapshotName} readyToUse, restoreSize ${vs.status?.restoreSize}`, { snapshot: snapshotName });
  }
}

async function cut(r: BackupRun, snapshotName: string): Promise<void> {
  const vs = await waitFor(r, snapshotName, 'cut');
  const t = r.timings[snapshotName];
  const at = new Date();
  if (t) {
    t.cutAt = at;
    t.requestToCutMs = at.getTime() - t.requestedAt.getTime();
  }
  const content = vs.status?.boundVolumeSnapshotContentName;
  report(r, 'cut', `VolumeSnapshot ${snapshotName} cut at ${vs.status?.creationTime} (content ${content})`, {
    snapshot: snapshotName,
    ...(content ? { object: { kind: 'VolumeSnapshotContent', name: content } } : {}),
  });
  // Drivers that copy inside CreateSnapshot (hostpath) are ready at the cut: record both in one patch.
  const readyToo = vs.status?.readyToUse === true;
  if (readyToo) markReady(r, snapshotName, vs, at);
  const meta = r.metas.get(snapshotName) ?? readSnapshotMetadata(vs);
  if (!meta.cutAt || (readyToo && !meta.readyAt))
    await patchMeta(r, snapshotName, { ...meta, cutAt: meta.cutAt ?? at, ...(readyToo && !meta.readyAt ? { readyAt: at } : {}) });
}

async function ready(r: BackupRun, snapshotName: string): Promise<void> {
  const known = r.snapshots.get(snapshotName);
  const vs = known?.status?.readyToUse === true ? known : await waitFor(r, snapshotName, 'ready');
  const at = new Date();
  markReady(r, snapshotName, vs, at);
  const meta = r.metas.get(snapshotName) ?? readSnapshotMetadata(vs);
  if (!meta.readyAt) await patchMeta(r, snapshotName, { ...meta, cutAt: meta.cutAt ?? at, readyAt: at });
}

/** A fenced database must not keep a session of this run open while it is stopped. */
async function closeOwnEngine(r: BackupRun): Promise<void> {
  if (r.sql) {
    const sql = r.sql;
    r.engine = undefined;
    r.sql = undefined;
    await sql.close();
  }
}

async function fence(r: BackupRun): Promise<void> {
  const fencing = r.fence!;
  report(r, 'fencing', `fencing: ${fencing.strategy.description}`);
  fencing.active = true;
  fencing.startedAt = Date.now();
  await fencing.strategy.fence(fenceContext(r, 'fence'));
  report(r, 'fenced', `database stopped (${Date.now() - fencing.startedAt} ms)`);
}

async function executeOnline(r: BackupRun): Promise<void> {
  const engine = r.engine!;
  const backup = await engine.beginOnlineBackup!({ label: `kubectl-dbaas ${r.plan.name}`, ...(r.signal ? { signal: r.signal } : {}) });
  const session: HeldSession = { backup, startedAt: Date.now(), stage: 'after pg_backup_start, before the data snapshot was requested' };
  r.session = session;
  const held = backup.holds;
  // PostgreSQL ends the backup and drops the temporary slot with a lost session (server killed or
  // restarted): no snapshot of this run can become a backup then, so the waits end at once
  // instead of at the cut, pg_backup_stop or the deadline.
  const stopListening = backup.onLost?.((error) => {
    session.lost = { error, stage: session.stage };
    r.internal.abort(error);
  });
  if (stopListening) session.stopListening = stopListening;
  const start = backup.startMetadata;
  report(
    r,
    'backup-started',
    engine.engine === 'postgres'
      ? `pg_backup_start: start LSN and first WAL file ${start.firstWalFile}, ${held?.description ?? 'temporary replication slot'} held`
      : `${held?.description ?? 'global lock'} held${start.binlogFile ? `; binary log at ${start.binlogFile}:${start.binlogPosition}` : ''}`,
    held?.slotName ? { object: { kind: 'ReplicationSlot', name: held.slotName } } : {},
  );
  // Tablespace volumes are copied inside the backup, as the data volume is: the WAL repairs both.
  const tablespaces = (r.plan.volumes ?? []).filter((v) => v.holds === 'tablespace');
  const dataName = await request(r, 'data', start);
  const inside = [dataName, ...(await Promise.all(tablespaces.map((v) => request(r, 'volume', start, v))))];
  session.stage = tablespaces.length
    ? `while the data snapshot ${dataName} and the tablespace volumes were being cut`
    : `while the data snapshot ${dataName} was being cut`;
  await Promise.all(inside.map((snapshotName) => cut(r, snapshotName)));
  session.stage = `after the data snapshot ${dataName} was cut, at pg_backup_stop`;
  const stop = await backup.stop();
  // pg_wal on a volume of its own: that volume's snapshot holds the WAL to the stop LSN.
  const walVolume = r.plan.volumes?.find((v) => v.holds === 'wal');
  const walSnapshotFollows = walVolume !== undefined || r.plan.manifests.some((m) => m.metadata.labels?.[DBAAS_LABELS.role] === 'wal');
  const walSnapshotWords = walVolume ? `the snapshot of the WAL volume (PVC ${walVolume.claim})` : 'the -wal snapshot';
  report(
    r,
    'backup-stopped',
    walSnapshotFollows ? `pg_backup_stop: last WAL file ${stop.lastWalFile}; the slot keeps the WAL until ${walSnapshotWords} is cut` : 'lock released',
    { walSnapshotFollows },
  );
  session.stage = `after pg_backup_stop, before ${walSnapshotWords} was cut (the slot held the WAL it needs)`;
  for (const snapshotName of inside) await patchMeta(r, snapshotName, { ...r.metas.get(snapshotName)!, ...stop });
  if (walSnapshotFollows) {
    const walName = walVolume ? await request(r, 'volume', { ...start, ...stop }, walVolume) : await request(r, 'wal', { ...start, ...stop });
    session.stage = `while ${walSnapshotWords} ${walName} was being cut (the slot held the WAL it needs)`;
    await cut(r, walName);
  }
  if (session.lost) throw session.lost.error;
  session.stopListening?.();
  await backup.release();
  r.sessionMs = Date.now() - session.startedAt;
  r.session = undefined;
  report(r, 'released', engine.engine === 'postgres' ? 'replication slot released, backup session closed' : 'backup session closed');
}

/** Waits until group `name` is cut and its snapshots are made (readyToUse), reporting the driver's errors. */
async function waitGroupCut(r: BackupRun, name: string): Promise<VolumeGroupSnapshot> {
  const { namespace, driver } = r.plan;
  let lastError: string | undefined;
  try {
    const { object } = await watchUntil<VolumeGroupSnapshot>(r.clients, {
      path: r.clients.volumeGroupSnapshots.path({ namespace }),
      name,
      what: 'to be cut and readyToUse',
      deadline: r.deadline,
      signal: r.waitSignal,
      onEvent: (vgs) => {
        const message = vgs?.status?.error?.message;
        if (message && message !== lastError) {
          lastError = message;
          r.snapshotErrors.push(message);
          report(r, 'snapshot-error', `the driver reports on VolumeGroupSnapshot ${name}: ${message} (the snapshotter retries)`, { driverError: message });
        }
      },
      predicate: (vgs, event) => {
        if (isGone(event))
          throw new DbaasError('KUBE_NOT_FOUND', `VolumeGroupSnapshot ${namespace}/${name} was deleted while the backup waited for it to be cut`);
        return !!vgs?.status?.boundVolumeGroupSnapshotContentName && !!vgs.status.creationTime && vgs.status.readyToUse === true;
      },
    });
    return object!;
  } catch (error) {
    if (!isDbaasError(error, 'KUBE_TIMEOUT')) throw error;
    throw new DbaasError(
      'KUBE_TIMEOUT',
      `VolumeGroupSnapshot ${namespace}/${name} was not cut and ready within the backup's deadline.${lastError ? ` The driver's last error: ${lastError}` : ' The driver reported no error (is the snapshot-controller / csi-snapshotter running?).'}`,
      {
        fix: `Check kubectl -n ${namespace} describe volumegroupsnapshot ${name} and its VolumeGroupSnapshotContent; ${driver}'s csi-snapshotter must serve group snapshots.`,
        cause: error,
        details: { groupSnapshot: name, ...(lastError ? { driverError: lastError } : {}) },
      },
    );
  }
}

/**
 * `crash`/`checkpoint` of a set: one VolumeGroupSnapshot cuts every volume of the instance at one
 * instant (its PVCs labelled for the group's selector only until it is cut); each member snapshot
 * the snapshot-controller made then gets its role's labels and annotations, as a planned snapshot
 * would have carried them.
 */
async function cutGroup(r: BackupRun, facts: EngineMetadata = {}): Promise<void> {
  const { plan } = r;
  const { namespace, name } = plan;
  const members = new Map<string, SetVolume | undefined>([[plan.pvc, undefined], ...(plan.volumes ?? []).map((v) => [v.claim, v] as const)]);
  const claims = [...members.keys()];
  if (r.signal?.aborted) throw aborted(r.signal);
  const requestedAt = new Date();
  await labelGroupMembers(r.clients, namespace, claims, name);
  let vgs: VolumeGroupSnapshot;
  try {
    vgs = await r.clients.volumeGroupSnapshots.create(plan.groupSnapshot!);
    r.group = { name, uid: vgs.metadata.uid };
    report(r, 'snapshot-requested', `VolumeGroupSnapshot ${namespace}/${name} of PVCs ${claims.join(', ')} requested (one cut of every volume)`, {
      object: { kind: 'VolumeGroupSnapshot', name },
    });
    vgs = await waitGroupCut(r, name);
  } finally {
    // The content's volume list is fixed once it is created: the PVCs need the label no longer.
    await labelGroupMembers(r.clients, namespace, claims, null).catch((e: unknown) =>
      r.warnings.push(`the label ${GROUP_SNAPSHOT_PVC_LABEL} could not be taken off PVCs ${claims.join(', ')}: ${(e as Error).message}`),
    );
  }
  report(r, 'cut', `VolumeGroupSnapshot ${name} cut at ${vgs.status?.creationTime} (content ${vgs.status?.boundVolumeGroupSnapshotContentName})`, {
    object: { kind: 'VolumeGroupSnapshotContent', name: vgs.status!.boundVolumeGroupSnapshotContentName! },
  });
  let made = await groupMemberSnapshots(r.clients, vgs);
  while (made.size < claims.length && Date.now() < r.deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    made = await groupMemberSnapshots(r.clients, vgs);
  }
  const cutPvcs = [...made.keys()].sort();
  if (cutPvcs.join() !== [...claims].sort().join()) {
    throw new DbaasError(
      'TARGET_UNSUPPORTED',
      `VolumeGroupSnapshot ${namespace}/${name} cut PVCs ${cutPvcs.join(', ') || 'none'}, not the set's ${claims.join(', ')}: it is not this set`,
      {
        fix: `Check which PVCs carry the label ${GROUP_SNAPSHOT_PVC_LABEL}=${name} (only the set's may), then run the backup again.`,
        details: { cut: cutPvcs, set: claims },
      },
    );
  }
  const names: string[] = [];
  for (const [claim, member] of members) {
    const role: Role = member ? 'volume' : 'data';
    const planned = plannedSnapshot(plan, role, requestedAt, r.extra, { ...r.facts, ...facts }, member);
    const snapshotName = made.get(claim)!.metadata.name!;
    const vs = await r.clients.volumeSnapshots.patch(
      snapshotName,
      { metadata: { labels: planned.metadata.labels, annotations: planned.metadata.annotations } },
      namespace,
    );
    r.roles.set(snapshotName, role);
    r.snapshots.set(snapshotName, vs);
    const meta = readSnapshotMetadata(vs);
    r.metas.set(snapshotName, meta);
    startTimings(r, snapshotName, { requestedAt: meta.requestedAt, cutAt: undefined, readyAt: undefined });
    names.push(snapshotName);
  }
  await Promise.all(names.map((snapshotName) => cut(r, snapshotName)));
}

/** One executor per consistency mode: from the connected engine to the last snapshot cut. */
const EXECUTORS: Record<ConsistencyMode, (r: BackupRun) => Promise<void>> = {
  crash: async (r) => (r.plan.groupSnapshot ? cutGroup(r) : cut(r, await request(r, 'data'))),
  checkpoint: async (r) => {
    report(r, 'checkpoint', 'CHECKPOINT');
    const positions = await r.engine!.checkpoint!();
    if (r.plan.groupSnapshot) await cutGroup(r, positions);
    else await cut(r, await request(r, 'data', positions));
  },
  fenced: async (r) => {
    await closeOwnEngine(r);
    await fence(r);
    const set = (r.plan.volumes ?? []).length > 0;
    await assertFenceHolds(r, set ? 'before the snapshots were requested' : 'before the snapshot was requested');
    // Every volume of a stopped instance is cut inside the same fence: one consistent set.
    const names = [await request(r, 'data'), ...(await Promise.all((r.plan.volumes ?? []).map((v) => request(r, 'volume', {}, v))))];
    await Promise.all(names.map((snapshotName) => cut(r, snapshotName)));
    await assertFenceHolds(r, set ? 'until the snapshots were cut' : 'until the snapshot was cut');
    // The fence ends at the cut, not at readiness: the cleanup path lifts it right after.
  },
  online: executeOnline,
};

/** Adopting an earlier run's set: what it left to do (an online set is complete, or refused by the plan). */
async function executeAdopted(r: BackupRun, adopted: { data?: VolumeSnapshot; wal?: VolumeSnapshot; volumes: VolumeSnapshot[] }): Promise<void> {
  const dataName = adopt(r, adopted.data!, 'data');
  if (r.plan.mode === 'online') {
    // The plan adopts only a complete online set (its WAL copy carries the stop LSN).
    if (adopted.wal) adopt(r, adopted.wal, 'wal');
    for (const vs of adopted.volumes) adopt(r, vs, 'volume');
    return;
  }
  // A set of several volumes is adopted only whole and cut (the plan refuses anything else).
  for (const vs of adopted.volumes) adopt(r, vs, 'volume');
  if (r.plan.adopt?.cut) return;
  if (r.plan.mode === 'fenced') {
    await closeOwnEngine(r);
    await fence(r);
    await assertFenceHolds(r, 'before the adopted snapshot was cut');
  }
  await cut(r, dataName);
  if (r.plan.mode === 'fenced') await assertFenceHolds(r, 'until the adopted snapshot was cut');
}

/** Ends what the run holds (session, fence, connection); what failed on the way goes to `problems`. */
async function endHeld(r: BackupRun, problems: string[]): Promise<void> {
  const session = r.session;
  if (session) {
    r.session = undefined;
    session.stopListening?.();
    await session.backup
      .abort(r.signal?.aborted ? r.signal.reason : new Error('the backup failed'))
      .catch((e: unknown) => problems.push(`ending the online backup session: ${(e as Error).message}`));
    r.sessionMs = Date.now() - session.startedAt;
  }
  const fencing = r.fence;
  if (fencing?.active) {
    let lifted = false;
    try {
      await fencing.strategy.unfence(fenceContext(r, 'unfence'));
      fencing.active = false;
      lifted = true;
    } catch (e) {
      problems.push(`lifting the fence (${fencing.strategy.description}) FAILED, the database may still be stopped: ${(e as Error).message}`);
    }
    if (lifted) {
      // The downtime lasts until the database serves again, not until the scale-up was asked for.
      try {
        await fencing.strategy.waitRestored?.({ ...fenceContext(r, 'unfence'), deadline: Math.max(r.deadline, Date.now() + 300_000) });
        fencing.ms = Date.now() - (fencing.startedAt ?? Date.now());
        report(r, 'unfenced', `database serving again (${fencing.strategy.description}); down for ${fencing.ms} ms`);
      } catch (e) {
        fencing.ms = Date.now() - (fencing.startedAt ?? Date.now());
        r.warnings.push(`the fence was lifted, but the database was not serving again after ${fencing.ms} ms: ${(e as Error).message}`);
        report(r, 'unfenced', `fence lifted (${fencing.strategy.description}), the database not Ready again yet: ${(e as Error).message}`);
      }
    }
  }
  await closeOwnEngine(r).catch(() => undefined);
}

/** A lost online session explains the failure better than whichever wait it ended. */
function sessionLostError(lost: NonNullable<HeldSession['lost']>, holds: EngineOnlineBackup['holds']): DbaasError {
  const slot = holds?.slotName;
  return new DbaasError(
    'PG_CONNECTION_FAILED',
    `the online backup's PostgreSQL session was lost ${lost.stage}: ${lost.error.message}. PostgreSQL ends a non-exclusive backup${
      slot ? ` and drops its temporary replication slot ${slot}` : ''
    } with its session (a killed or restarted server, a dropped connection), so this run cannot become a backup: the data snapshot would have no backup_label and no WAL to the stop LSN.`,
    {
      fix: 'Find out why the session ended (the PostgreSQL log: killed, out of memory, restarted by its Pod or operator). Once PostgreSQL is up again, run the backup again; the same name works, nothing of this run is kept.',
      cause: lost.error,
      details: {
        sessionError: lost.error.message,
        stage: lost.stage,
        ...(slot ? { slotName: slot } : {}),
        ...(holds?.backendPid !== undefined ? { backendPid: holds.backendPid } : {}),
      },
    },
  );
}

/** The one cleanup path of a failed run: deletes what it created, and throws why it failed and what remains. */
async function failRun(r: BackupRun, failure: unknown, problems: string[]): Promise<never> {
  const { namespace, name, mode } = r.plan;
  const { created, signal } = r;
  const why = signal?.aborted ? 'aborted' : failure !== undefined ? toDbaasError(failure).message.split('\n')[0]! : problems.join('; ');
  // Said first, so that a progress display ends the step that was running as failed (not done).
  report(r, 'cleanup', `cleaning up after: ${why}`, { failure: why });
  // A partial set is no backup, and an uncut snapshot would be cut later from a live, unfenced database.
  const deleted: string[] = [];
  const remaining: string[] = [];
  await Promise.all(
    created.map(async (snapshotName) => {
      const outcome = await deletePartialSnapshot(r.clients, namespace, snapshotName, (m) => report(r, 'cleanup', m, { snapshot: snapshotName }));
      if (outcome === true) deleted.push(snapshotName);
      else remaining.push(`${snapshotName} (${outcome})`);
    }),
  );
  if (r.group) {
    const { name: groupName, uid } = r.group;
    const outcome = await deleteGroupSnapshot(r.clients, namespace, groupName, { ...(uid ? { uid } : {}), waitMs: PARTIAL_DELETE_WAIT_MS });
    created.push(`volumegroupsnapshot/${groupName}`);
    if (outcome === true) deleted.push(`volumegroupsnapshot/${groupName}`);
    else remaining.push(`volumegroupsnapshot/${groupName} (${outcome})`);
  }
  deleted.sort((a, b) => created.indexOf(a) - created.indexOf(b));
  remaining.sort((a, b) => created.indexOf(a.split(' ')[0]!) - created.indexOf(b.split(' ')[0]!));
  if (created.length) report(r, 'cleanup', `deleted ${deleted.join(', ') || 'nothing'}${remaining.length ? `; remaining: ${remaining.join(', ')}` : ''}`);
  const fenceLeft = r.fence !== undefined && problems.some((p) => p.startsWith('lifting'));
  const fenceWords = r.fence
    ? fenceLeft
      ? ` The fence could NOT be lifted: ${r.fence.strategy.object ?? r.fence.strategy.description} is still fenced (liftFence lifts it).`
      : ' The fence was lifted.'
    : '';
  const cleanup = `${fenceWords}${created.length ? ` Deleted the snapshot(s) this run created: ${deleted.join(', ') || 'none'}.` : ''}${
    remaining.length ? ` Remaining: ${remaining.join('; ')}.` : ''
  }${problems.length ? ` Problems: ${problems.join('; ')}.` : ''}`;
  const details = {
    backupSet: name,
    deletedSnapshots: deleted,
    remainingSnapshots: remaining,
    problems,
    snapshotErrors: r.snapshotErrors,
    ...(fenceLeft && r.fence?.strategy.object ? { fenceLeft: r.fence.strategy.object } : {}),
  };
  if (signal?.aborted)
    throw new DbaasError('BACKUP_ABORTED', `backup ${namespace}/${name} (${mode}) was aborted.${cleanup}`, { cause: signal.reason ?? failure, details });
  const base =
    failure === undefined
      ? new DbaasError('INTERNAL', `backup ${namespace}/${name} could not end cleanly`)
      : isDbaasError(failure)
        ? failure
        : new DbaasError('INTERNAL', (failure as Error)?.message ?? String(failure), { cause: failure });
  throw new DbaasError(base.code, `${base.message}${cleanup}`, {
    ...(base.fix ? { fix: base.fix } : {}),
    ...(base.option ? { option: base.option } : {}),
    cause: failure ?? base,
    details: { ...(base.details ?? {}), ...details },
  });
}

function resultOf(r: BackupRun): BackupResult {
  const { plan } = r;
  // By role, not by planned name: a group's member snapshots are named by the snapshot-controller.
  const named = (role: Role) => [...r.roles].filter(([, of]) => of === role).map(([snapshotName]) => snapshotName);
  const [data] = named('data');
  const [wal] = named('wal');
  const walSnapshot = wal === undefined ? undefined : r.snapshots.get(wal);
  const walMeta = wal === undefined ? undefined : r.metas.get(wal);
  const byVolume = new Map(named('volume').map((snapshotName) => [r.metas.get(snapshotName)?.volume, snapshotName]));
  const volumes = plan.volumes?.length ? plan.volumes.map((v) => ({ volume: v.volume, snapshot: byVolume.get(v.volume) ?? v.snapshot })) : undefined;
  return {
    name: plan.name,
    namespace: plan.namespace,
    pvc: plan.pvc,
    mode: plan.mode,
    driver: plan.driver,
    snapshotClass: plan.snapshotClass,
    atomicity: plan.atomicity,
    adopted: plan.adopt !== undefined,
    snapshots: {
      data: r.snapshots.get(data!)!,
      ...(walSnapshot ? { wal: walSnapshot } : {}),
      ...(volumes ? { volumes: Object.fromEntries(volumes.map((v) => [v.volume, r.snapshots.get(v.snapshot)!])) } : {}),
    },
    metadata: {
      data: r.metas.get(data!)!,
      ...(walMeta ? { wal: walMeta } : {}),
      ...(volumes ? { volumes: Object.fromEntries(volumes.map((v) => [v.volume, r.metas.get(v.snapshot)!])) } : {}),
    },
    timings: {
      totalMs: Date.now() - r.t0,
      ...(r.fence?.ms !== undefined ? { fencedMs: r.fence.ms } : {}),
      ...(r.sessionMs !== undefined ? { backupSessionMs: r.sessionMs } : {}),
      snapshots: r.timings,
    },
    snapshotErrors: r.snapshotErrors,
    ...(plan.fencing ? { fencing: plan.fencing } : {}),
    warnings: r.warnings,
    plan,
  };
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
        predicate: (_vs, e) => isGone(e),
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
        await clients.volumeSnapshotContents.patch(contentName, {
          metadata: { annotations: { 'dbaas.io/deletion-retriggered-at': new Date().toISOString() } },
        });
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
 * The plan comes first (`planBackup` with the same options; `result.plan` is it): every
 * refusal before anything is written.
 *
 * @throws DbaasError as `planBackup` (`MODE_UNSAFE`, `INVALID_ARGUMENT`, `TARGET_NOT_FOUND`,
 *   `KUBE_NOT_FOUND`, `KUBE_CONFLICT` for a foreign snapshot of that name), `KUBE_TIMEOUT` (deadline; names the driver's error), `BACKUP_ABORTED`,
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
  const { signal } = options;
  if (signal?.aborted) throw aborted(signal);
  const engineKind = options.engine?.engine ?? options.engineKind ?? 'postgres';
  const prefetched = prefetchConnection(clients, options.database, engineKind, options.namespace);
  const { plan, fencing, adopted, session } = await decideBackup(clients, options, new Date(t0));
  const internal = new AbortController();
  const r: BackupRun = {
    clients,
    plan,
    t0,
    deadline: t0 + (options.deadlineMs ?? DEFAULT_DEADLINE_MS),
    signal,
    internal,
    waitSignal: signal ? AbortSignal.any([signal, internal.signal]) : internal.signal,
    extra: options.extra,
    onProgress: options.onProgress,
    engine: options.engine,
    sql: undefined,
    facts: {},
    created: [],
    snapshots: new Map(),
    metas: new Map(),
    roles: new Map(),
    timings: {},
    snapshotErrors: [],
    reportedReady: new Set(),
    fence: fencing ? { strategy: fencing, active: false } : undefined,
    warnings: [],
    session: undefined,
    sessionMs: undefined,
    group: undefined,
  };
  report(
    r,
    'discovered',
    `PVC ${plan.namespace}/${plan.pvc} -> PV ${plan.pv} -> driver ${plan.driver} (${plan.atomicity.atomic ? 'atomic' : 'not atomic'} snapshots: ${plan.atomicity.reason}) -> VolumeSnapshotClass ${plan.snapshotClass}; mode ${plan.mode}${plan.modeSource === 'default' ? ' (default)' : ''}`,
    { object: { kind: 'PersistentVolumeClaim', name: plan.pvc } },
  );

  let failure: unknown;
  try {
    if (!r.engine) {
      r.sql = await openSession(clients, {
        namespace: plan.namespace,
        decision: session,
        database: options.database,
        engine: engineKind,
        prefetched,
        setMounts: (plan.volumes ?? []).map((v) => v.mountPath),
      });
      r.engine = r.sql?.engine;
      if (plan.session?.via === 'pod')
        report(r, 'discovered', `SQL session through the API server to pod ${plan.session.pod} (credentials from ${plan.session.credentials})`);
    }
    // Without a connection the engine is still recorded when the caller named it (verify and restore read it).
    r.facts = r.engine ? await r.engine.describe() : options.engineKind ? { engine: options.engineKind } : {};
    if (plan.adopt) await executeAdopted(r, adopted);
    else await EXECUTORS[plan.mode](r);
  } catch (error) {
    failure = error;
  }
  const lost = r.session?.lost;
  if (failure !== undefined && lost && !signal?.aborted) failure = sessionLostError(lost, r.session!.backup.holds);
  const problems: string[] = [];
  await endHeld(r, problems);
  if (failure === undefined && problems.length === 0) {
    try {
      for (const snapshotName of r.metas.keys()) await ready(r, snapshotName);
    } catch (error) {
      failure = error;
    }
  }
  if (failure !== undefined || problems.length > 0) return await failRun(r, failure, problems);
  return resultOf(r);
}
