import { DbaasError } from '../errors.js';

/**
 * A PostgreSQL write-ahead log location: a byte position in the WAL stream, held as a `bigint`
 * (PostgreSQL's `XLogRecPtr` is an unsigned 64-bit integer).
 *
 * @example
 * ```ts
 * const lsn: Lsn = parseLsn('0/16B3748');
 * ```
 */
export type Lsn = bigint;

/** Default `wal_segment_size`: 16 MiB. */
export const DEFAULT_WAL_SEGMENT_SIZE = 16 * 1024 * 1024;

const MAX_LSN = (1n << 64n) - 1n;
const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const WAL_FILE_NAME = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;

/**
 * Parses an LSN in PostgreSQL's text form `X/Y` (two hexadecimal halves of at most 8 digits each).
 * Accepts both the unpadded form of PostgreSQL <= 18 (`0/16B3748`) and the zero-padded form of
 * PostgreSQL 19 (`0/016B3748`). This is the one LSN parser of the code base: use it also for the
 * `pg_lsn` values that `pg` returns as strings.
 *
 * @throws DbaasError `INVALID_LSN` when the text is not an LSN.
 * @example
 * ```ts
 * parseLsn('1/0'); // 4294967296n
 * ```
 */
export function parseLsn(text: string): Lsn {
  const match = LSN_TEXT.exec(text.trim());
  if (!match) {
    throw new DbaasError('INVALID_LSN', `"${text}" is not an LSN`, {
      fix: 'Give an LSN as two hexadecimal numbers separated by a slash, for example 0/16B3748.',
    });
  }
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/**
 * Formats an LSN as PostgreSQL prints it: `X/Y`, upper-case hexadecimal. `zeroPad` pads the low
 * half to 8 digits as PostgreSQL 19 does.
 *
 * @example
 * ```ts
 * formatLsn(0x16b3748n); // '0/16B3748'
 * formatLsn(0x16b3748n, { zeroPad: true }); // '0/016B3748'
 * ```
 */
export function formatLsn(lsn: Lsn, options: { zeroPad?: boolean } = {}): string {
  assertLsnRange(lsn);
  const high = (lsn >> 32n).toString(16).toUpperCase();
  const low = (lsn & 0xffffffffn).toString(16).toUpperCase();
  return `${high}/${options.zeroPad ? low.padStart(8, '0') : low}`;
}

/**
 * Orders two LSNs: negative when `a` comes first, zero when equal, positive when `b` comes first.
 *
 * @example
 * ```ts
 * [parseLsn('0/2'), parseLsn('0/1')].sort(compareLsn);
 * ```
 */
export function compareLsn(a: Lsn, b: Lsn): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The number of WAL bytes from `from` to `to` (negative when `to` comes first), as
 * `pg_wal_lsn_diff(to, from)` computes it.
 *
 * @example
 * ```ts
 * lsnDistance(parseLsn('0/1000'), parseLsn('0/3000')); // 8192n
 * ```
 */
export function lsnDistance(from: Lsn, to: Lsn): bigint {
  return to - from;
}

/**
 * Checks that a WAL segment size is one PostgreSQL accepts: a power of two from 1 MiB to 1 GiB.
 *
 * @throws DbaasError `INVALID_ARGUMENT` otherwise.
 * @example
 * ```ts
 * assertWalSegmentSize(16 * 1024 * 1024);
 * ```
 */
export function assertWalSegmentSize(segmentSize: number): void {
  const isPowerOfTwo = Number.isInteger(segmentSize) && segmentSize > 0 && (segmentSize & (segmentSize - 1)) === 0;
  if (!isPowerOfTwo || segmentSize < 1024 * 1024 || segmentSize > 1024 * 1024 * 1024) {
    throw new DbaasError('INVALID_ARGUMENT', `${segmentSize} is not a valid WAL segment size`, {
      fix: 'Use a power of two between 1 MiB and 1 GiB (PostgreSQL default: 16 MiB).',
    });
  }
}

/**
 * The number of the WAL segment that holds `lsn` (`XLByteToSeg`).
 *
 * @example
 * ```ts
 * walSegmentNumber(parseLsn('1/0')); // 256n with 16 MiB segments
 * ```
 */
export function walSegmentNumber(lsn: Lsn, segmentSize: number = DEFAULT_WAL_SEGMENT_SIZE): bigint {
  assertLsnRange(lsn);
  assertWalSegmentSize(segmentSize);
  return lsn / BigInt(segmentSize);
}

/**
 * The first LSN of segment number `segmentNumber`.
 *
 * @example
 * ```ts
 * walSegmentStart(1n); // 16777216n
 * ```
 */
export function walSegmentStart(segmentNumber: bigint, segmentSize: number = DEFAULT_WAL_SEGMENT_SIZE): Lsn {
  assertWalSegmentSize(segmentSize);
  return segmentNumber * BigInt(segmentSize);
}

/**
 * The WAL file name (`%08X%08X%08X` of timeline, high and low part of the segment number) for a
 * segment number on a timeline (`XLogFileName`).
 *
 * @example
 * ```ts
 * walFileNameForSegment(1, 1n); // '000000010000000000000001'
 * ```
 */
export function walFileNameForSegment(timeline: number, segmentNumber: bigint, segmentSize: number = DEFAULT_WAL_SEGMENT_SIZE): string {
  assertTimeline(timeline);
  assertWalSegmentSize(segmentSize);
  const segmentsPerId = (1n << 32n) / BigInt(segmentSize);
  return [BigInt(timeline), segmentNumber / segmentsPerId, segmentNumber % segmentsPerId]
    .map((part) => part.toString(16).toUpperCase().padStart(8, '0'))
    .join('');
}

/**
 * An end pointer rounded up to PostgreSQL's MAXALIGN (8 bytes): records are padded to it, so the
 * end of a record as PostgreSQL's reader reports it (and as pg_control's `minRecoveryPoint` and
 * `pg_backup_stop()` give it) is the aligned one, while the bytes of the record end earlier.
 *
 * @example
 * ```ts
 * formatLsn(maxAlignLsn(parseLsn('0/300FCD3'))); // '0/300FCD8'
 * ```
 */
export function maxAlignLsn(lsn: Lsn): Lsn {
  return (lsn + 7n) & ~7n;
}

/**
 * The WAL file that holds `lsn` on `timeline` (`pg_walfile_name` for a start pointer).
 *
 * @example
 * ```ts
 * walFileName(parseLsn('0/16B3748'), 1); // '000000010000000000000001'
 * ```
 */
export function walFileName(lsn: Lsn, timeline: number, segmentSize: number = DEFAULT_WAL_SEGMENT_SIZE): string {
  return walFileNameForSegment(timeline, walSegmentNumber(lsn, segmentSize), segmentSize);
}

/**
 * The WAL file that holds the byte just before `lsn`: the right file for an end pointer, which
 * points one past the last byte it covers (`XLByteToPrevSeg`). An end pointer on a segment boundary
 * belongs to the previous segment. (`pg_walfile_name` does the same in PostgreSQL 14-16 only: from
 * 17 it names the segment that starts at a boundary LSN, so its answer is not this one there.)
 *
 * @example
 * ```ts
 * walFileNameForEnd(parseLsn('0/2000000'), 1); // '000000010000000000000001'
 * ```
 */
export function walFileNameForEnd(lsn: Lsn, timeline: number, segmentSize: number = DEFAULT_WAL_SEGMENT_SIZE): string {
  if (lsn === 0n) {
    throw new DbaasError('INVALID_LSN', 'the end pointer 0/0 has no previous segment');
  }
  return walFileNameForSegment(timeline, walSegmentNumber(lsn - 1n, segmentSize), segmentSize);
}

/**
 * Parses a WAL segment file name into its timeline and segment number.
 *
 * @throws DbaasError `INVALID_WAL_FILE_NAME` when the name is not a WAL segment name.
 * @example
 * ```ts
 * parseWalFileName('000000010000000000000002'); // { timeline: 1, segmentNumber: 2n }
 * ```
 */
export function parseWalFileName(name: string, segmentSize: number = DEFAULT_WAL_SEGMENT_SIZE): { timeline: number; segmentNumber: bigint } {
  assertWalSegmentSize(segmentSize);
  const match = WAL_FILE_NAME.exec(name);
  const segmentsPerId = (1n << 32n) / BigInt(segmentSize);
  const low = match ? BigInt(`0x${match[3]}`) : 0n;
  if (!match || low >= segmentsPerId || Number.parseInt(match[1] ?? '0', 16) === 0) {
    throw new DbaasError('INVALID_WAL_FILE_NAME', `"${name}" is not a WAL segment file name`, {
      fix: 'WAL segment files are named by 24 upper-case hexadecimal digits, e.g. 000000010000000000000001.',
    });
  }
  return {
    timeline: Number.parseInt(match[1] ?? '0', 16),
    segmentNumber: BigInt(`0x${match[2]}`) * segmentsPerId + low,
  };
}

/**
 * Whether a file name is a WAL segment name (24 upper-case hex digits), without checking ranges.
 *
 * @example
 * ```ts
 * isWalFileName('000000010000000000000001'); // true
 * ```
 */
export function isWalFileName(name: string): boolean {
  return WAL_FILE_NAME.test(name);
}

function assertLsnRange(lsn: Lsn): void {
  if (lsn < 0n || lsn > MAX_LSN) {
    throw new DbaasError('INVALID_LSN', `${lsn} is outside the 64-bit LSN range`);
  }
}

function assertTimeline(timeline: number): void {
  if (!Number.isInteger(timeline) || timeline < 1 || timeline > 0xffffffff) {
    throw new DbaasError('INVALID_ARGUMENT', `${timeline} is not a timeline ID`, {
      fix: 'Timeline IDs are integers from 1 to 4294967295.',
    });
  }
}
