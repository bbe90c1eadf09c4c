import { describe, expect, it } from 'vitest';
import { isDbaasError } from '../errors.js';
import {
  compareLsn,
  formatLsn,
  lsnDistance,
  parseLsn,
  parseWalFileName,
  walFileName,
  walFileNameForEnd,
  walFileNameForSegment,
  walSegmentNumber,
} from './lsn.js';

const MiB = 1024 * 1024;

describe('parseLsn / formatLsn', () => {
  it.each([
    ['0/0', 0n],
    ['0/16B3748', 0x16b3748n],
    ['0/016B3748', 0x16b3748n],
    ['1/0', 1n << 32n],
    ['FFFFFFFF/FFFFFFFF', (1n << 64n) - 1n],
    ['a/b', (0xan << 32n) | 0xbn],
  ])('parses %s', (text, value) => {
    expect(parseLsn(text)).toBe(value);
  });

  it.each(['', '0', '0/', '/0', '0/123456789', '123456789/0', 'G/0', '0/0/0', '-1/0', '0x1/0'])('rejects %j with INVALID_LSN', (text) => {
    expect(() => parseLsn(text)).toThrow(expect.objectContaining({ code: 'INVALID_LSN' }));
  });

  it('formats like PostgreSQL <= 18 and, padded, like PostgreSQL 19', () => {
    expect(formatLsn(0x16b3748n)).toBe('0/16B3748');
    expect(formatLsn(0x16b3748n, { zeroPad: true })).toBe('0/016B3748');
    expect(formatLsn((3n << 32n) | 0x10n)).toBe('3/10');
  });

  it('round-trips', () => {
    for (const value of [0n, 1n, 0xffffffffn, 1n << 32n, 0x123456789abcdefn, (1n << 64n) - 1n]) {
      expect(parseLsn(formatLsn(value))).toBe(value);
      expect(parseLsn(formatLsn(value, { zeroPad: true }))).toBe(value);
    }
  });

  it('refuses values outside 64 bits', () => {
    expect(() => formatLsn(1n << 64n)).toThrow(expect.objectContaining({ code: 'INVALID_LSN' }));
    expect(() => formatLsn(-1n)).toThrow(expect.objectContaining({ code: 'INVALID_LSN' }));
  });
});

describe('ordering and distance', () => {
  it('compares and subtracts', () => {
    const sorted = ['1/0', '0/FFFFFFFF', '0/10']
      .map(parseLsn)
      .sort(compareLsn)
      .map((lsn) => formatLsn(lsn));
    expect(sorted).toEqual(['0/10', '0/FFFFFFFF', '1/0']);
    expect(lsnDistance(parseLsn('0/1000'), parseLsn('0/3000'))).toBe(0x2000n);
    expect(lsnDistance(parseLsn('0/3000'), parseLsn('0/1000'))).toBe(-0x2000n);
  });
});

describe('segment names', () => {
  it('names segments as XLogFileName does', () => {
    expect(walFileName(parseLsn('0/16B3748'), 1)).toBe('000000010000000000000001');
    expect(walFileName(parseLsn('1/0'), 1)).toBe('000000010000000100000000');
    expect(walFileName(parseLsn('0/FF000000'), 2)).toBe('0000000200000000000000FF');
    expect(walFileName(parseLsn('1/40000000'), 3, 1024 * MiB)).toBe('000000030000000100000001');
    expect(walFileNameForSegment(0xa, 0x1ffn)).toBe('0000000A00000001000000FF');
  });

  it('puts an end pointer on a segment boundary in the previous segment', () => {
    expect(walFileNameForEnd(parseLsn('0/2000000'), 1)).toBe('000000010000000000000001');
    expect(walFileNameForEnd(parseLsn('0/2000001'), 1)).toBe('000000010000000000000002');
    expect(walFileNameForEnd(parseLsn('1/0'), 1)).toBe('0000000100000000000000FF');
    expect(() => walFileNameForEnd(0n, 1)).toThrow(expect.objectContaining({ code: 'INVALID_LSN' }));
  });

  it('parses names back to timeline and segment number', () => {
    expect(parseWalFileName('000000010000000100000000')).toEqual({ timeline: 1, segmentNumber: 256n });
    expect(parseWalFileName('000000030000000100000001', 1024 * MiB)).toEqual({ timeline: 3, segmentNumber: 5n });
    for (const segno of [0n, 1n, 255n, 256n, 12345n]) {
      expect(parseWalFileName(walFileNameForSegment(7, segno)).segmentNumber).toBe(segno);
    }
  });

  it.each(['00000001000000000000001', '000000010000000000000100', '000000000000000000000001', '00000001000000000000000g', '000000010000000000000001.partial'])(
    'rejects %j',
    (name) => {
      let thrown: unknown;
      try {
        parseWalFileName(name);
      } catch (error) {
        thrown = error;
      }
      expect(isDbaasError(thrown, 'INVALID_WAL_FILE_NAME')).toBe(true);
    },
  );

  it('refuses segment sizes PostgreSQL would refuse', () => {
    expect(() => walSegmentNumber(0n, 3 * MiB)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => walSegmentNumber(0n, 512 * 1024)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(walSegmentNumber(parseLsn('0/40000000'), 1024 * MiB)).toBe(1n);
  });
});
