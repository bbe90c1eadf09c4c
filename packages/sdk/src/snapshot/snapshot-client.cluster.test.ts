// SnapshotClient's list / describe / delete / prune against the real kube-apiserver and
// snapshot-controller of the shared local cluster. No CSI driver runs, so snapshots of PVCs never
// become ready: the controller marks them with an error (their PVCs do not exist), which is what
// the error-state reporting is tested with; a pre-provisioned pair gets bound to a content.
import { clusterFromEnv, dbaasRejection } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isDbaasError } from '../errors.js';
import { KubeClients } from '../kube/clients.js';
import { watchUntil } from '../kube/watch-until.js';
import type { VolumeSnapshot } from '../kube/snapshot-types.js';
import { buildCrossNamespaceSnapshot, buildVolumeSnapshot } from '../manifests/builders.js';
import { DBAAS_ANNOTATIONS, SNAPSHOT_METADATA_SCHEMA_VERSION } from '../manifests/metadata.js';
import { SnapshotClient } from './snapshot-client.js';

const info = clusterFromEnv(inject('dbaasCluster'));
const ns = `snap-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
const client = new SnapshotClient(clients);
const NOW = new Date();
const DAY = 86_400_000;
const contentName = `dbaas-${ns}-bound`;
const UNSERVED_DRIVER = 'unserved.csi.kubectl-dbaas.test';

async function exists(name: string): Promise<boolean> {
  return clients.volumeSnapshots.get(name, ns).then(
    () => true,
    (e: unknown) => {
      if (isDbaasError(e, 'KUBE_NOT_FOUND')) return false;
      throw e;
    },
  );
}

beforeAll(async () => {
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  // Seven online sets (data + -wal), requested 0..6 days (+1 h) before NOW.
  const objects: VolumeSnapshot[] = [];
  for (let i = 0; i < 7; i++) {
    for (const role of ['data', 'wal'] as const) {
      objects.push(
        buildVolumeSnapshot({
          namespace: ns,
          pvc: 'data-pg-0',
          snapshotClass: 'csi-hostpath-snapclass',
          metadata: {
            backupSet: `s${i}`,
            role,
            mode: 'online',
            engine: 'postgres',
            engineVersion: '17.6',
            requestedAt: new Date(NOW.getTime() - i * DAY - 3_600_000),
          },
        }),
      );
    }
  }
  // Managed, but with metadata that does not parse.
  const broken = buildVolumeSnapshot({ namespace: ns, pvc: 'data-pg-0', metadata: { backupSet: 'broken', role: 'data', mode: 'fenced', requestedAt: NOW } });
  broken.metadata.annotations![DBAAS_ANNOTATIONS.stopLsn] = 'zz/zz';
  objects.push(broken);
  // Not ours.
  objects.push({
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshot',
    metadata: { name: 'foreign', namespace: ns },
    spec: { source: { persistentVolumeClaimName: 'data-pg-0' } },
  });
  await Promise.all(objects.map((o) => clients.volumeSnapshots.create(o)));
  // A pre-provisioned pair the snapshot-controller binds (so describe has a content to show). Its
  // driver is one no CSI sidecar in the cluster serves, so the pair stays bound but not ready
  // whether or not the hostpath plugin runs (the plugin would report the made-up handle as an error).
  const pair = buildCrossNamespaceSnapshot({
    source: { snapshotHandle: 'handle-of-bound', driver: UNSERVED_DRIVER, namespace: 'elsewhere', sourceVolumeMode: 'Filesystem' },
    target: { namespace: ns, name: 'bound' },
    contentName,
    metadata: {
      schemaVersion: SNAPSHOT_METADATA_SCHEMA_VERSION,
      backupSet: 'bound',
      role: 'data',
      sourcePvc: 'data-pg-0',
      backupType: 'volumesnapshot',
      mode: 'fenced',
      requestedAt: new Date(NOW.getTime() - 30 * DAY),
    },
  });
  await clients.volumeSnapshotContents.create(pair.content);
  await clients.volumeSnapshots.create(pair.snapshot);
  await watchUntil<VolumeSnapshot>(clients, {
    path: clients.volumeSnapshots.path({ namespace: ns }),
    name: 'bound',
    predicate: (vs) => vs?.status?.boundVolumeSnapshotContentName === contentName,
    deadline: Date.now() + 60_000,
    what: 'to be bound to its pre-provisioned content',
  });
});

afterAll(async () => {
  await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
  await clients.volumeSnapshotContents.delete(contentName).catch(() => undefined);
});

describe('SnapshotClient.list', () => {
  it('reads every page (pageSize 2), groups data and -wal, newest first, error state from status.error', async () => {
    // The controller marks the PVC snapshots with an error within seconds.
    let list = await client.list({ namespace: ns, pageSize: 2 });
    const deadline = Date.now() + 60_000;
    while (list.items.some((s) => /^s\d$/.test(s.name) && s.state !== 'error') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      list = await client.list({ namespace: ns, pageSize: 2 });
    }
    expect(list.snapshotCount).toBe(16); // 7 x 2 + broken + bound; foreign is not listed
    expect(list.pages).toBe(8);
    expect(list.items.map((s) => s.name)).toEqual(['broken', 's0', 's1', 's2', 's3', 's4', 's5', 's6', 'bound']);
    const s0 = list.items[1]!;
    expect(s0.snapshots.map((s) => s.name)).toEqual(['s0', 's0-wal']);
    expect(s0.state).toBe('error');
    expect(s0.error).toContain('cannot get claim from snapshot');
    expect(s0.mode).toBe('online');
    expect(s0.timeSource).toBe('requested-at');
    expect(s0.data?.metadata?.engineVersion).toBe('17.6');
    expect(list.items[0]!.metadataError).toMatch(/^broken: .*stop-lsn/);
    expect(list.items[0]!.timeSource).toBe('creationTimestamp');
    const bound = list.items.at(-1)!;
    expect(bound.state).toBe('pending');
    expect(bound.data?.boundContentName).toBe(contentName);
  });

  it('filters by backup source and label selector; all namespaces; unmanaged only when asked', async () => {
    expect((await client.list({ namespace: ns, backupSource: 'other-pvc' })).items).toEqual([]);
    expect((await client.list({ namespace: ns, labelSelector: 'dbaas.io/backup-set in (s1,s2)' })).items.map((s) => s.name)).toEqual(['s1', 's2']);
    const all = await client.list({ allNamespaces: true, pageSize: 3 });
    expect(all.items.filter((s) => s.namespace === ns).length).toBe(9);
    const withForeign = await client.list({ namespace: ns, includeUnmanaged: true });
    expect(withForeign.items.find((s) => s.name === 'foreign')).toMatchObject({ managed: false });
  });
});

describe('SnapshotClient.describe', () => {
  it('shows both snapshots of a set with metadata; <set>-wal finds the set', async () => {
    const d = await client.describe({ namespace: ns, name: 's1-wal' });
    expect(d.name).toBe('s1');
    expect(d.data?.name).toBe('s1');
    expect(d.wal?.name).toBe('s1-wal');
    expect(d.wal?.metadata?.role).toBe('wal');
    expect(d.data?.object.spec.source.persistentVolumeClaimName).toBe('data-pg-0');
    expect(d.data?.content).toBeUndefined();
  });

  it('shows the bound VolumeSnapshotContent: driver, snapshotHandle, deletionPolicy', async () => {
    const d = await client.describe({ namespace: ns, name: 'bound' });
    expect(d.data?.content).toMatchObject({
      name: contentName,
      driver: UNSERVED_DRIVER,
      snapshotHandle: 'handle-of-bound',
      deletionPolicy: 'Retain',
      readyToUse: false,
    });
  });

  it('a missing set is KUBE_NOT_FOUND whose fix is a kubectl command listing the backups (no CLI flag)', async () => {
    const e = await dbaasRejection(client.describe({ namespace: ns, name: 'nope' }));
    expect(e.code).toBe('KUBE_NOT_FOUND');
    expect(e.fix).toContain(`kubectl get volumesnapshots -n ${ns} -l app.kubernetes.io/managed-by=kubectl-dbaas`);
  });
});

describe('SnapshotClient.delete', () => {
  it('refuses a snapshot not managed by kubectl-dbaas', async () => {
    const e = await dbaasRejection(client.delete({ namespace: ns, name: 'foreign' }));
    expect(e.code).toBe('SNAPSHOT_NOT_MANAGED');
    expect(e.message).toContain('not managed by kubectl-dbaas');
    expect(await exists('foreign')).toBe(true);
  });

  it('deletes the data and -wal snapshots together and waits until both are gone', async () => {
    const r = await client.delete({ namespace: ns, name: 's6', wait: true, timeoutMs: 60_000 });
    expect(r).toEqual({ namespace: ns, name: 's6', deleted: ['s6', 's6-wal'], gone: true });
    expect(await exists('s6')).toBe(false);
    expect(await exists('s6-wal')).toBe(false);
    expect((await dbaasRejection(client.delete({ namespace: ns, name: 's6' }))).code).toBe('KUBE_NOT_FOUND');
  });
});

describe('SnapshotClient.prune', () => {
  it('dry run (the default) plans by requested time and deletes nothing; then the real run deletes exactly the plan', async () => {
    const policy = { namespace: ns, maxAge: '2d12h', now: NOW };
    const dry = await client.prune(policy);
    expect(dry.dryRun).toBe(true);
    expect(dry.delete.map((d) => d.name)).toEqual(['s3', 's4', 's5']);
    expect(dry.keep.map((d) => d.name)).toEqual(['broken', 's0', 's1', 's2', 'bound']);
    expect(dry.delete[0]!.reasons[0]).toMatch(/^failed \(.*cannot get claim.*\) and older than max-age 2d12h$/);
    expect(dry.keep[1]!.reasons[0]).toMatch(/^within max-age 2d12h/);
    expect(dry.keep[0]!.reasons[0]).toMatch(/^metadata does not parse/);
    expect(dry.keep[4]!.reasons).toEqual(['in progress (not ready yet, no error)']); // bound, not ready: 30 days old but kept
    expect(dry.deleted).toEqual([]);
    expect(await exists('s3')).toBe(true);

    const real = await client.prune({ ...policy, dryRun: false, wait: true });
    expect(real.delete.map((d) => d.name)).toEqual(['s3', 's4', 's5']);
    expect(real.deleted.map((d) => [d.name, d.deleted, d.gone])).toEqual([
      ['s3', ['s3', 's3-wal'], true],
      ['s4', ['s4', 's4-wal'], true],
      ['s5', ['s5', 's5-wal'], true],
    ]);
    for (const n of ['s3', 's3-wal', 's4', 's4-wal', 's5', 's5-wal']) expect(await exists(n)).toBe(false);
    expect((await client.list({ namespace: ns })).items.map((s) => s.name)).toEqual(['broken', 's0', 's1', 's2', 'bound']);
    expect(await exists('foreign')).toBe(true);
  });
});
