// e2e (docs/architecture.md, "Test tiers": cluster): fencing a PostgreSQL StatefulSet on the node
// that users can trust. A StatefulSet that deletes its PVCs on scale-down is refused (dry run too),
// or fenced keeping them with --fence-retain-pvcs; a fence a killed run left (its lease live) stops
// the next run and is lifted by `kubectl dbaas unfence`; a fence undone by someone else while the
// backup runs (as a GitOps controller would) fails the run instead of giving a torn backup; the
// downtime is reported until the pod is Ready again.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FENCE_LEASE_ANNOTATION,
  FENCED_REPLICAS_ANNOTATION,
  FENCED_WHEN_SCALED_ANNOTATION,
  KubeClients,
  runBackup,
  statefulSetFencing,
  type FencingStrategy,
} from '@kubectl-dbaas/sdk';
import { clusterFromEnv, deployPostgres, hostpathSkipReason, skipWhen, type PostgresPod } from '@kubectl-dbaas/testing';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BackupCreateReport } from '../commands/backup/create/run.js';
import type { UnfenceReport } from '../commands/unfence/run.js';
import { KubectlWithPlugin, showRun as show } from './kubectl-plugin.js';
import { deleteNamespaceAndWait } from './postgres-statefulset.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = path.resolve(here, '../../dist/cli.js');
const info = clusterFromEnv(inject('dbaasCluster'));
const why = hostpathSkipReason(info, 'fencing a StatefulSet');
const ns = `cli-fence-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
let plugin: KubectlWithPlugin | undefined;
let pg: PostgresPod | undefined;

const readSts = () => clients.apps.readNamespacedStatefulSet({ name: 'pg', namespace: ns });
const patchSts = (body: object) => clients.apps.patchNamespacedStatefulSet({ name: 'pg', namespace: ns, body }, mergePatch);
async function snapshotNames(): Promise<string[]> {
  return (await clients.volumeSnapshots.list({ namespace: ns })).items.map((vs) => vs.metadata.name!).sort();
}
async function pvcUid(): Promise<string | undefined> {
  return (await clients.core.readNamespacedPersistentVolumeClaim({ name: pg!.pvcName, namespace: ns })).metadata?.uid;
}

beforeAll(async () => {
  if (why) return;
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: build first (npm run build); these tests run the built plugin`);
  plugin = await KubectlWithPlugin.create(BUNDLE, info.kubeconfig);
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  pg = await deployPostgres({ kubeConfig: clients.kubeConfig, namespace: ns, name: 'pg', major: 17 });
  await pg.query('create table t (id int primary key)');
  await pg.query('insert into t select generate_series(1, 1000)');
}, 300_000);

afterAll(async () => {
  await pg?.close();
  await deleteNamespaceAndWait(clients, ns);
  await plugin?.dispose();
}, 240_000);

describe('fencing a StatefulSet you can trust', () => {
  it(
    'whenScaled: Delete is refused by the plan (the dry run too), nothing stopped; --fence-retain-pvcs keeps the PVC and restores Delete; downtime until Ready',
    skipWhen(why),
    async () => {
      await patchSts({ spec: { persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete', whenDeleted: 'Retain' } } });
      try {
        await refusedThenKept();
      } finally {
        await patchSts({ spec: { persistentVolumeClaimRetentionPolicy: { whenScaled: 'Retain', whenDeleted: 'Retain' } } });
      }
    },
  );

  async function refusedThenKept(): Promise<void> {
    const uid = await pvcUid();
    const dry = await plugin!.dbaas(['backup', 'create', '--pod', pg!.podName, '--mode', 'fenced', '--dry-run=client', '-n', ns]);
    expect(dry.code, show(dry)).toBe(1);
    expect(dry.stderr).toContain(`StatefulSet ${ns}/pg deletes its PVCs when scaled down (persistentVolumeClaimRetentionPolicy.whenScaled: Delete)`);
    const refused = await plugin!.dbaas(['backup', 'create', '--pod', pg!.podName, '--mode', 'fenced', '--name', 'refused', '-n', ns]);
    expect(refused.code, show(refused)).toBe(1);
    expect(refused.stderr).toContain('--fence-retain-pvcs');
    expect((await readSts()).spec?.replicas).toBe(1);
    expect(await snapshotNames()).toEqual([]);

    const r = await plugin!.dbaas(
      ['backup', 'create', '--pod', pg!.podName, '--mode', 'fenced', '--fence-retain-pvcs', '--name', 'kept', '-n', ns, '-o', 'json'],
      { timeoutMs: 280_000 },
    );
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toMatch(/whenScaled Delete -> Retain while fenced/);
    expect(r.stderr).toMatch(/database serving again \(StatefulSet pg scaled to 0 and back\); down for \d+ ms/);
    const report = JSON.parse(r.stdout) as BackupCreateReport;
    expect(report.timings.fencedMs).toBeGreaterThan(0);
    const sts = await readSts();
    expect(sts.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled).toBe('Delete');
    expect(sts.metadata?.annotations ?? {}).not.toHaveProperty(FENCED_WHEN_SCALED_ANNOTATION);
    expect(sts.metadata?.annotations ?? {}).not.toHaveProperty(FENCE_LEASE_ANNOTATION);
    expect(sts.status?.readyReplicas).toBe(1);
    expect(await pvcUid()).toBe(uid);
  }

  it(
    'a fence a killed run left (its lease live) stops the next run; unfence refuses without --force, lifts it with, then finds nothing',
    skipWhen(why),
    async () => {
      const lease = {
        backup: `${ns}/killed`,
        process: 'elsewhere/4242',
        acquiredAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + 10 * 60_000).toISOString(),
      };
      await patchSts({
        metadata: { annotations: { [FENCED_REPLICAS_ANNOTATION]: '1', [FENCE_LEASE_ANNOTATION]: JSON.stringify(lease) } },
        spec: { replicas: 0 },
      });
      await pg!.waitReady(0);
      // The pod is gone while fenced: the PVC is the target (its StatefulSet found from volumeClaimTemplates).
      const blocked = await plugin!.dbaas(['backup', 'create', '--pvc', pg!.pvcName, '--mode', 'fenced', '--name', 'blocked', '-n', ns]);
      expect(blocked.code, show(blocked)).not.toBe(0);
      expect(blocked.stderr).toContain(`StatefulSet ${ns}/pg is fenced by backup ${ns}/killed (process elsewhere/4242)`);
      expect(blocked.stderr).toContain(`kubectl dbaas unfence statefulset/pg -n ${ns} --force`);

      const refused = await plugin!.dbaas(['unfence', 'statefulset/pg', '-n', ns]);
      expect(refused.code, show(refused)).toBe(1);
      expect((await readSts()).spec?.replicas).toBe(0);
      const lifted = await plugin!.dbaas(['unfence', 'statefulset/pg', '--force', '-n', ns, '-o', 'json'], { timeoutMs: 200_000 });
      expect(lifted.code, show(lifted)).toBe(0);
      expect(JSON.parse(lifted.stdout) as UnfenceReport).toMatchObject({
        kind: 'Unfence',
        object: 'statefulset/pg',
        lifted: true,
        lease: { backup: `${ns}/killed` },
      });
      const sts = await readSts();
      expect(sts.spec?.replicas).toBe(1);
      expect(sts.status?.readyReplicas).toBe(1);
      expect(sts.metadata?.annotations ?? {}).not.toHaveProperty(FENCED_REPLICAS_ANNOTATION);
      const again = await plugin!.dbaas(['unfence', 'sts/pg', '-n', ns]);
      expect(again.code, show(again)).toBe(0);
      expect(again.stdout).toBe('statefulset/pg: not fenced, nothing to lift\n');
    },
  );

  it(
    'a fence undone while the backup runs (scaled back up, as a GitOps controller would) fails the run, deletes its snapshot and leaves the StatefulSet running',
    skipWhen(why),
    async () => {
      // Start from a running, unfenced StatefulSet whatever the tests before left.
      await patchSts({ metadata: { annotations: { [FENCED_REPLICAS_ANNOTATION]: null, [FENCE_LEASE_ANNOTATION]: null } }, spec: { replicas: 1 } });
      await pg!.waitReady(1);
      const real = statefulSetFencing('pg');
      // The real fence, then someone scales the StatefulSet back up before the snapshot is requested.
      const undone: FencingStrategy = {
        ...real,
        description: real.description,
        fence: async (ctx) => {
          await real.fence(ctx);
          await patchSts({ spec: { replicas: 1 } });
        },
        check: (ctx) => real.check!(ctx),
        unfence: (ctx) => real.unfence(ctx),
        waitRestored: (ctx) => real.waitRestored!(ctx),
      };
      const failure = await runBackup(clients, {
        namespace: ns,
        target: { pod: pg!.podName },
        mode: 'fenced',
        name: 'undone',
        fencing: undone,
        deadlineMs: 180_000,
      }).then(
        () => undefined,
        (error: unknown) => error as { code?: string; message: string },
      );
      expect(failure?.code).toBe('TARGET_UNSUPPORTED');
      expect(failure?.message).toContain(`the fence did not hold before the snapshot was requested: StatefulSet ${ns}/pg was scaled to 1 while fenced`);
      expect(await snapshotNames()).not.toContain('undone');
      await pg!.waitReady(1);
      expect((await readSts()).metadata?.annotations ?? {}).not.toHaveProperty(FENCED_REPLICAS_ANNOTATION);
    },
  );
});
