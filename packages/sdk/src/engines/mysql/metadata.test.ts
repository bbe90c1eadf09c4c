// The MySQL/MariaDB fields of the snapshot metadata schema (additive, optional, schema version 1).
import { describe, expect, it } from 'vitest';
import { isDbaasError } from '../../errors.js';
import { DBAAS_ANNOTATIONS, readSnapshotMetadata, writeSnapshotMetadata, type SnapshotMetadata } from '../../manifests/metadata.js';

const mariadb: SnapshotMetadata = {
  schemaVersion: '1',
  backupSet: 'nightly',
  role: 'data',
  sourcePvc: 'data-db-mariadb-local-0',
  backupType: 'volumesnapshot',
  mode: 'online',
  engine: 'mariadb',
  engineVersion: '10.11.19',
  binlogFile: 'mariadb-bin.000003',
  binlogPosition: 18446744073709551615n,
  gtidExecuted: '0-1-4242,1-7-12',
  requestedAt: new Date('2026-11-22T02:00:00.000Z'),
};

const mysql: SnapshotMetadata = {
  ...mariadb,
  engine: 'mysql',
  engineVersion: '8.4.2',
  binlogFile: 'mysql-bin.000042',
  binlogPosition: 157n,
  gtidExecuted: '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,8b1c2f4e-0a5d-11ef-8f3a-0242ac120002:1-31',
  serverUuid: '8b1c2f4e-0a5d-11ef-8f3a-0242ac120002',
};

describe('snapshot metadata: MySQL/MariaDB fields', () => {
  it('writes dbaas.io/binlog-file, binlog-position, gtid-executed, server-uuid and reads them back', () => {
    for (const meta of [mariadb, mysql]) {
      const wire = writeSnapshotMetadata(meta);
      expect(wire.annotations[DBAAS_ANNOTATIONS.binlogFile]).toBe(meta.binlogFile);
      expect(wire.annotations[DBAAS_ANNOTATIONS.binlogPosition]).toBe(String(meta.binlogPosition));
      expect(wire.annotations[DBAAS_ANNOTATIONS.gtidExecuted]).toBe(meta.gtidExecuted);
      expect(readSnapshotMetadata(wire)).toEqual(meta);
    }
    expect(writeSnapshotMetadata(mysql).annotations['dbaas.io/server-uuid']).toBe('8b1c2f4e-0a5d-11ef-8f3a-0242ac120002');
  });

  it('a PostgreSQL snapshot written before these fields existed reads the same (no new annotation required)', () => {
    const { binlogFile: _f, binlogPosition: _p, gtidExecuted: _g, ...rest } = mariadb;
    const pg = { ...rest, engine: 'postgres' as const, engineVersion: '17.6' };
    const wire = writeSnapshotMetadata(pg);
    expect(Object.keys(wire.annotations).filter((k) => /binlog|gtid|server-uuid/.test(k))).toEqual([]);
    expect(readSnapshotMetadata(wire)).toEqual(pg);
  });

  it('refuses malformed values, naming the field', () => {
    const wire = writeSnapshotMetadata(mariadb);
    const bad = (key: string, value: string): string => {
      try {
        readSnapshotMetadata({ labels: wire.labels, annotations: { ...wire.annotations, [key]: value } });
        return 'accepted';
      } catch (e) {
        expect(isDbaasError(e, 'METADATA_INVALID')).toBe(true);
        return (e as Error).message;
      }
    };
    expect(bad(DBAAS_ANNOTATIONS.binlogFile, '../etc/passwd')).toMatch(/dbaas\.io\/binlog-file.*binary log file name/);
    expect(bad(DBAAS_ANNOTATIONS.binlogPosition, '-4')).toMatch(/dbaas\.io\/binlog-position/);
    expect(bad(DBAAS_ANNOTATIONS.binlogPosition, '18446744073709551616')).toMatch(/dbaas\.io\/binlog-position/);
    expect(bad(DBAAS_ANNOTATIONS.gtidExecuted, '0-1-5; drop table')).toMatch(/dbaas\.io\/gtid-executed.*GTID set/);
    expect(bad(DBAAS_ANNOTATIONS.serverUuid, 'not-a-uuid')).toMatch(/dbaas\.io\/server-uuid.*UUID/);
    expect(() => writeSnapshotMetadata({ ...mariadb, binlogFile: undefined })).toThrow(/binary log position needs its file/);
  });
});
