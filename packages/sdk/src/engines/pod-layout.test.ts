import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { readSnapshotMetadata, writeSnapshotMetadata } from '../manifests/metadata.js';
import { dataLayoutOfPod, databaseVolumesBeyond } from './pod-layout.js';

const pod = (
  container: V1Container,
  securityContext: V1Pod['spec'] extends infer S ? (S extends { securityContext?: infer C } ? C : never) : never = {},
): V1Pod => ({
  metadata: { name: 'db-0', namespace: 'db' },
  spec: { containers: [container], securityContext, volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-db-0' } }] },
});

describe('dataLayoutOfPod: PGDATA in the volume and its owner, from the pod spec', () => {
  it('PGDATA set below the mount: its relative path; the uid from the container, else the pod', () => {
    const layout = dataLayoutOfPod(
      pod(
        {
          name: 'pg',
          image: 'postgres:17',
          env: [{ name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' }],
          volumeMounts: [{ name: 'data', mountPath: '/var/lib/postgresql/data' }],
          securityContext: { runAsUser: 999 },
        },
        { fsGroup: 999 },
      ),
      'data-db-0',
      'postgres',
    );
    expect(layout).toMatchObject({ dataSubPath: 'pgdata', runAsUser: 999, fsGroup: 999 });
  });

  it('image defaults: the official 17 (the mount itself), the official 18 (versioned), Bitnami; subPath mounts', () => {
    const mounted = (image: string, mountPath: string, subPath?: string) =>
      dataLayoutOfPod(pod({ name: 'pg', image, volumeMounts: [{ name: 'data', mountPath, ...(subPath ? { subPath } : {}) }] }), 'data-db-0', 'postgres')
        ?.dataSubPath;
    expect(mounted('postgres:17.6', '/var/lib/postgresql/data')).toBe('');
    expect(mounted('docker.io/library/postgres:18', '/var/lib/postgresql')).toBe('18/docker');
    expect(mounted('bitnami/postgresql:16', '/bitnami/postgresql')).toBe('data');
    expect(mounted('postgres:16', '/var/lib/postgresql/data', 'pg')).toBe('pg');
  });

  it('a data directory outside the volume, or no such volume: no dataSubPath (nothing guessed)', () => {
    const outside = dataLayoutOfPod(
      pod({
        name: 'pg',
        image: 'postgres:17',
        env: [{ name: 'PGDATA', value: '/srv/pg' }],
        volumeMounts: [{ name: 'data', mountPath: '/var/lib/postgresql/data' }],
      }),
      'data-db-0',
      'postgres',
    );
    expect(outside?.dataSubPath).toBeUndefined();
    expect(dataLayoutOfPod(pod({ name: 'pg', image: 'postgres:17' }), 'other-pvc', 'postgres')?.dataSubPath).toBeUndefined();
  });

  it('round-trips through the snapshot metadata; a path with .. is refused', () => {
    const meta = {
      schemaVersion: '1' as const,
      backupSet: 'b',
      role: 'data' as const,
      sourcePvc: 'data-db-0',
      backupType: 'volumesnapshot' as const,
      mode: 'fenced' as const,
      requestedAt: new Date(0),
    };
    const wire = writeSnapshotMetadata({ ...meta, dataSubPath: 'pgdata', runAsUser: 26, fsGroup: 26 });
    expect(wire.annotations).toMatchObject({ 'dbaas.io/data-subpath': 'pgdata', 'dbaas.io/run-as-user': '26', 'dbaas.io/fs-group': '26' });
    expect(readSnapshotMetadata(wire)).toMatchObject({ dataSubPath: 'pgdata', runAsUser: 26, fsGroup: 26 });
    expect(() => readSnapshotMetadata({ ...wire, annotations: { ...wire.annotations, 'dbaas.io/data-subpath': '../etc' } })).toThrow(/data-subpath/);
  });
});

describe('databaseVolumesBeyond: the PVCs besides the data volume that hold part of the database', () => {
  const twoVolumes = (container: V1Container, claims: [string, string][]): V1Pod => ({
    metadata: { name: 'db-0', namespace: 'db' },
    spec: { containers: [container], volumes: claims.map(([name, claimName]) => ({ name, persistentVolumeClaim: { claimName } })) },
  });

  it("CloudNativePG's WAL and tablespace PVCs, by their cnpg.io/pvcRole", () => {
    const instance = twoVolumes({ name: 'postgres', image: 'ghcr.io/cloudnative-pg/postgresql:17' }, [
      ['pgdata', 'pg-1'],
      ['pg-wal', 'pg-1-wal'],
      ['scratch', 'scratch-1'],
      ['tbs', 'pg-1-tbs-a'],
    ]);
    const found = databaseVolumesBeyond(instance, 'pg-1', {
      'pg-1': { 'cnpg.io/pvcRole': 'PG_DATA' },
      'pg-1-wal': { 'cnpg.io/pvcRole': 'PG_WAL' },
      'pg-1-tbs-a': { 'cnpg.io/pvcRole': 'PG_TABLESPACE' },
    });
    expect(found.map((v) => [v.claim, v.holds])).toEqual([
      ['pg-1-wal', 'wal'],
      ['pg-1-tbs-a', 'tablespace'],
    ]);
  });

  it("the official image's POSTGRES_INITDB_WALDIR on another volume; a WAL directory in the data volume is no other volume", () => {
    const container = (waldir: string): V1Container => ({
      name: 'pg',
      image: 'postgres:17',
      env: [{ name: 'POSTGRES_INITDB_WALDIR', value: waldir }],
      volumeMounts: [
        { name: 'data', mountPath: '/var/lib/postgresql/data' },
        { name: 'wal', mountPath: '/wal' },
      ],
    });
    const claims: [string, string][] = [
      ['data', 'data-db-0'],
      ['wal', 'wal-db-0'],
    ];
    expect(databaseVolumesBeyond(twoVolumes(container('/wal/pg_wal'), claims), 'data-db-0', {})).toEqual([
      { claim: 'wal-db-0', volume: 'wal', holds: 'wal', source: 'POSTGRES_INITDB_WALDIR=/wal/pg_wal, inside volume wal at /wal', mountPath: '/wal' },
    ]);
    expect(databaseVolumesBeyond(twoVolumes(container('/var/lib/postgresql/data/wal'), claims), 'data-db-0', {})).toEqual([]);
    expect(databaseVolumesBeyond(twoVolumes(container('/walrus'), claims), 'data-db-0', {})).toEqual([]);
  });
});
