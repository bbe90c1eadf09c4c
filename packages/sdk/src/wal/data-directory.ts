import { createReadStream } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { DbaasError, toDbaasError } from '../errors.js';
import { parseBackupLabel, parseTablespaceMap, type BackupLabel, type TablespaceMapEntry } from './backup-label.js';
import { CONTROL_FILE_SIZE, readControlFile, type ControlFile } from './control-file.js';
import { formatLsn, isWalFileName, maxAlignLsn, walFileName, walFileNameForEnd, type Lsn } from './lsn.js';
import { drainTarEntry, readTarEntries, readTarEntry } from './tar-source.js';
import { parseTimelineHistory, timelineOfHistoryFile, type TimelineHistoryEntry } from './timeline-history.js';
import {
  joinWalSegmentSummaries,
  summarizeWalSegment,
  summarizeWalSegments,
  type WalScanReport,
  type WalSegmentInput,
  type WalSegmentSummary,
} from './wal-scanner.js';

/**
 * What a copy of a data directory will do when PostgreSQL starts on it:
 * - `clean-shutdown`: stopped cleanly, the shutdown checkpoint record is present.
 * - `crash-recoverable`: a copy of a running server whose WAL from the checkpoint's redo point
 *   is present and valid, taken by an atomic snapshot: crash recovery makes it consistent.
 * - `unsafe-not-atomic`: the same, but nobody vouched that the snapshot was atomic; a copy taken
 *   file by file (as `tar` does) may start and be silently corrupt.
 * - `online-backup-complete`: `backup_label` present and the WAL from its start through the
 *   matching end-of-backup record is present and valid.
 * - `online-backup-incomplete`: `backup_label` present but WAL up to the end of the backup is
 *   missing ("WAL ends before end of online backup").
 * - `not-restorable`: PostgreSQL will refuse to start (or must not be started), see `reasons`;
 *   among others when the WAL is broken with valid WAL after the break (a complete, CRC-valid
 *   record further on, {@link WalScanReport.validWalAfterEnd}): crash recovery would stop at the
 *   break, start, and lose the commits after it.
 *
 * @example
 * ```ts
 * const safe: DataDirectoryVerdict[] = ['clean-shutdown', 'crash-recoverable', 'online-backup-complete'];
 * ```
 */
export type DataDirectoryVerdict =
  | 'clean-shutdown'
  | 'crash-recoverable'
  | 'unsafe-not-atomic'
  | 'online-backup-complete'
  | 'online-backup-incomplete'
  | 'not-restorable';

/**
 * Options of {@link inspectDataDirectory}.
 *
 * @example
 * ```ts
 * await inspectDataDirectory('/snapshots/pg.snap', { atomicSnapshot: false });
 * ```
 */
export interface InspectDataDirectoryOptions {
  /** The copy was taken at one point in time (an atomic volume snapshot). Default false. */
  atomicSnapshot?: boolean;
  /** For an online backup: the LSN `pg_backup_stop()` returned, to name the missing segments exactly. */
  backupStopLsn?: Lsn;
  /** Path of the data directory inside an archive (default: found from `global/pg_control`). */
  archivePrefix?: string;
  /** Worker threads for the segment files of a directory (see {@link WalScanOptions.workers}); an archive streams in this thread. */
  workers?: number;
}

/** `pg_control` with 64-bit values as strings: LSNs `X/Y`, other integers decimal. */
export type ControlFileJson = {
  [K in keyof ControlFile]: ControlFile[K] extends bigint
    ? string
    : K extends 'checkPointCopy'
      ? Record<string, string | number | boolean | undefined>
      : ControlFile[K];
};

/** A `backup_label` with LSNs as `X/Y` strings. */
export type BackupLabelJson = { [K in keyof BackupLabel]: BackupLabel[K] extends bigint | undefined ? string | undefined : BackupLabel[K] };

/**
 * The inspection of a data directory copy. Plain JSON: LSNs are `X/Y` strings, 64-bit integers
 * decimal strings.
 *
 * @example
 * ```ts
 * const inspection = await inspectDataDirectory('/pgdata');
 * console.log(inspection.verdict, inspection.reasons.join('; '));
 * ```
 */
export interface DataDirectoryInspection {
  verdict: DataDirectoryVerdict;
  /** Whether PostgreSQL started on this copy comes up consistent. */
  safe: boolean;
  reasons: string[];
  postgresMajorVersion: number | undefined;
  controlFile: ControlFileJson | undefined;
  backupLabel: BackupLabelJson | undefined;
  tablespaceMap: TablespaceMapEntry[] | undefined;
  timelineHistories: { timeline: number; entries: { timeline: number; switchPoint: string; reason: string }[] }[];
  /** Replay must start at `from`; `to` is where it must at least reach (end of backup, min recovery point). */
  requiredWal: { from: string | undefined; to: string | undefined; firstSegment: string | undefined; lastSegment: string | undefined };
  /** Segments that are needed and absent. */
  missingSegments: string[];
  wal: WalScanReport;
  /** Files of the data directory found, by role. */
  found: {
    pgControl: boolean;
    backupLabel: boolean;
    tablespaceMap: boolean;
    walSegments: number;
    pgWalIsSymlink: boolean;
    /** `standby.signal`: the copy is of a standby (CloudNativePG's replicas, any streaming replica) and would start as one. */
    standbySignal: boolean;
  };
}

const LSN_KEYS = new Set([
  'checkPoint',
  'redo',
  'unloggedLsn',
  'minRecoveryPoint',
  'backupStartPoint',
  'backupEndPoint',
  'startWalLocation',
  'stopWalLocation',
  'checkpointLocation',
  'incrementalFromLsn',
]);

function jsonSafe<T extends object>(value: T): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (typeof field === 'bigint') out[key] = LSN_KEYS.has(key) ? formatLsn(field) : field.toString();
    else if (field !== null && typeof field === 'object' && !Array.isArray(field)) out[key] = jsonSafe(field);
    else out[key] = field;
  }
  return out;
}

/** What was collected from the data directory, in whatever order its files arrived. */
interface Collected {
  controlBytes: Uint8Array | undefined;
  backupLabelText: string | undefined;
  tablespaceMapText: string | undefined;
  histories: Map<number, string>;
  backupHistoryTexts: string[];
  walSummaries: WalSegmentSummary[];
  walArrivalOrder: string[];
  pgWalIsSymlink: boolean;
  /** `standby.signal` is there: PostgreSQL started on the copy stays a standby, waiting for a primary. */
  standbySignal: boolean;
}

function emptyCollected(): Collected {
  return {
    controlBytes: undefined,
    backupLabelText: undefined,
    tablespaceMapText: undefined,
    histories: new Map(),
    backupHistoryTexts: [],
    walSummaries: [],
    walArrivalOrder: [],
    pgWalIsSymlink: false,
    standbySignal: false,
  };
}

const BACKUP_HISTORY_FILE = /^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$/;

/**
 * The WAL segment files of a `pg_wal` directory, in name order, as scanner input.
 *
 * @example
 * ```ts
 * const report = await scanWal(await walSegmentsFromDirectory('/pgdata/pg_wal'));
 * ```
 */
export async function walSegmentsFromDirectory(directory: string): Promise<WalSegmentInput[]> {
  const names = (await readdir(directory)).filter(isWalFileName).sort();
  return names.map((name) => {
    const path = join(directory, name);
    // `data` opens the file when first read: scanWal reads files by `path` on worker threads.
    return {
      name,
      path,
      get data() {
        return createReadStream(path, { highWaterMark: 1024 * 1024 });
      },
    };
  });
}

async function collectFromDirectory(directory: string, workers: number | undefined): Promise<Collected> {
  const collected = emptyCollected();
  const readOptional = async (path: string): Promise<Buffer | undefined> => {
    try {
      return await readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };
  const controlHandle = await open(join(directory, 'global', 'pg_control')).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (controlHandle !== undefined) {
    try {
      const buffer = Buffer.alloc(CONTROL_FILE_SIZE);
      const { bytesRead } = await controlHandle.read(buffer, 0, CONTROL_FILE_SIZE, 0);
      collected.controlBytes = buffer.subarray(0, bytesRead);
    } finally {
      await controlHandle.close();
    }
  }
  collected.backupLabelText = (await readOptional(join(directory, 'backup_label')))?.toString('utf8');
  collected.tablespaceMapText = (await readOptional(join(directory, 'tablespace_map')))?.toString('utf8');
  collected.standbySignal = (await readOptional(join(directory, 'standby.signal'))) !== undefined;
  const walDirectory = join(directory, 'pg_wal');
  let names: string[] | undefined;
  try {
    names = (await readdir(walDirectory)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (names === undefined && collected.controlBytes === undefined) throw await notADataDirectory(directory);
  for (const name of names ?? []) {
    const timeline = timelineOfHistoryFile(name);
    if (timeline !== undefined) collected.histories.set(timeline, await readFile(join(walDirectory, name), 'utf8'));
    else if (BACKUP_HISTORY_FILE.test(name)) collected.backupHistoryTexts.push(await readFile(join(walDirectory, name), 'utf8'));
  }
  // No pg_wal beside a pg_control: no WAL at all (the verdict says what that means).
  const segments = names === undefined ? [] : await walSegmentsFromDirectory(walDirectory);
  collected.walArrivalOrder.push(...segments.map((segment) => segment.name));
  collected.walSummaries.push(...(await summarizeWalSegments(segments, { shareHeader: false, ...(workers !== undefined ? { workers } : {}) })));
  return collected;
}

/**
 * The error for a directory with neither `global/pg_control` nor `pg_wal`: not a data directory.
 * Names a subdirectory that is one, when there is one (a volume with PGDATA in `pgdata/`, say).
 */
async function notADataDirectory(directory: string): Promise<DbaasError> {
  const entries = await readdir(directory, { withFileTypes: true }).catch(() => []);
  const inside: string[] = [];
  for (const entry of entries) {
    if (
      entry.isDirectory() &&
      (await stat(join(directory, entry.name, 'global', 'pg_control')).then(
        () => true,
        () => false,
      ))
    )
      inside.push(join(directory, entry.name));
  }
  return new DbaasError('DATA_DIRECTORY_UNREADABLE', `${directory} is not a PostgreSQL data directory: it has neither global/pg_control nor pg_wal`, {
    fix:
      inside.length > 0
        ? `Inspect the data directory inside it: ${inside.join(', ')}.`
        : 'Give the data directory itself (the one holding PG_VERSION, global/ and pg_wal/, e.g. /var/lib/postgresql/data), or a .snap / .tar.gz of it.',
    details: { directory, ...(inside.length > 0 ? { dataDirectoriesInside: inside } : {}) },
  });
}

const ARCHIVE_ROLE = /^(?:(.*)\/)?(global\/pg_control|backup_label|tablespace_map|standby\.signal|pg_wal\/[^/]+|pg_wal)$/;

async function collectFromArchive(source: Readable | AsyncIterable<Uint8Array>, prefixOption: string | undefined): Promise<Collected> {
  // Entries of every candidate prefix are kept apart until pg_control says which one is PGDATA.
  const byPrefix = new Map<string, Collected>();
  const forPrefix = (prefix: string): Collected => {
    let collected = byPrefix.get(prefix);
    if (collected === undefined) {
      collected = emptyCollected();
      byPrefix.set(prefix, collected);
    }
    return collected;
  };
  for await (const entry of readTarEntries(source)) {
    const match = ARCHIVE_ROLE.exec(entry.path);
    const prefix = match?.[1] ?? '';
    const role = match?.[2];
    if (match === null || role === undefined || (prefixOption !== undefined && prefix !== prefixOption.replace(/^\.\/|\/$/g, ''))) {
      await drainTarEntry(entry);
      continue;
    }
    const collected = forPrefix(prefix);
    if (role === 'pg_wal') {
      if (entry.type === 'symlink') collected.pgWalIsSymlink = true;
      await drainTarEntry(entry);
    } else if (entry.type !== 'file') {
      await drainTarEntry(entry);
    } else if (role === 'global/pg_control') {
      collected.controlBytes = (await readTarEntry(entry, 64 * 1024)).subarray(0, CONTROL_FILE_SIZE);
    } else if (role === 'backup_label') {
      collected.backupLabelText = Buffer.from(await readTarEntry(entry)).toString('utf8');
    } else if (role === 'tablespace_map') {
      collected.tablespaceMapText = Buffer.from(await readTarEntry(entry)).toString('utf8');
    } else if (role === 'standby.signal') {
      collected.standbySignal = true;
      await drainTarEntry(entry);
    } else {
      const name = role.slice('pg_wal/'.length);
      const timeline = timelineOfHistoryFile(name);
      if (isWalFileName(name)) {
        collected.walArrivalOrder.push(name);
        collected.walSummaries.push(await summarizeWalSegment(name, entry.data));
      } else if (timeline !== undefined) {
        collected.histories.set(timeline, Buffer.from(await readTarEntry(entry)).toString('utf8'));
      } else if (BACKUP_HISTORY_FILE.test(name)) {
        collected.backupHistoryTexts.push(Buffer.from(await readTarEntry(entry)).toString('utf8'));
      } else {
        await drainTarEntry(entry);
      }
    }
  }
  const withControl = [...byPrefix.entries()].filter(([, c]) => c.controlBytes !== undefined);
  if (withControl.length > 1) {
    throw new DbaasError(
      'SNAPSHOT_ARCHIVE_INVALID',
      `the archive holds ${withControl.length} data directories: ${withControl.map(([p]) => p || '.').join(', ')}`,
      {
        fix: 'Say which one to inspect with the archivePrefix option.',
      },
    );
  }
  const chosen = withControl[0]?.[1] ?? byPrefix.get('') ?? [...byPrefix.values()][0];
  return chosen ?? emptyCollected();
}

/**
 * Inspects a copy of a PostgreSQL data directory, offline, and says whether PostgreSQL started on
 * it will come up consistent, and why. `source` is a data directory path, a `.tar` / `.tar.gz`
 * file (such as the CSI hostpath driver's `.snap`, a `tar czf` of the volume), or a readable
 * stream of one; archives are read as they stream, never unpacked to disk, whatever the order of
 * their entries (WAL segments are summarised as they pass; the verdict is drawn at the end).
 *
 * @throws DbaasError `DATA_DIRECTORY_UNREADABLE` when the source cannot be read,
 *   `SNAPSHOT_ARCHIVE_INVALID` for a broken archive.
 * @example
 * ```ts
 * const inspection = await inspectDataDirectory('/var/lib/csi-hostpath-data/snap-1.snap', { atomicSnapshot: false });
 * if (!inspection.safe) throw new Error(inspection.reasons.join('\n'));
 * ```
 */
export async function inspectDataDirectory(
  source: string | Readable | AsyncIterable<Uint8Array>,
  options: InspectDataDirectoryOptions = {},
): Promise<DataDirectoryInspection> {
  let collected: Collected;
  try {
    if (typeof source === 'string') {
      const info = await stat(source).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
        throw new DbaasError('DATA_DIRECTORY_UNREADABLE', `${source} does not exist`, {
          fix: 'Give a PostgreSQL data directory, or a .snap / .tar.gz of one (a hostpath snapshot file).',
          cause: error,
        });
      });
      collected = info.isDirectory()
        ? await collectFromDirectory(source, options.workers)
        : await collectFromArchive(createReadStream(source, { highWaterMark: 1024 * 1024 }), options.archivePrefix);
    } else {
      collected = await collectFromArchive(source, options.archivePrefix);
    }
  } catch (error) {
    const dbaas = toDbaasError(error);
    if (dbaas.code !== 'INTERNAL') throw dbaas;
    throw new DbaasError('DATA_DIRECTORY_UNREADABLE', `cannot read ${typeof source === 'string' ? source : 'the data directory stream'}: ${dbaas.message}`, {
      cause: error,
    });
  }
  return judge(collected, options);
}

function judge(collected: Collected, options: InspectDataDirectoryOptions): DataDirectoryInspection {
  const reasons: string[] = [];
  const found = {
    pgControl: collected.controlBytes !== undefined,
    backupLabel: collected.backupLabelText !== undefined,
    tablespaceMap: collected.tablespaceMapText !== undefined,
    walSegments: collected.walSummaries.length,
    pgWalIsSymlink: collected.pgWalIsSymlink,
    standbySignal: collected.standbySignal,
  };
  const timelineHistories = [...collected.histories.entries()]
    .sort(([a], [b]) => a - b)
    .map(([timeline, text]) => {
      let entries: TimelineHistoryEntry[] = [];
      try {
        entries = parseTimelineHistory(text);
      } catch (error) {
        reasons.push(`timeline history of ${timeline}: ${toDbaasError(error).message}`);
      }
      return { timeline, entries: entries.map((e) => ({ timeline: e.timeline, switchPoint: formatLsn(e.switchPoint), reason: e.reason })) };
    });
  const base = (verdict: DataDirectoryVerdict, wal: WalScanReport): DataDirectoryInspection => ({
    verdict,
    safe: verdict === 'clean-shutdown' || verdict === 'crash-recoverable' || verdict === 'online-backup-complete',
    reasons,
    postgresMajorVersion: undefined,
    controlFile: undefined,
    backupLabel: undefined,
    tablespaceMap: undefined,
    timelineHistories,
    requiredWal: { from: undefined, to: undefined, firstSegment: undefined, lastSegment: undefined },
    missingSegments: [],
    wal,
    found,
  });

  let control: ControlFile | undefined;
  if (collected.controlBytes === undefined) {
    reasons.push('global/pg_control is missing: this is not a (complete) data directory');
  } else {
    try {
      control = readControlFile(collected.controlBytes);
    } catch (error) {
      reasons.push(`global/pg_control cannot be used: ${toDbaasError(error).message}`);
    }
  }
  if (control === undefined) {
    return base('not-restorable', joinWalSegmentSummaries(collected.walSummaries, { arrivalOrder: collected.walArrivalOrder }));
  }

  let label: BackupLabel | undefined;
  if (collected.backupLabelText !== undefined) {
    try {
      label = parseBackupLabel(collected.backupLabelText);
    } catch (error) {
      reasons.push(`backup_label cannot be used: ${toDbaasError(error).message}`);
    }
  }
  let tablespaceMap: TablespaceMapEntry[] | undefined;
  if (collected.tablespaceMapText !== undefined) {
    try {
      tablespaceMap = parseTablespaceMap(collected.tablespaceMapText);
    } catch (error) {
      reasons.push(`tablespace_map cannot be used: ${toDbaasError(error).message}`);
    }
  }
  let stopLsn = options.backupStopLsn;
  if (stopLsn === undefined && label !== undefined) {
    for (const text of collected.backupHistoryTexts) {
      try {
        const history = parseBackupLabel(text);
        if (history.startWalLocation === label.startWalLocation && history.stopWalLocation !== undefined) stopLsn = history.stopWalLocation;
      } catch {
        // A foreign or damaged backup history file says nothing about this backup.
      }
    }
  }

  const startLsn = label?.startWalLocation ?? control.checkPointCopy.redo;
  const checkpointLsn = label?.checkpointLocation ?? control.checkPoint;
  const timeline = label?.startTimeline ?? control.checkPointCopy.timeline;
  const segmentSize = control.walSegmentSize;
  const wal = joinWalSegmentSummaries(collected.walSummaries, {
    startLsn,
    systemIdentifier: control.systemIdentifier,
    segmentSize,
    arrivalOrder: collected.walArrivalOrder,
  });
  const inspection = base('not-restorable', wal);
  inspection.postgresMajorVersion = control.postgresMajorVersion;
  inspection.controlFile = jsonSafe(control) as ControlFileJson;
  inspection.backupLabel = label === undefined ? undefined : (jsonSafe(label) as BackupLabelJson);
  inspection.tablespaceMap = tablespaceMap;

  // Aligned as PostgreSQL's reader ends a record, to compare with minRecoveryPoint and the
  // pg_backup_stop() LSN, which are aligned the same way (the raw end lies up to 7 bytes before).
  const validEnd = wal.lastValidLsn === undefined ? undefined : maxAlignLsn(BigInt(parseLsnText(wal.lastValidLsn)));
  const firstSegment = walFileName(startLsn, timeline, segmentSize);
  inspection.requiredWal = { from: formatLsn(startLsn), to: undefined, firstSegment, lastSegment: undefined };
  if (wal.systemIdentifier !== undefined && wal.systemIdentifier !== control.systemIdentifier.toString()) {
    reasons.push(`the WAL belongs to database system ${wal.systemIdentifier}, pg_control to ${control.systemIdentifier}`);
    return inspection;
  }
  const walEndText = `valid WAL ends at ${wal.end.lsn} (${wal.end.reason}: ${wal.end.message})`;
  const checkpointRecord = wal.checkpoints.find((c) => c.lsn === formatLsn(checkpointLsn));
  const requireThrough = (target: Lsn, what: string): boolean => {
    inspection.requiredWal.to = formatLsn(target);
    inspection.requiredWal.lastSegment = walFileNameForEnd(target > 0n ? target : 1n, timeline, segmentSize);
    if (validEnd !== undefined && validEnd >= target) return true;
    reasons.push(`${what} ${formatLsn(target)} is beyond the valid WAL: ${walEndText}`);
    inspection.missingSegments = missingSegmentsThrough(wal, collected.walSummaries, target, timeline, segmentSize);
    return false;
  };

  if (label !== undefined) {
    if (label.incrementalFromLsn !== undefined) {
      reasons.push('backup_label describes an incremental backup: reconstruct a full one with pg_combinebackup first');
      return inspection;
    }
    if (checkpointRecord === undefined) {
      reasons.push(
        `the backup's checkpoint record at ${formatLsn(checkpointLsn)} is not in the valid WAL (${walEndText}): PostgreSQL fails with "could not locate required checkpoint record"`,
      );
      inspection.missingSegments = missingSegmentsThrough(wal, collected.walSummaries, checkpointLsn + 1n, timeline, segmentSize);
      inspection.verdict = 'online-backup-incomplete';
      inspection.safe = false;
      return inspection;
    }
    if (label.backupFrom === 'standby') {
      const target = control.minRecoveryPoint;
      if (requireThrough(target, 'the end of this standby backup (minRecoveryPoint)')) {
        reasons.push(`backup from a standby: WAL from ${formatLsn(startLsn)} through the minimum recovery point ${formatLsn(target)} is present and valid`);
        inspection.verdict = 'online-backup-complete';
        inspection.safe = true;
      } else {
        reasons.push('PostgreSQL would fail with "WAL ends before end of online backup"');
        inspection.verdict = 'online-backup-incomplete';
      }
      return inspection;
    }
    const backupEnd = wal.events.find((e) => e.kind === 'backup-end' && e.backupStart === formatLsn(label.startWalLocation));
    if (backupEnd !== undefined && backupEnd.kind === 'backup-end') {
      inspection.requiredWal.to = backupEnd.end;
      inspection.requiredWal.lastSegment = walFileNameForEnd(BigInt(parseLsnText(backupEnd.end)), timeline, segmentSize);
      reasons.push(
        `backup_label present; WAL from ${formatLsn(startLsn)} through the end-of-backup record at ${backupEnd.lsn} (backup start ${backupEnd.backupStart}) is present and valid`,
      );
      inspection.verdict = 'online-backup-complete';
      inspection.safe = true;
      return inspection;
    }
    reasons.push(
      `backup_label present, but no end-of-backup record for the backup that started at ${formatLsn(label.startWalLocation)} is in the valid WAL (${walEndText})`,
    );
    reasons.push('PostgreSQL would fail with "WAL ends before end of online backup"');
    if (stopLsn !== undefined) requireThrough(stopLsn, 'the end of the backup (pg_backup_stop LSN)');
    else inspection.missingSegments = missingSegmentsThrough(wal, collected.walSummaries, undefined, timeline, segmentSize);
    if (inspection.missingSegments.length > 0) reasons.push(`missing WAL segments: ${inspection.missingSegments.join(', ')}`);
    else reasons.push('copy the WAL from the backup start up to the pg_backup_stop() LSN into pg_wal');
    inspection.verdict = 'online-backup-incomplete';
    inspection.safe = false;
    return inspection;
  }

  if (checkpointRecord === undefined) {
    reasons.push(
      `the latest checkpoint record at ${formatLsn(checkpointLsn)} (redo ${formatLsn(startLsn)}) is not in the valid WAL (${walEndText}): PostgreSQL fails with "could not locate a valid checkpoint record"`,
    );
    inspection.missingSegments = missingSegmentsThrough(wal, collected.walSummaries, checkpointLsn + 1n, timeline, segmentSize);
    return inspection;
  }
  const after = wal.validWalAfterEnd;
  if (after !== undefined) {
    // Crash recovery takes the first invalid record for the end of WAL, replays up to it and
    // starts: the WAL after it (and the commits in it) is lost, while data pages may already hold
    // its changes. A complete record with a valid CRC further on proves WAL went on past the break;
    // an unfinished last record, zeros or recycled pages are a normal end.
    reasons.push(
      `valid WAL ends at ${wal.end.lsn} in ${wal.end.segment ?? 'an absent segment'} (${wal.end.reason}: ${wal.end.message}), but a complete record with a valid CRC of this WAL follows at ${after.lsn} in ${after.segment}: the WAL in between is missing or damaged, and crash recovery would stop at ${wal.end.lsn}, losing the transactions after it`,
    );
    inspection.missingSegments = missingSegmentsThrough(wal, collected.walSummaries, parseLsnText(after.lsn) + 1n, timeline, segmentSize);
    return inspection;
  }
  if (control.minRecoveryPoint > 0n && !requireThrough(control.minRecoveryPoint, 'the minimum recovery point')) {
    return inspection;
  }
  if (control.backupEndRequired || control.backupStartPoint > 0n) {
    reasons.push(
      `pg_control says recovery from a backup was under way (backup start ${formatLsn(control.backupStartPoint)}); it needs the WAL up to the end of that backup`,
    );
  }
  if (control.state === 'shut down in recovery') {
    // A standby stops at a restartpoint: pg_control points at the last checkpoint record it
    // replayed (an online one, from the primary), and its minRecoveryPoint, checked above, is where
    // it was consistent. With the WAL from that checkpoint's redo through it, PostgreSQL starts the
    // copy as a standby or, without standby.signal, recovers and comes up as a primary.
    reasons.push(
      `the standby was shut down cleanly; WAL from its restartpoint's checkpoint at ${checkpointRecord.lsn} (redo ${formatLsn(startLsn)}) through the minimum recovery point ${formatLsn(control.minRecoveryPoint)} is present and valid`,
    );
    inspection.verdict = 'clean-shutdown';
    inspection.safe = true;
    return inspection;
  }
  if (control.state === 'shut down') {
    if (checkpointRecord.kind !== 'shutdown') {
      reasons.push(`pg_control says "${control.state}" but the checkpoint record at ${checkpointRecord.lsn} is an online checkpoint`);
      return inspection;
    }
    reasons.push(`the server was shut down cleanly; its shutdown checkpoint record at ${checkpointRecord.lsn} is present and valid`);
    inspection.verdict = 'clean-shutdown';
    inspection.safe = true;
    return inspection;
  }
  reasons.push(
    `pg_control says "${control.state}": the copy was taken from a running server without backup_label; crash recovery replays from ${formatLsn(startLsn)} (checkpoint ${checkpointRecord.lsn}); ${walEndText}`,
  );
  if (options.atomicSnapshot === true) {
    reasons.push('the snapshot is atomic, so crash recovery brings it to the state of that instant');
    inspection.verdict = 'crash-recoverable';
    inspection.safe = true;
  } else {
    reasons.push(
      'a copy of a running server is only consistent if the snapshot was atomic (one instant for the whole volume); this one was not declared atomic, so it may start and be silently corrupt',
    );
    inspection.verdict = 'unsafe-not-atomic';
    inspection.safe = false;
  }
  return inspection;
}

function parseLsnText(text: string): bigint {
  const [high, low] = text.split('/');
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

/** Whether a segment's first page belongs to this WAL position and a record starts in it. */
function holdsWal(summary: WalSegmentSummary): boolean {
  return summary.segmentStart !== undefined && summary.firstRecordLsn !== undefined;
}

/**
 * Segments from the one where valid WAL ends up to the one holding `target` that a restore must
 * (re)place: absent ones, the present one whose valid WAL ends before the target (a copy taken
 * before that WAL was written, or damaged), and present ones without WAL of this position
 * (recycled or pre-allocated files).
 */
function missingSegmentsThrough(
  wal: WalScanReport,
  summaries: readonly WalSegmentSummary[],
  target: Lsn | undefined,
  timeline: number,
  segmentSize: number,
): string[] {
  const present = new Map(summaries.map((s) => [s.name, s]));
  const missing = new Set(wal.missingSegments);
  if (target !== undefined) {
    const endLsn = parseLsnText(wal.end.lsn);
    const from = endLsn / BigInt(segmentSize);
    const to = (target > 0n ? target - 1n : 0n) / BigInt(segmentSize);
    const endsInsideFrom = wal.end.reason !== 'missing-segment' && wal.end.reason !== 'end-of-data';
    for (let n = from; n <= to && n - from < 100_000n; n++) {
      const name = walFileName(n * BigInt(segmentSize), timeline, segmentSize);
      const summary = present.get(name);
      if (summary === undefined || (n === from && endsInsideFrom) || (n > from && !holdsWal(summary))) missing.add(name);
    }
  } else if (wal.end.reason === 'missing-segment' && wal.end.segment !== undefined) {
    missing.add(wal.end.segment);
  }
  return [...missing].sort();
}
