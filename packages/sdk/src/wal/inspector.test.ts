import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';

import { afterEach, describe, expect, it } from 'vitest';

import { inspectDataDirectory } from './data-directory.js';
import { WalInspector } from './inspector.js';
import { formatLsn, walFileName } from './lsn.js';
import { scanWal } from './wal-scanner.js';
import { buildControlFile, WalBuilder } from './wal-test-builder.js';

// The front door gives what its building blocks give, on synthetic data directories (the real
// servers' copies are judged in inspector.pg.test.ts; the live side in live.pg.test.ts).
const SEGMENT = 1024 * 1024;
const IN_PRODUCTION = 6;

const directories: string[] = [];
afterEach(async () => {
  for (const dir of directories.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A copy taken during an online backup: pg_control, backup_label, and WAL through the backup's end. */
async function onlineBackupCopy(): Promise<{ dir: string; start: number; stop: number; checkpoint: number }> {
  const builder = new WalBuilder({ segmentSize: SEGMENT, startSegment: 1 });
  builder.appendPlain(100);
  const start = builder.position;
  const checkpoint = builder.appendCheckpoint('online', start);
  while (builder.position < 2 * SEGMENT + 50_000) builder.appendPlain(3000);
  builder.appendBackupEnd(start);
  const stop = builder.position;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wal-inspector-test-'));
  directories.push(dir);
  await mkdir(path.join(dir, 'global'));
  await mkdir(path.join(dir, 'pg_wal'));
  await writeFile(
    path.join(dir, 'global', 'pg_control'),
    buildControlFile({ state: IN_PRODUCTION, checkPoint: BigInt(checkpoint), redo: BigInt(start), segmentSize: SEGMENT }),
  );
  for (const segment of builder.build()) await writeFile(path.join(dir, 'pg_wal', segment.name), segment.bytes);
  const label =
    `START WAL LOCATION: ${formatLsn(BigInt(start))} (file ${walFileName(BigInt(start), 1, SEGMENT)})\nCHECKPOINT LOCATION: ${formatLsn(BigInt(checkpoint))}\n` +
    'BACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-11-22 00:00:00 UTC\nLABEL: front door\nSTART TIMELINE: 1\n';
  await writeFile(path.join(dir, 'backup_label'), label);
  return { dir, start, stop, checkpoint };
}

describe('WalInspector, offline', () => {
  it('inspects a data directory as inspectDataDirectory does, in the calling thread or on workers', async () => {
    const { dir, stop } = await onlineBackupCopy();
    const expected = await inspectDataDirectory(dir, { backupStopLsn: BigInt(stop) });
    expect(expected.verdict).toBe('online-backup-complete');
    expect(await new WalInspector({ workers: 0 }).inspect(dir, { backupStopLsn: BigInt(stop) })).toEqual(expected);
    expect(await new WalInspector({ workers: 2 }).inspect(dir, { backupStopLsn: BigInt(stop) })).toEqual(expected);
  });

  it('inspects a stream of a tar archive', async () => {
    const empty = Readable.from([new Uint8Array(1024)]); // a tar of nothing: two zero blocks
    const inspection = await new WalInspector().inspect(empty);
    expect(inspection.verdict).toBe('not-restorable');
    expect(inspection.found.pgControl).toBe(false);
  });

  it('reads pg_control of a data directory, of the file, and from bytes', async () => {
    const { dir, checkpoint, start } = await onlineBackupCopy();
    const inspector = new WalInspector();
    const fromDirectory = await inspector.controlFile(dir);
    expect(fromDirectory.checkPoint).toBe(BigInt(checkpoint));
    expect(fromDirectory.checkPointCopy.redo).toBe(BigInt(start));
    expect(await inspector.controlFile(path.join(dir, 'global', 'pg_control'))).toEqual(fromDirectory);
    const bytes = buildControlFile({ state: IN_PRODUCTION, checkPoint: BigInt(checkpoint), redo: BigInt(start), segmentSize: SEGMENT });
    expect(await inspector.controlFile(bytes)).toEqual(fromDirectory);
  });

  it('reads backup_label of a data directory, and says there is none', async () => {
    const { dir, start } = await onlineBackupCopy();
    const inspector = new WalInspector();
    const label = await inspector.backupLabel(dir);
    expect(label?.startWalLocation).toBe(BigInt(start));
    expect(label?.label).toBe('front door');
    expect(await inspector.backupLabel(path.join(dir, 'backup_label'))).toEqual(label);
    await rm(path.join(dir, 'backup_label'));
    expect(await inspector.backupLabel(dir)).toBeUndefined();
  });

  it('scans a pg_wal directory as scanWal does', async () => {
    const { dir, start } = await onlineBackupCopy();
    const inspector = new WalInspector({ workers: 0 });
    const wal = path.join(dir, 'pg_wal');
    const segments = await inspector.walSegments(wal);
    expect(segments.map((segment) => segment.name)).toEqual([walFileName(BigInt(SEGMENT), 1, SEGMENT), walFileName(BigInt(2 * SEGMENT), 1, SEGMENT)]);
    const report = await inspector.scanWal(wal, { startLsn: BigInt(start) });
    expect(report).toEqual(await scanWal(segments, { startLsn: BigInt(start), workers: 0 }));
    expect(report.checkpoints.length).toBeGreaterThan(0);
  });

  it('names a missing path, with what to give instead', async () => {
    const inspector = new WalInspector();
    const missing = path.join(os.tmpdir(), 'wal-inspector-test-does-not-exist');
    for (const attempt of [
      () => inspector.controlFile(missing),
      () => inspector.backupLabel(missing),
      () => inspector.walSegments(missing),
      () => inspector.inspect(missing),
    ]) {
      await expect(attempt()).rejects.toThrow(
        expect.objectContaining({ name: 'DbaasError', code: 'DATA_DIRECTORY_UNREADABLE', message: expect.stringContaining(`${missing} does not exist`) }),
      );
    }
  });

  it('refuses a worker count that is not a whole number, naming the option', () => {
    for (const workers of [-1, 1.5, Number.NaN]) {
      expect(() => new WalInspector({ workers })).toThrow(expect.objectContaining({ name: 'DbaasError', code: 'INVALID_ARGUMENT', option: 'workers' }));
    }
  });
});
