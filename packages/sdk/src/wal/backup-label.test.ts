import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DbaasError } from '../errors.js';
import { formatBackupLabel, formatTablespaceMap, parseBackupLabel, parseTablespaceMap, type BackupLabel } from './backup-label.js';

const PG17_LABEL = `START WAL LOCATION: 0/70E23D0 (file 000000010000000000000007)
CHECKPOINT LOCATION: 0/71524C0
BACKUP METHOD: streamed
BACKUP FROM: primary
START TIME: 2026-11-22 00:06:03 UTC
LABEL: t
START TIMELINE: 1
`;

describe('parseBackupLabel', () => {
  it('reads the label pg_backup_stop returns', () => {
    const label = parseBackupLabel(PG17_LABEL);
    expect(label.startWalLocation).toBe(0x70e23d0n);
    expect(label.startWalFile).toBe('000000010000000000000007');
    expect(label.checkpointLocation).toBe(0x71524c0n);
    expect(label.backupMethod).toBe('streamed');
    expect(label.backupFrom).toBe('primary');
    expect(label.label).toBe('t');
    expect(label.startTimeline).toBe(1);
    expect(formatBackupLabel(label)).toBe(PG17_LABEL);
  });

  it('reads PostgreSQL 17 incremental and backup history lines, and blank lines', () => {
    const text = `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nSTOP WAL LOCATION: 0/2000100 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\nINCREMENTAL FROM LSN: 0/1000000\nINCREMENTAL FROM TLI: 1\n\n`;
    const label = parseBackupLabel(text);
    expect(label.stopWalLocation).toBe(0x2000100n);
    expect(label.incrementalFromLsn).toBe(0x1000000n);
    expect(label.incrementalFromTimeline).toBe(1);
  });

  it.each([
    ['missing START WAL LOCATION', 'CHECKPOINT LOCATION: 0/1\n'],
    ['missing CHECKPOINT LOCATION', 'START WAL LOCATION: 0/1 (file 000000010000000000000000)\n'],
    ['bad LSN', 'START WAL LOCATION: 0/XYZ (file 000000010000000000000000)\nCHECKPOINT LOCATION: 0/1\n'],
    ['unknown key', `${PG17_LABEL}FOO: bar\n`],
    ['duplicate key', `${PG17_LABEL}LABEL: again\n`],
    ['no colon', 'garbage\n'],
  ])('rejects %s', (_why, text) => {
    expect(() => parseBackupLabel(text)).toThrow(DbaasError);
  });

  const lsn = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
  const line = fc.string({ maxLength: 40 }).filter((s) => !/[\r\n]/.test(s) && s.trim() === s && s.length > 0);
  const labelArbitrary: fc.Arbitrary<BackupLabel> = fc.record(
    {
      startWalLocation: lsn,
      startWalFile: fc.constant('000000010000000000000007'),
      checkpointLocation: lsn,
      backupMethod: fc.constantFrom('streamed', 'pg_start_backup'),
      backupFrom: fc.constantFrom('primary', 'standby'),
      startTime: line,
      label: line,
      startTimeline: fc.integer({ min: 1, max: 0xffffffff }),
      incrementalFromLsn: lsn,
      incrementalFromTimeline: fc.integer({ min: 1, max: 0xffffffff }),
    },
    { requiredKeys: ['startWalLocation', 'startWalFile', 'checkpointLocation'] },
  );

  it('round-trips through formatBackupLabel', () => {
    fc.assert(
      fc.property(labelArbitrary, (label) => {
        expect(parseBackupLabel(formatBackupLabel(label))).toEqual(label);
      }),
    );
  });

  it('gives DbaasError, never a crash, on arbitrary or damaged text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.nat(PG17_LABEL.length).map((n) => PG17_LABEL.slice(0, n)),
        ),
        (text) => {
          try {
            parseBackupLabel(text);
          } catch (error) {
            expect(error).toBeInstanceOf(DbaasError);
          }
        },
      ),
    );
  });
});

describe('tablespace_map', () => {
  it('reads OID and path, with escaped newlines and backslashes', () => {
    expect(parseTablespaceMap('16384 /mnt/fast\n16385 /mnt/with space\n16386 /odd\\\nname\\\\x\n')).toEqual([
      { oid: 16384, path: '/mnt/fast' },
      { oid: 16385, path: '/mnt/with space' },
      { oid: 16386, path: '/odd\nname\\x' },
    ]);
  });

  it('round-trips any path', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ oid: fc.integer({ min: 1, max: 0xffffffff }), path: fc.string({ minLength: 1, maxLength: 30 }) })), (entries) => {
        expect(parseTablespaceMap(formatTablespaceMap(entries))).toEqual(entries);
      }),
    );
  });

  it('rejects a line without an OID', () => {
    expect(() => parseTablespaceMap('/mnt/fast\n')).toThrow(DbaasError);
  });
});
