// Explicit named exports only: nothing deep, nothing by wildcard.
export { DbaasError, toDbaasError, isDbaasError } from './errors.js';
export type { DbaasErrorCode } from './errors.js';

// WAL: LSNs and segment names
export {
  DEFAULT_WAL_SEGMENT_SIZE,
  parseLsn,
  formatLsn,
  compareLsn,
  lsnDistance,
  assertWalSegmentSize,
  walSegmentNumber,
  walSegmentStart,
  walFileNameForSegment,
  walFileName,
  walFileNameForEnd,
  parseWalFileName,
  isWalFileName,
} from './wal/lsn.js';
export type { Lsn } from './wal/lsn.js';

// WAL: offline inspection (pg_control, backup_label, timeline history, WAL segments, data directories)
export { crc32c, crc32cCombine, crc32cPortable, crc32cImplementation } from './wal/crc32c.js';
export {
  readControlFile,
  decodeCheckPoint,
  checkPointHasWalLevel,
  SUPPORTED_CONTROL_FILE_VERSIONS,
  CONTROL_FILE_SIZE,
  CHECKPOINT_DATA_SIZE,
} from './wal/control-file.js';
export type { ControlFile, CheckPointData, DatabaseClusterState, WalLevel } from './wal/control-file.js';
export { parseBackupLabel, formatBackupLabel, parseTablespaceMap, formatTablespaceMap } from './wal/backup-label.js';
export type { BackupLabel, TablespaceMapEntry } from './wal/backup-label.js';
export { parseTimelineHistory, formatTimelineHistory, timelineOfHistoryFile } from './wal/timeline-history.js';
export type { TimelineHistoryEntry } from './wal/timeline-history.js';
export {
  scanWal,
  summarizeWalSegment,
  joinWalSegmentSummaries,
  WAL_PAGE_SIZE,
  WAL_PAGE_MAGIC_BY_VERSION,
} from './wal/wal-scanner.js';
export type {
  WalScanOptions,
  WalScanReport,
  WalSegmentInput,
  WalSegmentSummary,
  WalEndReason,
  WalCheckpointRecord,
  WalEvent,
} from './wal/wal-scanner.js';
export { inspectDataDirectory, walSegmentsFromDirectory } from './wal/data-directory.js';
export type {
  DataDirectoryInspection,
  DataDirectoryVerdict,
  InspectDataDirectoryOptions,
  ControlFileJson,
  BackupLabelJson,
} from './wal/data-directory.js';
export { readTarEntries, readTarFile, readTarEntry, drainTarEntry } from './wal/tar-source.js';
export type { TarEntry } from './wal/tar-source.js';

// WAL: live inspection over SQL and the held online-backup session (wal/live.ts)
export { connectLive, LiveInspector, OnlineBackup } from './wal/live.js';
export type {
  PostgresConnectionConfig,
  ServerVersion,
  WalPositions,
  ControlCheckpoint,
  ControlSystem,
  ControlRecovery,
  ArchiverStats,
  OnlineBackupOptions,
  OnlineBackupStarted,
  OnlineBackupStopped,
  OnlineBackupState,
} from './wal/live.js';
