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
