// WalInspector: the one entry point of WAL inspection. Offline it reads a copy of a data directory
// (a directory, or a tar archive such as a hostpath `.snap`), its pg_control, backup_label and WAL
// segments; live it reads a running server over SQL. The functions it calls stay exported as its
// building blocks; this class only gathers them behind one small API with shared defaults.
import type { Readable } from 'node:stream';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DbaasError } from '../errors.js';
import { parseBackupLabel, type BackupLabel } from './backup-label.js';
import { readControlFile, type ControlFile } from './control-file.js';
import { inspectDataDirectory, walSegmentsFromDirectory, type DataDirectoryInspection, type InspectDataDirectoryOptions } from './data-directory.js';
import {
  connectLive,
  type ArchiverStats,
  type ControlCheckpoint,
  type LiveInspector,
  type PostgresConnectionConfig,
  type ServerVersion,
  type WalPositions,
} from './live.js';
import { scanWal, type WalScanOptions, type WalScanReport, type WalSegmentInput } from './wal-scanner.js';

/**
 * Defaults a {@link WalInspector} applies to every offline inspection and scan.
 *
 * @example
 * ```ts
 * import { WalInspector, type WalInspectorOptions } from '@kubectl-dbaas/sdk';
 * const options: WalInspectorOptions = { workers: 0 }; // scan in the calling thread
 * const inspector = new WalInspector(options);
 * ```
 */
export interface WalInspectorOptions {
  /**
   * Worker threads that scan WAL segment files: default one per core (or
   * `KUBECTL_DBAAS_WAL_WORKERS`), none on a single core; 0 scans in the calling thread.
   */
  workers?: number;
}

/**
 * Where a running server's WAL stands, read at once by {@link WalInspector.status}. LSNs are
 * `bigint` (format them with `formatLsn`).
 *
 * @example
 * ```ts
 * import { WalInspector, formatLsn, type WalStatus } from '@kubectl-dbaas/sdk';
 * const status: WalStatus = await new WalInspector().status('postgresql://postgres@127.0.0.1:5432/postgres');
 * console.log(`PostgreSQL ${status.server.text}, redo ${formatLsn(status.lastCheckpoint.redoLsn)}`);
 * ```
 */
export interface WalStatus {
  server: ServerVersion;
  /** Current/insert/flush (primary) and receive/replay (standby) positions, timeline, role. */
  positions: WalPositions;
  /** `wal_segment_size` in bytes. */
  walSegmentSize: number;
  /** Whether the cluster was initialised with data checksums. */
  dataChecksums: boolean;
  /** The last checkpoint, from `pg_control_checkpoint()`. */
  lastCheckpoint: ControlCheckpoint;
  /** `pg_stat_archiver`. */
  archiver: ArchiverStats;
}

/**
 * The WAL inspector: says whether a copy of a PostgreSQL 14-18 data directory will start
 * consistent, reads its `pg_control`, `backup_label` and WAL, and reads where a running server's
 * WAL stands. Offline methods read files only; live ones connect over SQL.
 *
 * The building blocks stay exported for finer use: {@link inspectDataDirectory},
 * {@link readControlFile}, {@link parseBackupLabel}, {@link scanWal},
 * {@link walSegmentsFromDirectory}, {@link connectLive}.
 *
 * @example
 * ```ts
 * import { WalInspector } from '@kubectl-dbaas/sdk';
 * const inspector = new WalInspector();
 *
 * // Offline: a data directory, or a .snap / .tar.gz of one.
 * const inspection = await inspector.inspect('/var/lib/csi-hostpath-data/snap-1.snap');
 * if (!inspection.safe) console.error(inspection.verdict, inspection.reasons.join('\n'));
 *
 * // Live: one read of where the server's WAL stands.
 * const status = await inspector.status({ host: '127.0.0.1', port: 5432, user: 'postgres' });
 * console.log(status.positions.currentWalFile, status.archiver.failedCount);
 * ```
 */
export class WalInspector {
  readonly #workers: number | undefined;

  /**
   * @throws DbaasError `INVALID_ARGUMENT` (option `workers`) for a negative or fractional count.
   * @example
   * ```ts
   * import { WalInspector } from '@kubectl-dbaas/sdk';
   * const inspector = new WalInspector({ workers: 2 });
   * ```
   */
  constructor(options: WalInspectorOptions = {}) {
    const { workers } = options;
    if (workers !== undefined && (!Number.isInteger(workers) || workers < 0)) {
      throw new DbaasError('INVALID_ARGUMENT', `workers must be a whole number of threads, 0 or more (got ${workers})`, {
        fix: 'Pass 0 to scan in the calling thread, or leave it out for one thread per core.',
        option: 'workers',
      });
    }
    this.#workers = workers;
  }

  /**
   * Inspects a copy of a data directory (a directory, a `.tar` / `.tar.gz` / hostpath `.snap`
   * file, or a stream of one) and gives the verdict: safe to start or not, and why. See
   * {@link inspectDataDirectory} for the verdicts and options.
   *
   * @throws DbaasError `DATA_DIRECTORY_UNREADABLE`, `SNAPSHOT_ARCHIVE_INVALID`
   * @example
   * ```ts
   * import { WalInspector, parseLsn } from '@kubectl-dbaas/sdk';
   * const inspection = await new WalInspector().inspect('/restore/pgdata', { backupStopLsn: parseLsn('0/3000100') });
   * console.log(inspection.verdict, inspection.missingSegments);
   * ```
   */
  async inspect(
    source: string | Readable | AsyncIterable<Uint8Array>,
    options: Omit<InspectDataDirectoryOptions, 'workers'> = {},
  ): Promise<DataDirectoryInspection> {
    return await inspectDataDirectory(source, { ...options, ...this.#scanDefaults() });
  }

  /**
   * Reads `pg_control`: of a data directory (its `global/pg_control`), of a `pg_control` file,
   * or from its bytes. CRC-checked; PostgreSQL 14-18 layouts.
   *
   * @throws DbaasError `DATA_DIRECTORY_UNREADABLE` (no such file), `CONTROL_FILE_TRUNCATED`,
   *   `CONTROL_FILE_FOREIGN_ENDIAN`, `CONTROL_FILE_UNSUPPORTED_VERSION`, `CONTROL_FILE_CRC_MISMATCH`
   * @example
   * ```ts
   * import { WalInspector, formatLsn } from '@kubectl-dbaas/sdk';
   * const control = await new WalInspector().controlFile('/var/lib/postgresql/data');
   * console.log(control.state, formatLsn(control.checkPointCopy.redo), control.systemIdentifier);
   * ```
   */
  async controlFile(source: string | Uint8Array): Promise<ControlFile> {
    if (typeof source !== 'string') return readControlFile(source);
    const path = (await isDirectory(source)) ? join(source, 'global', 'pg_control') : source;
    return readControlFile(await readDataFile(path, 'Give a data directory (holding global/pg_control) or the pg_control file itself.'));
  }

  /**
   * The `backup_label` of a data directory (a copy taken during an online backup has one), or
   * `undefined` when it has none. A path to a `backup_label` file is read as that file.
   *
   * @throws DbaasError `DATA_DIRECTORY_UNREADABLE` (no such path), `BACKUP_LABEL_INVALID`
   * @example
   * ```ts
   * import { WalInspector, formatLsn } from '@kubectl-dbaas/sdk';
   * const label = await new WalInspector().backupLabel('/restore/pgdata');
   * if (label) console.log(`online backup "${label.label}" from ${formatLsn(label.startWalLocation)}`);
   * ```
   */
  async backupLabel(source: string): Promise<BackupLabel | undefined> {
    if (await isDirectory(source)) {
      const text = await readFile(join(source, 'backup_label'), 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw unreadable(join(source, 'backup_label'), error);
      });
      return text === undefined ? undefined : parseBackupLabel(text);
    }
    return parseBackupLabel((await readDataFile(source, 'Give a data directory or its backup_label file.')).toString('utf8'));
  }

  /**
   * Verifies WAL: a `pg_wal` directory (every segment file in it, in name order) or segments
   * given one by one. Page headers, record CRC-32C, back links, checkpoint / switch / backup-end
   * records, missing and out-of-order segments, valid WAL after a break. See {@link scanWal}.
   *
   * @throws DbaasError `DATA_DIRECTORY_UNREADABLE` (no such directory), `WAL_INVALID` (over `maxBytes`)
   * @example
   * ```ts
   * import { WalInspector } from '@kubectl-dbaas/sdk';
   * const inspector = new WalInspector();
   * const control = await inspector.controlFile('/pgdata');
   * const report = await inspector.scanWal('/pgdata/pg_wal', { startLsn: control.checkPointCopy.redo, systemIdentifier: control.systemIdentifier });
   * console.log(`valid WAL ${report.firstValidLsn} .. ${report.lastValidLsn}: ${report.end.message}`);
   * ```
   */
  async scanWal(
    segments: string | AsyncIterable<WalSegmentInput> | Iterable<WalSegmentInput>,
    options: Omit<WalScanOptions, 'workers'> = {},
  ): Promise<WalScanReport> {
    const input = typeof segments === 'string' ? await this.walSegments(segments) : segments;
    return await scanWal(input, { ...options, ...this.#scanDefaults() });
  }

  /**
   * The WAL segment files of a `pg_wal` directory, in name order, as {@link scanWal} input.
   *
   * @throws DbaasError `DATA_DIRECTORY_UNREADABLE` (no such directory)
   * @example
   * ```ts
   * import { WalInspector } from '@kubectl-dbaas/sdk';
   * const segments = await new WalInspector().walSegments('/pgdata/pg_wal');
   * console.log(segments.map((segment) => segment.name));
   * ```
   */
  async walSegments(directory: string): Promise<WalSegmentInput[]> {
    return await walSegmentsFromDirectory(directory).catch((error: NodeJS.ErrnoException) => {
      throw unreadable(directory, error, 'Give the pg_wal directory of a data directory.');
    });
  }

  /**
   * Connects to a running server: a {@link LiveInspector} for repeated reads (WAL positions,
   * control data, archiver) and online backups. Close it (`await using`, or `close()`).
   *
   * @throws DbaasError `PG_CONNECTION_FAILED`
   * @example
   * ```ts
   * import { WalInspector } from '@kubectl-dbaas/sdk';
   * await using live = await new WalInspector().connect('postgresql://postgres@127.0.0.1:5432/postgres');
   * await using backup = await live.startOnlineBackup({ label: 'nightly', fast: true });
   * const stopped = await backup.stop();
   * console.log(stopped.stopWalFile);
   * ```
   */
  async connect(connection: PostgresConnectionConfig): Promise<LiveInspector> {
    return await connectLive(connection);
  }

  /**
   * Where a running server's WAL stands, read in one short session (what `kubectl dbaas wal
   * status` shows): version, positions, segment size, data checksums, last checkpoint, archiver.
   *
   * @throws DbaasError `PG_CONNECTION_FAILED`, `PG_QUERY_FAILED`
   * @example
   * ```ts
   * import { WalInspector, formatLsn } from '@kubectl-dbaas/sdk';
   * const { positions, lastCheckpoint } = await new WalInspector().status({ host: '127.0.0.1', port: 5432, user: 'postgres' });
   * console.log(positions.inRecovery ? 'standby' : 'primary', formatLsn(lastCheckpoint.checkpointLsn));
   * ```
   */
  async status(connection: PostgresConnectionConfig): Promise<WalStatus> {
    await using live = await connectLive(connection);
    // One session answers the queries one after another: in sequence, not Promise.all.
    const positions = await live.walPositions();
    const lastCheckpoint = await live.controlCheckpoint();
    const walSegmentSize = await live.walSegmentSize();
    const dataChecksums = await live.dataChecksums();
    const archiver = await live.archiverStats();
    return { server: live.serverVersion, positions, walSegmentSize, dataChecksums, lastCheckpoint, archiver };
  }

  #scanDefaults(): { workers?: number } {
    return this.#workers === undefined ? {} : { workers: this.#workers };
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    throw unreadable(path, error as NodeJS.ErrnoException);
  }
}

async function readDataFile(path: string, fix: string): Promise<Buffer> {
  return await readFile(path).catch((error: NodeJS.ErrnoException) => {
    throw unreadable(path, error, fix);
  });
}

function unreadable(path: string, error: NodeJS.ErrnoException, fix?: string): DbaasError {
  const what = error.code === 'ENOENT' ? `${path} does not exist` : `cannot read ${path}: ${error.message}`;
  return new DbaasError('DATA_DIRECTORY_UNREADABLE', what, { ...(fix !== undefined ? { fix } : {}), cause: error });
}
