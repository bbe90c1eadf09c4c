import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDbaasError } from '../errors.js';
import { parseLsn } from '../wal/lsn.js';
import {
  DBAAS_ANNOTATIONS,
  DBAAS_LABELS,
  hasWalSnapshot,
  isManagedSnapshot,
  managedSnapshotSelector,
  readRestoreMetadata,
  readSnapshotMetadata,
  writeRestoreMetadata,
  writeSnapshotMetadata,
  type SnapshotMetadata,
} from './metadata.js';

const backupLabel = `START WAL LOCATION: 0/5000028 (file 000000010000000000000005)
CHECKPOINT LOCATION: 0/5000080
BACKUP METHOD: streamed
BACKUP FROM: primary
START TIME: 2024-06-01 02:00:00 UTC
LABEL: nightly
START TIMELINE: 1
`;

const full: SnapshotMetadata = {
  schemaVersion: '1',
  backupSet: 'nightly',
  role: 'data',
  sourcePvc: 'data-pg-0',
  backupType: 'volumesnapshot',
  mode: 'online',
  engine: 'postgres',
  engineVersion: '17.6',
  systemIdentifier: 7381234567890123456n,
  timeline: 1,
  checkpointLsn: parseLsn('0/5000080'),
  redoLsn: parseLsn('0/5000028'),
  startLsn: parseLsn('0/5000028'),
  stopLsn: parseLsn('0/7000100'),
  firstWalFile: '000000010000000000000005',
  lastWalFile: '000000010000000000000007',
  walSegmentSize: 16 * 1024 * 1024,
  backupLabel,
  tablespaceMap: '16384 /mnt/ts1\n',
  sourceWorkload: { kind: 'StatefulSet', name: 'pg' },
  requestedAt: new Date('2024-06-01T02:00:00.000Z'),
  cutAt: new Date('2024-06-01T02:00:01.250Z'),
  readyAt: new Date('2024-06-01T02:00:09.000Z'),
};

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('snapshot metadata schema', () => {
  it('writes the labels and annotations of docs/sdk.md, "Snapshot metadata schema"', () => {
    const { labels, annotations } = writeSnapshotMetadata(full);
    expect(labels).toEqual({
      'app.kubernetes.io/managed-by': 'kubectl-dbaas',
      'dbaas.io/backup-source': 'data-pg-0',
      'dbaas.io/backup-type': 'volumesnapshot',
      'dbaas.io/backup-set': 'nightly',
      'dbaas.io/role': 'data',
    });
    expect(annotations).toMatchObject({
      'dbaas.io/schema-version': '1',
      'dbaas.io/engine': 'postgres',
      'dbaas.io/engine-version': '17.6',
      'dbaas.io/mode': 'online',
      'dbaas.io/system-identifier': '7381234567890123456',
      'dbaas.io/timeline': '1',
      'dbaas.io/checkpoint-lsn': '0/5000080',
      'dbaas.io/redo-lsn': '0/5000028',
      'dbaas.io/start-lsn': '0/5000028',
      'dbaas.io/stop-lsn': '0/7000100',
      'dbaas.io/first-wal-file': '000000010000000000000005',
      'dbaas.io/last-wal-file': '000000010000000000000007',
      'dbaas.io/wal-segment-size': '16777216',
      'dbaas.io/source-workload': 'StatefulSet/pg',
      'dbaas.io/requested-at': '2024-06-01T02:00:00.000Z',
      'dbaas.io/cut-at': '2024-06-01T02:00:01.250Z',
      'dbaas.io/ready-at': '2024-06-01T02:00:09.000Z',
    });
    expect(Buffer.from(annotations['dbaas.io/backup-label']!, 'base64').toString()).toBe(backupLabel);
    for (const value of Object.values(annotations)) expect(typeof value).toBe('string');
  });

  it('round-trips write -> read, ignoring labels and annotations that are not ours', () => {
    const wire = writeSnapshotMetadata(full);
    const read = readSnapshotMetadata({
      metadata: {
        name: 'nightly',
        labels: { ...wire.labels, team: 'payments' },
        annotations: { ...wire.annotations, 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
      },
    });
    expect(read).toEqual(full);
    const minimal: SnapshotMetadata = {
      schemaVersion: '1',
      backupSet: 'b',
      role: 'wal',
      sourcePvc: 'p',
      backupType: 'volumesnapshot',
      mode: 'fenced',
      requestedAt: new Date(0),
    };
    expect(readSnapshotMetadata(writeSnapshotMetadata(minimal))).toEqual(minimal);
  });

  it('round-trips any valid LSN pair and system identifier (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (a, b, sysid) => {
          const [startLsn, stopLsn] = a <= b ? [a, b] : [b, a];
          const meta: SnapshotMetadata = { ...full, startLsn, stopLsn, systemIdentifier: sysid };
          const back = readSnapshotMetadata(writeSnapshotMetadata(meta));
          expect([back.startLsn, back.stopLsn, back.systemIdentifier]).toEqual([startLsn, stopLsn, sysid]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses an unknown schema version with a clear error', () => {
    const wire = writeSnapshotMetadata(full);
    const newer = thrown(() =>
      readSnapshotMetadata({ metadata: { name: 'nightly', labels: wire.labels, annotations: { ...wire.annotations, 'dbaas.io/schema-version': '2' } } }),
    );
    expect(isDbaasError(newer, 'METADATA_SCHEMA_UNSUPPORTED')).toBe(true);
    expect((newer as Error).message).toBe('snapshot "nightly" has metadata schema version "2"; this kubectl-dbaas reads version 1 only');
    expect((newer as { fix: string }).fix).toMatch(/newer kubectl-dbaas: upgrade/);
    const garbage = thrown(() => readSnapshotMetadata({ labels: wire.labels, annotations: { ...wire.annotations, 'dbaas.io/schema-version': 'x' } }));
    expect(isDbaasError(garbage, 'METADATA_SCHEMA_UNSUPPORTED')).toBe(true);
    const missing = thrown(() => readSnapshotMetadata({ labels: wire.labels, annotations: {} }));
    expect(isDbaasError(missing, 'METADATA_INVALID')).toBe(true);
    expect((missing as Error).message).toMatch(/not made by kubectl-dbaas/);
  });

  it('names every malformed field', () => {
    const wire = writeSnapshotMetadata(full);
    const error = thrown(() =>
      readSnapshotMetadata({
        labels: { ...wire.labels, [DBAAS_LABELS.role]: 'primary' },
        annotations: {
          ...wire.annotations,
          [DBAAS_ANNOTATIONS.stopLsn]: '0/XYZ',
          [DBAAS_ANNOTATIONS.backupLabel]: 'not base64!',
          [DBAAS_ANNOTATIONS.firstWalFile]: '0000000100000000000000zz',
          [DBAAS_ANNOTATIONS.cutAt]: 'yesterday',
        },
      }),
    );
    expect(isDbaasError(error, 'METADATA_INVALID')).toBe(true);
    const message = (error as Error).message;
    for (const field of [
      'labels.dbaas.io/role',
      'annotations.dbaas.io/stop-lsn',
      'annotations.dbaas.io/backup-label',
      'annotations.dbaas.io/first-wal-file',
      'annotations.dbaas.io/cut-at',
    ]) {
      expect(message).toContain(field);
    }
    expect(message).toContain('"0/XYZ" is not an LSN');
  });

  it('refuses to write inconsistent or oversized metadata', () => {
    expect(
      isDbaasError(
        thrown(() => writeSnapshotMetadata({ ...full, stopLsn: parseLsn('0/1') })),
        'METADATA_INVALID',
      ),
    ).toBe(true);
    expect(
      isDbaasError(
        thrown(() => writeSnapshotMetadata({ ...full, backupSet: 'a'.repeat(64) })),
        'METADATA_INVALID',
      ),
    ).toBe(true);
    expect(
      isDbaasError(
        thrown(() => writeSnapshotMetadata({ ...full, walSegmentSize: 1000 })),
        'METADATA_INVALID',
      ),
    ).toBe(true);
    const e = thrown(() => writeSnapshotMetadata({ ...full, lastWalFile: '000000010000000000000004' }));
    expect((e as Error).message).toMatch(/last WAL file .* sorts before the first/);
  });

  it('selectors and the managed check', () => {
    expect(managedSnapshotSelector({ backupSet: 'nightly', role: 'wal' })).toBe(
      'app.kubernetes.io/managed-by=kubectl-dbaas,dbaas.io/backup-type=volumesnapshot,dbaas.io/backup-set=nightly,dbaas.io/role=wal',
    );
    expect(isManagedSnapshot({ metadata: { labels: writeSnapshotMetadata(full).labels } })).toBe(true);
    expect(isManagedSnapshot({ metadata: { labels: { 'app.kubernetes.io/managed-by': 'helm' } } })).toBe(false);
    expect(
      isDbaasError(
        thrown(() => managedSnapshotSelector({ backupSet: 'a,b' })),
        'INVALID_NAME',
      ),
    ).toBe(true);
  });
});

describe('restore metadata schema', () => {
  it('round-trips and writes dbaas.io/restored-from and dbaas.io/restore-type', () => {
    const wire = writeRestoreMetadata({ schemaVersion: '1', restoredFrom: 'nightly', restoreType: 'cross-namespace', restoredFromNamespace: 'prod' });
    expect(wire.labels).toEqual({
      'app.kubernetes.io/managed-by': 'kubectl-dbaas',
      'dbaas.io/restored-from': 'nightly',
      'dbaas.io/restore-type': 'cross-namespace',
    });
    expect(wire.annotations).toEqual({ 'dbaas.io/schema-version': '1', 'dbaas.io/restored-from-namespace': 'prod' });
    expect(readRestoreMetadata(wire)).toEqual({ schemaVersion: '1', restoredFrom: 'nightly', restoreType: 'cross-namespace', restoredFromNamespace: 'prod' });
    expect(
      isDbaasError(
        thrown(() => readRestoreMetadata({ labels: wire.labels, annotations: { 'dbaas.io/schema-version': '9' } })),
        'METADATA_SCHEMA_UNSUPPORTED',
      ),
    ).toBe(true);
  });
});

describe('hasWalSnapshot', () => {
  it("only PostgreSQL's online sets have a -wal snapshot; a set without a recorded engine is PostgreSQL's", () => {
    expect(hasWalSnapshot({ mode: 'online', engine: 'postgres' })).toBe(true);
    expect(hasWalSnapshot({ mode: 'online' })).toBe(true);
    expect(hasWalSnapshot({ mode: 'online', engine: 'mariadb' })).toBe(false);
    expect(hasWalSnapshot({ mode: 'online', engine: 'mysql' })).toBe(false);
    for (const mode of ['crash', 'checkpoint', 'fenced'] as const) expect(hasWalSnapshot({ mode, engine: 'postgres' })).toBe(false);
  });
});
