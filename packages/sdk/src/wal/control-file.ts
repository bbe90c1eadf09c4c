import { DbaasError } from '../errors.js';
import { crc32c } from './crc32c.js';
import type { Lsn } from './lsn.js';

/**
 * The `pg_control_version` values this parser understands, x86_64 / little-endian layouts:
 * 1300 for PostgreSQL 13-16, 1700 for 17 (adds `wal_level` to the checkpoint copy, in what was
 * padding), 1800 for 18 (adds `default_char_signedness`, which moves the nonce and the CRC).
 *
 * @example
 * ```ts
 * SUPPORTED_CONTROL_FILE_VERSIONS.includes(1700); // true
 * ```
 */
export const SUPPORTED_CONTROL_FILE_VERSIONS: readonly number[] = [1300, 1700, 1800];

/** Physical size of `global/pg_control` (`PG_CONTROL_FILE_SIZE`); only the first bytes are used. */
export const CONTROL_FILE_SIZE = 8192;

/**
 * `DBState` of `pg_control`, by name. The numbers are the enum order of `catalog/pg_control.h`.
 *
 * @example
 * ```ts
 * if (control.state === 'shut down') console.log('stopped cleanly');
 * ```
 */
export type DatabaseClusterState =
  | 'starting up'
  | 'shut down'
  | 'shut down in recovery'
  | 'shutting down'
  | 'in crash recovery'
  | 'in archive recovery'
  | 'in production';

const DATABASE_CLUSTER_STATES: readonly DatabaseClusterState[] = [
  'starting up',
  'shut down',
  'shut down in recovery',
  'shutting down',
  'in crash recovery',
  'in archive recovery',
  'in production',
];

/**
 * `wal_level` as stored in `pg_control` and checkpoint records (`WalLevel` enum).
 *
 * @example
 * ```ts
 * if (control.walLevel === 'minimal') throw new Error('online backups need wal_level replica');
 * ```
 */
export type WalLevel = 'minimal' | 'replica' | 'logical' | `unknown(${number})`;

function walLevelName(value: number): WalLevel {
  return value === 0 ? 'minimal' : value === 1 ? 'replica' : value === 2 ? 'logical' : `unknown(${value})`;
}

/**
 * The body of a checkpoint (`CheckPoint` struct): in `pg_control` as `checkPointCopy`, and the
 * main data of `XLOG_CHECKPOINT_SHUTDOWN` / `XLOG_CHECKPOINT_ONLINE` WAL records.
 *
 * @example
 * ```ts
 * const { redo, timeline } = readControlFile(bytes).checkPointCopy;
 * ```
 */
export interface CheckPointData {
  /** Where replay must start (`redo`). */
  redo: Lsn;
  timeline: number;
  previousTimeline: number;
  fullPageWrites: boolean;
  /** Present from PostgreSQL 17 on. */
  walLevel: WalLevel | undefined;
  /** `FullTransactionId`: epoch in the high 32 bits. */
  nextXid: bigint;
  nextOid: number;
  nextMulti: number;
  nextMultiOffset: number;
  oldestXid: number;
  oldestXidDatabase: number;
  oldestMulti: number;
  oldestMultiDatabase: number;
  /** Seconds since the Unix epoch (`pg_time_t`). */
  time: bigint;
  oldestCommitTsXid: number;
  newestCommitTsXid: number;
  oldestActiveXid: number;
}

/** `sizeof(CheckPoint)` on x86_64, the same for PostgreSQL 13 to 18. */
export const CHECKPOINT_DATA_SIZE = 88;

/**
 * Typed contents of `global/pg_control` (`ControlFileData`), PostgreSQL 14 to 18 on x86_64.
 * Names follow `pg_controldata`'s meaning; 64-bit values are `bigint`.
 *
 * @example
 * ```ts
 * const control = readControlFile(await readFile(`${pgdata}/global/pg_control`));
 * console.log(control.state, formatLsn(control.checkPointCopy.redo));
 * ```
 */
export interface ControlFile {
  systemIdentifier: bigint;
  pgControlVersion: number;
  catalogVersion: number;
  /** Major version inferred from the catalog version (releases only; development builds round up). */
  postgresMajorVersion: number | undefined;
  state: DatabaseClusterState;
  /** Seconds since the Unix epoch of the last `pg_control` update. */
  time: bigint;
  /** LSN of the latest checkpoint record. */
  checkPoint: Lsn;
  checkPointCopy: CheckPointData;
  unloggedLsn: Lsn;
  minRecoveryPoint: Lsn;
  minRecoveryPointTimeline: number;
  backupStartPoint: Lsn;
  backupEndPoint: Lsn;
  backupEndRequired: boolean;
  walLevel: WalLevel;
  walLogHints: boolean;
  maxConnections: number;
  maxWorkerProcesses: number;
  maxWalSenders: number;
  maxPreparedXacts: number;
  maxLocksPerXact: number;
  trackCommitTimestamp: boolean;
  maxAlign: number;
  /** Always 1234567.0 on a compatible float format. */
  floatFormat: number;
  blockSize: number;
  relationSegmentSize: number;
  walBlockSize: number;
  walSegmentSize: number;
  nameDataLength: number;
  indexMaxKeys: number;
  toastMaxChunkSize: number;
  largeObjectChunkSize: number;
  float8PassByValue: boolean;
  dataChecksumVersion: number;
  /** PostgreSQL 18 and later; `undefined` before. */
  defaultCharSignedness: boolean | undefined;
  /** 32 bytes, hexadecimal. */
  mockAuthenticationNonce: string;
  /** The stored CRC-32C, verified. */
  crc: number;
}

interface Layout {
  hasCheckpointWalLevel: boolean;
  defaultCharSignednessOffset: number | undefined;
  nonceOffset: number;
  crcOffset: number;
}

const LAYOUTS: ReadonlyMap<number, Layout> = new Map([
  [1300, { hasCheckpointWalLevel: false, defaultCharSignednessOffset: undefined, nonceOffset: 256, crcOffset: 288 }],
  [1700, { hasCheckpointWalLevel: true, defaultCharSignednessOffset: undefined, nonceOffset: 256, crcOffset: 288 }],
  [1800, { hasCheckpointWalLevel: true, defaultCharSignednessOffset: 256, nonceOffset: 257, crcOffset: 292 }],
]);

/** Catalog version of each major release; a development build has one between two of them. */
const RELEASE_CATALOG_VERSIONS: readonly [major: number, catalogVersion: number][] = [
  [13, 202007201],
  [14, 202107181],
  [15, 202209061],
  [16, 202307071],
  [17, 202406281],
  [18, 202506291],
];

function majorVersionForCatalog(catalogVersion: number): number | undefined {
  for (const [major, released] of RELEASE_CATALOG_VERSIONS) {
    if (catalogVersion <= released) return major;
  }
  return undefined;
}

function byteSwap32(value: number): number {
  return (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | (value >>> 24)) >>> 0;
}

/**
 * Decodes a `CheckPoint` struct at `offset`. `hasWalLevel` is true from PostgreSQL 17 on, where
 * `wal_level` occupies what was padding after `fullPageWrites`.
 *
 * @example
 * ```ts
 * const checkpoint = decodeCheckPoint(new DataView(mainData.buffer, mainData.byteOffset), 0, true);
 * ```
 */
export function decodeCheckPoint(view: DataView, offset: number, hasWalLevel: boolean): CheckPointData {
  return {
    redo: view.getBigUint64(offset, true),
    timeline: view.getUint32(offset + 8, true),
    previousTimeline: view.getUint32(offset + 12, true),
    fullPageWrites: view.getUint8(offset + 16) !== 0,
    walLevel: hasWalLevel ? walLevelName(view.getInt32(offset + 20, true)) : undefined,
    nextXid: view.getBigUint64(offset + 24, true),
    nextOid: view.getUint32(offset + 32, true),
    nextMulti: view.getUint32(offset + 36, true),
    nextMultiOffset: view.getUint32(offset + 40, true),
    oldestXid: view.getUint32(offset + 44, true),
    oldestXidDatabase: view.getUint32(offset + 48, true),
    oldestMulti: view.getUint32(offset + 52, true),
    oldestMultiDatabase: view.getUint32(offset + 56, true),
    time: view.getBigInt64(offset + 64, true),
    oldestCommitTsXid: view.getUint32(offset + 72, true),
    newestCommitTsXid: view.getUint32(offset + 76, true),
    oldestActiveXid: view.getUint32(offset + 80, true),
  };
}

/**
 * Parses `global/pg_control` of PostgreSQL 14 to 18 (x86_64 layout, chosen by
 * `pg_control_version`) and verifies its CRC-32C over the bytes before the `crc` field. Pass the
 * whole file (8192 bytes) or at least `sizeof(ControlFileData)`.
 *
 * @throws DbaasError `CONTROL_FILE_TRUNCATED` when the input is shorter than the layout,
 *   `CONTROL_FILE_FOREIGN_ENDIAN` when it comes from a big-endian machine,
 *   `CONTROL_FILE_UNSUPPORTED_VERSION` for other versions, `CONTROL_FILE_CRC_MISMATCH` when the
 *   CRC does not match (a torn or corrupted file).
 * @example
 * ```ts
 * const control = readControlFile(await readFile(`${pgdata}/global/pg_control`));
 * if (control.state !== 'shut down') console.log('was running; needs crash recovery');
 * ```
 */
export function readControlFile(bytes: Uint8Array): ControlFile {
  if (bytes.length < 16) {
    throw new DbaasError('CONTROL_FILE_TRUNCATED', `pg_control is ${bytes.length} bytes, too short to hold its version`, {
      fix: 'Read the whole global/pg_control file (8192 bytes).',
      details: { length: bytes.length },
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  const layout = LAYOUTS.get(version);
  if (layout === undefined) {
    const swapped = byteSwap32(version);
    if (LAYOUTS.has(swapped) || (swapped >= 900 && swapped < 10000)) {
      throw new DbaasError(
        'CONTROL_FILE_FOREIGN_ENDIAN',
        `pg_control_version reads ${version} but ${swapped} byte-swapped: the file comes from a machine of the other byte order`,
        { fix: 'Inspect the data directory on a machine of its own byte order.', details: { version, swapped } },
      );
    }
    throw new DbaasError('CONTROL_FILE_UNSUPPORTED_VERSION', `pg_control_version ${version} is not supported`, {
      fix: `Supported pg_control versions: ${SUPPORTED_CONTROL_FILE_VERSIONS.join(', ')} (PostgreSQL 14 to 18).`,
      details: { version },
    });
  }
  if (bytes.length < layout.crcOffset + 4) {
    throw new DbaasError('CONTROL_FILE_TRUNCATED', `pg_control is ${bytes.length} bytes; version ${version} needs at least ${layout.crcOffset + 4}`, {
      fix: 'Read the whole global/pg_control file (8192 bytes).',
      details: { length: bytes.length, version },
    });
  }
  const storedCrc = view.getUint32(layout.crcOffset, true);
  const computedCrc = crc32c(bytes.subarray(0, layout.crcOffset));
  if (storedCrc !== computedCrc) {
    throw new DbaasError(
      'CONTROL_FILE_CRC_MISMATCH',
      `pg_control CRC mismatch: stored 0x${storedCrc.toString(16).padStart(8, '0')}, computed 0x${computedCrc.toString(16).padStart(8, '0')}`,
      {
        fix: 'The file is corrupt or was copied while being written; take it again from a stopped server or a backup.',
        details: { storedCrc, computedCrc, version },
      },
    );
  }
  const stateNumber = view.getUint32(16, true);
  const state = DATABASE_CLUSTER_STATES[stateNumber];
  if (state === undefined) {
    throw new DbaasError('CONTROL_FILE_UNSUPPORTED_VERSION', `pg_control state ${stateNumber} is not a known DBState`, {
      details: { state: stateNumber, version },
    });
  }
  const catalogVersion = view.getUint32(12, true);
  const nonce = bytes.subarray(layout.nonceOffset, layout.nonceOffset + 32);
  return {
    systemIdentifier: view.getBigUint64(0, true),
    pgControlVersion: version,
    catalogVersion,
    postgresMajorVersion: majorVersionForCatalog(catalogVersion),
    state,
    time: view.getBigInt64(24, true),
    checkPoint: view.getBigUint64(32, true),
    checkPointCopy: decodeCheckPoint(view, 40, layout.hasCheckpointWalLevel),
    unloggedLsn: view.getBigUint64(128, true),
    minRecoveryPoint: view.getBigUint64(136, true),
    minRecoveryPointTimeline: view.getUint32(144, true),
    backupStartPoint: view.getBigUint64(152, true),
    backupEndPoint: view.getBigUint64(160, true),
    backupEndRequired: view.getUint8(168) !== 0,
    walLevel: walLevelName(view.getInt32(172, true)),
    walLogHints: view.getUint8(176) !== 0,
    maxConnections: view.getInt32(180, true),
    maxWorkerProcesses: view.getInt32(184, true),
    maxWalSenders: view.getInt32(188, true),
    maxPreparedXacts: view.getInt32(192, true),
    maxLocksPerXact: view.getInt32(196, true),
    trackCommitTimestamp: view.getUint8(200) !== 0,
    maxAlign: view.getUint32(204, true),
    floatFormat: view.getFloat64(208, true),
    blockSize: view.getUint32(216, true),
    relationSegmentSize: view.getUint32(220, true),
    walBlockSize: view.getUint32(224, true),
    walSegmentSize: view.getUint32(228, true),
    nameDataLength: view.getUint32(232, true),
    indexMaxKeys: view.getUint32(236, true),
    toastMaxChunkSize: view.getUint32(240, true),
    largeObjectChunkSize: view.getUint32(244, true),
    float8PassByValue: view.getUint8(248) !== 0,
    dataChecksumVersion: view.getUint32(252, true),
    defaultCharSignedness: layout.defaultCharSignednessOffset === undefined ? undefined : view.getUint8(layout.defaultCharSignednessOffset) !== 0,
    mockAuthenticationNonce: Buffer.from(nonce).toString('hex'),
    crc: storedCrc,
  };
}

/**
 * Whether a `pg_control_version` belongs to a layout whose checkpoint struct carries `wal_level`
 * (PostgreSQL 17 and later). The WAL scanner uses it to decode checkpoint records.
 *
 * @example
 * ```ts
 * checkPointHasWalLevel(1700); // true
 * ```
 */
export function checkPointHasWalLevel(pgControlVersion: number): boolean {
  return LAYOUTS.get(pgControlVersion)?.hasCheckpointWalLevel ?? pgControlVersion >= 1700;
}
