// The ManifestBuilder's objects on the real kube-apiserver (CRD schemas and CEL rules, core and
// batch validation) and what the real snapshot-controller does with them without a CSI driver.
import { clusterFromEnv } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClients } from '../kube/clients.js';
import type { VolumeSnapshot, VolumeSnapshotContent } from '../kube/snapshot-types.js';
import { watchUntil } from '../kube/watch-until.js';
import { parseLsn } from '../wal/lsn.js';
import { buildCrossNamespaceSnapshot, buildPvcFromSnapshot, buildRestorePrepJob, buildVolumeSnapshot, walFilesForBackup } from './builders.js';
import { readRestoreMetadata, readSnapshotMetadata, type SnapshotMetadata } from './metadata.js';

const info = clusterFromEnv(inject('dbaasCluster'));
const stamp = Date.now().toString(36);
const source = `src-${stamp}`;
const target = `dst-${stamp}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: source });
const contents: string[] = [];

beforeAll(async () => {
  for (const name of [source, target]) await clients.core.createNamespace({ body: { metadata: { name } } });
});
afterAll(async () => {
  for (const name of [source, target]) await clients.core.deleteNamespace({ name }).catch(() => undefined);
  for (const name of contents) await clients.volumeSnapshotContents.delete(name).catch(() => undefined);
});

const meta: Omit<SnapshotMetadata, 'schemaVersion' | 'backupType' | 'sourcePvc'> = {
  backupSet: 'nightly',
  role: 'data',
  mode: 'online',
  engine: 'postgres',
  engineVersion: '17.6',
  systemIdentifier: 7381234567890123456n,
  timeline: 1,
  startLsn: parseLsn('0/2000028'),
  stopLsn: parseLsn('0/4000100'),
  backupLabel: 'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n',
  requestedAt: new Date(),
};

describe('built manifests on the real apiserver', () => {
  it('VolumeSnapshot (data and -wal): the CRD schema and CEL rules accept them; the metadata reads back from the server copy', async () => {
    const data = buildVolumeSnapshot({ namespace: source, pvc: 'data-pg-0', snapshotClass: 'csi-hostpath-snapclass', metadata: meta });
    const wal = buildVolumeSnapshot({ namespace: source, pvc: 'data-pg-0', snapshotClass: 'csi-hostpath-snapclass', metadata: { ...meta, role: 'wal' } });
    for (const vs of [data, wal]) await clients.volumeSnapshots.create(vs);
    const stored = await clients.volumeSnapshots.get('nightly-wal');
    expect(stored.spec).toEqual(wal.spec);
    const back = readSnapshotMetadata(stored);
    expect(back).toMatchObject({ backupSet: 'nightly', role: 'wal', startLsn: meta.startLsn, stopLsn: meta.stopLsn, systemIdentifier: meta.systemIdentifier });
    // a server-side dry run of the same object under another name is accepted too
    await clients.volumeSnapshots.create({ ...data, metadata: { ...data.metadata, name: 'dry' } }, { dryRun: true });
  });

  it('PVC from a snapshot and the restore-prep Job are accepted (the PVC stays Pending: no provisioner is running)', async () => {
    const pvc = buildPvcFromSnapshot({
      name: 'pg-restored',
      namespace: source,
      snapshot: { name: 'nightly', restoreSize: '64Mi', driver: 'hostpath.csi.k8s.io' },
      storageClass: { name: 'csi-hostpath-sc', provisioner: 'hostpath.csi.k8s.io' },
    });
    const created = await clients.core.createNamespacedPersistentVolumeClaim({ namespace: source, body: pvc });
    expect(created.spec?.dataSource).toEqual({ apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'nightly' });
    // the API server fills dataSourceRef from dataSource
    expect(created.spec?.dataSourceRef).toMatchObject({ apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'nightly' });
    expect(readRestoreMetadata(created as { metadata: { labels: Record<string, string>; annotations: Record<string, string> } }).restoredFrom).toBe('nightly');
    const job = buildRestorePrepJob({
      name: 'nightly-prep',
      namespace: source,
      image: 'postgres:17.6',
      dataPvc: 'pg-restored',
      walPvc: 'pg-restored-wal',
      walFiles: walFilesForBackup(meta.startLsn!, meta.stopLsn!, 1),
      backupLabel: meta.backupLabel!,
      runAsUser: 999,
    });
    const j = await clients.batch.createNamespacedJob({ namespace: source, body: job });
    expect(j.spec?.template.spec?.securityContext?.runAsUser).toBe(999);
    expect(j.spec?.template.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
  });

  it('cross-namespace: the static Retain VolumeSnapshotContent and its VolumeSnapshot are accepted and the snapshot-controller binds them', async () => {
    const { content, snapshot } = buildCrossNamespaceSnapshot({
      source: {
        snapshotHandle: `handle-${stamp}`,
        driver: 'hostpath.csi.k8s.io',
        snapshotClassName: 'csi-hostpath-snapclass',
        namespace: source,
        sourceVolumeMode: 'Filesystem',
      },
      target: { namespace: target, name: 'nightly' },
      metadata: { ...meta, schemaVersion: '1', backupType: 'volumesnapshot', sourcePvc: 'data-pg-0' },
    });
    contents.push(content.metadata.name!);
    await clients.volumeSnapshotContents.create(content);
    await clients.volumeSnapshots.create(snapshot);
    const bound = await watchUntil<VolumeSnapshot>(clients, {
      path: clients.volumeSnapshots.path({ namespace: target }),
      name: 'nightly',
      predicate: (vs) => vs?.status?.boundVolumeSnapshotContentName === content.metadata.name,
      deadline: Date.now() + 60_000,
      what: 'to be bound to its pre-provisioned content',
    });
    const vsc = await clients.volumeSnapshotContents.get(content.metadata.name!);
    console.log(
      `[manifests.cluster] bound pre-provisioned pair: VolumeSnapshot status ${JSON.stringify(bound.object?.status)}; content status ${JSON.stringify(vsc.status ?? null)}; content finalizers ${JSON.stringify(vsc.metadata.finalizers ?? [])}; VolumeSnapshot finalizers ${JSON.stringify(bound.object?.metadata?.finalizers ?? [])}`,
    );
    expect(bound.object?.status?.boundVolumeSnapshotContentName).toBe(content.metadata.name);
    // The controller records the binding on the content too (volumeSnapshotRef.uid)
    expect(vsc.spec.volumeSnapshotRef.uid).toBe(bound.object?.metadata?.uid);
    expect(vsc.spec.deletionPolicy).toBe('Retain');
    // The metadata travelled with the new snapshot
    expect(readSnapshotMetadata(bound.object!).stopLsn).toBe(meta.stopLsn);
  });

  it('a content whose volumeSnapshotRef names another snapshot does not bind', async () => {
    const { content, snapshot } = buildCrossNamespaceSnapshot({
      source: { snapshotHandle: `other-${stamp}`, driver: 'hostpath.csi.k8s.io' },
      target: { namespace: target, name: 'mismatch' },
    });
    const wrong: VolumeSnapshotContent = {
      ...content,
      spec: { ...content.spec, volumeSnapshotRef: { ...content.spec.volumeSnapshotRef, name: 'someone-else' } },
    };
    contents.push(wrong.metadata.name!);
    await clients.volumeSnapshotContents.create(wrong);
    await clients.volumeSnapshots.create(snapshot);
    const e = await watchUntil<VolumeSnapshot>(clients, {
      path: clients.volumeSnapshots.path({ namespace: target }),
      name: 'mismatch',
      predicate: (vs) => !!vs?.status?.boundVolumeSnapshotContentName,
      deadline: Date.now() + 8000,
      what: 'to be bound',
    }).then(
      () => undefined,
      (x: Error & { code?: string }) => x,
    );
    console.log(`[manifests.cluster] mismatched pre-provisioned pair: ${e?.message}`);
    expect(e?.code).toBe('KUBE_TIMEOUT');
  });
});
