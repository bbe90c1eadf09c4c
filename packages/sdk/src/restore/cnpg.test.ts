import { describe, expect, it } from 'vitest';
import type { DbaasError } from '../errors.js';
import { buildCnpgRecoveryCluster, buildStagedSnapshot } from './cnpg.js';

const source = {
  instances: 2,
  imageName: 'ghcr.io/cloudnative-pg/postgresql:17.6',
  storage: { size: '1Gi', storageClass: 'csi-hostpath-sc' },
  postgresql: { parameters: { checkpoint_completion_target: '0.9', wal_buffers: '16MB' } },
  enableSuperuserAccess: true,
  bootstrap: { initdb: { database: 'app', owner: 'app' } },
  backup: { barmanObjectStore: { destinationPath: 's3://bucket/pg' } },
  plugins: [{ name: 'barman-cloud.cloudnative-pg.io', isWALArchiver: true }],
  replica: { enabled: false, source: 'other' },
};

describe('buildCnpgRecoveryCluster', () => {
  it("keeps the source's spec, bootstraps from the snapshots, and leaves out what would write to the source's archive", () => {
    const { manifest, notCopied } = buildCnpgRecoveryCluster({ name: 'pg2', namespace: 'db', base: source, snapshots: { data: 'nightly' } });
    expect(manifest).toMatchObject({ apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', metadata: { name: 'pg2', namespace: 'db' } });
    expect(manifest.spec).toEqual({
      instances: 2,
      imageName: 'ghcr.io/cloudnative-pg/postgresql:17.6',
      storage: { size: '1Gi', storageClass: 'csi-hostpath-sc' },
      postgresql: { parameters: { checkpoint_completion_target: '0.9', wal_buffers: '16MB' } },
      enableSuperuserAccess: true,
      bootstrap: { recovery: { volumeSnapshots: { storage: { name: 'nightly', kind: 'VolumeSnapshot', apiGroup: 'snapshot.storage.k8s.io' } } } },
    });
    expect(notCopied.map((n) => n.split(':')[0])).toEqual(['spec.backup', 'spec.plugins', 'spec.replica']);
    expect(source.bootstrap, 'the base is not changed').toEqual({ initdb: { database: 'app', owner: 'app' } });
  });

  it('walStorage: the pg_wal snapshot goes with it; one without the other is refused', () => {
    const withWal = { ...source, walStorage: { size: '1Gi' } };
    const { manifest } = buildCnpgRecoveryCluster({ name: 'pg2', namespace: 'db', base: withWal, snapshots: { data: 'n', wal: 'n-vol-pg-wal' } });
    expect((manifest.spec!.bootstrap as { recovery: { volumeSnapshots: unknown } }).recovery.volumeSnapshots).toEqual({
      storage: { name: 'n', kind: 'VolumeSnapshot', apiGroup: 'snapshot.storage.k8s.io' },
      walStorage: { name: 'n-vol-pg-wal', kind: 'VolumeSnapshot', apiGroup: 'snapshot.storage.k8s.io' },
    });
    const refused = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return error as DbaasError;
      }
      throw new Error('not refused');
    };
    expect(refused(() => buildCnpgRecoveryCluster({ name: 'pg2', namespace: 'db', base: source, snapshots: { data: 'n', wal: 'w' } })).message).toContain(
      'has no walStorage',
    );
    expect(refused(() => buildCnpgRecoveryCluster({ name: 'pg2', namespace: 'db', base: withWal, snapshots: { data: 'n' } })).code).toBe('INVALID_ARGUMENT');
  });

  it("instances and image: given ones win; a spec without an image is pinned to the source's; storage is raised to the restoreSize", () => {
    const base = { storage: { size: '500Mi' } };
    const { manifest } = buildCnpgRecoveryCluster({
      name: 'pg2',
      namespace: 'db',
      base,
      snapshots: { data: 'n' },
      instances: 3,
      image: 'localhost/pg:15',
      restoreSize: '1Gi',
    });
    expect(manifest.spec).toMatchObject({ instances: 3, imageName: 'localhost/pg:15', storage: { size: '1Gi' } });
    const catalog = buildCnpgRecoveryCluster({
      name: 'pg2',
      namespace: 'db',
      base: { imageCatalogRef: { name: 'c', major: 17 } },
      snapshots: { data: 'n' },
      image: 'x',
    });
    expect(catalog.manifest.spec!.imageName, 'an image catalog stays the source of the image').toBeUndefined();
  });
});

describe('buildStagedSnapshot', () => {
  it("carries CloudNativePG's role label and the Cluster it was made for", () => {
    expect(buildStagedSnapshot({ namespace: 'db', cluster: 'pg2', pvc: 'pg2-dbaas-restore-wal', role: 'PG_WAL', snapshotClass: 'c' })).toEqual({
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshot',
      metadata: { name: 'pg2-dbaas-restore-wal', namespace: 'db', labels: { 'dbaas.io/restore-for': 'pg2', 'cnpg.io/pvcRole': 'PG_WAL' } },
      spec: { source: { persistentVolumeClaimName: 'pg2-dbaas-restore-wal' }, volumeSnapshotClassName: 'c' },
    });
  });
});
