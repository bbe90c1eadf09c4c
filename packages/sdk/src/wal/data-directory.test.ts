import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { inspectDataDirectory } from './data-directory.js';
import { formatLsn, walFileName } from './lsn.js';
import { buildControlFile, WalBuilder, type BuiltSegment } from './wal-test-builder.js';

// Verdicts on synthetic data directories whose WAL has the shapes the real-server tests
// (inspector.pg.test.ts) produce: fast to run, and each pins one rule of the judge.
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
    const dir = await dataDirectory(control(checkpoint, redo), segments.filter((s) => s.name !== gap));
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
