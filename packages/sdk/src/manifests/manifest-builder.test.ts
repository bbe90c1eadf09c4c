import { describe, expect, it } from 'vitest';

import type { DbaasError } from '../errors.js';
import { parseLsn } from '../wal/lsn.js';
import { buildCrossNamespaceSnapshot, buildPvcFromSnapshot, buildRestorePrepJob, buildVolumeSnapshot, walFilesForBackup } from './builders.js';
import { ManifestBuilder } from './manifest-builder.js';

/** A DbaasError with these fields (toThrow takes it to match the error thrown). */
const dbaasError = (fields: Partial<DbaasError>) => expect.objectContaining({ name: 'DbaasError', ...fields });

const requestedAt = new Date('2024-06-01T02:00:00Z');
const label =
  'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000080\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2024-06-01 02:00:00 UTC\nLABEL: nightly\nSTART TIMELINE: 1\n';
const shared = { labels: { team: 'payments' }, annotations: { 'example.com/ticket': 'OPS-1' } };

describe('ManifestBuilder', () => {
  const manifests = new ManifestBuilder({ namespace: 'db', ...shared });

  it('builds what the functions build, in its namespace and with its labels and annotations', () => {
    const metadata = { backupSet: 'nightly', role: 'data' as const, mode: 'fenced' as const, engine: 'postgres' as const, requestedAt };
    expect(manifests.volumeSnapshot({ pvc: 'data-pg-0', metadata })).toEqual(
      buildVolumeSnapshot({ namespace: 'db', pvc: 'data-pg-0', metadata, extra: shared }),
    );

    const snapshot = { name: 'nightly', restoreSize: '1Gi', driver: 'hostpath.csi.k8s.io' };
    expect(manifests.pvcFromSnapshot({ name: 'pg-restored', snapshot, storageClass: 'csi-hostpath-sc' })).toEqual(
      buildPvcFromSnapshot({ name: 'pg-restored', namespace: 'db', snapshot, storageClass: 'csi-hostpath-sc', extra: shared }),
    );

    const source = { snapshotHandle: 'a1b2c3', driver: 'hostpath.csi.k8s.io', namespace: 'prod' };
    const pair = manifests.crossNamespaceSnapshot({ name: 'nightly', source });
    expect(pair).toEqual(buildCrossNamespaceSnapshot({ source, target: { namespace: 'db', name: 'nightly' }, extra: shared }));
    expect(pair.snapshot.metadata.namespace).toBe('db');
    expect(pair.content.spec.volumeSnapshotRef).toMatchObject({ namespace: 'db', name: 'nightly' });

    const walFiles = manifests.walFilesForBackup(parseLsn('0/2000028'), parseLsn('0/3000100'), 1);
    expect(walFiles).toEqual(walFilesForBackup(parseLsn('0/2000028'), parseLsn('0/3000100'), 1));
    const job = {
      name: 'nightly-prep',
      image: 'postgres:17.6',
      runAsUser: 999,
      dataPvc: 'pg-restored',
      walPvc: 'pg-restored-wal',
      walFiles,
      backupLabel: label,
    };
    expect(manifests.restorePrepJob(job)).toEqual(buildRestorePrepJob({ ...job, namespace: 'db', extra: shared }));
    expect(manifests.backupSetNames('nightly')).toEqual({ data: 'nightly', wal: 'nightly-wal' });
  });

  it("puts its labels and annotations on every object, a build's own winning key by key", () => {
    const vs = manifests.volumeSnapshot({
      pvc: 'data-pg-0',
      metadata: { backupSet: 'nightly', role: 'wal', mode: 'online', requestedAt },
      extra: { labels: { team: 'search', tier: 'gold' } },
    });
    expect(vs.metadata.name).toBe('nightly-wal');
    expect(vs.metadata.labels).toMatchObject({ team: 'search', tier: 'gold', 'dbaas.io/role': 'wal' });
    expect(vs.metadata.annotations?.['example.com/ticket']).toBe('OPS-1');
    const job = manifests.restorePrepJob({
      name: 'p',
      image: 'postgres:17',
      runAsUser: 999,
      dataPvc: 'a',
      walPvc: 'b',
      walFiles: ['000000010000000000000002'],
      backupLabel: label,
    });
    expect(job.metadata?.labels?.team).toBe('payments');
    expect(job.spec?.template.metadata?.labels?.team).toBe('payments');
  });

  it('refuses a bad namespace or reserved defaults when constructed, before any build', () => {
    expect(() => new ManifestBuilder({ namespace: 'DB' })).toThrow(dbaasError({ code: 'INVALID_NAME' }));
    expect(() => new ManifestBuilder({ namespace: '' })).toThrow(dbaasError({ code: 'INVALID_NAME' }));
    expect(() => new ManifestBuilder({ namespace: 'db', labels: { 'dbaas.io/role': 'data' } })).toThrow(dbaasError({ code: 'INVALID_ARGUMENT' }));
    expect(() => new ManifestBuilder({ namespace: 'db', annotations: { 'app.kubernetes.io/managed-by': 'me' } })).toThrow(
      dbaasError({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => new ManifestBuilder({ namespace: 'db', labels: { team: 'a b' } })).toThrow(dbaasError({ code: 'INVALID_NAME' }));
  });

  it('keeps the checks of the functions (size below restoreSize, a root Job)', () => {
    expect(() => manifests.pvcFromSnapshot({ name: 'x', snapshot: { name: 's', restoreSize: '2Gi' }, storageClass: 'sc', size: '1Gi' })).toThrow(
      dbaasError({ code: 'RESTORE_SIZE_TOO_SMALL' }),
    );
    expect(() =>
      manifests.restorePrepJob({
        name: 'p',
        image: 'postgres:17',
        runAsUser: 0,
        dataPvc: 'a',
        walPvc: 'b',
        walFiles: ['000000010000000000000002'],
        backupLabel: label,
      }),
    ).toThrow(dbaasError({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('never runs as root') }));
  });
});
