import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { inspectDataDirectory, type DataDirectoryInspection } from './data-directory.js';
import { formatLsn, parseLsn, walFileName } from './lsn.js';
import { scanWal } from './wal-scanner.js';
import { buildControlFile, chunked, WalBuilder, type BuiltSegment } from './wal-test-builder.js';

// Verdicts on synthetic data directories whose WAL has the shapes the real-server tests
// (inspector.postgres.test.ts) produce: fast to run, and each pins one rule of the judge.
const SEGMENT = 1024 * 1024;
const IN_PRODUCTION = 6;

const directories: string[] = [];
afterEach(async () => {
  for (const dir of directories.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function dataDirectory(control: Uint8Array, segments: readonly BuiltSegment[], files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'data-directory-test-'));
  directories.push(dir);
  await mkdir(path.join(dir, 'global'));
  await mkdir(path.join(dir, 'pg_wal'));
  await writeFile(path.join(dir, 'global', 'pg_control'), control);
  for (const segment of segments) await writeFile(path.join(dir, 'pg_wal', segment.name), segment.bytes);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

/** WAL over segments 1..4: an online checkpoint in 1, then records (some crossing segments) up to 4. */
function crashWal(): { checkpoint: number; redo: number; segments: BuiltSegment[]; builder: WalBuilder } {
  const builder = new WalBuilder({ segmentSize: SEGMENT, startSegment: 1 });
  builder.appendPlain(100);
  const redo = builder.position;
  const checkpoint = builder.appendCheckpoint('online', redo);
  while (builder.position < 4 * SEGMENT + 100_000) builder.appendPlain(3000);
  return { checkpoint, redo, segments: builder.build(), builder };
}

describe('inspectDataDirectory: WAL missing or damaged before later WAL', () => {
  const control = (checkpoint: number, redo: number) =>
    buildControlFile({ state: IN_PRODUCTION, checkPoint: BigInt(checkpoint), redo: BigInt(redo), segmentSize: SEGMENT });

  it('an atomic copy of a crashed server with all its WAL is crash-recoverable', async () => {
    const { checkpoint, redo, segments } = crashWal();
    const inspection = await inspectDataDirectory(await dataDirectory(control(checkpoint, redo), segments), { atomicSnapshot: true });
    expect(inspection.verdict).toBe('crash-recoverable');
    expect(inspection.missingSegments).toEqual([]);
  });

  it('a segment missing between the checkpoint and later WAL is not restorable (crash recovery would stop there)', async () => {
    const { checkpoint, redo, segments } = crashWal();
    const gap = walFileName(BigInt(2 * SEGMENT), 1, SEGMENT);
    const dir = await dataDirectory(
      control(checkpoint, redo),
      segments.filter((s) => s.name !== gap),
    );
    for (const atomicSnapshot of [true, false]) {
      const inspection = await inspectDataDirectory(dir, { atomicSnapshot });
      expect(inspection.verdict).toBe('not-restorable');
      expect(inspection.safe).toBe(false);
      expect(inspection.missingSegments).toEqual([gap]);
      expect(inspection.reasons.join('\n')).toContain(gap);
      expect(inspection.reasons.join('\n')).toContain(walFileName(BigInt(3 * SEGMENT), 1, SEGMENT));
    }
  });

  it('a record with a bad CRC before later valid WAL is not restorable and names its segment', async () => {
    const { checkpoint, redo, segments } = crashWal();
    const damaged = segments.find((s) => s.name === walFileName(BigInt(2 * SEGMENT), 1, SEGMENT))!;
    damaged.bytes[SEGMENT / 2 + 1000] = damaged.bytes[SEGMENT / 2 + 1000]! ^ 0xff; // inside a record's data, not a page header
    const inspection = await inspectDataDirectory(await dataDirectory(control(checkpoint, redo), segments), { atomicSnapshot: true });
    expect(inspection.verdict).toBe('not-restorable');
    expect(inspection.wal.end.reason).toBe('bad-crc');
    expect(inspection.missingSegments).toEqual([damaged.name]);
    expect(inspection.reasons.join('\n')).toContain(damaged.name);
  });

  it('recycled (old page address) and zeroed segments after the end of WAL do not count as later WAL', async () => {
    const { checkpoint, redo, segments } = crashWal();
    const recycled = new WalBuilder({ segmentSize: SEGMENT, startSegment: 1 });
    while (recycled.position < SEGMENT + 50_000) recycled.appendPlain(3000);
    const old = recycled.build()[0]!; // segment 1's bytes under segment 6's name: page addresses do not match
    const extra: BuiltSegment[] = [
      { name: walFileName(BigInt(5 * SEGMENT), 1, SEGMENT), bytes: new Uint8Array(SEGMENT) },
      { name: walFileName(BigInt(6 * SEGMENT), 1, SEGMENT), bytes: old.bytes },
    ];
    const inspection = await inspectDataDirectory(await dataDirectory(control(checkpoint, redo), [...segments, ...extra]), { atomicSnapshot: true });
    expect(inspection.verdict).toBe('crash-recoverable');
  });
});

describe('inspectDataDirectory: valid WAL after the end of WAL (broken, not ended)', () => {
  const PAGE = 8192;
  const control = (checkpoint: number, redo: number) =>
    buildControlFile({ state: IN_PRODUCTION, checkPoint: BigInt(checkpoint), redo: BigInt(redo), segmentSize: SEGMENT });
  const segmentName = (n: number) => walFileName(BigInt(n * SEGMENT), 1, SEGMENT);
  const lsn = (position: number) => formatLsn(BigInt(position));

  /**
   * Inspects an atomic crash copy (the directory: segments on worker threads) and scans the same
   * WAL sequentially from streams in odd chunks: both must find the same thing after the end.
   */
  async function inspectBothWays(checkpoint: number, redo: number, segments: readonly BuiltSegment[]): Promise<DataDirectoryInspection> {
    const inspection = await inspectDataDirectory(await dataDirectory(control(checkpoint, redo), segments), { atomicSnapshot: true });
    const sequential = await scanWal(
      segments.map((s) => ({ name: s.name, data: chunked(s.bytes, [5000, 8192 * 3 + 17, 100_000]) })),
      { startLsn: BigInt(redo), workers: 0 },
    );
    expect(sequential.end).toEqual(inspection.wal.end);
    expect(sequential.validWalAfterEnd).toEqual(inspection.wal.validWalAfterEnd);
    return inspection;
  }

  /** Starts of the records appended by `append`, to pick one. */
  function appendRecording(builder: WalBuilder, until: number, length = 3000): number[] {
    const starts: number[] = [];
    while (builder.position < until) starts.push(builder.appendPlain(length));
    return starts;
  }

  it('a corrupt record followed by valid records in the last segment that holds WAL is not restorable', async () => {
    const { checkpoint, redo, builder } = crashWal();
    const starts = appendRecording(builder, 4 * SEGMENT + 300_000);
    const segments = builder.build();
    const last = segments.find((s) => s.name === segmentName(4))!;
    const victim = starts.find((start) => start > 4 * SEGMENT + 100_000 && (start % PAGE) + 3100 < PAGE)!;
    last.bytes[(victim % SEGMENT) + 1500]! ^= 0x10; // in its data, on its page
    const inspection = await inspectBothWays(checkpoint, redo, segments);
    expect(inspection.wal.end).toMatchObject({ lsn: lsn(victim), reason: 'bad-crc', segment: last.name });
    const after = inspection.wal.validWalAfterEnd!;
    expect(after.segment).toBe(last.name);
    expect(after.lsn).toBe(lsn(starts[starts.indexOf(victim) + 1]!)); // the next record, on the same page, links back to the corrupt one
    expect(inspection.verdict).toBe('not-restorable');
    expect(inspection.safe).toBe(false);
    const reasons = inspection.reasons.join('\n');
    expect(reasons).toContain(lsn(victim));
    expect(reasons).toContain(after.lsn);
    expect(reasons).toContain(last.name);
    expect(inspection.missingSegments).toEqual([last.name]);

    // The same with a corrupt record over two pages: the next record start found from a later
    // page's header (xlp_rem_len), as PostgreSQL's reader finds one.
    const again = crashWal();
    const startsAgain = appendRecording(again.builder, 4 * SEGMENT + 300_000);
    const segmentsAgain = again.builder.build();
    const lastAgain = segmentsAgain.find((s) => s.name === segmentName(4))!;
    const spanning = startsAgain.find((start) => start > 4 * SEGMENT + 100_000 && (start % PAGE) + 3100 > PAGE && (start % PAGE) + 1500 < PAGE)!;
    lastAgain.bytes[(spanning % SEGMENT) + 1000]! ^= 0x10;
    const inspectionAgain = await inspectBothWays(again.checkpoint, again.redo, segmentsAgain);
    expect(inspectionAgain.wal.end).toMatchObject({ lsn: lsn(spanning), reason: 'bad-crc' });
    const afterAgain = parseLsn(inspectionAgain.wal.validWalAfterEnd!.lsn);
    expect(startsAgain).toContain(Number(afterAgain));
    expect(Number(afterAgain) - Math.floor(spanning / PAGE) * PAGE).toBeGreaterThan(PAGE);
    expect(Number(afterAgain) - Math.floor(spanning / PAGE) * PAGE).toBeLessThan(3 * PAGE);
    expect(inspectionAgain.verdict).toBe('not-restorable');
  });

  it('a torn last record over several pages (its pages written, its data not all there) is a normal end', async () => {
    const { checkpoint, redo, builder } = crashWal();
    const torn = builder.appendPlain(40_000); // five pages
    const segments = builder.build();
    const last = segments.find((s) => s.name === segmentName(4))!;
    // The WAL writer wrote the pages (headers with XLP_FIRST_IS_CONTRECORD and xlp_rem_len), but the
    // backend had not copied all of the record yet: its second page holds zeros after the header.
    const secondPage = (Math.floor(torn / PAGE) + 1) * PAGE - 4 * SEGMENT;
    last.bytes.fill(0, secondPage + 24, secondPage + PAGE);
    const inspection = await inspectBothWays(checkpoint, redo, segments);
    expect(inspection.wal.end).toMatchObject({ lsn: lsn(torn), reason: 'bad-crc' });
    expect(inspection.wal.validWalAfterEnd).toBeUndefined();
    expect(inspection.verdict).toBe('crash-recoverable');

    // The same record with its last pages never written (zeros).
    const { checkpoint: checkpoint2, redo: redo2, builder: builder2 } = crashWal();
    const torn2 = builder2.appendPlain(40_000);
    const segments2 = builder2.build();
    const last2 = segments2.find((s) => s.name === segmentName(4))!;
    last2.bytes.fill(0, (Math.floor(torn2 / PAGE) + 3) * PAGE - 4 * SEGMENT);
    const inspection2 = await inspectBothWays(checkpoint2, redo2, segments2);
    expect(inspection2.wal.validWalAfterEnd).toBeUndefined();
    expect(inspection2.verdict).toBe('crash-recoverable');
  });

  it('a last record that goes on into the next segment, unfinished there, is a normal end', async () => {
    for (const tear of ['zero-pages', 'missing-bytes'] as const) {
      const builder = new WalBuilder({ segmentSize: SEGMENT, startSegment: 1 });
      builder.appendPlain(100);
      const redo = builder.position;
      const checkpoint = builder.appendCheckpoint('online', redo);
      appendRecording(builder, 5 * SEGMENT - 10_000);
      const torn = builder.appendPlain(30_000); // about 20 000 bytes in segment 5, over three pages
      expect(Math.floor(torn / SEGMENT)).toBe(4);
      const segments = builder.build();
      const next = segments.find((s) => s.name === segmentName(5))!;
      // Segment 5's first pages hold the continuation; then the rest was never written, or the
      // continuation's data is not all there.
      if (tear === 'zero-pages') next.bytes.fill(0, 2 * PAGE);
      else next.bytes.fill(0, PAGE + 24, PAGE + 2000);
      const inspection = await inspectBothWays(checkpoint, redo, segments);
      expect(inspection.wal.end.lsn, tear).toBe(lsn(torn));
      expect(inspection.wal.validWalAfterEnd, tear).toBeUndefined();
      expect(inspection.verdict, tear).toBe('crash-recoverable');
    }
  });

  it('recycled pages (old page addresses) after the end, in the end segment and after it, are a normal end', async () => {
    const { checkpoint, redo, builder } = crashWal();
    const segments = builder.build();
    const last = segments.find((s) => s.name === segmentName(4))!;
    // Segment 4 was a recycled segment 1: past the end of WAL it still holds segment 1's pages,
    // complete valid records with the page addresses of segment 1.
    const old = new WalBuilder({ segmentSize: SEGMENT, startSegment: 1 });
    appendRecording(old, 2 * SEGMENT - 1000);
    const oldBytes = old.build()[0]!.bytes;
    const endPage = Math.ceil((builder.position % SEGMENT) / PAGE) * PAGE;
    last.bytes.set(oldBytes.subarray(endPage), endPage);
    const recycled = { name: segmentName(5), bytes: old.build()[0]!.bytes };
    const inspection = await inspectBothWays(checkpoint, redo, [...segments, recycled]);
    expect(inspection.wal.end.reason).toMatch(/zero-record|pageaddr-mismatch/);
    expect(inspection.wal.validWalAfterEnd).toBeUndefined();
    expect(inspection.verdict).toBe('crash-recoverable');
  });

  it('a missing middle segment followed by valid WAL is not restorable', async () => {
    const { checkpoint, redo, segments } = crashWal();
    const inspection = await inspectBothWays(
      checkpoint,
      redo,
      segments.filter((s) => s.name !== segmentName(2)),
    );
    expect(inspection.wal.end).toMatchObject({ reason: 'missing-segment', segment: segmentName(2) });
    expect(inspection.wal.validWalAfterEnd?.segment).toBe(segmentName(3));
    expect(inspection.verdict).toBe('not-restorable');
    expect(inspection.missingSegments).toEqual([segmentName(2)]);
  });

  it('a corrupt one-page record on the last page of WAL, with valid records after it on that page, is not restorable', async () => {
    const { checkpoint, redo, builder } = crashWal();
    const lastPage = Math.floor(builder.position / PAGE) * PAGE;
    while (builder.position % PAGE < 600) builder.appendPlain(100); // onto a fresh page if need be
    const page = Math.floor(builder.position / PAGE) * PAGE;
    const victim = builder.appendPlain(200);
    const next = builder.appendPlain(200);
    builder.appendPlain(200);
    expect(Math.floor(builder.position / PAGE) * PAGE).toBe(page); // all on the last page
    expect(page).toBeGreaterThanOrEqual(lastPage);
    const segments = builder.build();
    const last = segments.find((s) => s.name === segmentName(4))!;
    last.bytes[(victim % SEGMENT) + 100]! ^= 0x02;
    const inspection = await inspectBothWays(checkpoint, redo, segments);
    expect(inspection.wal.end).toMatchObject({ lsn: lsn(victim), reason: 'bad-crc' });
    expect(inspection.wal.validWalAfterEnd).toEqual({ lsn: lsn(next), segment: last.name });
    expect(inspection.verdict).toBe('not-restorable');
  });

  it('a torn multi-page last record followed on its last page by a complete record is a normal end (no commit after it was acknowledged)', async () => {
    const { checkpoint, redo, builder } = crashWal();
    const torn = builder.appendPlain(20_000);
    builder.appendPlain(200); // copied by another backend while the torn record's was still being copied
    const segments = builder.build();
    const last = segments.find((s) => s.name === segmentName(4))!;
    const secondPage = (Math.floor(torn / PAGE) + 1) * PAGE - 4 * SEGMENT;
    last.bytes.fill(0, secondPage + 24, secondPage + 1000);
    const inspection = await inspectBothWays(checkpoint, redo, segments);
    expect(inspection.wal.end).toMatchObject({ lsn: lsn(torn), reason: 'bad-crc' });
    expect(inspection.wal.validWalAfterEnd).toBeUndefined();
    expect(inspection.verdict).toBe('crash-recoverable');
  });

  it('finds a valid record after the end that starts on the last page of a segment and ends in the next one', async () => {
    const builder = new WalBuilder({ segmentSize: SEGMENT, startSegment: 1 });
    builder.appendPlain(100);
    const redo = builder.position;
    const checkpoint = builder.appendCheckpoint('online', redo);
    const lastPage = 2 * SEGMENT - PAGE;
    let victim = 0;
    while (builder.position <= lastPage + 24) victim = builder.appendPlain(3000);
    // `victim` crosses into the last page of segment 1 unless it began there; nudge until it crosses.
    expect(Math.floor(victim / PAGE)).toBe(lastPage / PAGE - 1);
    const spanning = builder.appendPlain(20_000); // the only record after the victim: into segment 2
    expect(Math.floor(spanning / SEGMENT)).toBe(1);
    const segments = builder.build();
    segments[0]!.bytes[(victim % SEGMENT) + 17] = 77; // invalid resource manager: the header fails on its first page
    const inspection = await inspectBothWays(checkpoint, redo, segments);
    expect(inspection.wal.end).toMatchObject({ lsn: lsn(victim), reason: 'bad-record-header' });
    expect(inspection.wal.validWalAfterEnd).toEqual({ lsn: lsn(spanning), segment: segments[0]!.name });
    expect(inspection.verdict).toBe('not-restorable');

    // The same, the spanning record's end in segment 2 damaged: nothing valid after the end.
    segments[1]!.bytes[PAGE + 100]! ^= 0x01;
    const damaged = await inspectBothWays(checkpoint, redo, segments);
    expect(damaged.wal.validWalAfterEnd).toBeUndefined();
    expect(damaged.verdict).toBe('crash-recoverable');
  });
});

describe('inspectDataDirectory: online backup whose copied WAL stops early', () => {
  it('lists the present but incomplete segment, and the absent ones, through the stop LSN', async () => {
    const builder = new WalBuilder({ segmentSize: SEGMENT, startSegment: 1 });
    builder.appendPlain(100);
    const start = builder.position;
    const checkpoint = builder.appendCheckpoint('online', start);
    while (builder.position < 2 * SEGMENT + 200_000) builder.appendPlain(3000);
    const cut = builder.position; // the copy of pg_wal was taken here
    while (builder.position < 3 * SEGMENT + 100_000) builder.appendPlain(3000);
    builder.appendBackupEnd(start);
    const stop = builder.position;
    const full = builder.build();
    // The copy: segments 1 and 2 as they were at `cut` (2 ends in zeros), nothing after.
    const copied = full
      .filter((s) => s.name <= walFileName(BigInt(2 * SEGMENT), 1, SEGMENT))
      .map((s) => (s.name === walFileName(BigInt(2 * SEGMENT), 1, SEGMENT) ? { name: s.name, bytes: zeroFrom(s.bytes, cut % SEGMENT) } : s));
    const label = `START WAL LOCATION: ${formatLsn(BigInt(start))} (file ${walFileName(BigInt(start), 1, SEGMENT)})\nCHECKPOINT LOCATION: ${formatLsn(BigInt(checkpoint))}\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-11-22 00:00:00 UTC\nLABEL: t\nSTART TIMELINE: 1\n`;
    const control = buildControlFile({ state: IN_PRODUCTION, checkPoint: BigInt(checkpoint), redo: BigInt(start), segmentSize: SEGMENT });
    const dir = await dataDirectory(control, copied, { backup_label: label });

    const incomplete = await inspectDataDirectory(dir, { backupStopLsn: BigInt(stop) });
    expect(incomplete.verdict).toBe('online-backup-incomplete');
    expect(incomplete.missingSegments).toEqual([walFileName(BigInt(2 * SEGMENT), 1, SEGMENT), walFileName(BigInt(3 * SEGMENT), 1, SEGMENT)]);

    const complete = await inspectDataDirectory(await dataDirectory(control, full, { backup_label: label }), { backupStopLsn: BigInt(stop) });
    expect(complete.verdict).toBe('online-backup-complete');
    expect(complete.missingSegments).toEqual([]);
  });
});

function zeroFrom(bytes: Uint8Array, offset: number): Uint8Array {
  const copy = bytes.slice();
  copy.fill(0, offset);
  return copy;
}
