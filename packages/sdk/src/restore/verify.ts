// Verification of a backup or a restored volume, replacing the seed's restore-test.sh: offline
// first (WalInspector on the volume's files: pg_control, backup_label, the WAL recovery needs),
// then live (a scratch PostgreSQL on the volume: recovery ends, timeline, optional SQL checks,
// amcheck on every btree index of every database), then the scratch restore is removed.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { openSession, type PostgresConnectionConfig, type SqlSession } from '../engines/postgres/sql.js';
import { DbaasError, isDbaasError, toDbaasError } from '../errors.js';
import type { KubeClients } from '../kube/clients.js';
import { snapshotAtomicity } from '../manifests/atomicity.js';
import { DBAAS_ANNOTATIONS, DBAAS_LABELS, type ConsistencyMode } from '../manifests/metadata.js';
import { assertDnsLabel, assertDnsSubdomain } from '../manifests/names.js';
import { SnapshotClient, type BackupSetDetails } from '../snapshot/snapshot-client.js';
import { inspectDataDirectory, type DataDirectoryInspection } from '../wal/data-directory.js';
import type { RestorePrepExecutor } from './restore-prep.js';
import { runRestore, type RestoreOptions, type RestorePrepOptions, type RestoreResult } from './restore.js';

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
  /** Node for WaitForFirstConsumer classes: the scratch restore binds there. */
  readonly consumerNode?: string;
  /** Runs the restore-prep step of a scratch `online` restore. */
  readonly prepExecutor?: RestorePrepExecutor;
  /**
   * The restore-prep options of a scratch `online` restore of a backup of PostgreSQL `major`
   * (undefined when the backup does not record it): the runtime's image and user, so the Job runs
   * what the verification pods run. `restore.prep` of the verify options overrides them.
   */
  prepOptions?(major: number | undefined): Omit<RestorePrepOptions, 'executor'>;
  /**
   * The data directory's files for the offline check, for reading only: a directory path or a tar
   * stream (what inspectDataDirectory reads), with PGDATA's place in the volume (`dataSubPath` given,
   * else the root or the one subdirectory holding PG_VERSION). `release()` when done.
   */
  openVolume(
    clients: KubeClients,
    request: { namespace: string; pvc: string; dataSubPath: string | undefined; deadline: number; signal?: AbortSignal },
  ): Promise<{ source: string | AsyncIterable<Uint8Array>; dataSubPath: string; release(): Promise<void> }>;
  /**
   * Starts PostgreSQL of `major` on the volume (PGDATA at `dataSubPath`) with `settings` on its
   * command line (they keep a scratch server from archiving into the source's WAL archive or
   * streaming from its primary), and resolves once it accepts connections.
   */
  startPostgres(
    clients: KubeClients,
    request: { namespace: string; pvc: string; dataSubPath: string; major: number; settings: Record<string, string>; deadline: number; signal?: AbortSignal },
  ): Promise<ScratchPostgres>;
}

/**
 * What a scratch server must not do with a copy of someone's database: archive WAL into the
 * source's archive, fetch from it, or connect to its primary. Passed on the command line, so they
 * win over the copied postgresql.conf and postgresql.auto.conf.
 *
 * @example
 * ```ts
 * runtime.startPostgres(clients, { ..., settings: SCRATCH_SERVER_SETTINGS });
 * ```
 */
export const SCRATCH_SERVER_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  archive_mode: 'off',
  archive_command: '',
  restore_command: '',
  primary_conninfo: '',
  primary_slot_name: '',
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
 * removed afterwards) or `pvc` (an existing restored volume, left in place).
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
export type VerifyPhase = 'restore' | 'offline-checked' | 'server-starting' | 'ready-for-connections' | 'recovery-done' | 'amcheck' | 'checks' | 'cleanup';

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
  message: string;
  elapsedMs: number;
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
  failures: string[];
  namespace: string;
  pvc: string;
  /** The PVC was a scratch restore of `backup`, deleted afterwards. */
  scratch: boolean;
  backup?: { namespace: string; name: string; mode: ConsistencyMode | undefined };
  restore?: RestoreResult;
  /** Absent when the scratch restore itself failed (the failure says why). */
  offline?: Pick<DataDirectoryInspection, 'verdict' | 'safe' | 'reasons' | 'postgresMajorVersion' | 'missingSegments' | 'requiredWal'> & { dataSubPath: string };
  live?: {
    readyMs: number;
    /** `redo done ... elapsed` from the server log, when PostgreSQL replayed WAL. */
    redoMs: number | undefined;
    inRecovery: boolean;
    timeline: number;
    expectedTimeline: number | undefined;
    amcheck: { ran: boolean; why?: string; databases: number; indexes: number; failures: string[] };
    checks: { name: string; ok: boolean; message: string }[];
  };
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
  if (existsSync(path.join(volume, 'PG_VERSION'))) return '';
  const candidates: string[] = [];
  for (const entry of await readdir(volume, { withFileTypes: true })) {
    if (entry.isDirectory() && existsSync(path.join(volume, entry.name, 'PG_VERSION'))) candidates.push(entry.name);
  }
  if (candidates.length === 1) return candidates[0]!;
  throw new DbaasError('DATA_DIRECTORY_UNREADABLE', candidates.length === 0 ? 'the volume holds no PostgreSQL data directory (no PG_VERSION at its root or one level below)' : `the volume holds several data directories (${candidates.join(', ')})`, {
    fix: 'Pass dataSubPath (--data-subpath) with PGDATA relative to the volume root.',
  });
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
 * Verifies a backup (through a scratch restore) or a restored PVC. See {@link RestoreClient.verify}.
 *
 * @throws DbaasError for what stops verification itself (bad input, restore errors, the runtime failing);
 *   a copy that is found broken is a result with `ok: false`, not an exception.
 * @example
 * ```ts
 * const v = await runVerify(clients, { namespace: 'db', backup: 'nightly', runtime });
 * ```
 */
export async function runVerify(clients: KubeClients, options: VerifyOptions): Promise<VerifyResult> {
  const started = Date.now();
  const deadline = started + (options.deadlineMs ?? DEFAULT_VERIFY_DEADLINE_MS);
  const phases: { phase: VerifyPhase; atMs: number }[] = [];
  const progress = (phase: VerifyPhase, message: string): void => {
    const atMs = Date.now() - started;
    phases.push({ phase, atMs });
    options.onProgress?.({ phase, message, elapsedMs: atMs });
  };
  const namespace = assertDnsLabel(options.namespace, 'namespace');
  if ((options.backup === undefined) === (options.pvc === undefined)) {
    throw new DbaasError('INVALID_ARGUMENT', 'verify needs exactly one of backup (a backup set, restored into a scratch PVC) and pvc (a restored volume)', {
      fix: 'Pass --backup NAME to check a backup, or --pvc NAME to check a volume already restored.',
    });
  }
  const snapshots = new SnapshotClient(clients);
  let details: BackupSetDetails | undefined;
  let backupNamespace = options.backupNamespace ?? namespace;
  let pvc: string;
  let restore: RestoreResult | undefined;
  const scratch = options.backup !== undefined;
  if (options.backup !== undefined) {
    details = await snapshots.describe({ namespace: backupNamespace, name: options.backup });
    pvc = `verify-${details.name.slice(0, 40)}-${randomBytes(3).toString('hex')}`;
  } else {
    pvc = assertDnsSubdomain(options.pvc!, 'PVC name');
    const target = await clients.core.readNamespacedPersistentVolumeClaim({ name: pvc, namespace });
    const from = target.metadata?.labels?.[DBAAS_LABELS.restoredFrom];
    backupNamespace = target.metadata?.annotations?.[DBAAS_ANNOTATIONS.restoredFromNamespace] ?? namespace;
    if (from) details = await snapshots.describe({ namespace: backupNamespace, name: from }).catch(() => undefined);
  }
  const meta = details?.data?.metadata;
  if (meta?.engine === 'mysql' || meta?.engine === 'mariadb') {
    // The scratch server, the offline check and amcheck are PostgreSQL's; refuse before any restore.
    const engineName = `${meta.engine === 'mariadb' ? 'MariaDB' : 'MySQL'}${meta.engineVersion ? ` ${meta.engineVersion}` : ''}`;
    throw new DbaasError('INVALID_ARGUMENT', `backup ${backupNamespace}/${details!.name} is a ${engineName} backup: verify checks PostgreSQL backups only (WAL inspector, scratch PostgreSQL, amcheck)`, {
      fix: `Restore it (kubectl dbaas restore ${details!.name} --to NAME) and check the restored data directory with the SDK's verifyMysqlRestore (a scratch mariadbd/mysqld, CHECK TABLE on every table; docs/engines.md#verify).`,
      details: { engine: meta.engine },
    });
  }
  const failures: string[] = [];

  try {
    if (scratch) {
      restore = await runRestore(clients, {
        backup: details!.name,
        backupNamespace,
        namespace,
        pvcName: pvc,
        ...(options.restore ?? {}),
        ...(options.restore?.consumerNode ?? options.runtime.consumerNode ? { consumerNode: options.restore?.consumerNode ?? options.runtime.consumerNode } : {}),
        prep: {
          ...(options.runtime.prepExecutor ? { executor: options.runtime.prepExecutor } : {}),
          ...(options.runtime.prepOptions?.(majorOf(meta?.engineVersion)) ?? {}),
          ...(options.restore?.prep ?? {}),
        },
        deadlineMs: Math.max(1, deadline - Date.now()),
        ...(options.signal ? { signal: options.signal } : {}),
        onProgress: (e) => progress('restore', `${e.phase}: ${e.message}`),
      }).catch((error: unknown) => {
        // The backup's own content breaking its restore (a WAL segment missing from the -wal
        // snapshot) is a finding, not an error of verify.
        if (isDbaasError(error, 'RESTORE_PREP_FAILED')) {
          failures.push(`restore: ${error.message}`);
          return undefined;
        }
        throw error;
      });
      if (!restore) {
        return {
          ok: false,
          failures,
          namespace,
          pvc,
          scratch,
          backup: { namespace: backupNamespace, name: details!.name, mode: meta?.mode },
          timings: { phases, totalMs: Date.now() - started },
        };
      }
      if (restore.state !== 'ready') {
        throw new DbaasError('RESTORE_FAILED', `the scratch restore ${namespace}/${pvc} is waiting for a first consumer: verification needs it bound`, {
          fix: 'Pass a storage class that binds immediately, or a consumer node (--consumer-node).',
        });
      }
    }

    // Offline: what the files say, before anything starts PostgreSQL on them.
    let atomicSnapshot = false;
    if (meta && (meta.mode === 'crash' || meta.mode === 'checkpoint') && details?.data?.content?.driver) {
      const className = details.data.snapshotClass;
      const snapshotClass = className ? await clients.volumeSnapshotClasses.get(className).catch(() => undefined) : undefined;
      atomicSnapshot = snapshotAtomicity(details.data.content.driver, snapshotClass).atomic;
    }
    const volume = await options.runtime.openVolume(clients, { namespace, pvc, dataSubPath: options.dataSubPath, deadline, ...(options.signal ? { signal: options.signal } : {}) });
    let inspection: DataDirectoryInspection;
    const dataSubPath = volume.dataSubPath;
    try {
      inspection = await inspectDataDirectory(volume.source, {
        atomicSnapshot,
        ...(meta?.stopLsn !== undefined ? { backupStopLsn: meta.stopLsn } : {}),
      });
    } finally {
      await volume.release();
    }
    const offline = {
      verdict: inspection.verdict,
      safe: inspection.safe,
      reasons: inspection.reasons,
      postgresMajorVersion: inspection.postgresMajorVersion,
      missingSegments: inspection.missingSegments,
      requiredWal: inspection.requiredWal,
      dataSubPath,
    };
    progress('offline-checked', `${inspection.verdict}${inspection.safe ? '' : `: ${inspection.reasons.join('; ')}`}`);
    if (!inspection.safe) failures.push(`offline: ${inspection.verdict}: ${inspection.reasons.join('; ')}`);

    let live: VerifyResult['live'];
    if (inspection.safe || options.liveEvenIfUnsafe) {
      const major = inspection.postgresMajorVersion;
      if (major === undefined) throw new DbaasError('DATA_DIRECTORY_UNREADABLE', 'the data directory has no readable PG_VERSION: cannot choose a PostgreSQL to start on it');
      progress('server-starting', `starting PostgreSQL ${major} on ${namespace}/${pvc} with ${options.runtime.description}`);
      let server: ScratchPostgres | undefined;
      try {
        server = await options.runtime.startPostgres(clients, { namespace, pvc, dataSubPath, major, settings: { ...SCRATCH_SERVER_SETTINGS }, deadline, ...(options.signal ? { signal: options.signal } : {}) });
      } catch (error) {
        if (options.signal?.aborted) throw error;
        // A server that does not come up is a finding about the copy, with the server's own words.
        const log = String((error as { log?: unknown }).log ?? '');
        const fatal = log.split('\n').filter((l) => /FATAL|PANIC/.test(l)).pop();
        failures.push(`live: PostgreSQL did not start: ${fatal?.trim() ?? toDbaasError(error).message.split('\n')[0]}`);
      }
      if (server) {
        try {
          progress('ready-for-connections', `accepting connections after ${server.readyMs} ms`);
          live = await checkLive(server, options, scratch, meta?.timeline !== undefined ? Number(meta.timeline) : undefined, deadline, progress);
          if (live.inRecovery) failures.push('live: the server is still in recovery');
          if (live.expectedTimeline !== undefined && live.timeline !== live.expectedTimeline) failures.push(`live: timeline ${live.timeline}, the backup's is ${live.expectedTimeline}`);
          for (const f of live.amcheck.failures) failures.push(`amcheck: ${f}`);
          for (const c of live.checks) if (!c.ok) failures.push(`check "${c.name}": ${c.message}`);
        } catch (error) {
          const log = await server.log().catch(() => '');
          const fatal = log.split('\n').filter((l) => /FATAL|PANIC/.test(l)).pop();
          failures.push(`live: ${toDbaasError(error).message}${fatal ? ` (server log: ${fatal.trim()})` : ''}`);
        } finally {
          await server.stop();
        }
      }
    }
    return {
      ok: failures.length === 0,
      failures,
      namespace,
      pvc,
      scratch,
      ...(details ? { backup: { namespace: backupNamespace, name: details.name, mode: meta?.mode } } : {}),
      ...(restore ? { restore } : {}),
      offline,
      ...(live ? { live } : {}),
      timings: { phases, totalMs: Date.now() - started },
    };
  } finally {
    if (scratch && restore) {
      progress('cleanup', `deleting the scratch PVC ${namespace}/${pvc}`);
      await clients.core.deleteNamespacedPersistentVolumeClaim({ name: pvc, namespace }).catch((error: unknown) => {
        if (!isDbaasError(error, 'KUBE_NOT_FOUND')) throw error;
      });
    }
  }
}

async function checkLive(
  server: ScratchPostgres,
  options: VerifyOptions,
  scratch: boolean,
  expectedTimeline: number | undefined,
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

  const mode = options.amcheck ?? 'auto';
  const amcheck: NonNullable<VerifyResult['live']>['amcheck'] = { ran: false, databases: 0, indexes: 0, failures: [] };
  if (mode === 'skip') amcheck.why = 'skipped (amcheck: skip)';
  else if (inRecovery) amcheck.why = 'the server is still in recovery';
  else {
    for (const database of databases) {
      await withSession(connectionFor(server.connection, database), async (s) => {
        const [has] = await s.query<{ n: string }>("select count(*) as n from pg_extension where extname = 'amcheck'");
        if (Number(has!.n) === 0) {
          if (mode === 'install' || (mode === 'auto' && scratch)) await s.query('create extension amcheck');
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
    progress('amcheck', amcheck.ran ? `bt_index_check on ${amcheck.indexes} btree index(es) in ${amcheck.databases} database(s): ${amcheck.failures.length} failure(s)` : (amcheck.why ?? 'not run'));
  }

  const checks: { name: string; ok: boolean; message: string }[] = [];
  for (const check of options.checks ?? []) {
    try {
      const rows = await withSession(connectionFor(server.connection, check.database), async (s) => await s.query(check.sql));
      const first = rows[0] ? Object.values(rows[0])[0] : undefined;
      checks.push(first === true ? { name: check.name, ok: true, message: 'true' } : { name: check.name, ok: false, message: rows.length === 0 ? 'no rows' : `first column is ${JSON.stringify(first)}, not true` });
    } catch (error) {
      checks.push({ name: check.name, ok: false, message: toDbaasError(error).message });
    }
  }
  if (checks.length) progress('checks', `${checks.filter((c) => c.ok).length}/${checks.length} check(s) passed`);
  return { readyMs: server.readyMs, redoMs, inRecovery, timeline, expectedTimeline, amcheck, checks };
}
