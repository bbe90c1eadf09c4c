// Live WAL inspection over SQL, and the held online-backup session of the `online` consistency mode
// (docs/consistency.md; docs/architecture.md, "Facts the WAL inspector relies on"). All SQL goes through engines/postgres/sql.ts; every LSN the server
// sends is read with parseLsn.
import { randomBytes } from 'node:crypto';

import { openSession, type PostgresConnectionConfig, type SqlSession } from '../engines/postgres/sql.js';
import { DbaasError } from '../errors.js';
import { assertWalSegmentSize, parseLsn, walFileName, walFileNameForEnd, type Lsn } from './lsn.js';

export type { PostgresConnectionConfig } from '../engines/postgres/sql.js';

/**
 * The server's version.
 *
 * @example
 * ```ts
 * const { major, num } = inspector.serverVersion; // 17, 170010
 * ```
 */
export interface ServerVersion {
  /** `server_version_num`, e.g. `170010`. */
  num: number;
  /** Major version, e.g. `17`. */
  major: number;
  /** Minor version, e.g. `10`. */
  minor: number;
  /** `server_version` as the server prints it, e.g. `17.10` or `18beta1`. */
  text: string;
}

/**
 * Where the WAL stands. On a primary the `current`/`insert`/`flush` fields are set and the receive
 * and replay fields are `null`; on a standby it is the other way round.
 *
 * @example
 * ```ts
 * const wal = await inspector.walPositions();
 * if (!wal.inRecovery) console.log(formatLsn(wal.currentLsn!), wal.currentWalFile);
 * ```
 */
export interface WalPositions {
  /** `pg_is_in_recovery()`. */
  inRecovery: boolean;
  /**
   * Timeline: on a primary the one WAL is being written on (from `pg_walfile_name`); on a standby
   * the one WAL is being received on (`pg_stat_wal_receiver.received_tli`), else the last restart
   * point's.
   */
  timeline: number;
  /** `pg_current_wal_lsn()`: written out of WAL buffers. */
  currentLsn: Lsn | null;
  /** `pg_current_wal_insert_lsn()`: inserted into WAL buffers. */
  insertLsn: Lsn | null;
  /** `pg_current_wal_flush_lsn()`: flushed to disk. */
  flushLsn: Lsn | null;
  /** `pg_walfile_name(pg_current_wal_lsn())` as the server computes it: on a segment boundary PostgreSQL 14-16 name the previous file, 17 and later the one that starts there. */
  currentWalFile: string | null;
  /** `pg_last_wal_receive_lsn()` (standby streaming). */
  receiveLsn: Lsn | null;
  /** `pg_last_wal_replay_lsn()` (standby). */
  replayLsn: Lsn | null;
}

/**
 * `pg_control_checkpoint()`: the last checkpoint (or restart point) recorded in `global/pg_control`.
 *
 * @example
 * ```ts
 * const { redoLsn, redoWalFile, timeline } = await inspector.controlCheckpoint();
 * ```
 */
export interface ControlCheckpoint {
  checkpointLsn: Lsn;
  redoLsn: Lsn;
  redoWalFile: string;
  timeline: number;
  previousTimeline: number;
  fullPageWrites: boolean;
  /** `epoch:xid`, as the server prints it. */
  nextXid: string;
  nextOid: number;
  nextMultiXactId: string;
  nextMultiOffset: string;
  oldestXid: string;
  oldestXidDatabaseOid: number;
  oldestActiveXid: string;
  oldestMultiXid: string;
  oldestMultiDatabaseOid: number;
  oldestCommitTsXid: string;
  newestCommitTsXid: string;
  checkpointTime: Date;
}

/**
 * `pg_control_system()`.
 *
 * @example
 * ```ts
 * const { systemIdentifier } = await inspector.controlSystem();
 * ```
 */
export interface ControlSystem {
  controlVersion: number;
  catalogVersion: number;
  /** Unique per `initdb`; copies and restores keep it. A u64, hence `bigint`. */
  systemIdentifier: bigint;
  lastModified: Date;
}

/**
 * `pg_control_recovery()`: recovery and backup state from `global/pg_control` (zero on a primary
 * that is not recovering).
 *
 * @example
 * ```ts
 * const { backupEndLsn, endOfBackupRecordRequired } = await inspector.controlRecovery();
 * ```
 */
export interface ControlRecovery {
  minRecoveryEndLsn: Lsn;
  minRecoveryEndTimeline: number;
  backupStartLsn: Lsn;
  backupEndLsn: Lsn;
  endOfBackupRecordRequired: boolean;
}

/**
 * `pg_stat_archiver`.
 *
 * @example
 * ```ts
 * const { failedCount, lastFailedWal } = await inspector.archiverStats();
 * ```
 */
export interface ArchiverStats {
  archivedCount: number;
  lastArchivedWal: string | null;
  lastArchivedTime: Date | null;
  failedCount: number;
  lastFailedWal: string | null;
  lastFailedTime: Date | null;
  statsReset: Date | null;
}

/**
 * Options of {@link LiveInspector.startOnlineBackup}.
 *
 * @example
 * ```ts
 * const options: OnlineBackupOptions = { label: 'nightly', fast: true, replicationSlot: true };
 * ```
 */
export interface OnlineBackupOptions {
  /** Backup label (written into `backup_label`); at most 1000 characters, no line breaks. */
  label: string;
  /** Immediate checkpoint instead of a spread one. Default `true`. */
  fast?: boolean;
  /**
   * Take a temporary physical replication slot with reserved WAL before the backup starts, so no WAL
   * the backup needs is recycled while the snapshot is cut. `true` (default): a generated name;
   * a string: that name; `false`: no slot (then WAL may be recycled: docs/consistency.md).
   */
  replicationSlot?: boolean | string;
  /** Aborting it ends the backup (and releases the slot) at once. */
  signal?: AbortSignal;
}

/**
 * What is known once an online backup has started.
 *
 * @example
 * ```ts
 * const backup = await inspector.startOnlineBackup({ label: 'x' });
 * console.log(backup.started.startWalFile);
 * ```
 */
export interface OnlineBackupStarted {
  label: string;
  /** `pg_backup_start`'s result: the redo point of the backup's checkpoint (`START WAL LOCATION`). */
  startLsn: Lsn;
  /** Timeline of the backup's checkpoint (`START TIMELINE`). */
  timeline: number;
  /** WAL file that holds `startLsn`: the first file a restore needs. */
  startWalFile: string;
  walSegmentSize: number;
  /** Backup taken on a standby. */
  fromStandby: boolean;
  /** Name of the temporary replication slot, or `null` without one. */
  slotName: string | null;
  /** The slot's reserved `restart_lsn` (at or before `startLsn`). */
  slotRestartLsn: Lsn | null;
  /** PID of the backend that holds the backup session. */
  backendPid: number;
  serverVersion: ServerVersion;
  startedAt: Date;
}

/**
 * The result of a finished online backup: what a restore needs besides the data files.
 *
 * @example
 * ```ts
 * const done = await backup.stop();
 * await writeFile('backup_label', done.labelFile);
 * if (done.tablespaceMap) await writeFile('tablespace_map', done.tablespaceMap);
 * ```
 */
export interface OnlineBackupStopped extends OnlineBackupStarted {
  /** End of the backup-end record (primary) or the minimum recovery point (standby). */
  stopLsn: Lsn;
  /** Timeline of `stopLsn`. */
  stopTimeline: number;
  /** WAL file holding the last byte before `stopLsn` (end-pointer rule): the last file a restore needs. */
  stopWalFile: string;
  /** Contents for `backup_label`, byte for byte. */
  labelFile: string;
  /** Contents for `tablespace_map`; empty when there are no tablespaces (then write no file). */
  tablespaceMap: string;
  stoppedAt: Date;
}

/**
 * State of an {@link OnlineBackup}.
 *
 * @example
 * ```ts
 * if (backup.state === 'running') await backup.stop();
 * ```
 */
export type OnlineBackupState = 'running' | 'stopping' | 'stopped' | 'aborting' | 'aborted';

const SLOT_NAME = /^[a-z0-9_]{1,63}$/;
const MAX_LABEL = 1000;

function lsnOrNull(value: unknown): Lsn | null {
  return value === null || value === undefined ? null : parseLsn(String(value));
}

function dateOrNull(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value : new Date(String(value));
}

function requireRow<R>(rows: R[], what: string): R {
  const row = rows[0];
  if (row === undefined) throw new DbaasError('PG_QUERY_FAILED', `${what} returned no row`);
  return row;
}

function timelineOfWalFile(name: string): number {
  return Number.parseInt(name.slice(0, 8), 16);
}

/**
 * A connection to a live PostgreSQL server that reads where its WAL stands, its control data and
 * archiver state, and runs online backups. Get one with {@link connectLive}.
 *
 * @example
 * ```ts
 * await using live = await connectLive({ host: '127.0.0.1', port: 5432, user: 'postgres' });
 * const wal = await live.walPositions();
 * const checkpoint = await live.controlCheckpoint();
 * ```
 */
export class LiveInspector {
  /** Version of the server, read at connect time. */
  readonly serverVersion: ServerVersion;
  readonly #config: PostgresConnectionConfig;
  readonly #session: SqlSession;

  /** @internal use {@link connectLive}. */
  constructor(config: PostgresConnectionConfig, session: SqlSession, serverVersion: ServerVersion) {
    this.#config = config;
    this.#session = session;
    this.serverVersion = serverVersion;
  }

  /**
   * Opens a connection; same as {@link connectLive}.
   *
   * @example
   * ```ts
   * const live = await LiveInspector.connect('postgresql://postgres@127.0.0.1:5432/postgres');
   * ```
   */
  static async connect(config: PostgresConnectionConfig): Promise<LiveInspector> {
    const session = await openSession(config, { applicationName: 'kubectl-dbaas' });
    try {
      const row = requireRow(await session.query<{ text: string }>("select current_setting('server_version') as text"), 'server_version');
      const num = session.serverVersionNum;
      return new LiveInspector(config, session, { num, major: Math.floor(num / 10000), minor: num % 10000, text: row.text });
    } catch (error) {
      await session.close();
      throw error;
    }
  }

  /**
   * `pg_is_in_recovery()`: `true` on a standby or a server still replaying WAL.
   *
   * @example
   * ```ts
   * if (await live.isInRecovery()) console.log('standby');
   * ```
   */
  async isInRecovery(): Promise<boolean> {
    return requireRow(await this.#session.query<{ r: boolean }>('select pg_is_in_recovery() as r'), 'pg_is_in_recovery').r;
  }

  /**
   * The tablespaces outside the data directory, by name, with the directory each links to from
   * `pg_tblspc`. `pg_default`, `pg_global` and in-place tablespaces (PostgreSQL 15+
   * `allow_in_place_tablespaces`: a relative location, `pg_tblspc/<oid>`) are in the data directory.
   *
   * @example
   * ```ts
   * for (const t of await live.tablespaces()) console.log(t.name, t.location); // 'archive' '/mnt/archive'
   * ```
   */
  async tablespaces(): Promise<{ name: string; location: string }[]> {
    return await this.#session.query<{ name: string; location: string }>(
      "select spcname as name, pg_tablespace_location(oid) as location from pg_tablespace where pg_tablespace_location(oid) like '/%' order by spcname",
    );
  }

  /**
   * The address the server received this session on (`inet_server_addr()`): the pod's IP when the
   * session came in over the pod network or a Service, loopback through a port-forward; undefined
   * over a Unix socket.
   *
   * @example
   * ```ts
   * console.log(await live.serverAddress()); // '10.244.0.12'
   * ```
   */
  async serverAddress(): Promise<string | undefined> {
    return requireRow(await this.#session.query<{ a: string | null }>('select host(inet_server_addr()) as a'), 'inet_server_addr').a ?? undefined;
  }

  /**
   * The WAL positions (see {@link WalPositions}) read in one statement.
   *
   * @example
   * ```ts
   * const { currentLsn, currentWalFile, timeline } = await live.walPositions();
   * ```
   */
  async walPositions(): Promise<WalPositions> {
    const row = requireRow(
      await this.#session.query(`
        select pg_is_in_recovery() as in_recovery,
          case when not pg_is_in_recovery() then pg_current_wal_lsn()::text end as current,
          case when not pg_is_in_recovery() then pg_current_wal_insert_lsn()::text end as insert,
          case when not pg_is_in_recovery() then pg_current_wal_flush_lsn()::text end as flush,
          case when not pg_is_in_recovery() then pg_walfile_name(pg_current_wal_lsn()) end as file,
          pg_last_wal_receive_lsn()::text as receive,
          pg_last_wal_replay_lsn()::text as replay,
          (select received_tli from pg_stat_wal_receiver limit 1) as received_tli,
          (select timeline_id from pg_control_checkpoint()) as checkpoint_tli`),
      'WAL positions',
    );
    const file = row.file === null || row.file === undefined ? null : String(row.file);
    const inRecovery = Boolean(row.in_recovery);
    const timeline = file !== null ? timelineOfWalFile(file) : Number(row.received_tli ?? row.checkpoint_tli);
    return {
      inRecovery,
      timeline,
      currentLsn: lsnOrNull(row.current),
      insertLsn: lsnOrNull(row.insert),
      flushLsn: lsnOrNull(row.flush),
      currentWalFile: file,
      receiveLsn: lsnOrNull(row.receive),
      replayLsn: lsnOrNull(row.replay),
    };
  }

  /**
   * `pg_current_wal_lsn()` on a primary.
   *
   * @throws DbaasError `PG_QUERY_FAILED` on a standby (recovery is in progress).
   * @example
   * ```ts
   * const before = await live.currentLsn();
   * ```
   */
  async currentLsn(): Promise<Lsn> {
    return parseLsn(requireRow(await this.#session.query<{ l: string }>('select pg_current_wal_lsn()::text as l'), 'pg_current_wal_lsn').l);
  }

  /**
   * The current timeline (see {@link WalPositions.timeline}).
   *
   * @example
   * ```ts
   * const tli = await live.timeline();
   * ```
   */
  async timeline(): Promise<number> {
    return (await this.walPositions()).timeline;
  }

  /**
   * `pg_walfile_name(pg_current_wal_lsn())` on a primary, as the server names it (on a segment
   * boundary PostgreSQL 14-16 give the previous file, 17 and later the one that starts there).
   *
   * @example
   * ```ts
   * console.log(await live.currentWalFile()); // 000000010000000000000003
   * ```
   */
  async currentWalFile(): Promise<string> {
    return String(requireRow(await this.#session.query<{ f: string }>('select pg_walfile_name(pg_current_wal_lsn()) as f'), 'pg_walfile_name').f);
  }

  /**
   * `pg_control_checkpoint()`.
   *
   * @example
   * ```ts
   * const { redoLsn } = await live.controlCheckpoint();
   * ```
   */
  async controlCheckpoint(): Promise<ControlCheckpoint> {
    const row = requireRow(
      await this.#session.query(`
        select checkpoint_lsn::text as checkpoint_lsn, redo_lsn::text as redo_lsn, redo_wal_file, timeline_id,
          prev_timeline_id, full_page_writes, next_xid, next_oid::text as next_oid, next_multixact_id::text as next_multixact_id,
          next_multi_offset::text as next_multi_offset, oldest_xid::text as oldest_xid, oldest_xid_dbid::text as oldest_xid_dbid,
          oldest_active_xid::text as oldest_active_xid, oldest_multi_xid::text as oldest_multi_xid,
          oldest_multi_dbid::text as oldest_multi_dbid, oldest_commit_ts_xid::text as oldest_commit_ts_xid,
          newest_commit_ts_xid::text as newest_commit_ts_xid, checkpoint_time
        from pg_control_checkpoint()`),
      'pg_control_checkpoint',
    );
    return {
      checkpointLsn: parseLsn(String(row.checkpoint_lsn)),
      redoLsn: parseLsn(String(row.redo_lsn)),
      redoWalFile: String(row.redo_wal_file),
      timeline: Number(row.timeline_id),
      previousTimeline: Number(row.prev_timeline_id),
      fullPageWrites: Boolean(row.full_page_writes),
      nextXid: String(row.next_xid),
      nextOid: Number(row.next_oid),
      nextMultiXactId: String(row.next_multixact_id),
      nextMultiOffset: String(row.next_multi_offset),
      oldestXid: String(row.oldest_xid),
      oldestXidDatabaseOid: Number(row.oldest_xid_dbid),
      oldestActiveXid: String(row.oldest_active_xid),
      oldestMultiXid: String(row.oldest_multi_xid),
      oldestMultiDatabaseOid: Number(row.oldest_multi_dbid),
      oldestCommitTsXid: String(row.oldest_commit_ts_xid),
      newestCommitTsXid: String(row.newest_commit_ts_xid),
      checkpointTime: dateOrNull(row.checkpoint_time) as Date,
    };
  }

  /**
   * `pg_control_system()`.
   *
   * @example
   * ```ts
   * const { systemIdentifier, controlVersion } = await live.controlSystem();
   * ```
   */
  async controlSystem(): Promise<ControlSystem> {
    const row = requireRow(
      await this.#session.query(
        'select pg_control_version, catalog_version_no, system_identifier::text as system_identifier, pg_control_last_modified from pg_control_system()',
      ),
      'pg_control_system',
    );
    return {
      controlVersion: Number(row.pg_control_version),
      catalogVersion: Number(row.catalog_version_no),
      systemIdentifier: BigInt(String(row.system_identifier)),
      lastModified: dateOrNull(row.pg_control_last_modified) as Date,
    };
  }

  /**
   * `pg_control_recovery()`.
   *
   * @example
   * ```ts
   * const { minRecoveryEndLsn } = await live.controlRecovery();
   * ```
   */
  async controlRecovery(): Promise<ControlRecovery> {
    const row = requireRow(
      await this.#session.query(
        'select min_recovery_end_lsn::text as min_lsn, min_recovery_end_timeline as min_tli, backup_start_lsn::text as start_lsn, backup_end_lsn::text as end_lsn, end_of_backup_record_required as required from pg_control_recovery()',
      ),
      'pg_control_recovery',
    );
    return {
      minRecoveryEndLsn: parseLsn(String(row.min_lsn)),
      minRecoveryEndTimeline: Number(row.min_tli),
      backupStartLsn: parseLsn(String(row.start_lsn)),
      backupEndLsn: parseLsn(String(row.end_lsn)),
      endOfBackupRecordRequired: Boolean(row.required),
    };
  }

  /**
   * `pg_stat_archiver` (counts as numbers).
   *
   * @example
   * ```ts
   * const { archivedCount, lastArchivedWal } = await live.archiverStats();
   * ```
   */
  async archiverStats(): Promise<ArchiverStats> {
    const row = requireRow(
      await this.#session.query(
        'select archived_count::text as archived_count, last_archived_wal, last_archived_time, failed_count::text as failed_count, last_failed_wal, last_failed_time, stats_reset from pg_stat_archiver',
      ),
      'pg_stat_archiver',
    );
    return {
      archivedCount: Number(row.archived_count),
      lastArchivedWal: row.last_archived_wal === null ? null : String(row.last_archived_wal),
      lastArchivedTime: dateOrNull(row.last_archived_time),
      failedCount: Number(row.failed_count),
      lastFailedWal: row.last_failed_wal === null ? null : String(row.last_failed_wal),
      lastFailedTime: dateOrNull(row.last_failed_time),
      statsReset: dateOrNull(row.stats_reset),
    };
  }

  /**
   * `CHECKPOINT` (an immediate checkpoint, or a restart point on a standby), then the new
   * checkpoint's control data.
   *
   * @example
   * ```ts
   * const { redoLsn } = await live.checkpoint();
   * ```
   */
  async checkpoint(): Promise<ControlCheckpoint> {
    await this.#session.query('checkpoint');
    return await this.controlCheckpoint();
  }

  /**
   * `pg_switch_wal()`: closes the current WAL segment. Returns the end of the switch record, or the
   * current position when nothing was written since the last switch (then no switch happens).
   *
   * @example
   * ```ts
   * const end = await live.switchWal();
   * ```
   */
  async switchWal(): Promise<Lsn> {
    return parseLsn(requireRow(await this.#session.query<{ l: string }>('select pg_switch_wal()::text as l'), 'pg_switch_wal').l);
  }

  /**
   * The WAL segment size in bytes (`wal_segment_size`, fixed at `initdb`).
   *
   * @example
   * ```ts
   * const segmentSize = await live.walSegmentSize(); // 16777216
   * ```
   */
  async walSegmentSize(): Promise<number> {
    const row = requireRow(
      await this.#session.query<{ setting: string; unit: string | null }>("select setting, unit from pg_settings where name = 'wal_segment_size'"),
      'wal_segment_size',
    );
    const units: Record<string, number> = { B: 1, kB: 1024, '8kB': 8192, MB: 1024 * 1024 };
    const size = Number(row.setting) * (units[row.unit ?? 'B'] ?? Number.NaN);
    assertWalSegmentSize(size);
    return size;
  }

  /**
   * Whether data checksums are on (`data_checksums`).
   *
   * @example
   * ```ts
   * if (!(await live.dataChecksums())) console.warn('no checksums: amcheck is the only guard');
   * ```
   */
  async dataChecksums(): Promise<boolean> {
    return requireRow(await this.#session.query<{ v: string }>("select current_setting('data_checksums') as v"), 'data_checksums').v === 'on';
  }

  /**
   * Starts an online (non-exclusive) backup on a dedicated session that stays open until
   * {@link OnlineBackup.stop} or {@link OnlineBackup.abort}: optionally a temporary physical
   * replication slot that reserves WAL at once (`pg_create_physical_replication_slot(name, true,
   * true)`), then `pg_backup_start(label, fast)` (PG 15+) or `pg_start_backup(label, fast, false)`
   * (PG 14). An error or an abort (signal, `abort()`, `await using` scope left without `stop()`)
   * ends the backup and releases the slot.
   *
   * @throws DbaasError `BACKUP_ABORTED` when the signal fires before the backup has started.
   * @example
   * ```ts
   * await using backup = await live.startOnlineBackup({ label: 'snap-1', signal });
   * await takeSnapshot();
   * const { labelFile, stopWalFile } = await backup.stop();
   * ```
   */
  async startOnlineBackup(options: OnlineBackupOptions): Promise<OnlineBackup> {
    return await OnlineBackup.begin(this.#config, this.serverVersion, options);
  }

  /**
   * Runs `work` inside an online backup: stops the backup when `work` resolves, aborts it when
   * `work` throws (and rethrows).
   *
   * @example
   * ```ts
   * const { result, backup } = await live.withOnlineBackup({ label: 'x' }, async () => snapshot());
   * ```
   */
  async withOnlineBackup<T>(options: OnlineBackupOptions, work: (backup: OnlineBackup) => Promise<T>): Promise<{ result: T; backup: OnlineBackupStopped }> {
    const backup = await this.startOnlineBackup(options);
    let result: T;
    try {
      result = await work(backup);
    } catch (error) {
      await backup.abort(error);
      throw error;
    }
    return { result, backup: await backup.stop() };
  }

  /**
   * Closes the connection. Open online backups are not affected (they have their own sessions).
   *
   * @example
   * ```ts
   * await live.close();
   * ```
   */
  async close(): Promise<void> {
    await this.#session.close();
  }

  /** Same as {@link close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Connects to a live PostgreSQL server for WAL inspection and online backups.
 *
 * @throws DbaasError `PG_CONNECTION_FAILED` when the server cannot be reached.
 * @example
 * ```ts
 * const live = await connectLive({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
 * console.log(live.serverVersion.major, await live.walSegmentSize());
 * await live.close();
 * ```
 */
export async function connectLive(config: PostgresConnectionConfig): Promise<LiveInspector> {
  return await LiveInspector.connect(config);
}

/**
 * A running online backup, held open by one dedicated session. End it with {@link stop} (returns
 * `backup_label` and friends) or {@link abort}; `await using` aborts it when the scope is left
 * without `stop()`.
 *
 * @example
 * ```ts
 * const backup = await live.startOnlineBackup({ label: 'b1' });
 * try {
 *   await copyFiles();
 *   const stopped = await backup.stop();
 * } finally {
 *   await backup.abort(); // no-op after stop()
 * }
 * ```
 */
export class OnlineBackup {
  /** What the start returned. */
  readonly started: OnlineBackupStarted;
  #state: OnlineBackupState = 'running';
  #session: SqlSession;
  #config: PostgresConnectionConfig;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  #abortDone: Promise<void> | undefined;
  #abortReason: unknown;
  #slotHeld = false;

  private constructor(session: SqlSession, config: PostgresConnectionConfig, started: OnlineBackupStarted, signal: AbortSignal | undefined) {
    this.#session = session;
    this.#config = config;
    this.started = started;
    this.#signal = signal;
  }

  /** @internal use {@link LiveInspector.startOnlineBackup}. */
  static async begin(config: PostgresConnectionConfig, version: ServerVersion, options: OnlineBackupOptions): Promise<OnlineBackup> {
    const { label, signal } = options;
    const fast = options.fast ?? true;
    if (typeof label !== 'string' || label.length === 0 || label.length > MAX_LABEL || /[\r\n]/.test(label)) {
      throw new DbaasError('INVALID_ARGUMENT', `backup label must be 1-${MAX_LABEL} characters without line breaks`);
    }
    const wantSlot = options.replicationSlot ?? true;
    const slotName = wantSlot === false ? null : wantSlot === true ? `dbaas_backup_${randomBytes(6).toString('hex')}` : wantSlot;
    if (slotName !== null && !SLOT_NAME.test(slotName)) {
      throw new DbaasError('INVALID_ARGUMENT', `"${slotName}" is not a valid replication slot name`, {
        fix: 'Use 1-63 lower-case letters, digits and underscores.',
      });
    }
    if (version.major < 14) {
      throw new DbaasError('PG_UNSUPPORTED_VERSION', `online backups need PostgreSQL 14 or later, the server runs ${version.text}`);
    }
    throwIfAborted(signal, 'before the online backup started');

    const session = await openSession(config, { applicationName: 'kubectl-dbaas online backup' });
    let aborted = false;
    let abortReason: unknown;
    let terminating: Promise<void> | undefined;
    const onAbort = () => {
      aborted = true;
      abortReason = signal?.reason;
      // A statement is running on the session: end it server-side, which aborts the backup and
      // drops the temporary slot with the session.
      terminating ??= terminateBackend(config, session, slotName);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // The session sits idle while the snapshot is cut: no server-side timeout may end it (that
      // would abort the backup). idle_session_timeout exists from PG 14 on.
      await session.query(
        "select set_config('statement_timeout', '0', false), set_config('idle_in_transaction_session_timeout', '0', false), set_config('idle_session_timeout', '0', false)",
      );
      let slotRestartLsn: Lsn | null = null;
      if (slotName !== null) {
        const slot = requireRow(
          await session.query<{ lsn: string | null }>('select lsn::text as lsn from pg_create_physical_replication_slot($1::name, true, true)', [slotName]),
          'pg_create_physical_replication_slot',
        );
        slotRestartLsn = lsnOrNull(slot.lsn);
      }
      throwIfAborted(signal, 'before pg_backup_start');
      const startFunction = version.major >= 15 ? 'pg_backup_start($1::text, $2::boolean)' : 'pg_start_backup($1::text, $2::boolean, false)';
      const row = requireRow(
        await session.query<{ lsn: string; tli: number; rec: boolean; segsize: string }>(
          `select b.lsn::text as lsn, (select timeline_id from pg_control_checkpoint()) as tli, pg_is_in_recovery() as rec,
             (select setting from pg_settings where name = 'wal_segment_size') as segsize
           from ${startFunction} as b(lsn)`,
          [label, fast],
        ),
        'pg_backup_start',
      );
      const startLsn = parseLsn(row.lsn);
      const timeline = Number(row.tli);
      const walSegmentSize = Number(row.segsize);
      assertWalSegmentSize(walSegmentSize);
      const backup = new OnlineBackup(
        session,
        config,
        {
          label,
          startLsn,
          timeline,
          startWalFile: walFileName(startLsn, timeline, walSegmentSize),
          walSegmentSize,
          fromStandby: Boolean(row.rec),
          slotName,
          slotRestartLsn,
          backendPid: session.backendPid,
          serverVersion: version,
          startedAt: new Date(),
        },
        signal,
      );
      signal?.removeEventListener('abort', onAbort);
      if (aborted || signal?.aborted) {
        backup.#abortReason = abortReason ?? signal?.reason;
        await (terminating ?? backup.abort(signal?.reason));
        backup.#state = 'aborted';
        throw abortedError('while it was starting', backup.#abortReason);
      }
      backup.#listen();
      return backup;
    } catch (error) {
      signal?.removeEventListener('abort', onAbort);
      terminating ??= terminateBackend(config, session, slotName);
      await terminating;
      if (aborted || signal?.aborted) {
        throw error instanceof DbaasError && error.code === 'BACKUP_ABORTED'
          ? error
          : abortedError('while it was starting', abortReason ?? signal?.reason, error);
      }
      throw error;
    }
  }

  /** Current state. */
  get state(): OnlineBackupState {
    return this.#state;
  }

  #listen(): void {
    const signal = this.#signal;
    if (!signal) return;
    this.#onAbort = () => {
      if (this.#state === 'running') void this.abort(signal.reason).catch(() => undefined);
      else if (this.#slotHeld) void this.release().catch(() => undefined);
    };
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  #unlisten(): void {
    if (this.#signal && this.#onAbort) this.#signal.removeEventListener('abort', this.#onAbort);
    this.#onAbort = undefined;
  }

  /**
   * Calls `listener` once if the backup's session is lost (the server died or restarted, the
   * connection dropped) before `stop()`/`release()`/`abort()` ended it: PostgreSQL has then ended
   * the backup and dropped the temporary slot with the session, so the backup cannot complete.
   * Called at once when the session is already lost. Returns a function that removes the listener.
   *
   * @example
   * ```ts
   * const off = backup.onSessionLost((error) => controller.abort(error));
   * ```
   */
  onSessionLost(listener: (error: Error) => void): () => void {
    return this.#session.onLost(listener);
  }

  /** Whether the replication slot is still held after `stop({ keepSlot: true })`. */
  get slotHeld(): boolean {
    return this.#slotHeld;
  }

  /**
   * Ends the backup: `pg_backup_stop(false)` (PG 15+) or `pg_stop_backup(false, false)` (PG 14),
   * which does not wait for WAL archiving (there is no archive in this design: the WAL comes from
   * the `-wal` snapshot), then drops the slot and closes the session. With `keepSlot` the session
   * and the slot stay, so the WAL up to the stop LSN cannot be recycled until it has been copied
   * (the `-wal` snapshot is cut); call {@link release} then. On failure the backup is aborted and
   * the error rethrown.
   *
   * @throws DbaasError `BACKUP_NOT_RUNNING` after `stop()` or `abort()`, `BACKUP_ABORTED` when the
   *   signal fired, `PG_QUERY_FAILED` / `PG_CONNECTION_FAILED` when the server fails.
   * @example
   * ```ts
   * const { labelFile, tablespaceMap, stopLsn, stopWalFile } = await backup.stop();
   * ```
   */
  async stop(options: { keepSlot?: boolean } = {}): Promise<OnlineBackupStopped> {
    if (this.#state !== 'running') {
      if (this.#state === 'aborted' || this.#state === 'aborting') {
        throw abortedError('before stop() was called', this.#abortReason);
      }
      throw new DbaasError('BACKUP_NOT_RUNNING', `the online backup "${this.started.label}" is ${this.#state}`);
    }
    this.#state = 'stopping';
    const stopFunction = this.started.serverVersion.major >= 15 ? 'pg_backup_stop(false)' : 'pg_stop_backup(false, false)';
    try {
      const row = requireRow(
        await this.#session.query<{ lsn: string; labelfile: string; spcmapfile: string | null; rec: boolean; min_tli: number }>(
          `select s.lsn::text as lsn, s.labelfile, s.spcmapfile, pg_is_in_recovery() as rec,
             (select min_recovery_end_timeline from pg_control_recovery()) as min_tli
           from ${stopFunction} as s`,
        ),
        'pg_backup_stop',
      );
      const stopLsn = parseLsn(row.lsn);
      const stopTimeline = row.rec && Number(row.min_tli) > 0 ? Number(row.min_tli) : this.started.timeline;
      if (this.started.slotName !== null && options.keepSlot) {
        this.#slotHeld = true;
      } else {
        if (this.started.slotName !== null) {
          await this.#session.query('select pg_drop_replication_slot($1::name)', [this.started.slotName]);
        }
        await this.#session.close();
        this.#unlisten();
      }
      this.#state = 'stopped';
      return {
        ...this.started,
        stopLsn,
        stopTimeline,
        stopWalFile: walFileNameForEnd(stopLsn, stopTimeline, this.started.walSegmentSize),
        labelFile: row.labelfile,
        tablespaceMap: row.spcmapfile ?? '',
        stoppedAt: new Date(),
      };
    } catch (error) {
      this.#state = 'aborting';
      this.#unlisten();
      await terminateBackend(this.#config, this.#session, this.started.slotName);
      this.#state = 'aborted';
      throw error;
    }
  }

  /**
   * Ends the backup without a result, whatever state it is in: `pg_backup_stop` on the idle session
   * (or, when a statement is running, `pg_terminate_backend` from a second session, which aborts a
   * non-exclusive backup), drops the slot, closes the session and waits until the server has let go
   * of the backend and the slot. Idempotent; a no-op after `stop()`.
   *
   * @example
   * ```ts
   * await backup.abort(new Error('snapshot failed'));
   * ```
   */
  async abort(reason?: unknown): Promise<void> {
    if (this.#state === 'stopped') return await this.release();
    if (this.#state === 'aborted') return;
    if (this.#state === 'stopping') return; // stop() ends the backup either way
    if (this.#abortDone) return await this.#abortDone;
    this.#state = 'aborting';
    this.#abortReason = reason;
    this.#unlisten();
    this.#abortDone = (async () => {
      const session = this.#session;
      const slotName = this.started.slotName;
      if (!session.busy && !session.closed) {
        try {
          const stopFunction = this.started.serverVersion.major >= 15 ? 'pg_backup_stop(false)' : 'pg_stop_backup(false, false)';
          await session.query(`select 1 from ${stopFunction}`);
          if (slotName !== null) await session.query('select pg_drop_replication_slot($1::name)', [slotName]);
        } catch {
          // fall through: terminating the backend ends the backup too
        }
      }
      await terminateBackend(this.#config, session, slotName);
      this.#state = 'aborted';
    })();
    await this.#abortDone;
  }

  /**
   * After `stop({ keepSlot: true })`: drops the replication slot and closes the session. A no-op
   * when no slot is held.
   *
   * @example
   * ```ts
   * const stopped = await backup.stop({ keepSlot: true });
   * await snapshotWal(stopped.stopWalFile);
   * await backup.release();
   * ```
   */
  async release(): Promise<void> {
    if (!this.#slotHeld) return;
    this.#slotHeld = false;
    this.#unlisten();
    const slotName = this.started.slotName;
    try {
      if (slotName !== null) await this.#session.query('select pg_drop_replication_slot($1::name)', [slotName]);
      await this.#session.close();
    } catch {
      await terminateBackend(this.#config, this.#session, slotName);
    }
  }

  /** Aborts the backup unless it was stopped, and releases a held slot: for `await using backup = ...`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.abort(new Error('the online backup went out of scope without stop()'));
  }
}

function throwIfAborted(signal: AbortSignal | undefined, when: string): void {
  if (signal?.aborted) throw abortedError(when, signal.reason);
}

function abortedError(when: string, reason: unknown, cause?: unknown): DbaasError {
  const why = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
  return new DbaasError('BACKUP_ABORTED', `the online backup was aborted ${when}: ${why}`, {
    cause: cause ?? reason,
  });
}

/**
 * Closes `session` and makes sure the server has ended its backend (terminating it from a second
 * session if needed), so the backup is aborted and the temporary slot is gone. Best effort: when the
 * server cannot be reached the session's end aborts the backup server-side anyway.
 */
async function terminateBackend(config: PostgresConnectionConfig, session: SqlSession, slotName: string | null): Promise<void> {
  const pid = session.backendPid;
  // A backend busy in a statement (e.g. waiting for pg_backup_start's checkpoint) only notices a
  // closed socket when it next talks to the client: terminate it at once then.
  const wasBusy = session.busy;
  if (wasBusy) session.destroy();
  else await session.close();
  let side: SqlSession;
  try {
    side = await openSession(config, { applicationName: 'kubectl-dbaas backup cleanup', connectTimeoutMs: 10_000 });
  } catch {
    return; // server unreachable: it ends the session (and so the backup and the slot) itself
  }
  const began = Date.now();
  let terminated = false;
  try {
    for (;;) {
      const row = requireRow(
        await side.query<{ backend: boolean; slot: boolean }>(
          `select exists (select 1 from pg_stat_activity where pid = $1) as backend,
                  exists (select 1 from pg_replication_slots where slot_name = $2::name) as slot`,
          [pid, slotName ?? ''],
        ),
        'cleanup check',
      );
      if (!row.backend && !row.slot) return;
      if (row.backend && !terminated && (wasBusy || Date.now() - began > 1_000)) {
        await side.query('select pg_terminate_backend($1)', [pid]);
        terminated = true;
      }
      if (!row.backend && row.slot) {
        // owner gone, slot still there (not expected for a temporary slot): drop it
        await side.query('select pg_drop_replication_slot($1::name)', [slotName]).catch(() => undefined);
      }
      if (Date.now() - began > 15_000) {
        throw new DbaasError('PG_QUERY_FAILED', `backend ${pid} of the online backup did not end within 15 s`, {
          fix: `End it by hand: select pg_terminate_backend(${pid});${slotName ? ` then select pg_drop_replication_slot('${slotName}');` : ''}`,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } finally {
    await side.close();
  }
}
