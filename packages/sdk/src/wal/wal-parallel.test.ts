import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { walSegmentsFromDirectory } from './data-directory.js';
import { formatLsn, parseLsn } from './lsn.js';
import { walWorkerPoolState } from './wal-parallel.js';
import { scanWal, type WalScanOptions, type WalScanReport } from './wal-scanner.js';
import { chunked, WalBuilder, type BuiltSegment } from './wal-test-builder.js';
import { setWalWasmEnabled } from './wal-wasm.js';
import { skipWhen } from '../../../testing/src/skip-reason.js';

const SEGMENT = 1024 * 1024;
const directories: string[] = [];
afterAll(() => {
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});

/** Three segments of assorted records: pages and a segment boundary crossed, checkpoints, backup end. */
function sampleWal(): BuiltSegment[] {
  const builder = new WalBuilder({ segmentSize: SEGMENT });
  const redo = builder.position;
  builder.appendCheckpoint('online', redo);
  for (let i = 0; i < 2000; i++) builder.appendPlain(20 + ((i * 997) % 600));
  builder.appendPlain(20000);
  while (builder.position % SEGMENT < SEGMENT - 5000) builder.appendPlain(40 + ((builder.position >> 3) % 3000));
  builder.appendPlain(30000); // crosses into the second segment
  while (builder.position < 3 * SEGMENT + SEGMENT / 2) builder.appendPlain(30 + ((builder.position >> 5) % 700));
  builder.appendBackupEnd(redo);
  builder.appendCheckpoint('shutdown', builder.position);
  return builder.build();
}

function writeSegments(segments: BuiltSegment[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'wal-parallel-'));
  directories.push(dir);
  for (const segment of segments) writeFileSync(join(dir, segment.name), segment.bytes);
  return dir;
}

function streams(segments: BuiltSegment[], sizes: readonly number[] = [65536]) {
  return segments.map((segment) => ({ name: segment.name, data: chunked(segment.bytes, sizes) }));
}

async function bothWays(segments: BuiltSegment[], options: WalScanOptions = {}): Promise<[parallel: WalScanReport, sequential: WalScanReport]> {
  const dir = writeSegments(segments);
  const parallel = await scanWal(await walSegmentsFromDirectory(dir), { ...options, workers: 2 });
  const sequential = await scanWal(streams(segments), { ...options, workers: 0 });
  return [parallel, sequential];
}

describe('scanWal on worker threads', () => {
  it('gives the same report as the sequential scan, with a record crossing segment boundaries', async () => {
    const segments = sampleWal();
    expect(segments.length).toBe(3);
    const [parallel, sequential] = await bothWays(segments);
    expect(walWorkerPoolState()).toEqual({ workers: 2, broken: false });
    expect(parallel).toEqual(sequential);
    expect(parallel.end.reason).toBe('zero-record');
    expect(parallel.checkpoints.map((c) => c.kind)).toEqual(['online', 'shutdown']);
    expect(parallel.events.map((e) => e.kind)).toEqual(['backup-end']);
  });

  it('reports a missing segment as the sequential scan does', async () => {
    const segments = sampleWal();
    const dir = writeSegments(segments);
    unlinkSync(join(dir, segments[1]!.name));
    const parallel = await scanWal(await walSegmentsFromDirectory(dir), { workers: 2 });
    const sequential = await scanWal(streams([segments[0]!, segments[2]!]), { workers: 0 });
    expect(parallel).toEqual(sequential);
    expect(parallel.end.reason).toBe('missing-segment');
    expect(parallel.missingSegments).toEqual([segments[1]!.name]);
  });

  it('reports a corrupt record in the middle segment as the sequential scan does', async () => {
    const segments = sampleWal().map((s) => ({ ...s, bytes: s.bytes.slice() }));
    segments[1]!.bytes[8192 * 40 + 1000]! ^= 0x04;
    const [parallel, sequential] = await bothWays(segments);
    expect(parallel).toEqual(sequential);
    expect(['bad-crc', 'bad-record-header', 'bad-prev-link', 'record-too-long']).toContain(parallel.end.reason);
    expect(parallel.end.segment).toBe(segments[1]!.name);
  });

  it('finds the same valid WAL after a corrupt record of the last segment as the sequential scan does', async () => {
    const segments = sampleWal().map((s) => ({ ...s, bytes: s.bytes.slice() }));
    segments[2]!.bytes[8192 * 10 + 3000]! ^= 0x04;
    const [parallel, sequential] = await bothWays(segments);
    expect(walWorkerPoolState()?.workers).toBeGreaterThan(0);
    expect(parallel).toEqual(sequential);
    expect(parallel.end.segment).toBe(segments[2]!.name);
    expect(parallel.validWalAfterEnd?.segment).toBe(segments[2]!.name);
    expect(parseLsn(parallel.validWalAfterEnd!.lsn)).toBeGreaterThan(parseLsn(parallel.end.lsn));
  });

  it('applies maxBytes and startLsn alike', async () => {
    const segments = sampleWal();
    const dir = writeSegments(segments);
    await expect(scanWal(await walSegmentsFromDirectory(dir), { workers: 2, maxBytes: 2 * SEGMENT })).rejects.toMatchObject({ code: 'WAL_INVALID' });
    const [parallel, sequential] = await bothWays(segments, { startLsn: BigInt(3 * SEGMENT + 8192 * 10) });
    expect(parallel).toEqual(sequential);
  });

  it('surfaces a file that cannot be read', async () => {
    const segments = sampleWal();
    const dir = writeSegments(segments);
    const inputs = await walSegmentsFromDirectory(dir);
    unlinkSync(join(dir, segments[2]!.name));
    await expect(scanWal(inputs, { workers: 2 })).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('the WebAssembly record walk', () => {
  it('gives the same report as the JavaScript path on intact and bit-flipped WAL, whatever the chunking', async () => {
    const segments = sampleWal();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(segments.length * SEGMENT - 1), fc.integer({ min: 0, max: 7 })), { maxLength: 3 }),
        fc.array(fc.integer({ min: 1, max: 70000 }), { minLength: 1, maxLength: 4 }),
        async (flips, sizes) => {
          const copy = segments.map((s) => ({ ...s, bytes: s.bytes.slice() }));
          for (const [at, bit] of flips) copy[Math.floor(at / SEGMENT)]!.bytes[at % SEGMENT]! ^= 1 << bit;
          const withWasm = await scanWal(streams(copy, sizes), { workers: 0 });
          setWalWasmEnabled(false);
          try {
            const withoutWasm = await scanWal(streams(copy, sizes), { workers: 0 });
            expect(withWasm).toEqual(withoutWasm);
          } finally {
            setWalWasmEnabled(true);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('the WebAssembly CRC-32C', () => {
  it(
    'matches the JavaScript one for any bytes and any starting CRC',
    skipWhen(process.env['KUBECTL_DBAAS_WAL_WASM'] === '0' ? 'KUBECTL_DBAAS_WAL_WASM=0 turns the WebAssembly scanner off' : undefined),
    async () => {
      const { walWasm } = await import('./wal-wasm.js');
      const { crc32cPortable } = await import('./crc32c.js');
      const wasm = walWasm();
      expect(wasm).toBeDefined();
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 70000 }), fc.nat(), (bytes, start) => {
          expect(wasm!.crc(bytes, start >>> 0)).toBe(crc32cPortable(bytes, start >>> 0));
        }),
        { numRuns: 200 },
      );
    },
  );
});

describe('the WebAssembly record walk, directly', () => {
  it(
    'accepts every valid record wholly on the page and stops at the one crossing its end',
    skipWhen(process.env['KUBECTL_DBAAS_WAL_WASM'] === '0' ? 'KUBECTL_DBAAS_WAL_WASM=0 turns the WebAssembly scanner off' : undefined),
    async () => {
      const { walWasm } = await import('./wal-wasm.js');
      const wasm = walWasm()!;
      const builder = new WalBuilder({ segmentSize: SEGMENT });
      const lsns: number[] = [];
      for (let i = 0; i < 200; i++) lsns.push(builder.appendPlain(50));
      const [segment] = builder.build();
      const pageStart = SEGMENT; // segment 1, page 0 (long header: records from offset 40)
      const onPage = lsns.filter((lsn) => lsn + 24 + 2 + 50 <= pageStart + 8192);
      const crossing = lsns[onPage.length]!;
      const page = wasm.loadPage(segment!.bytes, 0);
      const stop = wasm.walk(page, 40, pageStart, undefined);
      expect(wasm.acceptedCount()).toBe(onPage.length);
      expect(wasm.lastAcceptedOffset()).toBe(onPage.at(-1)! - pageStart);
      expect(stop).toBe(crossing - pageStart);
      // A wrong prev-link, a flipped bit: it stops there, for the JavaScript checks to report.
      expect(wasm.walk(page, 40, pageStart, 12345)).toBe(40);
      const flipped = segment!.bytes.slice(0, 8192);
      flipped[40 + 80 * 3 + 30]! ^= 1;
      expect(wasm.walk(wasm.loadPage(flipped, 0), 40, pageStart, undefined)).toBe(40 + 80 * 3);
      expect(wasm.acceptedCount()).toBe(3);
    },
  );
});

describe('the end of a record that crosses pages', () => {
  it('counts the page headers crossed, within a segment and into the next one (long header), in both paths', async () => {
    const builder = new WalBuilder({ segmentSize: SEGMENT });
    builder.appendPlain(100);
    while (SEGMENT - (builder.position % SEGMENT) > 4000) builder.appendPlain(3000);
    // Leave 48 bytes in the segment: the checkpoint (114 bytes) goes on in the next one.
    const room = SEGMENT - (builder.position % SEGMENT);
    builder.appendPlain(room - 48 - 24 - (room - 48 - 26 < 256 ? 2 : 5)); // 2 or 5 bytes of data header
    expect(SEGMENT - (builder.position % SEGMENT)).toBe(48);
    const checkpoint = builder.appendCheckpoint('online', builder.position);
    const checkpointEnd = checkpoint + 114 + 40; // the next segment's long page header
    const segments = builder.build();
    const [parallel, sequential] = await bothWays(segments);
    expect(parallel).toEqual(sequential);
    expect(parallel.checkpoints.map((c) => c.end)).toEqual([formatLsn(BigInt(checkpointEnd))]);
    expect(parallel.lastValidLsn).toBe(formatLsn(BigInt(checkpointEnd)));
    // A plain record over three pages (40 + 24 + 8168 + 24 + 4000 bytes): two short headers.
    const second = new WalBuilder({ segmentSize: SEGMENT });
    const lsn = second.appendPlain(8152 - 24 - 5 + 8168 + 4000);
    expect(lsn % 8192).toBe(40);
    const report = await scanWal(streams(second.build()), { workers: 0 });
    expect(report.lastValidLsn).toBe(formatLsn(BigInt(lsn + 8152 + 8168 + 4000 + 2 * 24)));
  });
});
