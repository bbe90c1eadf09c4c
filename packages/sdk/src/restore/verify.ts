// Verification of a backup or a restored volume, replacing the seed's restore-test.sh: offline
// first (WalInspector on the volume's files: pg_control, backup_label, the WAL recovery needs),
// then live (a scratch PostgreSQL on the volume: recovery ends, timeline, optional SQL checks,
// amcheck on every btree index of every database), then the scratch restore is removed.
import { cnpgClusterImage } from '../kube/cnpg-cluster.js';
import { OPERATOR_SETTINGS_OFF } from '../engines/postgres/operator-settings.js';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { openSession, type PostgresConnectionConfig, type SqlSession } from '../engines/postgres/sql.js';
import { DbaasError, isDbaasError, toDbaasError } from '../errors.js';
import type { V1PersistentVolumeClaim } from '../kube/snapshot-types.js';
import type { KubeClients } from '../kube/clients.js';
import { watchUntil } from '../kube/watch-until.js';
import { snapshotAtomicity } from '../manifests/atomicity.js';
import { buildPvcClone } from '../manifests/builders.js';
import { DBAAS_ANNOTATIONS, DBAAS_LABELS, ENGINE_NAMES, type ConsistencyMode } from '../manifests/metadata.js';
import { assertDnsLabel, assertDnsSubdomain } from '../manifests/names.js';
import { podsMountingPvc } from '../snapshot/discovery.js';
import { SnapshotClient, type BackupSetDetails } from '../snapshot/snapshot-client.js';
import { inspectDataDirectory, type DataDirectoryInspection } from '../wal/data-directory.js';
import type { RestorePrepExecutor } from './restore-prep.js';
import {
  executeRestore,
  planRestore,
  type RestoreObjectRef,
  type RestorePlan,
  type RestoreOptions,
  type RestorePrepOptions,
  type RestoreProgress,
  type RestoreResult,
} from './restore.js';

/** The major of a recorded server version (`17.6` -> 17), or undefined. */
function majorOf(version: string | undefined): number | undefined {
  const major = Number((version ?? '').split('.')[0]);
  return Number.isInteger(major) && major > 0 ? major : undefined;
}

/**
 * A PostgreSQL started on a volume by a {@link VerifyRuntime}, accepting connections.
 *
 * @example
 * ```ts
 * const server: ScratchPostgres = await runtime.startPostgres(clients, { namespace: 'db', pvc: 'pg-restored', major: 17, deadline });
 * try { console.log(server.readyMs); } finally { await server.stop(); }
 * ```
 */
export interface ScratchPostgres {
  /** How to connect as a superuser. */
  connection: PostgresConnectionConfig;
  /** From the start command to accepting connections (recovery included). */
  readyMs: number;
  /** The server's log so far (for recovery timings and failure messages). */
  log(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Where verification reads a volume and runs its scratch server: pods mounting the PVC
 * ({@link podVerifyRuntime}), or a caller's own.
 *
 * @example
 * ```ts
 * const runtime: VerifyRuntime = podVerifyRuntime({ image: (major) => `postgres:${major}` });
 * await restoreClient.verify({ namespace: 'db', backup: 'nightly', runtime });
 * ```
 */
export interface VerifyRuntime {
  readonly description: string;
  /** The objects it creates (and deletes) to check the PVC `pvc`, for the plan; absent when it creates none or cannot say. */
  objects?(target: { namespace: string; pvc: string }): RestoreObjectRef[];
  /** Node for WaitForFirstConsumer classes: the scratch restore binds there. */
  readonly consumerNode?: string;
  /** Runs the restore-prep step of a scratch `online` restore. */
  readonly prepExecutor?: RestorePrepExecutor;
  /**
   * The restore-prep options of a scratch `online` restore of a backup of PostgreSQL `major`
   * (undefined when the backup does not record it): the runtime's image and user, so the Job runs
   * what the verification pods run. `restore.prep` of the verify options overrides them.
   */
  prepOptions?(major: number | undefined, source?: SourceUser): Omit<RestorePrepOptions, 'executor'>;
  /**
   * The data directory's files for the offline check, for reading only: a directory path or a tar
   * stream (what inspectDataDirectory reads), with PGDATA's place in the volume (`dataSubPath` given,
   * else the root or the one subdirectory holding PG_VERSION). `release()` when done.
   */
  openVolume(
    clients: KubeClients,
    request: {
      namespace: string;
      pvc: string;
      dataSubPath: string | undefined;
      set?: VolumeSetLayout;
      /** The PostgreSQL major the backup recorded, when it did: the runtime's image of that major has what reading the files needs. */
      major?: number;
      source?: SourceUser;
      deadline: number;
      signal?: AbortSignal;
    },
  ): Promise<{ source: string | AsyncIterable<Uint8Array>; dataSubPath: string; release(): Promise<void> }>;
  /**
   * Starts PostgreSQL of `major` on the volume (PGDATA at `dataSubPath`) with `settings` on its
   * command line (they keep a scratch server from archiving into the source's WAL archive or
   * streaming from its primary), and resolves once it accepts connections. `leaveStandby`: the
   * copy is a standby's (`standby.signal`); remove the file first, so that the server replays the
   * WAL it has and comes up as a primary rather than waiting for one forever.
   */
  startPostgres(
    clients: KubeClients,
    request: {
      namespace: string;
      pvc: string;
      dataSubPath: string;
      set?: VolumeSetLayout;
      major: number;
      settings: Record<string, string>;
      leaveStandby?: boolean;
      source?: SourceUser;
      deadline: number;
      signal?: AbortSignal;
    },
  ): Promise<ScratchPostgres>;
}

/**
 * The user the backed-up database ran as, as the backup recorded it from its pod (CloudNativePG's
 * 26, the official image's 999, ...): a runtime with no user of its own runs as this one, so that
 * the copy's files (mode 0700) are its own.
 *
 * @example
 * ```ts
 * const source: SourceUser = { runAsUser: 26, fsGroup: 26 };
 * ```
 */
export interface SourceUser {
  runAsUser?: number;
  fsGroup?: number;
  /** The image the source runs, when it is known and of the backup's major (a CloudNativePG Cluster's): a runtime with no image of its own uses it. */
  image?: string;
}

/**
 * A set of several volumes as the database container mounted them (the `pg_wal` and tablespace
 * links in the data directory point into the other volumes' mount paths): a runtime mounts `pvc`
 * at `dataMountPath` and each other volume at its `mountPath`, so the links resolve unchanged.
 *
 * @example
 * ```ts
 * const set: VolumeSetLayout = { dataMountPath: '/var/lib/postgresql/data', volumes: [{ pvc: 'verify-x-wal', mountPath: '/var/lib/postgresql/wal' }] };
 * ```
 */
export interface VolumeSetLayout {
  dataMountPath: string;
  volumes: { pvc: string; mountPath: string }[];
}

/**
 * What a scratch server must not do with a copy of someone's database: archive WAL into the
 * source's archive, fetch from it, or connect to its primary; and what of the source's
 * configuration it cannot have: its TLS files (CloudNativePG's are in `/controller/certificates`,
 * which only its pods mount) and a log collector writing elsewhere than to the pod's log the
 * verification reads. Passed on the command line, so they win over the copied postgresql.conf,
 * its includes and postgresql.auto.conf.
 *
 * @example
 * ```ts
 * runtime.startPostgres(clients, { ..., settings: SCRATCH_SERVER_SETTINGS });
 * ```
 */
export const SCRATCH_SERVER_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  ...OPERATOR_SETTINGS_OFF,
  recovery_target_action: 'promote',
});

/**
 * A user check: passes when `sql` runs and the first column of its first row is `true`.
 *
 * @example
 * ```ts
 * const check: VerifyCheck = { name: 'orders present', sql: 'select count(*) > 1000 from orders', database: 'shop' };
 * ```
 */
export interface VerifyCheck {
  name: string;
  sql: string;
  /** Default: the runtime's connection database. */
  database?: string;
}

/**
 * Options of {@link RestoreClient.verify}: either `backup` (restored into a scratch PVC that is
 * removed afterwards) or `pvc` (an existing restored volume: by default a CSI clone of it is
 * checked and removed, and the volume itself is left as it was).
 *
 * @example
 * ```ts
 * const options: VerifyOptions = { namespace: 'db', backup: 'nightly', runtime, checks: [{ name: 'rows', sql: 'select count(*) > 0 from t' }] };
 * ```
 */
export interface VerifyOptions {
  namespace: string;
  backup?: string;
  /** Namespace of `backup`. Default `namespace`. */
  backupNamespace?: string;
  pvc?: string;
  /**
   * With `pvc`: check a CSI clone of it (same StorageClass; deleted afterwards), so that the volume
   * itself is left exactly as it was. Default true. `false` starts PostgreSQL on the volume itself:
   * recovery changes its files (`backup_label` becomes `backup_label.old`, WAL is replayed and a
   * checkpoint written), and the pod runtime makes its user their owner.
   */
  clone?: boolean;
  runtime: VerifyRuntime;
  /** Options for the scratch restore (storage class, size, restore-prep). */
  restore?: Pick<RestoreOptions, 'storageClass' | 'size' | 'prep' | 'consumerNode'>;
  checks?: VerifyCheck[];
  /**
   * `auto` (default): on a scratch restore amcheck is installed and run; on a given PVC only where the
   * extension already exists (verification does not add objects to a volume it does not own).
   * `install`: always; `skip`: never.
   */
  amcheck?: 'auto' | 'install' | 'skip';
  /** Start PostgreSQL even when the offline check says the copy is unsafe (to see what happens). Default false. */
  liveEvenIfUnsafe?: boolean;
  /** PGDATA relative to the volume root. Default: the root, else the one subdirectory holding PG_VERSION. */
  dataSubPath?: string;
  signal?: AbortSignal;
  onProgress?: (event: VerifyProgress) => void;
  /** Overall deadline in ms. Default 20 minutes. */
  deadlineMs?: number;
}

/**
 * Steps of a verification (with the restore's, for a scratch restore: the RTO breakdown).
 *
 * @example
 * ```ts
 * const phase: VerifyPhase = 'ready-for-connections';
 * ```
 */
export type VerifyPhase =
  | 'restore'
  | 'clone'
  | 'offline-checked'
  | 'server-starting'
  | 'ready-for-connections'
  | 'recovery-done'
  | 'amcheck'
  | 'checks'
  | 'cleanup';

/**
 * One progress event of a verification.
 *
 * @example
 * ```ts
 * const onProgress = (e: VerifyProgress) => console.error(e.phase, e.message);
 * ```
 */
export interface VerifyProgress {
  phase: VerifyPhase;
  /** For people; programs read the fields below. */
  message: string;
  elapsedMs: number;
  /** `restore`: the scratch restore's own event. */
  restore?: RestoreProgress;
  /** `offline-checked`: the inspector's verdict on the copy. */
  offline?: { verdict: DataDirectoryInspection['verdict']; safe: boolean };
  /** The object the event is about: the scratch PVC or the clone (`clone`, `server-starting`, `cleanup`). */
  object?: RestoreObjectRef;
}

/**
 * One thing a verification found wrong, by the step that found it. `kind` says whether the copy's
 * files (`offline`: the scratch restore, the WAL inspector) or the running server (`live`) showed it.
 *
 * @example
 * ```ts
 * const f: VerifyFailure = { kind: 'live', check: 'user-check', name: 'rows', message: 'first column is false, not true' };
 * ```
 */
export interface VerifyFailure {
  kind: 'offline' | 'live';
  /** `restore`: the scratch restore broke on the backup's content; `inspector`: the WAL inspector; `server`: PostgreSQL did not start or stay up, or recovery and timeline; `amcheck`; `user-check`: one of `checks`. */
  check: 'restore' | 'inspector' | 'server' | 'amcheck' | 'user-check';
  /** `user-check`: the check's name. */
  name?: string;
  message: string;
}

/**
 * A {@link VerifyFailure} as one line, the form of `VerifyResult.failures`.
 *
 * @example
 * ```ts
 * describeVerifyFailure({ kind: 'live', check: 'user-check', name: 'rows', message: 'no rows' }); // 'check "rows": no rows'
 * ```
 */
export function describeVerifyFailure(f: VerifyFailure): string {
  const prefix =
    f.check === 'restore'
      ? 'restore'
      : f.check === 'inspector'
        ? 'offline'
        : f.check === 'server'
          ? 'live'
          : f.check === 'amcheck'
            ? 'amcheck'
            : `check "${f.name}"`;
  return `${prefix}: ${f.message}`;
}

/**
 * What a verification found. `ok` only when the offline inspection says the copy is safe, the
 * server started and left recovery on the expected timeline, and amcheck and every check passed.
 *
 * @example
 * ```ts
 * const v = await restoreClient.verify(options);
 * if (!v.ok) console.error(v.failures.join('\n'));
 * ```
 */
export interface VerifyResult {
  ok: boolean;
  /** Each of `findings` as one line. */
  failures: string[];
  /** What was found wrong, by check: programs read these, not `failures`. */
  findings: VerifyFailure[];
  namespace: string;
  pvc: string;
  /** The PVC was a scratch restore of `backup`, deleted afterwards. */
  scratch: boolean;
  /** The CSI clone of `pvc` that was checked in its place, deleted afterwards. */
  clone?: string;
  backup?: { namespace: string; name: string; mode: ConsistencyMode | undefined };
  restore?: RestoreResult;
  /** Absent when the scratch restore itself failed (the failure says why). */
  offline?:
    | (Pick<DataDirectoryInspection, 'verdict' | 'safe' | 'reasons' | 'postgresMajorVersion' | 'missingSegments' | 'requiredWal'> & {
        dataSubPath: string;
        /**
         * The copy is a standby's (it has standby.signal): the scratch server removed the file,
         * replayed the copy's WAL and came up as a primary, as a restore of it must be brought up.
         */
        standby: boolean;
      })
    | undefined;
  live?:
    | {
        readyMs: number;
        /** `redo done ... elapsed` from the server log, when PostgreSQL replayed WAL. */
        redoMs: number | undefined;
        inRecovery: boolean;
        timeline: number;
        expectedTimeline: number | undefined;
        amcheck: { ran: boolean; why?: string; databases: number; indexes: number; failures: string[] };
        checks: { name: string; ok: boolean; message: string }[];
      }
    | undefined;
  timings: { phases: { phase: VerifyPhase; atMs: number }[]; totalMs: number };
}

const DEFAULT_VERIFY_DEADLINE_MS = 20 * 60_000;

/**
 * PGDATA inside a volume directory: `given`, else the root, else the only subdirectory holding PG_VERSION.
 *
 * @throws DbaasError `DATA_DIRECTORY_UNREADABLE` when there is none or more than one.
 * @example
 * ```ts
 * const subPath = await findDataSubPath('/var/lib/hostpath/vol-1', undefined); // '' or 'pgdata'
 * ```
 */
export async function findDataSubPath(volume: string, given: string | undefined): Promise<string> {
  if (given !== undefined) return given;
  const candidates: string[] = existsSync(path.join(volume, 'PG_VERSION')) ? [''] : [];
  for (const entry of await readdir(volume, { withFileTypes: true })) {
    if (entry.isDirectory() && existsSync(path.join(volume, entry.name, 'PG_VERSION'))) candidates.push(entry.name);
  }
  return chooseDataSubPath(candidates);
}

/**
 * PGDATA among the places of a volume that hold PG_VERSION (`''` for the root): the root if it is
 * one, else the only subdirectory.
 *
 * @throws DbaasError `DATA_DIRECTORY_UNREADABLE` when there is none or more than one (option `dataSubPath`).
 * @example
 * ```ts
 * chooseDataSubPath(['pgdata']); // 'pgdata'
 * ```
 */
export function chooseDataSubPath(candidates: readonly string[]): string {
  if (candidates.includes('')) return '';
  if (candidates.length === 1) return candidates[0]!;
  throw new DbaasError(
    'DATA_DIRECTORY_UNREADABLE',
    candidates.length === 0
      ? 'the volume holds no PostgreSQL data directory (no PG_VERSION at its root or one level below)'
      : `the volume holds several data directories (${candidates.join(', ')})`,
    {
      fix: 'Pass dataSubPath with PGDATA relative to the volume root.',
      option: 'dataSubPath',
    },
  );
}

function redoElapsedMs(log: string): number | undefined {
  const match = /redo done at [^\n]*elapsed: ([\d.]+) s/.exec(log);
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}

function connectionFor(base: PostgresConnectionConfig, database: string | undefined): PostgresConnectionConfig {
  if (database === undefined) return base;
  if (typeof base === 'string') {
    const url = new URL(base);
    url.pathname = `/${encodeURIComponent(database)}`;
    return url.toString();
  }
  return { ...base, database };
}

async function withSession<T>(connection: PostgresConnectionConfig, fn: (session: SqlSession) => Promise<T>): Promise<T> {
  const session = await openSession(connection, { applicationName: 'kubectl-dbaas verify', connectTimeoutMs: 15_000 });
  try {
    return await fn(session);
  } finally {
    await session.close().catch(() => undefined);
  }
}

/**
 * The checked plan of a verification: which volume, which checks, which runtime, what it creates.
 * See {@link planVerify}; {@link executeVerify} runs exactly this.
 *
 * @example
 * ```ts
 * const plan: VerifyPlan = await planVerify(clients, options);
 * console.log(plan.pvc, plan.scratch, plan.amcheck, plan.creates.map((o) => `${o.kind}/${o.name}`));
 * ```
 */
export interface VerifyPlan {
  namespace: string;
  /** The volume checked: the scratch restore's PVC, or the given one. */
  pvc: string;
  /** `pvc` is a scratch restore of `backup`, deleted afterwards. */
  scratch: boolean;
  /**
   * A given `pvc` is checked through this CSI clone of it (created, then deleted): the volume the
   * inspector reads and the scratch server starts on. `waitsForConsumer`: its class binds on first
   * use and no node was given, so the runtime's first pod binds it.
   */
  clone?: { name: string; manifest: V1PersistentVolumeClaim; waitsForConsumer: boolean };
  /** A backup of several volumes: how the scratch pods mount the restored set. */
  set?: VolumeSetLayout;
  /** The backup set, when known (a given PVC names it in its `dbaas.io/restored-from` label). */
  backup?: { namespace: string; name: string; mode: ConsistencyMode | undefined; engineVersion: string | undefined };
  /** The user the backup's database ran as, when recorded: the runtime's default user. */
  source?: SourceUser;
  /** Scratch: the restore's own plan, executed as it is. */
  restore?: RestorePlan;
  /** Where the volume is read and the scratch server runs. */
  runtime: string;
  /** The WAL inspector's inputs. */
  offline: { dataSubPath: string | undefined; atomicSnapshot: boolean; backupStopLsn: bigint | undefined };
  /** `if-offline-safe`: PostgreSQL is started only when the inspector calls the copy safe. */
  live: 'always' | 'if-offline-safe';
  /** `install`: created where missing; `if-installed`: run only where the extension exists (a volume verify does not own). */
  amcheck: 'install' | 'if-installed' | 'skip';
  checks: VerifyCheck[];
  /** The backup's timeline, which the server must be on after recovery. */
  expectedTimeline: number | undefined;
  /** What this verification creates and deletes again: the scratch restore's objects, then the runtime's (its pods). */
  creates: RestoreObjectRef[];
}

/**
 * Plans a verification, reading the cluster but writing nothing: the target (a backup, planned as a
 * scratch restore with every refusal of {@link planRestore}, or an existing PVC), the checks and the
 * runtime. Refuses what it cannot verify before anything is created.
 *
 * @throws DbaasError `INVALID_ARGUMENT` (neither or both of `backup` and `pvc`), `TARGET_UNSUPPORTED`
 *   (a MySQL/MariaDB backup; a scratch restore that would wait for a first consumer; a `pvc` a pod
 *   is using, or one that cannot be cloned), `KUBE_NOT_FOUND`, and the refusals of {@link planRestore}.
 * @example
 * ```ts
 * const plan = await planVerify(clients, { namespace: 'db', backup: 'nightly', runtime });
 * for (const o of plan.creates) console.log(o.kind, o.name);
 * ```
 */
export async function planVerify(clients: KubeClients, options: VerifyOptions): Promise<VerifyPlan> {
  const namespace = assertDnsLabel(options.namespace, 'namespace');
  if ((options.backup === undefined) === (options.pvc === undefined)) {
    throw new DbaasError('INVALID_ARGUMENT', 'verify needs exactly one of backup (a backup set, restored into a scratch PVC) and pvc (a restored volume)', {
      fix: 'Pass backup to check a backup, or pvc to check a volume already restored.',
      option: options.backup === undefined ? 'backup' : 'pvc',
    });
  }
  const snapshots = new SnapshotClient(clients);
  const scratch = options.backup !== undefined;
  let details: BackupSetDetails | undefined;
  let backupNamespace = options.backupNamespace ?? namespace;
  let pvc: string;
  let clone: VerifyPlan['clone'];
  if (scratch) {
    details = await snapshots.describe({ namespace: backupNamespace, name: options.backup! });
    pvc = `verify-${details.name.slice(0, 40)}-${randomBytes(3).toString('hex')}`;
  } else {
    pvc = assertDnsSubdomain(options.pvc!, 'PVC name');
    const target = await clients.core.readNamespacedPersistentVolumeClaim({ name: pvc, namespace });
    const from = target.metadata?.labels?.[DBAAS_LABELS.restoredFrom];
    backupNamespace = target.metadata?.annotations?.[DBAAS_ANNOTATIONS.restoredFromNamespace] ?? namespace;
    if (from) details = await snapshots.describe({ namespace: backupNamespace, name: from }).catch(() => undefined);
    await refuseVolumeInUse(clients, namespace, pvc);
    if (options.clone !== false) clone = await planClone(clients, target, options.restore?.consumerNode ?? options.runtime.consumerNode);
  }
  const meta = details?.data?.metadata;
  const sourceImage =
    meta?.sourceWorkload?.kind === 'Cluster' && meta.engine !== 'mysql'
      ? await cnpgClusterImage(clients, backupNamespace, meta.sourceWorkload.name, majorOf(meta.engineVersion))
      : undefined;
  const sourceUser: SourceUser | undefined =
    meta?.runAsUser !== undefined || meta?.fsGroup !== undefined || sourceImage !== undefined
      ? {
          ...(meta?.runAsUser !== undefined ? { runAsUser: meta.runAsUser } : {}),
          ...(meta?.fsGroup !== undefined ? { fsGroup: meta.fsGroup } : {}),
          ...(sourceImage !== undefined ? { image: sourceImage } : {}),
        }
      : undefined;
  if (!scratch && details && (details.volumes.length > 0 || (meta?.setVolumes?.length ?? 0) > 0)) {
    throw new DbaasError(
      'TARGET_UNSUPPORTED',
      `PVC ${namespace}/${pvc} was restored from backup ${backupNamespace}/${details.name}, a set of several volumes (its pg_wal or tablespaces on other PVCs): verifying one restored PVC of such a set is not built`,
      { fix: `Verify the backup itself (kubectl dbaas verify --backup ${details.name}), which restores and checks the whole set.`, option: 'pvc' },
    );
  }
  if (meta?.engine === 'mysql' || meta?.engine === 'mariadb') {
    // The scratch server, the offline check and amcheck are PostgreSQL's; refuse before any restore.
    const engineName = `${ENGINE_NAMES[meta.engine]}${meta.engineVersion ? ` ${meta.engineVersion}` : ''}`;
    throw new DbaasError(
      'TARGET_UNSUPPORTED',
      `backup ${backupNamespace}/${details!.name} is a ${engineName} backup: verify checks PostgreSQL backups only (WAL inspector, scratch PostgreSQL, amcheck)`,
      {
        fix: `Restore it (RestoreClient.restore, or kubectl dbaas restore ${details!.name}) and check the restored data directory with the SDK's verifyMysqlRestore (a scratch mariadbd/mysqld, CHECK TABLE on every table; docs/engines.md#verify).`,
        details: { engine: meta.engine },
        option: scratch ? 'backup' : 'pvc',
      },
    );
  }

  let restore: RestorePlan | undefined;
  if (scratch) {
    const consumerNode = options.restore?.consumerNode ?? options.runtime.consumerNode;
    restore = await planRestore(clients, {
      backup: details!.name,
      backupNamespace,
      namespace,
      pvcName: pvc,
      ...(options.restore ?? {}),
      ...(consumerNode ? { consumerNode } : {}),
      // The caller's dataSubPath is PGDATA's place in the volume for the restore-prep step too.
      prep: {
        ...(options.runtime.prepOptions?.(majorOf(meta?.engineVersion), sourceUser) ?? {}),
        ...(options.dataSubPath !== undefined ? { dataSubPath: options.dataSubPath } : {}),
        ...(options.restore?.prep ?? {}),
      },
      deadlineMs: options.deadlineMs ?? DEFAULT_VERIFY_DEADLINE_MS,
      // The copy is inspected as it was taken (a standby's standby.signal is a finding); the scratch
      // server gets SCRATCH_SERVER_SETTINGS on its command line.
      plainServer: false,
    });
    // On a class that binds on first use, the runtime's first pod (the inspect pod) is the scratch
    // PVC's consumer. Across namespaces the restore's temporary VolumeSnapshot pair must outlive the
    // binding, which the restore cannot see happen: there the node is needed up front.
    const temporarySnapshots = restore.manifests.some((m) => m.kind === 'VolumeSnapshot' || m.kind === 'VolumeSnapshotContent');
    if (restore.endsWaitingForConsumer && temporarySnapshots) {
      throw new DbaasError(
        'TARGET_UNSUPPORTED',
        `StorageClass ${restore.storageClassName} binds a volume only when its first pod is scheduled, and the scratch restore ${namespace}/${pvc} from another namespace needs it bound while its temporary VolumeSnapshot exists`,
        {
          fix: 'Pass the node to bind for (restore.consumerNode, or a runtime with a consumerNode), or a StorageClass that binds immediately (restore.storageClass).',
          option: 'restore.consumerNode',
          details: { storageClass: restore.storageClassName },
        },
      );
    }
  }

  // An atomic driver's crash-consistent copy is judged as a crash of the server, not as torn files.
  let atomicSnapshot = false;
  if (meta && (meta.mode === 'crash' || meta.mode === 'checkpoint') && details?.data?.content?.driver) {
    const className = details.data.snapshotClass;
    const snapshotClass = className ? await clients.volumeSnapshotClasses.get(className).catch(() => undefined) : undefined;
    atomicSnapshot = snapshotAtomicity(details.data.content.driver, snapshotClass).atomic;
  }
  const amcheck = options.amcheck ?? 'auto';
  return {
    namespace,
    pvc,
    scratch,
    ...(clone ? { clone } : {}),
    ...(details ? { backup: { namespace: backupNamespace, name: details.name, mode: meta?.mode, engineVersion: meta?.engineVersion } } : {}),
    ...(sourceUser ? { source: sourceUser } : {}),
    ...(restore ? { restore } : {}),
    runtime: options.runtime.description,
    offline: { dataSubPath: options.dataSubPath ?? meta?.dataSubPath, atomicSnapshot, backupStopLsn: meta?.stopLsn },
    ...(restore?.volumes?.length
      ? {
          set: {
            // Where the source pod mounted its data volume; the links into the other volumes are absolute.
            dataMountPath: meta?.mountPath ?? '/var/lib/postgresql/data',
            volumes: restore.volumes.map((v) => ({ pvc: v.pvcName, mountPath: v.mountPath })),
          },
        }
      : {}),
    live: options.liveEvenIfUnsafe ? 'always' : 'if-offline-safe',
    // A clone is the tool's own volume, as a scratch restore is: amcheck may be installed in it.
    amcheck: amcheck === 'auto' ? (scratch || clone ? 'install' : 'if-installed') : amcheck,
    checks: [...(options.checks ?? [])],
    expectedTimeline: meta?.timeline !== undefined ? Number(meta.timeline) : undefined,
    creates: [
      ...(restore?.manifests ?? []).map((m) => ({
        kind: m.kind!,
        name: m.metadata!.name!,
        ...(m.metadata!.namespace ? { namespace: m.metadata!.namespace } : {}),
      })),
      ...(clone ? [{ kind: 'PersistentVolumeClaim', name: clone.name, namespace }] : []),
      ...(options.runtime.objects?.({ namespace, pvc: clone?.name ?? pvc }) ?? []),
    ],
  };
}

/**
 * The volume the inspector reads and the scratch server starts on: the clone of a given PVC, else
 * the plan's PVC.
 */
function checkedPvc(plan: VerifyPlan): string {
  return plan.clone?.name ?? plan.pvc;
}

/** Refuses a PVC a pod is using: a second server on it, or a clone of a volume under writes, proves nothing. */
async function refuseVolumeInUse(clients: KubeClients, namespace: string, pvc: string): Promise<void> {
  const users = (await podsMountingPvc(clients, namespace, pvc, { includeTerminating: true })).filter(
    (p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed',
  );
  if (users.length === 0) return;
  const names = users.map((p) => p.metadata!.name!).join(', ');
  throw new DbaasError(
    'TARGET_UNSUPPORTED',
    `PVC ${namespace}/${pvc} is in use by pod ${names}: verify checks a restored volume nothing runs on (a second PostgreSQL on it, or a copy of it taken under writes, would prove nothing)`,
    {
      fix: `Verify the backup it came from instead (backup), or stop what uses it first (kubectl -n ${namespace} get pod ${users[0]!.metadata!.name!}).`,
      option: 'pvc',
      details: { pods: users.map((p) => p.metadata!.name!) },
    },
  );
}

/** The clone of a given PVC, checked in its place; refused before anything is created when it cannot be made. */
async function planClone(clients: KubeClients, source: V1PersistentVolumeClaim, consumerNode: string | undefined): Promise<NonNullable<VerifyPlan['clone']>> {
  const name = `verify-${source.metadata!.name!.slice(0, 40)}-${randomBytes(3).toString('hex')}`;
  const manifest = buildPvcClone({ name, source, component: 'verify-clone', ...(consumerNode ? { bindToNode: consumerNode } : {}) });
  const className = manifest.spec!.storageClassName!;
  const storageClass = await clients.storage.readStorageClass({ name: className }).catch((error: unknown) => {
    if (isDbaasError(error, 'KUBE_NOT_FOUND')) {
      throw new DbaasError(
        'TARGET_UNSUPPORTED',
        `StorageClass ${className} of PVC ${source.metadata!.namespace}/${source.metadata!.name} no longer exists: no clone can be made in it`,
        {
          fix: 'Verify it in place (clone: false), which changes its files, or verify the backup it came from (backup).',
          option: 'clone',
        },
      );
    }
    throw error;
  });
  return { name, manifest, waitsForConsumer: storageClass.volumeBindingMode === 'WaitForFirstConsumer' && consumerNode === undefined };
}

/**
 * Creates the clone and waits until it is Bound (unless its first pod binds it). A driver that
 * cannot clone says so in a ProvisioningFailed event: reported once it has lasted a grace period,
 * instead of waiting out the deadline.
 */
async function createClone(clients: KubeClients, run: VerifyRun): Promise<void> {
  const { plan, execution } = run;
  const clone = plan.clone!;
  const { name } = clone;
  const namespace = plan.namespace;
  await clients.core.createNamespacedPersistentVolumeClaim({ namespace, body: clone.manifest });
  run.cloneCreated = true;
  progressOf(run)('clone', `cloning PVC ${namespace}/${plan.pvc} into ${name}: the volume itself is left as it is`, {
    object: { kind: 'PersistentVolumeClaim', name, namespace },
  });
  if (clone.waitsForConsumer) return;
  const stop = new AbortController();
  const onAbort = () => stop.abort(execution.signal?.reason);
  execution.signal?.addEventListener('abort', onAbort, { once: true });
  let provisioningFailure: string | undefined;
  const watcher = (async () => {
    let firstSeen: number | undefined;
    while (!stop.signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, CLONE_EVENT_POLL_MS));
      const events = await clients.core
        .listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=PersistentVolumeClaim,involvedObject.name=${name}` })
        .catch(() => undefined);
      const failed = events?.items.filter((e) => e.type === 'Warning' && e.reason === 'ProvisioningFailed').pop();
      if (!failed) continue;
      firstSeen ??= Date.now();
      if (Date.now() - firstSeen >= CLONE_FAILURE_GRACE_MS) {
        provisioningFailure = failed.message ?? 'ProvisioningFailed';
        stop.abort();
      }
    }
  })();
  try {
    const bound = await watchUntil<V1PersistentVolumeClaim>(clients, {
      path: `/api/v1/namespaces/${namespace}/persistentvolumeclaims`,
      name,
      predicate: (p) => p === undefined || p.status?.phase === 'Bound' || p.status?.phase === 'Lost',
      deadline: run.deadline,
      signal: stop.signal,
      what: 'to be Bound',
      describe: (p) => `phase ${p?.status?.phase ?? 'unknown'}`,
    }).catch((error: unknown) => {
      if (provisioningFailure === undefined) throw error;
      throw new DbaasError(
        'TARGET_UNSUPPORTED',
        `the CSI driver of StorageClass ${clone.manifest.spec!.storageClassName} could not clone PVC ${namespace}/${plan.pvc}: ${provisioningFailure}`,
        {
          fix: 'Verify it in place (clone: false), which changes its files, or verify the backup it came from (backup).',
          option: 'clone',
        },
      );
    });
    if (bound.object?.status?.phase !== 'Bound') {
      throw new DbaasError(
        'RESTORE_FAILED',
        `the clone ${namespace}/${name} ${bound.object ? `is ${bound.object.status?.phase}` : 'was deleted'} instead of Bound`,
      );
    }
  } finally {
    stop.abort();
    execution.signal?.removeEventListener('abort', onAbort);
    await watcher;
  }
}

/** How often the clone's events are read while it is not Bound. */
const CLONE_EVENT_POLL_MS = 2_000;
/** How long a ProvisioningFailed event of the clone is given before it is reported (the provisioner retries). */
const CLONE_FAILURE_GRACE_MS = 10_000;

/**
 * What {@link executeVerify} needs besides the plan: the runtime that reads and starts the copy, and
 * the run's clock, abort and progress.
 *
 * @example
 * ```ts
 * const execution: VerifyExecution = { runtime, deadline: Date.now() + 1_200_000, onProgress: (e) => console.error(e.message) };
 * ```
 */
export interface VerifyExecution {
  runtime: VerifyRuntime;
  /** Runs the scratch restore's restore-prep step. Default: the runtime's, else a Job. */
  prepExecutor?: RestorePrepExecutor;
  /** When the verification began (timings count from it). Default: now. */
  startedAt?: number;
  /** Epoch ms. Default: 20 minutes after `startedAt`. */
  deadline?: number;
  signal?: AbortSignal;
  onProgress?: (event: VerifyProgress) => void;
}

/** What a verification run has so far: the state the executor's steps hand on. */
interface VerifyRun {
  readonly plan: VerifyPlan;
  readonly execution: VerifyExecution;
  readonly started: number;
  readonly deadline: number;
  readonly phases: { phase: VerifyPhase; atMs: number }[];
  readonly findings: VerifyFailure[];
  restore?: RestoreResult;
  /** The clone of a given PVC exists (and must be deleted). */
  cloneCreated?: boolean;
  offline?: NonNullable<VerifyResult['offline']>;
  live?: VerifyResult['live'];
}

function progressOf(run: VerifyRun): (phase: VerifyPhase, message: string, fields?: Omit<VerifyProgress, 'phase' | 'message' | 'elapsedMs'>) => void {
  return (phase, message, fields = {}) => {
    const atMs = Date.now() - run.started;
    run.phases.push({ phase, atMs });
    run.execution.onProgress?.({ phase, message, elapsedMs: atMs, ...fields });
  };
}

function resultOf(run: VerifyRun): VerifyResult {
  const { plan } = run;
  return {
    ok: run.findings.length === 0,
    failures: run.findings.map(describeVerifyFailure),
    findings: run.findings,
    namespace: plan.namespace,
    pvc: plan.pvc,
    scratch: plan.scratch,
    ...(plan.clone ? { clone: plan.clone.name } : {}),
    ...(plan.backup ? { backup: { namespace: plan.backup.namespace, name: plan.backup.name, mode: plan.backup.mode } } : {}),
    ...(run.restore ? { restore: run.restore } : {}),
    ...(run.offline ? { offline: run.offline } : {}),
    ...(run.live ? { live: run.live } : {}),
    timings: { phases: run.phases, totalMs: Date.now() - run.started },
  };
}

/**
 * Verifies a backup (through a scratch restore) or a restored PVC: {@link planVerify}, then
 * {@link executeVerify} of that plan. See {@link RestoreClient.verify}.
 *
 * @throws DbaasError for what stops verification itself (bad input, restore errors, the runtime failing);
 *   a copy that is found broken is a result with `ok: false`, not an exception.
 * @example
 * ```ts
 * const v = await runVerify(clients, { namespace: 'db', backup: 'nightly', runtime });
 * ```
 */
export async function runVerify(clients: KubeClients, options: VerifyOptions): Promise<VerifyResult> {
  const startedAt = Date.now();
  const plan = await planVerify(clients, options);
  return await executeVerify(clients, plan, {
    runtime: options.runtime,
    ...((options.restore?.prep?.executor ?? options.runtime.prepExecutor)
      ? { prepExecutor: options.restore?.prep?.executor ?? options.runtime.prepExecutor }
      : {}),
    startedAt,
    deadline: startedAt + (options.deadlineMs ?? DEFAULT_VERIFY_DEADLINE_MS),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
}

/**
 * Runs a {@link VerifyPlan}: the scratch restore as planned, the offline check, the live checks the
 * plan names, then removes the scratch restore.
 *
 * @throws DbaasError as {@link runVerify} does once it creates objects.
 * @example
 * ```ts
 * const plan = await planVerify(clients, options);
 * const v = await executeVerify(clients, plan, { runtime: options.runtime });
 * ```
 */
export async function executeVerify(clients: KubeClients, plan: VerifyPlan, execution: VerifyExecution): Promise<VerifyResult> {
  const started = execution.startedAt ?? Date.now();
  const run: VerifyRun = { plan, execution, started, deadline: execution.deadline ?? started + DEFAULT_VERIFY_DEADLINE_MS, phases: [], findings: [] };
  const progress = progressOf(run);
  try {
    if (plan.restore && !(await scratchRestore(clients, run))) return resultOf(run);
    if (plan.clone) await createClone(clients, run);
    const safe = await checkOffline(clients, run);
    if (safe || plan.live === 'always') await checkServer(clients, run);
    return resultOf(run);
  } finally {
    if (plan.scratch && run.restore) {
      for (const name of [plan.pvc, ...(plan.set?.volumes ?? []).map((v) => v.pvc)]) {
        progress('cleanup', `deleting the scratch PVC ${plan.namespace}/${name}`, {
          object: { kind: 'PersistentVolumeClaim', name, namespace: plan.namespace },
        });
        await clients.core.deleteNamespacedPersistentVolumeClaim({ name, namespace: plan.namespace }).catch((error: unknown) => {
          if (!isDbaasError(error, 'KUBE_NOT_FOUND')) throw error;
        });
      }
    }
    if (run.cloneCreated) {
      const name = checkedPvc(plan);
      progress('cleanup', `deleting the clone ${plan.namespace}/${name}`, { object: { kind: 'PersistentVolumeClaim', name, namespace: plan.namespace } });
      await clients.core.deleteNamespacedPersistentVolumeClaim({ name, namespace: plan.namespace }).catch((error: unknown) => {
        if (!isDbaasError(error, 'KUBE_NOT_FOUND')) throw error;
      });
    }
  }
}

/** The scratch restore, as planned; false when the backup's own content broke it (a finding). */
async function scratchRestore(clients: KubeClients, run: VerifyRun): Promise<boolean> {
  const { execution } = run;
  const progress = progressOf(run);
  try {
    run.restore = await executeRestore(clients, run.plan.restore!, {
      startedAt: Date.now(),
      deadline: run.deadline,
      ...((execution.prepExecutor ?? execution.runtime.prepExecutor) ? { prepExecutor: execution.prepExecutor ?? execution.runtime.prepExecutor } : {}),
      ...(execution.signal ? { signal: execution.signal } : {}),
      onProgress: (e) => progress('restore', `${e.phase}: ${e.message}`, { restore: e }),
    });
    return true;
  } catch (error) {
    // A WAL segment missing from the -wal snapshot breaks restore-prep: a finding about the backup, not an error of verify.
    if (isDbaasError(error, 'RESTORE_PREP_FAILED')) {
      run.findings.push({ kind: 'offline', check: 'restore', message: error.message });
      return false;
    }
    throw error;
  }
}

/** The WAL inspector on the volume's files, before anything starts PostgreSQL on them; true when safe. */
async function checkOffline(clients: KubeClients, run: VerifyRun): Promise<boolean> {
  const { plan, execution } = run;
  const volume = await execution.runtime.openVolume(clients, {
    namespace: plan.namespace,
    pvc: checkedPvc(plan),
    dataSubPath: plan.offline.dataSubPath,
    ...(plan.set ? { set: plan.set } : {}),
    ...(majorOf(plan.backup?.engineVersion) !== undefined ? { major: majorOf(plan.backup?.engineVersion)! } : {}),
    ...(plan.source ? { source: plan.source } : {}),
    deadline: run.deadline,
    ...(execution.signal ? { signal: execution.signal } : {}),
  });
  let inspection: DataDirectoryInspection;
  try {
    inspection = await inspectDataDirectory(volume.source, {
      atomicSnapshot: plan.offline.atomicSnapshot,
      ...(plan.offline.backupStopLsn !== undefined ? { backupStopLsn: plan.offline.backupStopLsn } : {}),
    });
  } finally {
    await volume.release();
  }
  run.offline = {
    verdict: inspection.verdict,
    safe: inspection.safe,
    reasons: inspection.reasons,
    postgresMajorVersion: inspection.postgresMajorVersion,
    missingSegments: inspection.missingSegments,
    requiredWal: inspection.requiredWal,
    dataSubPath: volume.dataSubPath,
    standby: inspection.found.standbySignal,
  };
  progressOf(run)('offline-checked', `${inspection.verdict}${inspection.safe ? '' : `: ${inspection.reasons.join('; ')}`}`, {
    offline: { verdict: inspection.verdict, safe: inspection.safe },
  });
  if (!inspection.safe) run.findings.push({ kind: 'offline', check: 'inspector', message: `${inspection.verdict}: ${inspection.reasons.join('; ')}` });
  return inspection.safe;
}

/**
 * The line of a PostgreSQL log that says why the server did not start or stay up.
 *
 * @example
 * ```ts
 * fatalLine('FATAL:  the database system is in recovery mode\nPANIC:  could not locate a valid checkpoint record'); // 'PANIC:  could not locate...'
 * ```
 */
export function fatalLine(log: string): string | undefined {
  const fatal = log.split('\n').filter((l) => /FATAL|PANIC/.test(l));
  // The readiness probe's connections are turned away with FATAL lines of their own ("the database
  // system is in recovery mode", "...is shutting down") that can come after the startup process's
  // real failure: the server's own reason is the last line that is not one of those.
  const own = fatal.filter(
    (l) => !/the database system is (starting up|in recovery mode|shutting down|not yet accepting connections|not accepting connections)/.test(l),
  );
  return (own.pop() ?? fatal.pop())?.trim();
}

/** A scratch PostgreSQL on the volume: recovery, timeline, amcheck and the checks, as findings. */
async function checkServer(clients: KubeClients, run: VerifyRun): Promise<void> {
  const { plan, execution } = run;
  const progress = progressOf(run);
  const live = (message: string): void => void run.findings.push({ kind: 'live', check: 'server', message });
  const major = run.offline!.postgresMajorVersion;
  if (major === undefined)
    throw new DbaasError('DATA_DIRECTORY_UNREADABLE', 'the data directory has no readable PG_VERSION: cannot choose a PostgreSQL to start on it');
  const { namespace } = plan;
  const pvc = checkedPvc(plan);
  // A standby's copy (CloudNativePG backs up a standby by default) would start as a standby and
  // wait for a primary forever; without standby.signal it replays its WAL and comes up.
  const leaveStandby = run.offline!.standby;
  progress(
    'server-starting',
    `starting PostgreSQL ${major} on ${namespace}/${pvc} with ${plan.runtime}${leaveStandby ? " (the copy is a standby's: standby.signal removed so that it recovers and comes up as a primary)" : ''}`,
    { object: { kind: 'PersistentVolumeClaim', name: pvc, namespace } },
  );
  let server: ScratchPostgres;
  try {
    server = await execution.runtime.startPostgres(clients, {
      namespace,
      pvc,
      dataSubPath: run.offline!.dataSubPath,
      ...(plan.set ? { set: plan.set } : {}),
      major,
      settings: { ...SCRATCH_SERVER_SETTINGS },
      ...(leaveStandby ? { leaveStandby } : {}),
      ...(plan.source ? { source: plan.source } : {}),
      deadline: run.deadline,
      ...(execution.signal ? { signal: execution.signal } : {}),
    });
  } catch (error) {
    if (execution.signal?.aborted) throw error;
    // A server that does not come up is a finding about the copy, with the server's own words.
    live(`PostgreSQL did not start: ${fatalLine(String((error as { log?: unknown }).log ?? '')) ?? toDbaasError(error).message.split('\n')[0]}`);
    return;
  }
  try {
    progress('ready-for-connections', `accepting connections after ${server.readyMs} ms`);
    const found = await checkLive(server, plan, run.deadline, progress);
    run.live = found;
    if (found.inRecovery) live('the server is still in recovery');
    if (found.expectedTimeline !== undefined && found.timeline !== found.expectedTimeline)
      live(`timeline ${found.timeline}, the backup's is ${found.expectedTimeline}`);
    for (const f of found.amcheck.failures) run.findings.push({ kind: 'live', check: 'amcheck', message: f });
    for (const c of found.checks) if (!c.ok) run.findings.push({ kind: 'live', check: 'user-check', name: c.name, message: c.message });
  } catch (error) {
    const fatal = fatalLine(await server.log().catch(() => ''));
    live(`${toDbaasError(error).message}${fatal ? ` (server log: ${fatal})` : ''}`);
  } finally {
    await server.stop();
  }
}

async function checkLive(
  server: ScratchPostgres,
  plan: VerifyPlan,
  deadline: number,
  progress: (phase: VerifyPhase, message: string) => void,
): Promise<NonNullable<VerifyResult['live']>> {
  const { inRecovery, timeline, databases } = await withSession(server.connection, async (s) => {
    let recovering = true;
    while (Date.now() < deadline) {
      const [row] = await s.query<{ r: boolean }>('select pg_is_in_recovery() as r');
      recovering = row!.r;
      if (!recovering) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const [tl] = await s.query<{ timeline_id: number }>('select timeline_id from pg_control_checkpoint()');
    const dbs = await s.query<{ datname: string }>('select datname from pg_database where datallowconn and not datistemplate order by datname');
    return { inRecovery: recovering, timeline: Number(tl!.timeline_id), databases: dbs.map((d) => d.datname) };
  });
  const redoMs = redoElapsedMs(await server.log().catch(() => ''));
  progress('recovery-done', `out of recovery on timeline ${timeline}${redoMs !== undefined ? ` (redo ${redoMs} ms)` : ''}`);

  const mode = plan.amcheck;
  const amcheck: NonNullable<VerifyResult['live']>['amcheck'] = { ran: false, databases: 0, indexes: 0, failures: [] };
  if (mode === 'skip') amcheck.why = 'skipped (amcheck: skip)';
  else if (inRecovery) amcheck.why = 'the server is still in recovery';
  else {
    for (const database of databases) {
      await withSession(connectionFor(server.connection, database), async (s) => {
        const [has] = await s.query<{ n: string }>("select count(*) as n from pg_extension where extname = 'amcheck'");
        if (Number(has!.n) === 0) {
          if (mode === 'install') await s.query('create extension amcheck');
          else {
            amcheck.why = `amcheck is not installed in ${database}; not adding it to a volume verify does not own (pass amcheck: install)`;
            return;
          }
        }
        const indexes = await s.query<{ oid: number; name: string }>(
          `select c.oid, c.oid::regclass::text as name
             from pg_index i join pg_class c on c.oid = i.indexrelid join pg_am am on am.oid = c.relam
            where am.amname = 'btree' and c.relpersistence <> 't' and i.indisvalid and i.indisready order by c.oid`,
        );
        for (const index of indexes) {
          try {
            await s.query('select bt_index_check($1::regclass, true)', [index.oid]);
          } catch (error) {
            amcheck.failures.push(`${database}: ${index.name}: ${toDbaasError(error).message}`);
          }
        }
        amcheck.ran = true;
        amcheck.databases += 1;
        amcheck.indexes += indexes.length;
      });
    }
    progress(
      'amcheck',
      amcheck.ran
        ? `bt_index_check on ${amcheck.indexes} btree index(es) in ${amcheck.databases} database(s): ${amcheck.failures.length} failure(s)`
        : (amcheck.why ?? 'not run'),
    );
  }

  const checks: { name: string; ok: boolean; message: string }[] = [];
  for (const check of plan.checks) {
    try {
      const rows = await withSession(connectionFor(server.connection, check.database), async (s) => await s.query(check.sql));
      const first = rows[0] ? Object.values(rows[0])[0] : undefined;
      checks.push(
        first === true
          ? { name: check.name, ok: true, message: 'true' }
          : { name: check.name, ok: false, message: rows.length === 0 ? 'no rows' : `first column is ${JSON.stringify(first)}, not true` },
      );
    } catch (error) {
      checks.push({ name: check.name, ok: false, message: toDbaasError(error).message });
    }
  }
  if (checks.length) progress('checks', `${checks.filter((c) => c.ok).length}/${checks.length} check(s) passed`);
  return { readyMs: server.readyMs, redoMs, inRecovery, timeline, expectedTimeline: plan.expectedTimeline, amcheck, checks };
}
