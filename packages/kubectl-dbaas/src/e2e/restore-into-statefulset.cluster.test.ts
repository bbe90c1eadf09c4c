// e2e (issue 15, item 3): a backup back into a workload, with the real `kubectl` running the built
// plugin and PostgreSQL in a StatefulSet on the test node. Rows acknowledged before a fenced backup,
// rows written after it; then (a) `restore --for-statefulset`: the PVC a new StatefulSet's
// controller adopts (refused once it exists), whose pod serves every row of the backup and none
// after; (b) `restore --in-place statefulset/pg --yes`: the dry run and the missing --yes change
// nothing; the real run leaves the StatefulSet serving the backup's rows and none written after it,
// while `data-pg-0-previous` holds the data from before the restore, rows after the backup included
// (checked by starting PostgreSQL on it), on a PV set to Retain; a run interrupted after the old PVC
// is gone says where the old data is, and its rollback brings it back; an online backup restored in
// place gets its WAL and backup_label from the restore-prep Job.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FENCE_LEASE_ANNOTATION, FENCED_REPLICAS_ANNOTATION, KubeClients, RECLAIM_POLICY_BEFORE_ANNOTATION, watchUntil } from '@kubectl-dbaas/sdk';
import { clusterFromEnv, hostpathSkipReason, skipWhen } from '@kubectl-dbaas/testing';
import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RestoreReport } from '../restore-report.js';
import type { InPlaceRestoreReport } from '../commands/restore/workload.js';
import { KubectlWithPlugin, showRun as show } from './kubectl-plugin.js';
import { applyRbacDocRoles, rbacDocRoles, serviceAccountKubeconfig } from './rbac-doc.js';
import {
  applyPostgresStatefulSet,
  connectThrough,
  E2E_MAJOR,
  postgresImage,
  createPostgresSecret,
  deleteNamespaceAndWait,
  portForward,
  waitStatefulSetReady,
  type PortForward,
  type PostgresStatefulSet,
} from './postgres-statefulset.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = path.resolve(here, '../../dist/cli.js');
const info = clusterFromEnv(inject('dbaasCluster'));
const why = hostpathSkipReason(info, 'restoring into a StatefulSet');
const ns = `cli-wl-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
const forwards: PortForward[] = [];
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
let plugin: KubectlWithPlugin | undefined;
let source: PostgresStatefulSet | undefined;
/** The PVs the in-place restores set to Retain: put back to Delete before the namespace goes, so they do not outlive the test. */
const retainedVolumes: string[] = [];
/** ClusterRoles and bindings of the RBAC test, to delete afterwards. */
const clusterObjects: string[] = [];
/** Ids acknowledged before the backup, and written after it. */
const before = Array.from({ length: 300 }, (_, i) => i + 1);
const after = Array.from({ length: 50 }, (_, i) => i + 1001);

const dbaas = (args: string[], timeoutMs = 280_000) => plugin!.dbaas([...args, '-n', ns], { timeoutMs });

async function sql<T>(target: Pick<PostgresStatefulSet, 'namespace' | 'secret'>, pod: string, use: (db: pg.Client) => Promise<T>): Promise<T> {
  const pf = await portForward(info.kubeconfig, ns, pod);
  forwards.push(pf);
  const db = await connectThrough(clients, target, pf);
  try {
    return await use(db);
  } finally {
    await db.end().catch(() => undefined);
    await pf.close();
  }
}

/** The ids in `t`, as numbers, in order. */
async function ids(db: pg.Client): Promise<number[]> {
  return (await db.query<{ id: number }>('select id from t order by id')).rows.map((r) => Number(r.id));
}

beforeAll(async () => {
  if (why) return;
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: build first (npm run build); these tests run the built plugin`);
  plugin = await KubectlWithPlugin.create(BUNDLE, info.kubeconfig);
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  const secret = await createPostgresSecret(clients, ns, 'pg-app');
  source = await applyPostgresStatefulSet(clients, { namespace: ns, name: 'pg', secret: secret.name });
  await waitStatefulSetReady(clients, source);
  await sql(source, source.pod, async (db) => {
    await db.query('create table t (id int primary key, pad text)');
    // One statement per row: each id is in the table once its insert returned (acknowledged).
    for (const id of before) await db.query("insert into t values ($1, 'before the backup')", [id]);
  });
  const b = await dbaas(['backup', 'create', '--pod', source.pod, '--mode', 'fenced', '--name', 'before', '-o', 'json']);
  expect(b.code, show(b)).toBe(0);
  await waitStatefulSetReady(clients, source);
  await sql(source, source.pod, async (db) => {
    for (const id of after) await db.query("insert into t values ($1, 'after the backup')", [id]);
    expect(await ids(db)).toEqual([...before, ...after]);
  });
}, 600_000);

afterAll(async () => {
  for (const pf of forwards) await pf.close();
  for (const volume of retainedVolumes) {
    await clients.core
      .patchPersistentVolume({ name: volume, body: { spec: { persistentVolumeReclaimPolicy: 'Delete' } } }, mergePatch)
      .catch((e: unknown) => console.error(`PV ${volume} stays Retain: ${String(e)}`));
  }
  for (const o of clusterObjects) await plugin?.run(['delete', o, '--ignore-not-found']);
  await deleteNamespaceAndWait(clients, ns);
  await plugin?.dispose();
}, 240_000);

describe('restore back into a workload', () => {
  it(
    '--for-statefulset makes the PVC a new StatefulSet adopts (refused once it exists); its pod serves every row of the backup, none after',
    skipWhen(why),
    async () => {
      const dry = await dbaas(['restore', 'before', '--for-statefulset', 'pg-new', '--dry-run=client', '-o', 'name']);
      expect(dry.code, show(dry)).toBe(0);
      expect(dry.stdout).toBe('persistentvolumeclaim/data-pg-new-0\n');
      expect(dry.stderr).toContain('the StatefulSet pg-new is to be created next');

      const r = await dbaas(['restore', 'before', '--for-statefulset', 'pg-new', '-o', 'json']);
      expect(r.code, show(r)).toBe(0);
      expect(JSON.parse(r.stdout) as RestoreReport & { statefulSet: string }).toMatchObject({
        kind: 'Restore',
        pvc: 'data-pg-new-0',
        state: 'ready',
        statefulSet: 'pg-new',
        backup: { name: 'before', mode: 'fenced' },
      });
      const again = await dbaas(['restore', 'before', '--for-statefulset', 'pg-new']);
      expect(again.code, show(again)).toBe(1);
      expect(again.stderr).toContain(`PVC ${ns}/data-pg-new-0 already exists: a restore never overwrites or adopts a volume`);

      const copy = await applyPostgresStatefulSet(clients, { namespace: ns, name: 'pg-new', secret: source!.secret });
      await waitStatefulSetReady(clients, copy);
      const pod = await clients.core.readNamespacedPod({ name: copy.pod, namespace: ns });
      expect(pod.spec?.volumes?.find((v) => v.name === 'data')?.persistentVolumeClaim?.claimName).toBe('data-pg-new-0');
      await sql(copy, copy.pod, async (db) => expect(await ids(db)).toEqual(before));
    },
  );

  it(
    '--in-place: the dry run and a run without --yes change nothing; with --yes the StatefulSet serves the backup, and data-pg-0-previous keeps the data from before (on a Retain PV)',
    skipWhen(why),
    async () => {
      const pvcBefore = await clients.core.readNamespacedPersistentVolumeClaim({ name: 'data-pg-0', namespace: ns });
      const oldVolume = pvcBefore.spec!.volumeName!;
      retainedVolumes.push(oldVolume);
      const reclaimBefore = (await clients.core.readPersistentVolume({ name: oldVolume })).spec?.persistentVolumeReclaimPolicy;
      const unchanged = async () => {
        const pvc = await clients.core.readNamespacedPersistentVolumeClaim({ name: 'data-pg-0', namespace: ns });
        expect(pvc.metadata?.uid).toBe(pvcBefore.metadata?.uid);
        expect((await clients.core.readPersistentVolume({ name: oldVolume })).spec?.persistentVolumeReclaimPolicy).toBe(reclaimBefore);
        expect((await clients.apps.readNamespacedStatefulSet({ name: 'pg', namespace: ns })).spec?.replicas).toBe(1);
        const pvcs = (await clients.core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items.map((p) => p.metadata!.name!);
        expect(pvcs).not.toContain('data-pg-0-previous');
      };

      const dry = await dbaas(['restore', 'before', '--in-place', 'statefulset/pg', '--dry-run=client']);
      expect(dry.code, show(dry)).toBe(0);
      expect(dry.stdout).toContain(`# 1. PV ${oldVolume} (the data of PVC data-pg-0): reclaim policy ${reclaimBefore} -> Retain`);
      expect(dry.stdout).toContain('# 4. delete the PVC object data-pg-0');
      expect(dry.stdout).toContain('name: data-pg-0-previous');
      expect(dry.stdout).toContain(`volumeName: ${oldVolume}`);
      await unchanged();

      const unconfirmed = await dbaas(['restore', 'before', '--in-place', 'statefulset/pg']);
      expect(unconfirmed.code, show(unconfirmed)).toBe(2);
      expect(unconfirmed.stderr).toContain('flag: --yes');
      await unchanged();

      const r = await dbaas(['restore', 'before', '--in-place', 'statefulset/pg', '--yes', '-o', 'json']);
      expect(r.code, show(r)).toBe(0);
      const report = JSON.parse(r.stdout) as InPlaceRestoreReport;
      expect(report).toMatchObject({
        kind: 'InPlaceRestore',
        statefulSet: 'pg',
        pvc: 'data-pg-0',
        previousPvc: 'data-pg-0-previous',
        previousVolume: oldVolume,
        reclaimPolicyBefore: reclaimBefore,
        replicas: 1,
        restore: { pvc: 'data-pg-0', state: 'ready', backup: { name: 'before' } },
      });
      expect(report.timings.downMs).toBeGreaterThan(0);

      // The StatefulSet is back, unfenced, on a new volume holding exactly the backup's rows.
      const sts = await clients.apps.readNamespacedStatefulSet({ name: 'pg', namespace: ns });
      expect(sts.spec?.replicas).toBe(1);
      expect(sts.status?.readyReplicas).toBe(1);
      expect(sts.metadata?.annotations ?? {}).not.toHaveProperty(FENCED_REPLICAS_ANNOTATION);
      expect(sts.metadata?.annotations ?? {}).not.toHaveProperty(FENCE_LEASE_ANNOTATION);
      const pvcNow = await clients.core.readNamespacedPersistentVolumeClaim({ name: 'data-pg-0', namespace: ns });
      expect(pvcNow.metadata?.uid).not.toBe(pvcBefore.metadata?.uid);
      expect(pvcNow.spec?.volumeName).not.toBe(oldVolume);
      await sql(source!, source!.pod, async (db) => expect(await ids(db)).toEqual(before));

      // The old data: its PV is Retain (the policy before recorded) and bound to the -previous PVC.
      const pv = await clients.core.readPersistentVolume({ name: oldVolume });
      expect(pv.spec?.persistentVolumeReclaimPolicy).toBe('Retain');
      if (reclaimBefore !== 'Retain') expect(pv.metadata?.annotations?.[RECLAIM_POLICY_BEFORE_ANNOTATION]).toBe(reclaimBefore);
      const previous = await clients.core.readNamespacedPersistentVolumeClaim({ name: 'data-pg-0-previous', namespace: ns });
      expect(previous.status?.phase).toBe('Bound');
      expect(previous.spec?.volumeName).toBe(oldVolume);

      // PostgreSQL started on it serves the rows written after the backup too.
      const template = sts.spec!.template.spec!;
      await clients.core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name: 'pg-previous' },
          spec: { ...template, volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-pg-0-previous' } }] },
        },
      });
      await watchUntil<V1Pod>(clients, {
        path: `/api/v1/namespaces/${ns}/pods`,
        name: 'pg-previous',
        what: 'to be Ready on the -previous PVC',
        predicate: (p) => p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
        deadline: Date.now() + 180_000,
      });
      await sql(source!, 'pg-previous', async (db) => expect(await ids(db)).toEqual([...before, ...after]));

      // A second in-place restore would have nowhere to keep the current data: refused, nothing stopped.
      const second = await dbaas(['restore', 'before', '--in-place', 'sts/pg', '--yes']);
      expect(second.code, show(second)).toBe(1);
      expect(second.stderr).toContain(`PVC ${ns}/data-pg-0-previous exists`);
      expect((await clients.apps.readNamespacedStatefulSet({ name: 'pg', namespace: ns })).spec?.replicas).toBe(1);
    },
  );

  it(
    '--in-place interrupted after the old PVC is gone (whenScaled: Delete) leaves the StatefulSet fenced, its PVCs kept, says where the old data is, and its rollback steps bring the old data back',
    skipWhen(why),
    async () => {
      const other = await applyPostgresStatefulSet(clients, { namespace: ns, name: 'pg2', secret: source!.secret });
      await waitStatefulSetReady(clients, other);
      await sql(other, other.pod, async (db) => {
        await db.query('create table t (id int primary key, pad text)');
        await db.query("insert into t values (5000, 'the data of pg2')");
      });
      const oldVolume = (await clients.core.readNamespacedPersistentVolumeClaim({ name: 'data-pg2-0', namespace: ns })).spec!.volumeName!;
      retainedVolumes.push(oldVolume);
      // A StatefulSet that deletes its PVCs when scaled down: kept Retain while the restore has it at 0.
      await clients.apps.patchNamespacedStatefulSet(
        { name: 'pg2', namespace: ns, body: { spec: { persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete', whenDeleted: 'Retain' } } } },
        mergePatch,
      );

      // Ctrl-C once the old PVC object is gone: the worst moment, the StatefulSet has no PVC of its name.
      const r = await plugin!.dbaas(['restore', 'before', '--in-place', 'statefulset/pg2', '--yes', '-n', ns], {
        timeoutMs: 280_000,
        onStderr: (text, child) => {
          if (text.includes('PVC data-pg2-0 deleted;') && !child.killed) child.kill('SIGINT');
        },
      });
      expect(r.code, show(r)).toBe(130);
      expect(r.stderr).toContain(
        `the old data of data-pg2-0 is on PV ${oldVolume} (reclaim policy Retain), bound or being bound to PVC ${ns}/data-pg2-0-previous`,
      );
      expect(r.stderr).toContain('StatefulSet pg2 is left scaled to 0 (fenced)');
      const claimRef = JSON.stringify([{ op: 'replace', path: '/spec/claimRef', value: { namespace: ns, name: 'data-pg2-0' } }]);
      expect(r.stderr).toContain(`kubectl patch pv ${oldVolume} --type json -p '${claimRef}'`);
      const sts = await clients.apps.readNamespacedStatefulSet({ name: 'pg2', namespace: ns });
      expect(sts.spec?.replicas).toBe(0);
      expect(sts.metadata?.annotations?.[FENCED_REPLICAS_ANNOTATION]).toBe('1');
      expect(sts.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled).toBe('Retain');
      const pvcs = (await clients.core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items.filter((p) => !p.metadata?.deletionTimestamp);
      expect(pvcs.map((p) => p.metadata!.name).filter((n) => n!.startsWith('data-pg2-'))).toEqual(['data-pg2-0-previous']);
      expect((await clients.core.readPersistentVolume({ name: oldVolume })).spec?.persistentVolumeReclaimPolicy).toBe('Retain');

      await watchUntil<{ metadata?: { name?: string }; status?: { phase?: string } }>(clients, {
        path: `/api/v1/namespaces/${ns}/persistentvolumeclaims`,
        name: 'data-pg2-0-previous',
        what: 'to be Bound to the old PV',
        predicate: (p) => p?.status?.phase === 'Bound',
        deadline: Date.now() + 60_000,
      });
      // The rollback the error gives, step by step.
      await clients.core.deleteNamespacedPersistentVolumeClaim({ name: 'data-pg2-0-previous', namespace: ns });
      await watchUntil(clients, {
        path: `/api/v1/namespaces/${ns}/persistentvolumeclaims`,
        name: 'data-pg2-0-previous',
        what: 'to be deleted',
        predicate: (o, e) => o === undefined || e.type === 'DELETED',
        deadline: Date.now() + 60_000,
      });
      await clients.core.createNamespacedPersistentVolumeClaim({
        namespace: ns,
        body: {
          metadata: { name: 'data-pg2-0' },
          spec: { volumeName: oldVolume, storageClassName: 'csi-hostpath-sc', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
        },
      });
      await clients.core.patchPersistentVolume(
        { name: oldVolume, body: [{ op: 'replace', path: '/spec/claimRef', value: { namespace: ns, name: 'data-pg2-0' } }] },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      );
      const lifted = await dbaas(['unfence', 'statefulset/pg2', '--force']);
      expect(lifted.code, show(lifted)).toBe(0);
      await waitStatefulSetReady(clients, other);
      const back = await clients.apps.readNamespacedStatefulSet({ name: 'pg2', namespace: ns });
      expect(back.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled).toBe('Delete');
      expect((await clients.core.readNamespacedPersistentVolumeClaim({ name: 'data-pg2-0', namespace: ns })).spec?.volumeName).toBe(oldVolume);
      await sql(other, other.pod, async (db) => expect(await ids(db)).toEqual([5000]));
    },
  );

  it(
    '--in-place of an online backup, as a service account with only the restore and restore-in-place roles of docs/rbac.md: the restore-prep Job completes the new PVC (WAL, backup_label); the StatefulSet recovers to the end of the backup',
    skipWhen(why),
    async () => {
      const db3 = await applyPostgresStatefulSet(clients, { namespace: ns, name: 'pg3', secret: source!.secret });
      await waitStatefulSetReady(clients, db3);
      await sql(db3, db3.pod, async (db) => {
        await db.query('create table t (id int primary key, pad text)');
        for (const id of before) await db.query("insert into t values ($1, 'before the online backup')", [id]);
      });
      retainedVolumes.push((await clients.core.readNamespacedPersistentVolumeClaim({ name: 'data-pg3-0', namespace: ns })).spec!.volumeName!);
      const b = await dbaas(['backup', 'create', '--pod', db3.pod, '--mode', 'online', '--name', 'pg3-online', '-o', 'json']);
      expect(b.code, show(b)).toBe(0);
      await sql(db3, db3.pod, async (db) => {
        for (const id of after) await db.query("insert into t values ($1, 'after the online backup')", [id]);
      });

      const sa = 'restore-operator';
      const limited = await serviceAccountKubeconfig(clients, {
        namespace: ns,
        name: sa,
        baseKubeconfig: info.kubeconfig,
        file: path.join(plugin!.shimDir, 'restore-in-place.kubeconfig'),
      });
      const roles = await rbacDocRoles((name) => /^kubectl-dbaas-restore(-in-place)?(-cluster)?$/.test(name));
      expect(roles.map((o) => o.metadata.name)).toEqual([
        'kubectl-dbaas-restore',
        'kubectl-dbaas-restore-cluster',
        'kubectl-dbaas-restore-in-place',
        'kubectl-dbaas-restore-in-place-cluster',
      ]);
      await applyRbacDocRoles((args) => plugin!.run(args), roles, {
        namespaces: [ns],
        serviceAccount: { name: sa, namespace: ns },
        clusterSuffix: ns,
        manifestFile: path.join(plugin!.shimDir, 'restore-in-place-rbac.json'),
        clusterObjects,
      });

      const r = await plugin!.dbaas(
        ['restore', 'pg3-online', '--in-place', 'statefulset/pg3', '--yes', '--prep-image', postgresImage(E2E_MAJOR), '-o', 'json', '-n', ns],
        { kubeconfig: limited, timeoutMs: 280_000 },
      );
      expect(r.code, show(r)).toBe(0);
      const report = JSON.parse(r.stdout) as InPlaceRestoreReport;
      expect(report).toMatchObject({ statefulSet: 'pg3', previousPvc: 'data-pg3-0-previous', restore: { state: 'ready', backup: { mode: 'online' } } });
      expect(report.restore.prepOutput ?? '').not.toBe('');
      // The restore-prep Job and the WAL scratch PVC are gone; the StatefulSet serves the backup's rows.
      const pvcs = (await clients.core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items.map((p) => p.metadata!.name!);
      expect(pvcs.filter((n) => n.startsWith('data-pg3-')).sort()).toEqual(['data-pg3-0', 'data-pg3-0-previous']);
      await sql(db3, db3.pod, async (db) => expect(await ids(db)).toEqual(before));
    },
  );
});
