import { DbaasError } from '../errors.js';
import { decodeCheckPoint, type CheckPointData, CHECKPOINT_DATA_SIZE } from './control-file.js';
import { crc32c, crc32cCombine } from './crc32c.js';
import { defaultWorkerCount, readFileChunksAsync, SegmentPool } from './wal-parallel.js';
import { walWasm, type WalWasm } from './wal-wasm.js';
import { formatLsn, isWalFileName, parseWalFileName, walFileNameForSegment, type Lsn } from './lsn.js';

// Formats below are those of src/include/access/xlog_internal.h, xlogrecord.h and
// catalog/pg_control.h of PostgreSQL 14-18, checked against WAL that each version wrote.

/** WAL page size (`XLOG_BLCKSZ`); PostgreSQL builds with another one are not supported. */
export const WAL_PAGE_SIZE = 8192;

/**
 * `XLOG_PAGE_MAGIC` of each supported major version: the first two bytes of every WAL page.
 *
 * @example
 * ```ts
 * WAL_PAGE_MAGIC_BY_VERSION[17]; // 0xD116
 * ```
 */
export const WAL_PAGE_MAGIC_BY_VERSION: Readonly<Record<number, number>> = {
  14: 0xd10d,
  15: 0xd110,
  16: 0xd113,
  17: 0xd116,
  18: 0xd118,
};

const VERSION_BY_MAGIC = new Map(Object.entries(WAL_PAGE_MAGIC_BY_VERSION).map(([v, m]) => [m, Number(v)]));

const SHORT_PAGE_HEADER_SIZE = 24;
const LONG_PAGE_HEADER_SIZE = 40;
const XLP_FIRST_IS_CONTRECORD = 0x1;
const XLP_LONG_HEADER = 0x2;
const XLP_FIRST_IS_OVERWRITE_CONTRECORD = 0x8;
const XLP_ALL_FLAGS = 0xf;

const RECORD_HEADER_SIZE = 24;
const RECORD_CRC_OFFSET = 20;
/** `XLogRecordMaxSize` is 1020 MiB; anything above 1 GiB is garbage, not a record. */
const MAX_RECORD_LENGTH = 1024 * 1024 * 1024;
/** XLOG records we decode are a few hundred bytes; larger ones are skipped, not buffered. */
const DECODED_RECORD_CAP = 64 * 1024;
/** Built-in resource managers end well below this; custom ones (PG 15+) use 128-255. */
const MAX_BUILTIN_RMGR_ID = 63;
const MIN_CUSTOM_RMGR_ID = 128;

const RM_XLOG_ID = 0;
const XLOG_CHECKPOINT_SHUTDOWN = 0x00;
const XLOG_CHECKPOINT_ONLINE = 0x10;
const XLOG_SWITCH = 0x40;
const XLOG_BACKUP_END = 0x50;
const XLOG_END_OF_RECOVERY = 0x90;
const XLOG_OVERWRITE_CONTRECORD = 0xd0;

const XLR_BLOCK_ID_DATA_SHORT = 255;
const XLR_BLOCK_ID_DATA_LONG = 254;
const XLR_BLOCK_ID_ORIGIN = 253;
const XLR_BLOCK_ID_TOPLEVEL_XID = 252;
const XLR_MAX_BLOCK_ID = 32;
const BKPBLOCK_HAS_IMAGE = 0x10;
const BKPBLOCK_HAS_DATA = 0x20;
const BKPBLOCK_SAME_REL = 0x80;
const BKPIMAGE_HAS_HOLE = 0x01;
/** PostgreSQL 14 has one compression bit; 15+ one bit per method (pglz, lz4, zstd). */
const BKPIMAGE_COMPRESSED_14 = 0x02;
const BKPIMAGE_COMPRESSED_15 = 0x04 | 0x08 | 0x10;

const TWO_POW_32 = 0x1_0000_0000;
/** Up to this many bytes, a CRC in WebAssembly beats the native one's call overhead (bench/wal-verify). */
const WASM_CRC_MAX = 1024;

function isInterestingXlogRecord(rmid: number, info: number): boolean {
  if (rmid !== RM_XLOG_ID) return false;
  const kind = info & 0xf0;
  return (
    kind === XLOG_CHECKPOINT_SHUTDOWN ||
    kind === XLOG_CHECKPOINT_ONLINE ||
    kind === XLOG_BACKUP_END ||
    kind === XLOG_END_OF_RECOVERY ||
    kind === XLOG_OVERWRITE_CONTRECORD
  );
}

function maxAlign(length: number): number {
  return (length + 7) & ~7;
}

function readU64(view: DataView, offset: number): number {
  return view.getUint32(offset + 4, true) * TWO_POW_32 + view.getUint32(offset, true);
}

function lsnText(position: number): string {
  return formatLsn(BigInt(position));
}

/**
 * Why valid WAL stops where it stops. `zero-record` and `zero-page` are PostgreSQL's normal
 * end of WAL (nothing written there yet); `pageaddr-mismatch` is the usual end in a recycled
 * segment; `end-of-data` means the WAL was valid up to the last byte that was given.
 *
 * @example
 * ```ts
 * if (report.end.reason === 'bad-crc') console.warn('torn or corrupt WAL at', report.end.lsn);
 * ```
 */
export type WalEndReason =
  | 'end-of-data'
  | 'zero-record'
  | 'zero-page'
  | 'bad-magic'
  | 'bad-page-header'
  | 'pageaddr-mismatch'
  | 'timeline-decrease'
  | 'bad-record-header'
  | 'bad-crc'
  | 'bad-prev-link'
  | 'missing-contrecord'
  | 'bad-contrecord-length'
  | 'record-decode-error'
  | 'missing-segment'
  | 'truncated-segment'
  | 'truncated-record'
  | 'record-too-long';

/**
 * A checkpoint record found in the WAL. LSNs are PostgreSQL text (`X/Y`).
 *
 * @example
 * ```ts
 * const last = report.checkpoints.at(-1);
 * if (last?.kind === 'shutdown') console.log('clean shutdown at', last.lsn);
 * ```
 */
export interface WalCheckpointRecord {
  kind: 'shutdown' | 'online';
  /** Start of the checkpoint record (what `pg_control`'s `checkPoint` points to). */
  lsn: string;
  /** End of the record. */
  end: string;
  redo: string;
  timeline: number;
  previousTimeline: number;
  /** `FullTransactionId` as a decimal string. */
  nextXid: string;
  /** Seconds since the Unix epoch, decimal string. */
  time: string;
}

/**
 * Another notable XLOG record: a segment switch, an end-of-backup record (with the backup's start
 * LSN from its main data), an end-of-recovery record (timeline change), or the marker written
 * where a torn multi-page record was abandoned.
 *
 * @example
 * ```ts
 * const ends = report.events.filter((e) => e.kind === 'backup-end');
 * ```
 */
export type WalEvent =
  | { kind: 'switch'; lsn: string; end: string }
  | { kind: 'backup-end'; lsn: string; end: string; backupStart: string }
  | { kind: 'end-of-recovery'; lsn: string; end: string; timeline: number; previousTimeline: number }
  | { kind: 'overwrite-contrecord'; lsn: string; end: string; overwrittenLsn: string }
  | { kind: 'aborted-record'; lsn: string; end: string };

/**
 * Options of the WAL scanner.
 *
 * @example
 * ```ts
 * const options: WalScanOptions = { startLsn: control.checkPointCopy.redo, systemIdentifier: control.systemIdentifier };
 * ```
 */
export interface WalScanOptions {
  /** Begin at this record (e.g. a checkpoint's redo LSN); default: the first record boundary. */
  startLsn?: Lsn | undefined;
  /** Reject WAL of another cluster (long page header `xlp_sysid`). */
  systemIdentifier?: bigint | undefined;
  /** Expected `wal_segment_size`; by default taken from the first long page header. */
  segmentSize?: number | undefined;
  /** Stop with an error when the input goes on for more bytes than this (a safety cap). */
  maxBytes?: number;
  /**
   * Worker threads that scan segments given as files (`path`): default one per core
   * (`os.availableParallelism()`, or `KUBECTL_DBAAS_WAL_WORKERS`), none on a single core; 0 scans
   * everything in the calling thread. Streams (a tar archive's entries) are always scanned here.
   */
  workers?: number;
}

/**
 * What {@link scanWal} found. Plain JSON: LSNs are `X/Y` strings, 64-bit integers decimal strings.
 *
 * @example
 * ```ts
 * const report = await scanWal(walSegmentsFromDirectory('/pgdata/pg_wal'));
 * console.log(`valid WAL ${report.firstValidLsn} .. ${report.lastValidLsn}, ended by ${report.end.reason}`);
 * ```
 */
export interface WalScanReport {
  /** Major version from the page magic. */
  postgresMajorVersion: number | undefined;
  pageMagic: number | undefined;
  systemIdentifier: string | undefined;
  segmentSize: number | undefined;
  /** Start of the first record read. */
  firstValidLsn: string | undefined;
  /** End of the last valid record (one past its last byte). */
  lastValidLsn: string | undefined;
  /** Start of the last valid record. */
  lastRecordLsn: string | undefined;
  recordCount: number;
  firstTimeline: number | undefined;
  lastTimeline: number | undefined;
  /** Where and why valid WAL ends. */
  end: { lsn: string; reason: WalEndReason; message: string; segment: string | undefined };
  /**
   * The first complete record with a valid CRC of this WAL stream found after the end (page
   * header valid for its own address, timeline and system identifier; found on later pages the way
   * PostgreSQL's reader finds record starts, from `xlp_rem_len`), if any: the WAL is then broken in
   * the middle, not merely ended, and crash recovery would stop at `end` and lose what follows.
   * Undefined when only zeros, recycled pages (old page addresses) or an unfinished record follow.
   */
  validWalAfterEnd: WalRecordAfterEnd | undefined;
  checkpoints: WalCheckpointRecord[];
  events: WalEvent[];
  /** Segment files read, in WAL order. */
  segments: string[];
  /** Segments between the first and the last one given that are absent. */
  missingSegments: string[];
  /** Segments that arrived after a later one (the scanner sorts them; this says the input did not). */
  outOfOrderSegments: string[];
  /** Segments of the same number on another (lower) timeline that were not followed. */
  ignoredSegments: string[];
  bytesScanned: number;
}

/**
 * A complete, CRC-valid record found after the point where valid WAL ends
 * ({@link WalScanReport.validWalAfterEnd}).
 *
 * @example
 * ```ts
 * const after = report.validWalAfterEnd;
 * if (after) console.warn(`WAL is broken at ${report.end.lsn}, but a valid record follows at ${after.lsn} in ${after.segment}`);
 * ```
 */
export interface WalRecordAfterEnd {
  /** Start of the record (`X/Y`). */
  lsn: string;
  /** The segment file where the record starts. */
  segment: string;
}

/** One WAL segment file to scan: its file name and its bytes, in any chunking. */
export interface WalSegmentInput {
  name: string;
  data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  /**
   * The segment's file, when it is one: the scanner then reads the file itself (on a worker
   * thread, unless `workers` is 0) and leaves `data` unread.
   */
  path?: string;
}

interface SegmentEnd {
  position: number;
  reason: WalEndReason;
  message: string;
}

interface PartialRecord {
  lsn: number;
  totalLength: number;
  /** Record bytes seen so far (header included). */
  seen: number;
  header: Uint8Array;
  /** CRC over the data part (bytes 24..) seen so far. */
  dataCrc: number;
  /** Bytes of the record when it may need decoding, else undefined. */
  bytes: Uint8Array | undefined;
  headerChecked: boolean;
}

interface Continuation {
  /** `xlp_rem_len` of the segment's first page. */
  remainingLength: number;
  /** Continuation bytes seen in this segment (page headers excluded). */
  seen: number;
  /** CRC-32C of all continuation bytes seen in this segment. */
  crc: number;
  /** The first continuation bytes (up to the decode cap), to rebuild a split header or decode. */
  head: Uint8Array;
  headLength: number;
  /** The continuation ends in this segment. */
  complete: boolean;
  /** Where it ends (one past its last byte; page headers crossed included), once complete. */
  end: number | undefined;
}

interface InternalCheckpoint {
  lsn: number;
  end: number;
  kind: 'shutdown' | 'online';
  data: CheckPointData;
}

interface InternalEvent {
  lsn: number;
  end: number;
  event: WalEvent;
}

/**
 * What one segment holds, found without any other segment: the continuation of a record from
 * the previous segment, the chain of complete records, a record left unfinished at the end,
 * where (if anywhere) its valid WAL stops, and whether a valid record follows on a later page. {@link joinWalSegmentSummaries} checks the links
 * between segments. Summaries are small: memory does not grow with the segment's contents.
 */
export interface WalSegmentSummary {
  name: string;
  timeline: number;
  segmentNumber: bigint | undefined;
  segmentStart: number | undefined;
  segmentSize: number | undefined;
  pageMagic: number | undefined;
  postgresMajorVersion: number | undefined;
  systemIdentifier: bigint | undefined;
  firstPageTimeline: number | undefined;
  lastPageTimeline: number | undefined;
  /** The first page said the segment begins inside a record (XLP_FIRST_IS_CONTRECORD). */
  continuation: Continuation | undefined;
  /** The first page abandoned the previous segment's unfinished record. */
  firstPageOverwritesContrecord: boolean;
  firstRecordLsn: number | undefined;
  firstRecordPrev: number | undefined;
  lastRecordLsn: number | undefined;
  lastRecordEnd: number | undefined;
  recordCount: number;
  switched: boolean;
  partial: PartialRecord | undefined;
  end: SegmentEnd | undefined;
  /**
   * After `end`: the first complete record with a valid CRC found on a later page of this segment
   * (page header valid for its address; record starts found from `xlp_rem_len`), if any.
   */
  recordAfterEnd: number | undefined;
  /** After `end`: a record found on a later page that goes on into the next segment (checked by the join). */
  recordAfterEndInProgress: PartialRecord | undefined;
  checkpoints: InternalCheckpoint[];
  events: InternalEvent[];
  bytes: number;
}

/**
 * Scans one segment's bytes as they arrive (chunks of any size), page by page. Full pages are
 * read in place from the chunk; only a page split across chunks is copied.
 */
class SegmentScanner {
  readonly summary: WalSegmentSummary;
  private readonly expectedSystemIdentifier: bigint | undefined;
  private readonly pageBuffer = new Uint8Array(WAL_PAGE_SIZE);
  private readonly pageView = new DataView(this.pageBuffer.buffer);
  private pageFill = 0;
  private pageIndex = 0;
  private segmentSize: number | undefined;
  private pagesInSegment = 0;
  private state: 'first-page' | 'continuation' | 'between' | 'record' | 'skip' | 'ended' = 'first-page';
  private record: PartialRecord | undefined;
  private lastRecordLsn: number | undefined;
  private versionMajor: number | undefined;
  private readonly wasm: WalWasm | undefined = walWasm();
  /** The record in progress across pages, reused (a copy goes into the summary at the end). */
  private readonly spareRecord: PartialRecord = {
    lsn: 0,
    totalLength: 0,
    seen: 0,
    header: new Uint8Array(RECORD_HEADER_SIZE),
    dataCrc: 0,
    bytes: undefined,
    headerChecked: false,
  };
  private readonly recordHeaderView = new DataView(this.spareRecord.header.buffer);
  private readonly recordHeaderCrcPart = this.spareRecord.header.subarray(0, RECORD_CRC_OFFSET);
  /** Where the page being processed starts in its chunk, and in the WebAssembly memory (-1: not there). */
  private pageBase = 0;
  private pageAddress = -1;
  /**
   * After the end: looking on the following pages for a complete valid record (see
   * {@link resyncPage}). Off for segments whose first page is not WAL of this position.
   */
  private resyncing = false;
  private resyncAllowed = true;
  /** Pages of this segment before the end were on this timeline: later ones must not be lower. */
  private resyncMinTimeline = 0;
  /** A record found after the end that goes on over the following pages. */
  private candidate: PartialRecord | undefined;

  constructor(name: string, options: WalScanOptions) {
    this.expectedSystemIdentifier = options.systemIdentifier;
    this.segmentSize = options.segmentSize;
    this.pagesInSegment = (options.segmentSize ?? 0) / WAL_PAGE_SIZE;
    const timeline = isWalFileName(name) ? Number.parseInt(name.slice(0, 8), 16) : 0;
    this.summary = {
      name,
      timeline,
      segmentNumber: undefined,
      segmentStart: undefined,
      segmentSize: options.segmentSize,
      pageMagic: undefined,
      postgresMajorVersion: undefined,
      systemIdentifier: undefined,
      firstPageTimeline: undefined,
      lastPageTimeline: undefined,
      continuation: undefined,
      firstPageOverwritesContrecord: false,
      firstRecordLsn: undefined,
      firstRecordPrev: undefined,
      lastRecordLsn: undefined,
      lastRecordEnd: undefined,
      recordCount: 0,
      switched: false,
      partial: undefined,
      end: undefined,
      recordAfterEnd: undefined,
      recordAfterEndInProgress: undefined,
      checkpoints: [],
      events: [],
      bytes: 0,
    };
  }

  /** The scan of the WAL chain has ended (it may still look past the end: see {@link idle}). */
  get done(): boolean {
    return this.state === 'ended' || this.state === 'skip';
  }

  /** Nothing more to do with the bytes that follow. */
  private get idle(): boolean {
    return this.done && !this.resyncing;
  }

  push(chunk: Uint8Array): void {
    this.summary.bytes += chunk.length;
    if (this.idle) return;
    let offset = 0;
    if (this.pageFill > 0) {
      const take = Math.min(WAL_PAGE_SIZE - this.pageFill, chunk.length);
      this.pageBuffer.set(chunk.subarray(0, take), this.pageFill);
      this.pageFill += take;
      offset = take;
      if (this.pageFill < WAL_PAGE_SIZE) return;
      this.pageFill = 0;
      this.processPage(this.pageBuffer, this.pageView, 0);
    }
    const remaining = chunk.length - offset;
    const wholePages = Math.floor(remaining / WAL_PAGE_SIZE);
    if (wholePages > 0) {
      const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      for (let page = 0; page < wholePages && !this.idle; page++) {
        this.processPage(chunk, view, offset + page * WAL_PAGE_SIZE);
      }
      offset += wholePages * WAL_PAGE_SIZE;
    }
    if (offset < chunk.length && !this.idle) {
      this.pageBuffer.set(chunk.subarray(offset), 0);
      this.pageFill = chunk.length - offset;
    }
  }

  finish(): WalSegmentSummary {
    if (this.resyncing) {
      // A record found after the end goes on past the last page: the next segment may finish it.
      const candidate = this.candidate;
      if (candidate !== undefined && this.pageIndex === this.pagesInSegment) {
        this.summary.recordAfterEndInProgress = { ...candidate, header: candidate.header.slice(), bytes: undefined };
      }
      this.resyncing = false;
      this.candidate = undefined;
    }
    if (this.state === 'skip' || this.state === 'ended') return this.summary;
    if (this.state === 'first-page') {
      this.endAt(0, 'truncated-segment', `segment ${this.summary.name} has ${this.summary.bytes} bytes, not even one WAL page`);
      return this.summary;
    }
    if (this.pageIndex < this.pagesInSegment) {
      const where = this.record?.lsn ?? this.currentPageStart();
      this.endAt(where, 'truncated-segment', `segment ${this.summary.name} ends after ${this.summary.bytes} of ${this.segmentSize} bytes`);
      return this.summary;
    }
    if (this.state === 'record' && this.record !== undefined) this.summary.partial = { ...this.record, header: this.record.header.slice() };
    return this.summary;
  }

  private currentPageStart(): number {
    return (this.summary.segmentStart ?? 0) + this.pageIndex * WAL_PAGE_SIZE;
  }

  private endAt(position: number, reason: WalEndReason, message: string): void {
    this.summary.end = { position, reason, message };
    this.state = 'ended';
    this.record = undefined;
    // Look on for valid WAL after the end, on the pages after this one, when this segment's first
    // page was WAL of its position (its size, magic and page addresses are then known).
    if (this.resyncAllowed && this.summary.segmentStart !== undefined && this.pagesInSegment > 0) {
      this.resyncing = true;
      this.resyncMinTimeline = this.summary.lastPageTimeline ?? this.summary.firstPageTimeline ?? 0;
    }
  }

  /** Validates the page header; returns its size, or 0 when valid WAL ends at this page. */
  private checkPageHeader(view: DataView, base: number): number {
    const magic = view.getUint16(base, true);
    const info = view.getUint16(base + 2, true);
    const timeline = view.getUint32(base + 4, true);
    const pageAddress = readU64(view, base + 8);
    const summary = this.summary;
    const isFirstPage = this.pageIndex === 0;

    if (isFirstPage) {
      if (magic === 0 && info === 0 && pageAddress === 0) {
        this.endAt(0, 'zero-page', `segment ${summary.name} begins with a zeroed page (never written)`);
        return 0;
      }
      const major = VERSION_BY_MAGIC.get(magic);
      if (major === undefined) {
        this.endAt(0, 'bad-magic', `segment ${summary.name}: page magic 0x${magic.toString(16).toUpperCase()} is not PostgreSQL 14-18 WAL`);
        return 0;
      }
      if ((info & XLP_LONG_HEADER) === 0) {
        this.endAt(0, 'bad-page-header', `segment ${summary.name}: first page has no long header (info 0x${info.toString(16)})`);
        return 0;
      }
      const segmentSize = view.getUint32(base + 32, true);
      const pageSize = view.getUint32(base + 36, true);
      const systemIdentifier = view.getBigUint64(base + 24, true);
      if (pageSize !== WAL_PAGE_SIZE) {
        this.endAt(0, 'bad-page-header', `segment ${summary.name}: WAL page size ${pageSize}, only ${WAL_PAGE_SIZE} is supported`);
        return 0;
      }
      if (this.segmentSize !== undefined && segmentSize !== this.segmentSize) {
        this.endAt(0, 'bad-page-header', `segment ${summary.name}: segment size ${segmentSize} in the page header, expected ${this.segmentSize}`);
        return 0;
      }
      const isPowerOfTwo = segmentSize >= 1 << 20 && segmentSize <= 1 << 30 && (segmentSize & (segmentSize - 1)) === 0;
      if (!isPowerOfTwo) {
        this.endAt(0, 'bad-page-header', `segment ${summary.name}: invalid segment size ${segmentSize} in the page header`);
        return 0;
      }
      if (this.expectedSystemIdentifier !== undefined && systemIdentifier !== this.expectedSystemIdentifier) {
        this.endAt(
          0,
          'bad-page-header',
          `segment ${summary.name} is from another database system (system identifier ${systemIdentifier}, expected ${this.expectedSystemIdentifier})`,
        );
        return 0;
      }
      let segmentNumber: bigint;
      try {
        segmentNumber = parseWalFileName(summary.name, segmentSize).segmentNumber;
      } catch {
        this.endAt(0, 'bad-page-header', `"${summary.name}" is not a WAL segment file name for ${segmentSize}-byte segments`);
        return 0;
      }
      this.segmentSize = segmentSize;
      this.pagesInSegment = segmentSize / WAL_PAGE_SIZE;
      this.versionMajor = major;
      summary.segmentSize = segmentSize;
      summary.segmentNumber = segmentNumber;
      summary.segmentStart = Number(segmentNumber) * segmentSize;
      summary.pageMagic = magic;
      summary.postgresMajorVersion = major;
      summary.systemIdentifier = systemIdentifier;
      summary.firstPageTimeline = timeline;
      if (summary.segmentStart > Number.MAX_SAFE_INTEGER - segmentSize) {
        this.resyncAllowed = false;
        this.endAt(0, 'bad-page-header', `segment ${summary.name} lies beyond the LSN range this scanner handles (2^53)`);
        return 0;
      }
    }
    const pageStart = this.currentPageStart();
    if (magic !== summary.pageMagic) {
      const reason = magic === 0 && info === 0 && pageAddress === 0 ? 'zero-page' : 'bad-magic';
      this.endAt(
        pageStart,
        reason,
        `invalid magic number 0x${magic.toString(16).toUpperCase().padStart(4, '0')} in segment ${summary.name}, LSN ${lsnText(pageStart)}`,
      );
      return 0;
    }
    if ((info & ~XLP_ALL_FLAGS) !== 0) {
      this.endAt(pageStart, 'bad-page-header', `invalid info bits 0x${info.toString(16)} in segment ${summary.name}, LSN ${lsnText(pageStart)}`);
      return 0;
    }
    if (pageAddress !== pageStart) {
      this.endAt(
        pageStart,
        'pageaddr-mismatch',
        `unexpected pageaddr ${lsnText(pageAddress)} in segment ${summary.name}, LSN ${lsnText(pageStart)} (a recycled segment not yet overwritten, or a misplaced file)`,
      );
      return 0;
    }
    if (summary.lastPageTimeline !== undefined && timeline < summary.lastPageTimeline) {
      this.endAt(
        pageStart,
        'timeline-decrease',
        `out-of-sequence timeline ID ${timeline} (after ${summary.lastPageTimeline}) in segment ${summary.name}, LSN ${lsnText(pageStart)}`,
      );
      return 0;
    }
    summary.lastPageTimeline = timeline;
    return info & XLP_LONG_HEADER ? LONG_PAGE_HEADER_SIZE : SHORT_PAGE_HEADER_SIZE;
  }

  private processPage(bytes: Uint8Array, view: DataView, base: number): void {
    const index = this.pageIndex;
    if (this.resyncing) {
      this.resyncPage(bytes, view, base);
    } else {
      this.scanPage(bytes, view, base);
      if (!this.resyncing) return;
    }
    // The pages after the end are looked at one by one, whichever way the scan of this one ended.
    this.pageIndex = index + 1;
  }

  private scanPage(bytes: Uint8Array, view: DataView, base: number): void {
    if (this.segmentSize !== undefined && this.pageIndex >= this.pagesInSegment) {
      // Bytes past the segment size: not WAL. Ignore them but say so.
      this.resyncAllowed = false;
      this.endAt(this.currentPageStart(), 'bad-page-header', `segment ${this.summary.name} is longer than ${this.segmentSize} bytes`);
      return;
    }
    const headerSize = this.checkPageHeader(view, base);
    if (headerSize === 0) return;
    this.pageBase = base;
    this.pageAddress = this.wasm === undefined ? -1 : this.wasm.addressOf(bytes, base);
    const info = view.getUint16(base + 2, true);
    const remainingLength = view.getUint32(base + 16, true);
    const pageStart = this.currentPageStart();
    let offset = headerSize;

    if (this.state === 'first-page') {
      if (info & XLP_FIRST_IS_OVERWRITE_CONTRECORD) this.summary.firstPageOverwritesContrecord = true;
      if (info & XLP_FIRST_IS_CONTRECORD && !(info & XLP_FIRST_IS_OVERWRITE_CONTRECORD)) {
        if (remainingLength === 0) {
          this.endAt(pageStart, 'bad-contrecord-length', `invalid contrecord length 0 at ${lsnText(pageStart)}`);
          return;
        }
        this.summary.continuation = {
          remainingLength,
          seen: 0,
          crc: 0,
          head: new Uint8Array(Math.min(remainingLength, DECODED_RECORD_CAP)),
          headLength: 0,
          complete: false,
          end: undefined,
        };
        this.state = 'continuation';
        const take = Math.min(remainingLength, WAL_PAGE_SIZE - headerSize);
        this.feedContinuation(bytes, base + offset, take);
        if (this.summary.continuation.complete) {
          offset = headerSize + maxAlign(take);
          this.state = 'between';
        }
      } else {
        this.state = 'between';
      }
    } else if (this.state === 'continuation' || this.state === 'record') {
      const expected =
        this.state === 'record' ? this.record!.totalLength - this.record!.seen : this.summary.continuation!.remainingLength - this.summary.continuation!.seen;
      if (info & XLP_FIRST_IS_OVERWRITE_CONTRECORD) {
        if (this.state === 'record') {
          const aborted = this.record!;
          this.summary.events.push({
            lsn: aborted.lsn,
            end: pageStart,
            event: { kind: 'aborted-record', lsn: lsnText(aborted.lsn), end: lsnText(pageStart) },
          });
          this.record = undefined;
        } else {
          this.summary.continuation!.complete = true;
        }
        this.state = 'between';
      } else if (!(info & XLP_FIRST_IS_CONTRECORD)) {
        const at = this.state === 'record' ? this.record!.lsn : pageStart;
        this.endAt(at, 'missing-contrecord', `there is no contrecord flag at ${lsnText(pageStart)} for the record at ${lsnText(at)}`);
        return;
      } else if (remainingLength !== expected) {
        const at = this.state === 'record' ? this.record!.lsn : pageStart;
        this.endAt(at, 'bad-contrecord-length', `invalid contrecord length ${remainingLength} (expected ${expected}) at ${lsnText(pageStart)}`);
        return;
      } else {
        const take = Math.min(expected, WAL_PAGE_SIZE - headerSize);
        if (this.state === 'continuation') {
          this.feedContinuation(bytes, base + offset, take);
          if (this.summary.continuation!.complete) {
            offset = headerSize + maxAlign(take);
            this.state = 'between';
          } else {
            offset = WAL_PAGE_SIZE;
          }
        } else {
          const finished = this.feedRecord(bytes, base + offset, take);
          if (this.done) {
            this.pageIndex++;
            return;
          }
          if (finished) {
            offset = headerSize + maxAlign(take);
            this.state = 'between';
          } else {
            offset = WAL_PAGE_SIZE;
          }
        }
      }
    } else if (this.state === 'between') {
      if (info & XLP_FIRST_IS_CONTRECORD && !(info & XLP_FIRST_IS_OVERWRITE_CONTRECORD)) {
        this.endAt(pageStart, 'bad-record-header', `contrecord is requested by ${lsnText(pageStart + headerSize)}, but no record was in progress`);
        return;
      }
    }

    if (this.state === 'between') this.walkRecords(bytes, view, base, offset, pageStart);
    this.pageIndex++;
  }

  /**
   * A page after the end of valid WAL: is there a complete record with a valid CRC on it (or
   * starting on it and finished on the following pages)? The page header must be valid for this
   * page's own address (magic, flags, `xlp_pageaddr`, a timeline not below the one before the end
   * and not above the file's); the first record start is found the way PostgreSQL's
   * XLogFindNextRecord does, past the `xlp_rem_len` bytes of a continuation. One record start is
   * tried per page (two when a record found earlier ends on it), so the cost stays a header check
   * per page on zeroed or recycled pages.
   */
  private resyncPage(bytes: Uint8Array, view: DataView, base: number): void {
    const summary = this.summary;
    if (this.pageIndex >= this.pagesInSegment) {
      this.resyncing = false;
      this.candidate = undefined;
      return;
    }
    const pageStart = this.currentPageStart();
    const magic = view.getUint16(base, true);
    const info = view.getUint16(base + 2, true);
    const timeline = view.getUint32(base + 4, true);
    const valid =
      magic === summary.pageMagic &&
      (info & ~XLP_ALL_FLAGS) === 0 &&
      readU64(view, base + 8) === pageStart &&
      timeline >= this.resyncMinTimeline &&
      (summary.timeline === 0 || timeline <= summary.timeline);
    if (!valid) {
      this.candidate = undefined;
      return;
    }
    const headerSize = info & XLP_LONG_HEADER ? LONG_PAGE_HEADER_SIZE : SHORT_PAGE_HEADER_SIZE;
    const remainingLength = view.getUint32(base + 16, true);
    const continues = (info & XLP_FIRST_IS_CONTRECORD) !== 0 && (info & XLP_FIRST_IS_OVERWRITE_CONTRECORD) === 0;
    const candidate = this.candidate;
    this.candidate = undefined;
    let offset: number;
    if (candidate !== undefined && continues && remainingLength === candidate.totalLength - candidate.seen) {
      const take = Math.min(remainingLength, WAL_PAGE_SIZE - headerSize);
      const outcome = this.feedCandidate(candidate, bytes, base + headerSize, take);
      if (outcome === 'valid') return;
      if (take < remainingLength) {
        if (outcome === 'more') this.candidate = candidate; // goes on over the next page
        return;
      }
      offset = headerSize + maxAlign(take); // it was not valid; the next record starts after it
    } else if (continues) {
      // As XLogFindNextRecord: a continuation that fills the page leaves no record start on it.
      if (remainingLength >= WAL_PAGE_SIZE - headerSize) return;
      offset = headerSize + maxAlign(remainingLength);
    } else {
      offset = headerSize;
    }
    this.tryRecordAfterEnd(bytes, view, base, offset, pageStart);
  }

  /**
   * After a record that lies wholly on its page and fails its CRC, resource manager or back-link
   * check (a bit flip that left its length intact): the record right after it
   * on the page, if it links back to it (`xl_prev`) and is complete and valid, is WAL written after
   * the corrupt one. (A server that dies never leaves that: WAL is written only up to where every
   * insertion before is finished, and a one-page record does not advertise partial progress. Old
   * bytes of a recycled segment behind a torn write do not link back to the corrupt record.)
   */
  private tryRecordAfterCorrupt(bytes: Uint8Array, view: DataView, base: number, offset: number, pageStart: number, corruptLsn: number): void {
    if (!this.resyncing || offset + RECORD_HEADER_SIZE > WAL_PAGE_SIZE) return;
    if (readU64(view, base + offset + 8) !== corruptLsn) return;
    this.tryRecordAfterEnd(bytes, view, base, offset, pageStart);
  }

  /** Tries the record that starts at `offset` of a page after the end. */
  private tryRecordAfterEnd(bytes: Uint8Array, view: DataView, base: number, offset: number, pageStart: number): void {
    if (offset >= WAL_PAGE_SIZE) return;
    const at = base + offset;
    const lsn = pageStart + offset;
    const totalLength = view.getUint32(at, true);
    if (totalLength < RECORD_HEADER_SIZE || totalLength > MAX_RECORD_LENGTH) return;
    const spaceOnPage = WAL_PAGE_SIZE - offset;
    const candidate: PartialRecord = {
      lsn,
      totalLength,
      seen: 0,
      header: new Uint8Array(RECORD_HEADER_SIZE),
      dataCrc: 0,
      bytes: undefined,
      headerChecked: false,
    };
    if (this.feedCandidate(candidate, bytes, at, Math.min(totalLength, spaceOnPage)) === 'more') this.candidate = candidate;
  }

  /**
   * Feeds bytes of a record found after the end: 'valid' when it is complete with a valid CRC
   * (recorded in the summary; the look past the end is over), 'invalid' when its header or CRC is
   * wrong, 'more' when it goes on.
   */
  private feedCandidate(candidate: PartialRecord, bytes: Uint8Array, start: number, length: number): 'valid' | 'invalid' | 'more' {
    let cursor = start;
    let left = length;
    if (candidate.seen < RECORD_HEADER_SIZE) {
      const headerPart = Math.min(left, RECORD_HEADER_SIZE - candidate.seen);
      candidate.header.set(bytes.subarray(cursor, cursor + headerPart), candidate.seen);
      candidate.seen += headerPart;
      cursor += headerPart;
      left -= headerPart;
      if (candidate.seen === RECORD_HEADER_SIZE && !candidate.headerChecked) {
        candidate.headerChecked = true;
        if (!plausibleRecordHeader(candidate.header, candidate.lsn)) return 'invalid';
      }
    }
    if (left > 0) {
      candidate.dataCrc = crc32c(bytes.subarray(cursor, cursor + left), candidate.dataCrc);
      candidate.seen += left;
    }
    if (candidate.seen < candidate.totalLength) return 'more';
    if (!recordCrcMatches(candidate.header, candidate.dataCrc)) return 'invalid';
    this.summary.recordAfterEnd = candidate.lsn;
    this.resyncing = false;
    this.candidate = undefined;
    return 'valid';
  }

  private feedContinuation(bytes: Uint8Array, start: number, length: number): void {
    const continuation = this.summary.continuation!;
    if (continuation.headLength < continuation.head.length) {
      const copy = Math.min(length, continuation.head.length - continuation.headLength);
      continuation.head.set(bytes.subarray(start, start + copy), continuation.headLength);
      continuation.headLength += copy;
    }
    continuation.crc = this.crcOnPage(bytes, start, length, continuation.crc);
    continuation.seen += length;
    if (continuation.seen === continuation.remainingLength) {
      continuation.complete = true;
      continuation.end = this.currentPageStart() + (start + length - this.pageBase);
    }
  }

  /**
   * Feeds record bytes; checks the header once complete; returns true when the record is complete
   * and valid. On failure the scanner has ended.
   */
  private feedRecord(bytes: Uint8Array, start: number, length: number): boolean {
    const record = this.record!;
    let cursor = start;
    let left = length;
    if (record.seen < RECORD_HEADER_SIZE) {
      const headerPart = Math.min(left, RECORD_HEADER_SIZE - record.seen);
      const header = record.header;
      for (let k = 0; k < headerPart; k++) header[record.seen + k] = bytes[cursor + k]!;
      if (record.bytes !== undefined) record.bytes.set(bytes.subarray(cursor, cursor + headerPart), record.seen);
      record.seen += headerPart;
      cursor += headerPart;
      left -= headerPart;
      if (record.seen === RECORD_HEADER_SIZE && !record.headerChecked) {
        if (!this.checkRecordHeader(record)) return false;
      }
    }
    if (left > 0) {
      record.dataCrc = this.crcOnPage(bytes, cursor, left, record.dataCrc);
      if (record.bytes !== undefined) record.bytes.set(bytes.subarray(cursor, cursor + left), record.seen);
      record.seen += left;
    }
    if (record.seen < record.totalLength) return false;
    // PostgreSQL's end of a record (EndRecPtr) counts the page headers it crosses.
    return this.completeRecord(record, this.currentPageStart() + (start + length - this.pageBase));
  }

  /**
   * CRC-32C of bytes of the page being processed: in WebAssembly when the page is in its memory
   * and the span is short (no N-API call overhead), else {@link crc32c}.
   */
  private crcOnPage(bytes: Uint8Array, start: number, length: number, crc: number): number {
    if (this.pageAddress >= 0 && length <= WASM_CRC_MAX) return this.wasm!.crcAt(this.pageAddress + (start - this.pageBase), length, crc);
    return crc32c(bytes.subarray(start, start + length), crc);
  }

  private checkRecordHeader(record: PartialRecord): boolean {
    record.headerChecked = true;
    const view = this.recordHeaderView;
    const rmid = view.getUint8(17);
    if (rmid > MAX_BUILTIN_RMGR_ID && rmid < MIN_CUSTOM_RMGR_ID) {
      this.endAt(record.lsn, 'bad-record-header', `invalid resource manager ID ${rmid} at ${lsnText(record.lsn)}`);
      return false;
    }
    const prev = readU64(view, 8);
    if (this.lastRecordLsn !== undefined) {
      if (prev !== this.lastRecordLsn) {
        this.endAt(
          record.lsn,
          'bad-prev-link',
          `record with incorrect prev-link ${lsnText(prev)} at ${lsnText(record.lsn)} (expected ${lsnText(this.lastRecordLsn)})`,
        );
        return false;
      }
    } else if (prev >= record.lsn) {
      this.endAt(record.lsn, 'bad-prev-link', `record with incorrect prev-link ${lsnText(prev)} at ${lsnText(record.lsn)}`);
      return false;
    }
    const info = view.getUint8(16);
    if (record.bytes === undefined && isInterestingXlogRecord(rmid, info) && record.totalLength <= DECODED_RECORD_CAP) {
      record.bytes = new Uint8Array(record.totalLength);
      record.bytes.set(record.header.subarray(0, record.seen), 0);
    }
    return true;
  }

  private completeRecord(record: PartialRecord, end: number): boolean {
    const view = this.recordHeaderView;
    const headerPart = record.header === this.spareRecord.header ? this.recordHeaderCrcPart : record.header.subarray(0, RECORD_CRC_OFFSET);
    const crc = this.wasm !== undefined ? this.wasm.crc(headerPart, record.dataCrc) : crc32c(headerPart, record.dataCrc);
    const stored = view.getUint32(RECORD_CRC_OFFSET, true);
    if (crc !== stored) {
      this.endAt(record.lsn, 'bad-crc', `incorrect resource manager data checksum in record at ${lsnText(record.lsn)}`);
      return false;
    }
    const prev = readU64(view, 8);
    this.acceptRecord(record.lsn, end, prev, view.getUint8(17), view.getUint8(16), record.bytes);
    this.record = undefined;
    return this.state !== 'ended';
  }

  /** `end` is one past the record's last byte (after the page headers it crosses, if any). */
  private acceptRecord(lsn: number, end: number, prev: number, rmid: number, info: number, bytes: Uint8Array | undefined): void {
    const summary = this.summary;
    if (summary.firstRecordLsn === undefined) {
      summary.firstRecordLsn = lsn;
      summary.firstRecordPrev = prev;
    }
    summary.recordCount++;
    summary.lastRecordLsn = lsn;
    summary.lastRecordEnd = end;
    this.lastRecordLsn = lsn;
    if (rmid !== RM_XLOG_ID) return;
    const kind = info & 0xf0;
    if (kind === XLOG_SWITCH) {
      summary.switched = true;
      summary.events.push({ lsn, end, event: { kind: 'switch', lsn: lsnText(lsn), end: lsnText(end) } });
      this.state = 'skip';
      return;
    }
    if (bytes !== undefined) {
      const decoded = decodeXlogRecord(bytes, lsn, end, this.versionMajor ?? 18);
      if (typeof decoded === 'string') {
        this.endAt(lsn, 'record-decode-error', decoded);
        return;
      }
      if (decoded !== undefined) {
        if ('checkpoint' in decoded) summary.checkpoints.push(decoded.checkpoint);
        else summary.events.push(decoded.event);
      }
    }
  }

  /** Walks the records that start on this page from `offset`. */
  private walkRecords(bytes: Uint8Array, view: DataView, base: number, offset: number, pageStart: number): void {
    const wasm = this.wasm;
    const page = wasm === undefined ? 0 : wasm.loadPage(bytes, base);
    this.pageAddress = wasm === undefined ? -1 : page;
    while (offset < WAL_PAGE_SIZE) {
      if (wasm !== undefined) {
        // The common records (complete on the page, not XLOG) are checked in WebAssembly, the
        // same checks as below; it stops at the first record it does not accept, which the code
        // below then examines (and reports, if it is bad).
        const stop = wasm.walk(page, offset, pageStart, this.lastRecordLsn);
        const count = wasm.acceptedCount();
        if (count > 0) {
          const summary = this.summary;
          if (summary.firstRecordLsn === undefined) {
            summary.firstRecordLsn = pageStart + offset;
            summary.firstRecordPrev = readU64(view, base + offset + 8);
          }
          const lastOffset = wasm.lastAcceptedOffset();
          const lastLsn = pageStart + lastOffset;
          summary.recordCount += count;
          summary.lastRecordLsn = lastLsn;
          summary.lastRecordEnd = lastLsn + view.getUint32(base + lastOffset, true);
          this.lastRecordLsn = lastLsn;
        }
        offset = stop;
        if (offset >= WAL_PAGE_SIZE) return;
      }
      const lsn = pageStart + offset;
      const at = base + offset;
      const totalLength = view.getUint32(at, true);
      if (totalLength === 0) {
        this.endAt(lsn, 'zero-record', `invalid record length at ${lsnText(lsn)}: expected at least ${RECORD_HEADER_SIZE}, got 0 (end of WAL)`);
        return;
      }
      if (totalLength < RECORD_HEADER_SIZE) {
        this.endAt(lsn, 'bad-record-header', `invalid record length at ${lsnText(lsn)}: expected at least ${RECORD_HEADER_SIZE}, got ${totalLength}`);
        return;
      }
      if (totalLength > MAX_RECORD_LENGTH) {
        this.endAt(lsn, 'record-too-long', `record length ${totalLength} at ${lsnText(lsn)} is too long`);
        return;
      }
      const spaceOnPage = WAL_PAGE_SIZE - offset;
      if (totalLength <= spaceOnPage) {
        // Fast path: the whole record is on this page; check it in place.
        const rmid = bytes[at + 17]!;
        if (rmid > MAX_BUILTIN_RMGR_ID && rmid < MIN_CUSTOM_RMGR_ID) {
          this.endAt(lsn, 'bad-record-header', `invalid resource manager ID ${rmid} at ${lsnText(lsn)}`);
          this.tryRecordAfterCorrupt(bytes, view, base, offset + maxAlign(totalLength), pageStart, lsn);
          return;
        }
        const prev = readU64(view, at + 8);
        if (this.lastRecordLsn !== undefined ? prev !== this.lastRecordLsn : prev >= lsn) {
          this.endAt(lsn, 'bad-prev-link', `record with incorrect prev-link ${lsnText(prev)} at ${lsnText(lsn)}`);
          this.tryRecordAfterCorrupt(bytes, view, base, offset + maxAlign(totalLength), pageStart, lsn);
          return;
        }
        const dataCrc = crc32c(bytes.subarray(at + RECORD_HEADER_SIZE, at + totalLength));
        const crc = crc32c(bytes.subarray(at, at + RECORD_CRC_OFFSET), dataCrc);
        if (crc !== view.getUint32(at + RECORD_CRC_OFFSET, true)) {
          this.endAt(lsn, 'bad-crc', `incorrect resource manager data checksum in record at ${lsnText(lsn)}`);
          this.tryRecordAfterCorrupt(bytes, view, base, offset + maxAlign(totalLength), pageStart, lsn);
          return;
        }
        const info = bytes[at + 16]!;
        const interesting = rmid === RM_XLOG_ID;
        this.acceptRecord(lsn, lsn + totalLength, prev, rmid, info, interesting ? bytes.subarray(at, at + totalLength) : undefined);
        if (this.state !== 'between') return;
        offset += maxAlign(totalLength);
        continue;
      }
      // The record continues on the next page(s).
      const record = this.spareRecord;
      record.lsn = lsn;
      record.totalLength = totalLength;
      record.seen = 0;
      record.header.fill(0);
      record.dataCrc = 0;
      record.bytes = undefined;
      record.headerChecked = false;
      this.record = record;
      this.state = 'record';
      this.feedRecord(bytes, at, spaceOnPage);
      return;
    }
  }
}

/**
 * The checks of a record header PostgreSQL makes when it reads a record without knowing the one
 * before it (ValidXLogRecordHeader with randAccess): a known resource manager, a back link that
 * points backwards. The length was checked by the caller.
 */
function plausibleRecordHeader(header: Uint8Array, lsn: number): boolean {
  const view = new DataView(header.buffer, header.byteOffset, RECORD_HEADER_SIZE);
  const rmid = view.getUint8(17);
  if (rmid > MAX_BUILTIN_RMGR_ID && rmid < MIN_CUSTOM_RMGR_ID) return false;
  return readU64(view, 8) < lsn;
}

/** Whether a record's stored CRC matches: `dataCrc` is the CRC of its bytes after the header. */
function recordCrcMatches(header: Uint8Array, dataCrc: number): boolean {
  const view = new DataView(header.buffer, header.byteOffset, RECORD_HEADER_SIZE);
  return crc32c(header.subarray(0, RECORD_CRC_OFFSET), dataCrc) === view.getUint32(RECORD_CRC_OFFSET, true);
}

type DecodedXlog = { checkpoint: InternalCheckpoint } | { event: InternalEvent } | undefined;

/**
 * Finds the main data of a record by walking its block headers (xlogrecord.h), then decodes the
 * XLOG records the inspector needs. Returns an error message on a malformed record.
 */
function decodeXlogRecord(record: Uint8Array, lsn: number, end: number, major: number): DecodedXlog | string {
  const kind = record[16]! & 0xf0;
  if (
    kind !== XLOG_CHECKPOINT_SHUTDOWN &&
    kind !== XLOG_CHECKPOINT_ONLINE &&
    kind !== XLOG_BACKUP_END &&
    kind !== XLOG_END_OF_RECOVERY &&
    kind !== XLOG_OVERWRITE_CONTRECORD
  ) {
    return undefined;
  }
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const totalLength = record.length;
  const mainData = findMainData(view, totalLength, major);
  if (typeof mainData === 'string') return `${mainData} at ${lsnText(lsn)}`;
  const [mainStart, mainLength] = mainData;
  if (kind === XLOG_CHECKPOINT_SHUTDOWN || kind === XLOG_CHECKPOINT_ONLINE) {
    if (mainLength < CHECKPOINT_DATA_SIZE) return `checkpoint record at ${lsnText(lsn)} has ${mainLength} bytes of data`;
    const data = decodeCheckPoint(view, mainStart, major >= 17);
    return { checkpoint: { lsn, end, kind: kind === XLOG_CHECKPOINT_SHUTDOWN ? 'shutdown' : 'online', data } };
  }
  if (kind === XLOG_BACKUP_END) {
    if (mainLength < 8) return `backup-end record at ${lsnText(lsn)} has ${mainLength} bytes of data`;
    const backupStart = readU64(view, mainStart);
    return { event: { lsn, end, event: { kind: 'backup-end', lsn: lsnText(lsn), end: lsnText(end), backupStart: lsnText(backupStart) } } };
  }
  if (kind === XLOG_END_OF_RECOVERY) {
    // xl_end_of_recovery: end_time (8), ThisTimeLineID (4), PrevTimeLineID (4)
    if (mainLength < 16) return `end-of-recovery record at ${lsnText(lsn)} has ${mainLength} bytes of data`;
    return {
      event: {
        lsn,
        end,
        event: {
          kind: 'end-of-recovery',
          lsn: lsnText(lsn),
          end: lsnText(end),
          timeline: view.getUint32(mainStart + 8, true),
          previousTimeline: view.getUint32(mainStart + 12, true),
        },
      },
    };
  }
  // XLOG_OVERWRITE_CONTRECORD: overwritten_lsn (8), overwrite_time (8)
  if (mainLength < 8) return `overwrite-contrecord record at ${lsnText(lsn)} has ${mainLength} bytes of data`;
  return {
    event: {
      lsn,
      end,
      event: { kind: 'overwrite-contrecord', lsn: lsnText(lsn), end: lsnText(end), overwrittenLsn: lsnText(readU64(view, mainStart)) },
    },
  };
}

function findMainData(view: DataView, totalLength: number, major: number): [start: number, length: number] | string {
  const compressedMask = major >= 15 ? BKPIMAGE_COMPRESSED_15 : BKPIMAGE_COMPRESSED_14;
  let cursor = RECORD_HEADER_SIZE;
  let dataTotal = 0;
  let mainLength = 0;
  let maxBlockId = -1;
  let haveRelation = false;
  const need = (size: number): boolean => cursor + size <= totalLength;
  while (totalLength - cursor > dataTotal) {
    if (!need(1)) return 'record with invalid length';
    const blockId = view.getUint8(cursor);
    cursor += 1;
    if (blockId === XLR_BLOCK_ID_DATA_SHORT) {
      if (!need(1)) return 'record with invalid length';
      mainLength = view.getUint8(cursor);
      cursor += 1;
      dataTotal += mainLength;
      break;
    }
    if (blockId === XLR_BLOCK_ID_DATA_LONG) {
      if (!need(4)) return 'record with invalid length';
      mainLength = view.getUint32(cursor, true);
      cursor += 4;
      dataTotal += mainLength;
      break;
    }
    if (blockId === XLR_BLOCK_ID_ORIGIN) {
      if (!need(2)) return 'record with invalid length';
      cursor += 2;
      continue;
    }
    if (blockId === XLR_BLOCK_ID_TOPLEVEL_XID) {
      if (!need(4)) return 'record with invalid length';
      cursor += 4;
      continue;
    }
    if (blockId > XLR_MAX_BLOCK_ID) return `invalid block_id ${blockId}`;
    if (blockId <= maxBlockId) return `out-of-order block_id ${blockId}`;
    maxBlockId = blockId;
    if (!need(3)) return 'record with invalid length';
    const forkFlags = view.getUint8(cursor);
    const dataLength = view.getUint16(cursor + 1, true);
    cursor += 3;
    if (((forkFlags & BKPBLOCK_HAS_DATA) !== 0) !== dataLength > 0) return 'BKPBLOCK_HAS_DATA does not match the data length';
    dataTotal += dataLength;
    if (forkFlags & BKPBLOCK_HAS_IMAGE) {
      if (!need(5)) return 'record with invalid length';
      const imageLength = view.getUint16(cursor, true);
      const imageInfo = view.getUint8(cursor + 4);
      cursor += 5;
      if (imageInfo & compressedMask && imageInfo & BKPIMAGE_HAS_HOLE) {
        if (!need(2)) return 'record with invalid length';
        cursor += 2;
      }
      dataTotal += imageLength;
    }
    if (!(forkFlags & BKPBLOCK_SAME_REL)) {
      if (!need(12)) return 'record with invalid length';
      cursor += 12;
      haveRelation = true;
    } else if (!haveRelation) {
      return 'BKPBLOCK_SAME_REL set but no previous rel';
    }
    if (!need(4)) return 'record with invalid length';
    cursor += 4;
  }
  if (totalLength - cursor !== dataTotal) return 'record with invalid length';
  return [totalLength - mainLength, mainLength];
}

/**
 * Scans one WAL segment on its own and summarises it. Reads the bytes as they stream, holding at
 * most one page and the small records it decodes.
 *
 * @example
 * ```ts
 * const summary = await summarizeWalSegment('000000010000000000000001', createReadStream(path));
 * ```
 */
export async function summarizeWalSegment(
  name: string,
  data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: WalScanOptions = {},
): Promise<WalSegmentSummary> {
  const scanner = new SegmentScanner(name, options);
  for await (const chunk of data) {
    scanner.push(chunk);
  }
  return scanner.finish();
}

interface ChainState {
  lastRecordLsn: number | undefined;
  lastRecordEnd: number | undefined;
  partial: PartialRecord | undefined;
  /** Bytes of a spanning record that may need decoding, accumulated across segments. */
  partialBytes: Uint8Array | undefined;
  partialBytesLength: number;
}

/**
 * Joins per-segment summaries into one verdict on the WAL: sorts them by segment number, follows
 * the highest timeline for each number, and checks every link between segments (a record that
 * spans the boundary: `xlp_rem_len`, its CRC across both; the first record's prev-link). Where
 * valid WAL ends, it looks in the summaries for a later valid record (`validWalAfterEnd`).
 *
 * @example
 * ```ts
 * const report = joinWalSegmentSummaries(summaries, { startLsn: control.checkPointCopy.redo });
 * ```
 */
export function joinWalSegmentSummaries(
  summaries: readonly WalSegmentSummary[],
  options: WalScanOptions & { arrivalOrder?: readonly string[] } = {},
): WalScanReport {
  const report: WalScanReport = {
    postgresMajorVersion: undefined,
    pageMagic: undefined,
    systemIdentifier: undefined,
    segmentSize: options.segmentSize,
    firstValidLsn: undefined,
    lastValidLsn: undefined,
    lastRecordLsn: undefined,
    recordCount: 0,
    firstTimeline: undefined,
    lastTimeline: undefined,
    end: { lsn: '0/0', reason: 'end-of-data', message: 'no WAL segments were given', segment: undefined },
    validWalAfterEnd: undefined,
    checkpoints: [],
    events: [],
    segments: [],
    missingSegments: [],
    outOfOrderSegments: [],
    ignoredSegments: [],
    bytesScanned: summaries.reduce((sum, s) => sum + s.bytes, 0),
  };
  let highestSoFar = '';
  for (const name of options.arrivalOrder ?? summaries.map((s) => s.name)) {
    if (name < highestSoFar) report.outOfOrderSegments.push(name);
    else highestSoFar = name;
  }
  const chain: ChainState = { lastRecordLsn: undefined, lastRecordEnd: undefined, partial: undefined, partialBytes: undefined, partialBytesLength: 0 };
  let findAfterEnd: ((position: number) => WalRecordAfterEnd | undefined) | undefined;
  const fail = (position: number, reason: WalEndReason, message: string, segment: string | undefined): WalScanReport => {
    finishValidRange(report, chain);
    report.end = { lsn: lsnText(position), reason, message, segment };
    if (reason !== 'end-of-data') report.validWalAfterEnd = findAfterEnd?.(position);
    return report;
  };

  const firstHeader = summaries.find((s) => s.segmentNumber !== undefined);
  if (firstHeader === undefined) {
    const first = [...summaries].sort((a, b) => (a.name < b.name ? -1 : 1))[0];
    if (first?.end !== undefined) return fail(0, first.end.reason, first.end.message, first.name);
    return report;
  }
  const segmentSize = firstHeader.segmentSize!;
  report.segmentSize = segmentSize;
  report.pageMagic = firstHeader.pageMagic;
  report.postgresMajorVersion = firstHeader.postgresMajorVersion;
  report.systemIdentifier = firstHeader.systemIdentifier?.toString();

  // One summary per segment number: the highest timeline wins; the others are reported.
  const bySegment = new Map<bigint, WalSegmentSummary>();
  for (const summary of summaries) {
    let number = summary.segmentNumber;
    if (number === undefined) {
      try {
        number = parseWalFileName(summary.name, segmentSize).segmentNumber;
      } catch {
        report.ignoredSegments.push(summary.name);
        continue;
      }
    }
    const existing = bySegment.get(number);
    if (existing === undefined || summary.timeline > existing.timeline) {
      if (existing !== undefined) report.ignoredSegments.push(existing.name);
      bySegment.set(number, summary);
    } else {
      report.ignoredSegments.push(summary.name);
    }
  }
  const numbers = [...bySegment.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const startPosition = options.startLsn === undefined ? undefined : Number(options.startLsn);
  const startSegment = startPosition === undefined ? numbers[0]! : BigInt(Math.floor(startPosition / segmentSize));
  const lastNumber = numbers.at(-1)! > startSegment ? numbers.at(-1)! : startSegment;
  const nameOf = (number: bigint): string => {
    const neighbour = bySegment.get(number - 1n) ?? bySegment.get(number + 1n) ?? firstHeader;
    return walFileNameForSegment(neighbour.timeline || 1, number, segmentSize);
  };
  for (let n = startSegment; n < lastNumber; n++) {
    if (!bySegment.has(n)) report.missingSegments.push(nameOf(n));
  }
  findAfterEnd = (position) =>
    findValidWalAfterEnd(position, numbers, bySegment, firstHeader, report.lastTimeline ?? report.firstTimeline ?? 0, report.postgresMajorVersion ?? 18);

  let lastTimeline: number | undefined;
  for (let number = startSegment; number <= lastNumber; number++) {
    const summary = bySegment.get(number);
    const segmentStart = Number(number) * segmentSize;
    const isStartSegment = number === startSegment;
    if (summary === undefined) {
      const name = nameOf(number);
      if (isStartSegment) report.missingSegments.push(name);
      const what = isStartSegment && startPosition !== undefined ? `, which holds the start ${lsnText(startPosition)},` : '';
      return fail(chain.partial?.lsn ?? segmentStart, 'missing-segment', `WAL segment ${name}${what} is missing`, name);
    }
    report.segments.push(summary.name);
    if (summary.segmentStart === undefined) {
      const end = summary.end!;
      return fail(chain.partial?.lsn ?? segmentStart, end.reason, end.message, summary.name);
    }
    if (summary.segmentSize !== segmentSize || summary.systemIdentifier !== firstHeader.systemIdentifier || summary.pageMagic !== firstHeader.pageMagic) {
      return fail(
        segmentStart,
        'bad-page-header',
        `segment ${summary.name} does not belong with ${firstHeader.name} (system identifier, segment size or version differ)`,
        summary.name,
      );
    }
    if (lastTimeline !== undefined && summary.firstPageTimeline !== undefined && summary.firstPageTimeline < lastTimeline) {
      return fail(
        segmentStart,
        'timeline-decrease',
        `out-of-sequence timeline ID ${summary.firstPageTimeline} (after ${lastTimeline}) in segment ${summary.name}`,
        summary.name,
      );
    }
    lastTimeline = summary.lastPageTimeline ?? lastTimeline;
    report.firstTimeline ??= summary.firstPageTimeline;
    report.lastTimeline = lastTimeline;

    // 1. The link with the previous segment.
    if (isStartSegment) {
      const readFrom = startPosition ?? summary.firstRecordLsn;
      if (readFrom === undefined || (summary.firstRecordLsn !== undefined && readFrom < summary.firstRecordLsn) || summary.firstRecordLsn === undefined) {
        if (summary.end !== undefined) return fail(summary.end.position, summary.end.reason, summary.end.message, summary.name);
        return fail(readFrom ?? segmentStart, 'bad-record-header', `no record begins at ${lsnText(readFrom ?? segmentStart)} in ${summary.name}`, summary.name);
      }
      if (summary.end !== undefined && summary.end.position <= readFrom) {
        return fail(summary.end.position, summary.end.reason, summary.end.message, summary.name);
      }
    } else if (chain.partial !== undefined) {
      const partial = chain.partial;
      const continuation = summary.continuation;
      if (summary.firstPageOverwritesContrecord) {
        report.events.push({ kind: 'aborted-record', lsn: lsnText(partial.lsn), end: lsnText(segmentStart) });
        chain.partial = undefined;
        chain.partialBytes = undefined;
      } else if (continuation === undefined) {
        if (summary.end !== undefined && summary.end.position === segmentStart) {
          return fail(partial.lsn, summary.end.reason, `${summary.end.message} (the record at ${lsnText(partial.lsn)} continues there)`, summary.name);
        }
        return fail(
          partial.lsn,
          'missing-contrecord',
          `there is no contrecord flag at ${lsnText(segmentStart)} for the record at ${lsnText(partial.lsn)}`,
          summary.name,
        );
      } else if (continuation.remainingLength !== partial.totalLength - partial.seen) {
        return fail(
          partial.lsn,
          'bad-contrecord-length',
          `invalid contrecord length ${continuation.remainingLength} (expected ${partial.totalLength - partial.seen}) at ${lsnText(segmentStart)}`,
          summary.name,
        );
      } else {
        const outcome = continueRecord(chain, continuation, report.postgresMajorVersion ?? 18);
        if (typeof outcome === 'object' && 'reason' in outcome) return fail(partial.lsn, outcome.reason, outcome.message, summary.name);
        if (outcome === 'incomplete') {
          if (summary.end !== undefined) return fail(partial.lsn, summary.end.reason, summary.end.message, summary.name);
          continue;
        }
        report.recordCount++;
        chain.lastRecordLsn = partial.lsn;
        chain.lastRecordEnd = continuation.end ?? partial.lsn + partial.totalLength;
        if (typeof outcome === 'object') {
          if ('checkpoint' in outcome) report.checkpoints.push(publicCheckpoint(outcome.checkpoint));
          else report.events.push(outcome.event.event);
        }
      }
    } else if (summary.continuation !== undefined) {
      return fail(
        segmentStart,
        'missing-contrecord',
        `segment ${summary.name} begins with the rest of a record, but the previous segment ended between records`,
        summary.name,
      );
    }

    // 2. The records that start in this segment.
    if (summary.firstRecordLsn !== undefined) {
      const readFrom = isStartSegment ? (startPosition ?? summary.firstRecordLsn) : summary.firstRecordLsn;
      if (!isStartSegment && chain.lastRecordLsn !== undefined && summary.firstRecordPrev !== chain.lastRecordLsn) {
        return fail(
          summary.firstRecordLsn,
          'bad-prev-link',
          `record with incorrect prev-link ${lsnText(summary.firstRecordPrev ?? 0)} at ${lsnText(summary.firstRecordLsn)} (expected ${lsnText(chain.lastRecordLsn)})`,
          summary.name,
        );
      }
      report.firstValidLsn ??= lsnText(readFrom);
      report.recordCount += summary.recordCount;
      chain.lastRecordLsn = summary.lastRecordLsn;
      chain.lastRecordEnd = summary.lastRecordEnd;
      for (const checkpoint of summary.checkpoints) if (checkpoint.lsn >= readFrom) report.checkpoints.push(publicCheckpoint(checkpoint));
      for (const event of summary.events) if (event.lsn >= readFrom) report.events.push(event.event);
    }
    if (summary.end !== undefined) return fail(summary.end.position, summary.end.reason, summary.end.message, summary.name);
    chain.partial = summary.switched ? undefined : summary.partial;
    chain.partialBytes = chain.partial?.bytes;
    chain.partialBytesLength = chain.partial?.bytes === undefined ? 0 : chain.partial.seen;
  }
  const lastSummary = bySegment.get(lastNumber)!;
  if (chain.partial !== undefined) {
    return fail(
      chain.partial.lsn,
      'truncated-record',
      `the record at ${lsnText(chain.partial.lsn)} continues past the last segment given (${lastSummary.name})`,
      lastSummary.name,
    );
  }
  const endPosition = lastSummary.switched ? Number(lastNumber + 1n) * segmentSize : (chain.lastRecordEnd ?? 0);
  return fail(endPosition, 'end-of-data', `WAL is valid to the end of the last segment given (${lastSummary.name})`, lastSummary.name);
}

/**
 * The first complete record with a valid CRC of this WAL stream after `position` (where valid WAL
 * ends), in the segments present from the one holding `position` on: a record of a segment's own
 * chain, one found past a segment's own end, or one that a segment leaves unfinished and the next
 * segment's continuation completes (CRC across both). Segments of another system, size or version,
 * without a valid first page, or of a lower timeline do not count.
 */
function findValidWalAfterEnd(
  position: number,
  numbers: readonly bigint[],
  bySegment: ReadonlyMap<bigint, WalSegmentSummary>,
  firstHeader: WalSegmentSummary,
  minTimeline: number,
  major: number,
): WalRecordAfterEnd | undefined {
  const segmentSize = firstHeader.segmentSize!;
  const endNumber = BigInt(Math.floor(position / segmentSize));
  const found = (lsn: number): WalRecordAfterEnd => {
    const number = BigInt(Math.floor(lsn / segmentSize));
    return { lsn: lsnText(lsn), segment: bySegment.get(number)?.name ?? walFileNameForSegment(firstHeader.timeline || 1, number, segmentSize) };
  };
  let pending: ChainState | undefined;
  let pendingNext = -1n;
  for (const number of numbers) {
    if (number < endNumber) continue;
    const summary = bySegment.get(number)!;
    const carried = pending !== undefined && number === pendingNext ? pending : undefined;
    pending = undefined;
    if (
      summary.segmentStart === undefined ||
      summary.systemIdentifier !== firstHeader.systemIdentifier ||
      summary.segmentSize !== segmentSize ||
      summary.pageMagic !== firstHeader.pageMagic ||
      (summary.firstPageTimeline ?? 0) < minTimeline
    ) {
      continue;
    }
    // A record that the previous segment left unfinished, continued here.
    const continuation = summary.continuation;
    if (carried !== undefined && continuation !== undefined && !summary.firstPageOverwritesContrecord) {
      const partial = carried.partial!;
      if (continuation.remainingLength === partial.totalLength - partial.seen) {
        const outcome = continueRecord(carried, continuation, major);
        if (outcome === 'incomplete') {
          if (summary.end === undefined) {
            // It fills this whole segment and goes on into the next one.
            pending = carried;
            pendingNext = number + 1n;
          }
        } else if (
          !(typeof outcome === 'object' && 'reason' in outcome && outcome.reason !== 'record-decode-error') &&
          plausibleRecordHeader(partial.header, partial.lsn)
        ) {
          return found(partial.lsn);
        }
      }
    }
    // The segment's own records: all complete and valid (the first one checked without a link back).
    if (summary.firstRecordLsn !== undefined && summary.firstRecordLsn > position) return found(summary.firstRecordLsn);
    if (summary.lastRecordLsn !== undefined && summary.lastRecordLsn > position) return found(summary.lastRecordLsn);
    if (summary.recordAfterEnd !== undefined && summary.recordAfterEnd > position) return found(summary.recordAfterEnd);
    // A record that goes on into the next segment.
    const unfinished = summary.end === undefined && !summary.switched ? summary.partial : summary.recordAfterEndInProgress;
    if (unfinished !== undefined && unfinished.lsn > position) {
      pending = {
        lastRecordLsn: undefined,
        lastRecordEnd: undefined,
        partial: { ...unfinished, header: unfinished.header.slice(), bytes: undefined },
        partialBytes: undefined,
        partialBytesLength: 0,
      };
      pendingNext = number + 1n;
    }
  }
  return undefined;
}

function finishValidRange(report: WalScanReport, chain: ChainState): void {
  if (chain.lastRecordLsn !== undefined) {
    report.lastRecordLsn = lsnText(chain.lastRecordLsn);
    report.lastValidLsn = lsnText(chain.lastRecordEnd ?? chain.lastRecordLsn);
  }
  report.lastTimeline ??= report.firstTimeline;
}

function publicCheckpoint(checkpoint: InternalCheckpoint): WalCheckpointRecord {
  return {
    kind: checkpoint.kind,
    lsn: lsnText(checkpoint.lsn),
    end: lsnText(checkpoint.end),
    redo: formatLsn(checkpoint.data.redo),
    timeline: checkpoint.data.timeline,
    previousTimeline: checkpoint.data.previousTimeline,
    nextXid: checkpoint.data.nextXid.toString(),
    time: checkpoint.data.time.toString(),
  };
}

/**
 * Continues a record that spans into the next segment with that segment's continuation summary.
 * Returns 'incomplete' when it goes on into yet another segment.
 */
function continueRecord(
  chain: ChainState,
  continuation: Continuation,
  major: number,
): 'incomplete' | 'complete' | DecodedXlog | { reason: WalEndReason; message: string } {
  const partial = chain.partial!;
  const header = partial.header;
  let continuationCrc = continuation.crc;
  let continuationLength = continuation.seen;
  // A header split across the boundary: its rest opens the continuation and is not part of the
  // data CRC, so take it out with the combine identity crc(a ++ b) = shift(crc(a)) ^ crc(b).
  if (partial.seen < RECORD_HEADER_SIZE) {
    const headerRest = RECORD_HEADER_SIZE - partial.seen;
    if (continuation.headLength < headerRest) return { reason: 'bad-record-header', message: `record header at ${lsnText(partial.lsn)} is cut off` };
    header.set(continuation.head.subarray(0, headerRest), partial.seen);
    const restCrc = crc32c(continuation.head.subarray(0, headerRest));
    continuationLength -= headerRest;
    continuationCrc = (crc32cCombine(restCrc, 0, continuationLength) ^ continuation.crc) >>> 0;
    const view = new DataView(header.buffer, header.byteOffset, RECORD_HEADER_SIZE);
    const rmid = view.getUint8(17);
    if (rmid > MAX_BUILTIN_RMGR_ID && rmid < MIN_CUSTOM_RMGR_ID)
      return { reason: 'bad-record-header', message: `invalid resource manager ID ${rmid} at ${lsnText(partial.lsn)}` };
    const prev = readU64(view, 8);
    if (chain.lastRecordLsn !== undefined && prev !== chain.lastRecordLsn) {
      return { reason: 'bad-prev-link', message: `record with incorrect prev-link ${lsnText(prev)} at ${lsnText(partial.lsn)}` };
    }
    if (chain.partialBytes === undefined && isInterestingXlogRecord(rmid, view.getUint8(16)) && partial.totalLength <= DECODED_RECORD_CAP) {
      chain.partialBytes = new Uint8Array(partial.totalLength);
      chain.partialBytes.set(header.subarray(0, partial.seen));
      chain.partialBytesLength = partial.seen;
    }
  }
  if (chain.partialBytes !== undefined && chain.partialBytes.length === partial.totalLength) {
    const copy = Math.min(continuation.headLength, partial.totalLength - chain.partialBytesLength);
    chain.partialBytes.set(continuation.head.subarray(0, copy), chain.partialBytesLength);
    chain.partialBytesLength += copy;
  }
  partial.dataCrc = crc32cCombine(partial.dataCrc, continuationCrc, continuationLength);
  partial.seen += continuation.seen;
  if (!continuation.complete) return 'incomplete';
  const crc = crc32c(header.subarray(0, RECORD_CRC_OFFSET), partial.dataCrc);
  const view = new DataView(header.buffer, header.byteOffset, RECORD_HEADER_SIZE);
  if (crc !== view.getUint32(RECORD_CRC_OFFSET, true)) {
    return { reason: 'bad-crc', message: `incorrect resource manager data checksum in record at ${lsnText(partial.lsn)}` };
  }
  if (chain.partialBytes !== undefined && chain.partialBytesLength === partial.totalLength && view.getUint8(17) === RM_XLOG_ID) {
    const decoded = decodeXlogRecord(chain.partialBytes, partial.lsn, continuation.end ?? partial.lsn + partial.totalLength, major);
    if (typeof decoded === 'string') return { reason: 'record-decode-error', message: decoded };
    chain.partial = undefined;
    chain.partialBytes = undefined;
    return decoded ?? 'complete';
  }
  chain.partial = undefined;
  chain.partialBytes = undefined;
  return 'complete';
}

/**
 * Scans WAL segment files as they stream, validating every page header and every record (CRC,
 * prev-link chain, continuation across pages and segments), and reports where valid WAL begins
 * and ends and why, with the checkpoint, switch and backup-end records found. Segments may come
 * in any order (a tar archive's); memory stays bounded by one page per segment plus small
 * summaries, whatever the WAL's size.
 *
 * Segments given as files (`path`, as {@link walSegmentsFromDirectory} gives them) are scanned on
 * a pool of worker threads, one per core by default (option `workers`); the report is the same.
 *
 * Where valid WAL ends, the scan looks on (only then, page header by page header) for a later
 * complete record with a valid CRC of the same WAL: `validWalAfterEnd` tells a broken WAL (a
 * corrupt record or a missing segment with WAL after it) from a normal end.
 *
 * @throws DbaasError `WAL_INVALID` when the input exceeds `maxBytes`.
 * @example
 * ```ts
 * const report = await scanWal(walSegmentsFromDirectory('/pgdata/pg_wal'));
 * if (report.end.reason !== 'zero-record') console.warn(report.end.message);
 * ```
 */
export async function scanWal(segments: AsyncIterable<WalSegmentInput> | Iterable<WalSegmentInput>, options: WalScanOptions = {}): Promise<WalScanReport> {
  const summaries = await summarizeWalSegments(segments, options);
  return joinWalSegmentSummaries(summaries, {
    ...options,
    segmentSize: options.segmentSize ?? summaries.find((s) => s.segmentSize !== undefined)?.segmentSize,
  });
}

/**
 * Summarises the segments given, in input order, each with {@link summarizeWalSegment}: those
 * with a `path` on a pool of worker threads (see {@link WalScanOptions.workers}), the others in
 * the calling thread as they stream. With `shareHeader` (the default, what {@link scanWal} does),
 * the segment size and system identifier found in the first segment are checked in the later ones
 * (the segments before the first one that has them are scanned here, in order, before any is
 * handed to a worker). The summaries are the same whichever thread made them; join them with
 * {@link joinWalSegmentSummaries} (as {@link scanWal} does), for instance after collecting them
 * from several places, or to join the same segments from several start LSNs without reading them
 * again.
 *
 * @throws DbaasError `WAL_INVALID` when the input exceeds `maxBytes`.
 * @example
 * ```ts
 * const summaries = await summarizeWalSegments(await walSegmentsFromDirectory('/pgdata/pg_wal'), { shareHeader: false });
 * const fromRedo = joinWalSegmentSummaries(summaries, { startLsn: control.checkPointCopy.redo });
 * if (fromRedo.validWalAfterEnd) console.warn(`WAL broken at ${fromRedo.end.lsn}; valid WAL follows at ${fromRedo.validWalAfterEnd.lsn}`);
 * ```
 */
export async function summarizeWalSegments(
  segments: AsyncIterable<WalSegmentInput> | Iterable<WalSegmentInput>,
  options: WalScanOptions & { shareHeader?: boolean } = {},
): Promise<WalSegmentSummary[]> {
  const { shareHeader = true, workers, maxBytes, ...scanOptions } = options;
  const summaries: Array<WalSegmentSummary | Promise<WalSegmentSummary>> = [];
  let total = 0;
  const count = (summary: WalSegmentSummary): WalSegmentSummary => {
    total += summary.bytes;
    // The same outcome as checking after each segment in order: a prefix exceeds iff the total does.
    if (maxBytes !== undefined && total > maxBytes) {
      throw new DbaasError('WAL_INVALID', `the WAL given exceeds the limit of ${maxBytes} bytes`, { details: { maxBytes } });
    }
    return summary;
  };
  let segmentSize = scanOptions.segmentSize;
  let systemIdentifier = scanOptions.systemIdentifier;
  let pool: SegmentPool | undefined;
  let poolSize: number | undefined = workers;
  const list = Array.isArray(segments) ? (segments as readonly WalSegmentInput[]) : undefined;
  try {
    for await (const segment of segments) {
      const segmentOptions = shareHeader ? { ...scanOptions, segmentSize, systemIdentifier } : scanOptions;
      const headerKnown = !shareHeader || segmentSize !== undefined;
      if (segment.path !== undefined && headerKnown) {
        poolSize ??= defaultWorkerCount(list === undefined ? Number.MAX_SAFE_INTEGER : list.length);
        if (poolSize > 0) {
          pool ??= new SegmentPool(poolSize, summarizeWalSegment);
          const pending = (await pool.submit(segment.name, segment.path, segmentOptions)).done.then(count);
          pending.catch(() => undefined); // awaited below, in order
          summaries.push(pending);
          continue;
        }
      }
      if (segment.path !== undefined && pool === undefined && list !== undefined && list.length > 1) {
        // Start the workers now: they load while this thread scans the first segment.
        poolSize ??= defaultWorkerCount(list.length - 1);
        if (poolSize > 0) pool = new SegmentPool(poolSize, summarizeWalSegment);
      }
      const data = segment.path !== undefined ? readFileChunksAsync(segment.path) : segment.data;
      const summary = count(await summarizeWalSegment(segment.name, data, segmentOptions));
      if (shareHeader) {
        segmentSize ??= summary.segmentSize;
        systemIdentifier ??= summary.systemIdentifier;
      }
      summaries.push(summary);
    }
    return await Promise.all(summaries);
  } catch (error) {
    await Promise.allSettled(summaries); // no work of this scan left running
    throw error;
  }
}
