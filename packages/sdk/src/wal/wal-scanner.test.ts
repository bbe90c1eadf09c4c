import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatLsn } from './lsn.js';
import { joinWalSegmentSummaries, scanWal, summarizeWalSegment, type WalScanReport } from './wal-scanner.js';
import { chunked, WalBuilder, type BuiltSegment } from './wal-test-builder.js';

const SEGMENT = 1024 * 1024;

function inputs(segments: BuiltSegment[], sizes: readonly number[] = [SEGMENT]) {
  return segments.map((segment) => ({ name: segment.name, data: chunked(segment.bytes, sizes) }));
}

/** Plain records of assorted sizes, some spanning pages and one spanning a segment boundary. */
function sampleWal(): { builder: WalBuilder; checkpoint: number; redo: number; segments: BuiltSegment[] } {
  const builder = new WalBuilder({ segmentSize: SEGMENT });
  const redo = builder.position;
  const checkpoint = builder.appendCheckpoint('online', redo);
  for (let i = 0; i < 400; i++) builder.appendPlain(50 + ((i * 997) % 3000));
  builder.appendPlain(20000); // spans several pages
  while (builder.position % SEGMENT < SEGMENT - 5000) builder.appendPlain(4000);
  builder.appendPlain(30000); // spans into the next segment
  builder.appendBackupEnd(redo);
  builder.appendCheckpoint('shutdown', builder.position);
  return { builder, checkpoint, redo, segments: builder.build() };
}

describe('scanWal', () => {
  it('walks records across pages and segments and finds checkpoints and backup end', async () => {
    const { segments, checkpoint, redo, builder } = sampleWal();
    const report = await scanWal(inputs(segments));
    expect(report.postgresMajorVersion).toBe(17);
    expect(report.segments).toEqual(segments.map((s) => s.name));
    expect(report.end.reason).toBe('zero-record');
    expect(report.firstValidLsn).toBe(formatLsn(BigInt(checkpoint)));
    expect(report.lastRecordLsn).toBe(formatLsn(BigInt(builder.previous)));
    expect(report.checkpoints.map((c) => c.kind)).toEqual(['online', 'shutdown']);
    expect(report.events).toEqual([expect.objectContaining({ kind: 'backup-end', backupStart: formatLsn(BigInt(redo)) })]);
    expect(report.missingSegments).toEqual([]);
  });

  it('gives the same report whatever the chunk sizes and the order of the segments', async () => {
    const { segments } = sampleWal();
    const reference = await scanWal(inputs(segments));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 70000 }), { minLength: 1, maxLength: 5 }), fc.boolean(), async (sizes, reverse) => {
        const ordered = reverse ? [...segments].reverse() : segments;
        const report = await scanWal(inputs(ordered, sizes));
        expect({ ...report, outOfOrderSegments: [] }).toEqual({ ...reference, outOfOrderSegments: [] });
      }),
      { numRuns: 15 },
    );
  });

  it('checks a record whose header is split across a segment boundary', async () => {
    const builder = new WalBuilder({ segmentSize: SEGMENT });
    builder.appendPlain(100);
    while (builder.position % SEGMENT !== SEGMENT - 8) builder.appendPlain(Math.min(4000, SEGMENT - 8 - (builder.position % SEGMENT) - 24 - 2 - 7) || 1);
    builder.appendPlain(500);
    builder.appendPlain(10);
    const report = await scanWal(inputs(builder.build()));
    expect(report.end.reason).toBe('zero-record');
    expect(report.lastRecordLsn).toBe(formatLsn(BigInt(builder.previous)));
  });

  it('skips the rest of a segment after XLOG_SWITCH', async () => {
    const builder = new WalBuilder({ segmentSize: SEGMENT });
    builder.appendPlain(100);
    builder.appendSwitch();
    builder.appendPlain(100);
    const segments = builder.build();
    const garbage = segments[0]!.bytes;
    garbage.fill(0xee, SEGMENT - 8192); // after the switch nothing is read
    const report = await scanWal(inputs(segments));
    expect(report.events.map((e) => e.kind)).toEqual(['switch']);
    expect(report.end.reason).toBe('zero-record');
    expect(report.recordCount).toBe(3);
  });

  it('reports a missing segment', async () => {
    const { segments } = sampleWal();
    const report = await scanWal(inputs([segments[0]!, segments[2] ?? segments[1]!].slice(0, segments.length > 2 ? 2 : 1)));
    if (segments.length > 2) {
      expect(report.end.reason).toBe('missing-segment');
      expect(report.missingSegments).toEqual([segments[1]!.name]);
    } else {
      expect(report.end.reason).toBe('truncated-record');
    }
  });

  it('stops at a bit flip with bad-crc, and at a foreign page address with pageaddr-mismatch', async () => {
    const { segments } = sampleWal();
    const flipped = segments.map((s) => ({ ...s, bytes: s.bytes.slice() }));
    flipped[0]!.bytes[8192 * 3 + 100]! ^= 0x10;
    const report = await scanWal(inputs(flipped));
    expect(['bad-crc', 'bad-record-header', 'bad-prev-link']).toContain(report.end.reason);
    const moved = segments.map((s) => ({ ...s, bytes: s.bytes.slice() }));
    new DataView(moved[1]!.bytes.buffer).setUint32(8 + 8192 * 2, 0, true);
    const second = await scanWal(inputs(moved));
    expect(second.end.reason).toBe('pageaddr-mismatch');
    expect(second.end.message).toContain(formatLsn(BigInt(SEGMENT * 2 + 8192 * 2)));
  });

  it('starts from a given LSN and reports a truncated segment', async () => {
    const { segments, checkpoint } = sampleWal();
    const report = await scanWal(inputs(segments), { startLsn: BigInt(checkpoint) });
    expect(report.checkpoints[0]?.lsn).toBe(formatLsn(BigInt(checkpoint)));
    const cut = await scanWal([{ name: segments[0]!.name, data: [segments[0]!.bytes.subarray(0, 100_000)] }]);
    expect(cut.end.reason).toBe('truncated-segment');
  });

  it('never crashes or hangs on random, truncated or bit-flipped segments', async () => {
    const { segments } = sampleWal();
    const first = segments[0]!;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 20000 }),
          fc.nat(first.bytes.length).map((n) => first.bytes.slice(0, n)),
          fc.array(fc.tuple(fc.nat(SEGMENT - 1), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 }).map((flips) => {
            const copy = first.bytes.slice();
            for (const [at, bit] of flips) copy[at]! ^= 1 << bit;
            return copy;
          }),
        ),
        async (bytes) => {
          const report: WalScanReport = await scanWal([{ name: first.name, data: [bytes] }]);
          expect(typeof report.end.reason).toBe('string');
        },
      ),
      { numRuns: 60 },
    );
  });

  it('summarises segments independently and joins them in any order', async () => {
    const { segments } = sampleWal();
    const summaries = await Promise.all(segments.map((s) => summarizeWalSegment(s.name, [s.bytes])));
    const joined = joinWalSegmentSummaries([...summaries].reverse());
    const direct = await scanWal(inputs(segments));
    expect(joined.end).toEqual(direct.end);
    expect(joined.checkpoints).toEqual(direct.checkpoints);
  });
});
