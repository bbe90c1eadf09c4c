import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DbaasError } from '../errors.js';
import { formatTimelineHistory, parseTimelineHistory, timelineOfHistoryFile } from './timeline-history.js';

describe('timeline history', () => {
  it('reads the lines PostgreSQL writes, skipping comments and blank lines', () => {
    const text = '1\t0/3000000\tno recovery target specified\n\n# comment\n2\t0/5000A8\tbefore 2026-01-01 00:00:00+00\n';
    expect(parseTimelineHistory(text)).toEqual([
      { timeline: 1, switchPoint: 0x3000000n, reason: 'no recovery target specified' },
      { timeline: 2, switchPoint: 0x5000a8n, reason: 'before 2026-01-01 00:00:00+00' },
    ]);
  });

  it('knows the timeline from the file name', () => {
    expect(timelineOfHistoryFile('0000000A.history')).toBe(10);
    expect(timelineOfHistoryFile('000000010000000000000001')).toBeUndefined();
  });

  it('rejects decreasing timelines and missing switch points', () => {
    expect(() => parseTimelineHistory('2\t0/1\tx\n1\t0/2\ty\n')).toThrow(DbaasError);
    expect(() => parseTimelineHistory('1\n')).toThrow(DbaasError);
  });

  it('round-trips', () => {
    const entries = fc
      .uniqueArray(fc.integer({ min: 1, max: 0xffffffff }), { maxLength: 8 })
      .map((timelines) => timelines.sort((a, b) => a - b))
      .chain((timelines) =>
        fc.tuple(
          ...timelines.map((timeline) =>
            fc.record({
              timeline: fc.constant(timeline),
              switchPoint: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
              reason: fc.string({ maxLength: 20 }).filter((s) => !/[\r\n]/.test(s)),
            }),
          ),
        ),
      );
    fc.assert(
      fc.property(entries, (list) => {
        expect(parseTimelineHistory(formatTimelineHistory(list))).toEqual(list);
      }),
    );
  });

  it('gives DbaasError, never a crash, on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          parseTimelineHistory(text);
        } catch (error) {
          expect(error).toBeInstanceOf(DbaasError);
        }
      }),
    );
  });
});
