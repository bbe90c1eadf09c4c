import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DbaasError } from '../errors.js';
import { crc32c } from './crc32c.js';
import { readControlFile } from './control-file.js';
import { buildControlFile } from './wal-test-builder.js';

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(DbaasError);
    return (error as DbaasError).code;
  }
}

describe('readControlFile', () => {
  it.each([1300, 1700, 1800] as const)('reads a version %i control file', (version) => {
    const control = readControlFile(buildControlFile({ version, state: 6, checkPoint: 0x2000028n, redo: 0x1ffff00n, timeline: 3 }));
    expect(control.pgControlVersion).toBe(version);
    expect(control.state).toBe('in production');
    expect(control.checkPoint).toBe(0x2000028n);
    expect(control.checkPointCopy.redo).toBe(0x1ffff00n);
    expect(control.checkPointCopy.timeline).toBe(3);
    expect(control.checkPointCopy.walLevel).toBe(version === 1300 ? undefined : 'replica');
    expect(control.walSegmentSize).toBe(16 * 1024 * 1024);
    expect(control.floatFormat).toBe(1234567);
    expect(control.defaultCharSignedness).toBe(version === 1800 ? true : undefined);
    expect(control.postgresMajorVersion).toBe(version === 1300 ? 15 : version === 1700 ? 17 : 18);
  });

  it('names every DBState', () => {
    const names = [0, 1, 2, 3, 4, 5, 6].map((state) => readControlFile(buildControlFile({ state })).state);
    expect(names).toEqual(['starting up', 'shut down', 'shut down in recovery', 'shutting down', 'in crash recovery', 'in archive recovery', 'in production']);
  });

  it('rejects truncated input', () => {
    expect(codeOf(() => readControlFile(new Uint8Array(10)))).toBe('CONTROL_FILE_TRUNCATED');
    expect(codeOf(() => readControlFile(buildControlFile().subarray(0, 200)))).toBe('CONTROL_FILE_TRUNCATED');
  });

  it('recognises a byte-swapped (big-endian) file', () => {
    const bytes = buildControlFile({ version: 1300 });
    new DataView(bytes.buffer).setUint32(8, 1300, false);
    expect(codeOf(() => readControlFile(bytes))).toBe('CONTROL_FILE_FOREIGN_ENDIAN');
  });

  it('rejects an unsupported version', () => {
    const bytes = buildControlFile();
    new DataView(bytes.buffer).setUint32(8, 1201, true);
    expect(codeOf(() => readControlFile(bytes))).toBe('CONTROL_FILE_UNSUPPORTED_VERSION');
  });

  it('rejects a CRC mismatch', () => {
    const bytes = buildControlFile();
    bytes[100] = (bytes[100] ?? 0) ^ 1;
    expect(codeOf(() => readControlFile(bytes))).toBe('CONTROL_FILE_CRC_MISMATCH');
  });

  it('never crashes on random, truncated or bit-flipped input', () => {
    const valid = buildControlFile({ version: 1800 });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }),
          fc.nat(8192).map((n) => valid.slice(0, n)),
          fc.tuple(fc.nat(295), fc.integer({ min: 0, max: 7 })).map(([at, bit]) => {
            const copy = valid.slice();
            copy[at] = (copy[at] ?? 0) ^ (1 << bit);
            return copy;
          }),
        ),
        (bytes) => {
          try {
            readControlFile(bytes);
          } catch (error) {
            expect(error).toBeInstanceOf(DbaasError);
          }
        },
      ),
    );
  });

  it('accepts any version-1300 image whose CRC is right', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 296, maxLength: 296 }), fc.integer({ min: 0, max: 6 }), (bytes, state) => {
        const view = new DataView(bytes.buffer);
        view.setUint32(8, 1300, true);
        view.setUint32(16, state, true);
        view.setUint32(288, crc32c(bytes.subarray(0, 288)), true);
        expect(readControlFile(bytes).pgControlVersion).toBe(1300);
      }),
    );
  });
});
