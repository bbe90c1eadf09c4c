// e2e: the round trip a user makes, with the real `kubectl` running the built plugin from PATH and
// PostgreSQL in a StatefulSet on the test node: writes -> `kubectl dbaas backup create` (fenced: the
// StatefulSet is scaled to 0, its pod really stops, and comes back Ready) -> `backup list` ->
// `restore` into the PVC name of a NEW StatefulSet -> `verify` (pod runtime: an inspect pod over
// exec, a scratch PostgreSQL over port-forward) -> the new StatefulSet's pod starts on the restored
// PVC and serves every row acknowledged before the fence, and none written after it.
//
// Fenced mode needs no SQL connection from the CLI; the test's own SQL goes through
// `kubectl port-forward`, as a user's would.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DBAAS_LABELS, KubeClients } from '@kubectl-dbaas/sdk';
import { clusterFromEnv, eventually, hostpathSkipReason, skipWhen } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BackupCreateReport } from '../commands/backup/create/run.js';
import type { BackupListDocument } from '../commands/backup/list/run.js';
import type { RestoreReport } from '../restore-report.js';
import type { VerifyReport } from '../commands/verify/run.js';
import { KubectlWithPlugin, showRun as show } from './kubectl-plugin.js';
import {
  ackedCheck,
  applyPostgresStatefulSet,
  connectThrough,
  createPostgresSecret,
  deleteNamespaceAndWait,
  E2E_MAJOR,
  POSTGRES_IMAGE_TEMPLATE,
  portForward,
  seed,
  waitStatefulSetReady,
  Writer,
  type PortForward,
} from './postgres-statefulset.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = path.resolve(here, '../../dist/cli.js');
const info = clusterFromEnv(inject('dbaasCluster'));
const why = hostpathSkipReason(info, 'the StatefulSet round trip');
const ns = `cli-rt-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
const forwards: PortForward[] = [];
let plugin: KubectlWithPlugin | undefined;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

beforeAll(async () => {
  if (why) return;
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: build first (npm run build); these tests run the built plugin`);
  plugin = await KubectlWithPlugin.create(BUNDLE, info.kubeconfig);
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
});

afterAll(async () => {
  for (const pf of forwards) await pf.close();
  await deleteNamespaceAndWait(clients, ns);
  await plugin?.dispose();
}, 240_000);

describe('a PostgreSQL StatefulSet: fenced backup under writes, restore, verify, a new StatefulSet on the copy', () => {
  it('serves every acknowledged row, and none written after the fence', skipWhen(why), async () => {
    const dbaas = (args: string[], timeoutMs = 280_000) => plugin!.dbaas([...args, '-n', ns], { timeoutMs });
    const times: string[] = [];
    let t = Date.now();
    const lap = (what: string) => {
      times.push(`${what} ${seconds(Date.now() - t)}`);
      t = Date.now();
    };

    const secret = await createPostgresSecret(clients, ns, 'pg-app');
    const pg = await applyPostgresStatefulSet(clients, { namespace: ns, name: 'pg', secret: secret.name });
    await waitStatefulSetReady(clients, pg);
    lap('StatefulSet Ready');
    const pf = await portForward(info.kubeconfig, ns, pg.pod);
    forwards.push(pf);
    const db = await connectThrough(clients, pg, pf);
    await seed(db);
    const writer = new Writer(db).start();
    await writer.until(200);

    // Fenced (the default on hostpath, given here to say so): the writer's server goes away under it.
    const backupStart = Date.now();
    const b = await dbaas(['backup', 'create', '--pod', pg.pod, '--mode', 'fenced', '--name', 'rt', '-o', 'json']);
    await writer.stop();
    await db.end().catch(() => undefined);
    expect(b.code, show(b)).toBe(0);
    lap('backup create (fenced)');
    const backup = JSON.parse(b.stdout) as BackupCreateReport;
    expect(backup).toMatchObject({ kind: 'Backup', name: 'rt', mode: 'fenced', pvc: pg.pvc });
    expect(b.stderr).toMatch(/StatefulSet pg/);
    expect(writer.failedAt, 'the pod stopped under the writer').toBeGreaterThan(backupStart);
    const acked = writer.ids();
    expect(acked.length).toBeGreaterThan(200);

    // The original is back: the fence is lifted, its pod Ready again and writable.
    await waitStatefulSetReady(clients, pg);
    const pfBack = await portForward(info.kubeconfig, ns, pg.pod);
    forwards.push(pfBack);
    const back = await connectThrough(clients, pg, pfBack);
    const after = acked.at(-1)! + 1000;
    await back.query("insert into t (id, pad) values ($1, 'after the backup')", [after]);
    await back.end();
    lap('original Ready and written again');

    const list = await dbaas(['backup', 'list', '-o', 'json']);
    expect(list.code, show(list)).toBe(0);
    expect((JSON.parse(list.stdout) as BackupListDocument).items).toEqual([
      expect.objectContaining({ name: 'rt', mode: 'fenced', state: 'ready', sourcePvc: pg.pvc }),
    ]);

    // The PVC a StatefulSet `pg-restored` will claim for its pod 0.
    const r = await dbaas(['restore', 'rt', '--to', 'data-pg-restored-0', '-o', 'json']);
    expect(r.code, show(r)).toBe(0);
    lap('restore');
    expect(JSON.parse(r.stdout) as RestoreReport).toMatchObject({
      kind: 'Restore',
      pvc: 'data-pg-restored-0',
      state: 'ready',
      backup: { name: 'rt', mode: 'fenced' },
    });

    const check = ackedCheck(acked);
    const v = await dbaas([
      'verify',
      '--pvc',
      'data-pg-restored-0',
      '--runtime',
      'pod',
      '--image',
      POSTGRES_IMAGE_TEMPLATE,
      '--check',
      check,
      '--check',
      `none-after=select count(*) = 0 from t where id >= ${after}`,
      '--amcheck',
      'install',
      '-o',
      'json',
    ]);
    expect(v.code, show(v)).toBe(0);
    lap('verify --pvc (pod runtime)');
    const report = JSON.parse(v.stdout) as VerifyReport;
    expect(report).toMatchObject({
      ok: true,
      failures: [],
      scratch: false,
      runtime: 'pods in the cluster (exec and port-forward)',
      backup: { name: 'rt', mode: 'fenced' },
    });
    expect(report.offline).toMatchObject({ safe: true, postgresMajorVersion: E2E_MAJOR });
    expect(report.live).toMatchObject({
      inRecovery: false,
      checks: [
        { name: 'acked', ok: true },
        { name: 'none-after', ok: true },
      ],
    });
    expect(report.live!.amcheck.ran).toBe(true);
    // verify deleted its scratch pods (they may take a moment to terminate).
    const scratch = async () => (await clients.core.listNamespacedPod({ namespace: ns })).items.filter((p) => !p.metadata!.name!.startsWith('pg-'));
    expect((await scratch()).filter((p) => !p.metadata!.deletionTimestamp).map((p) => p.metadata!.name)).toEqual([]);
    await eventually(async () => (await scratch()).length === 0, 'the scratch pods gone');

    const restored = await applyPostgresStatefulSet(clients, { namespace: ns, name: 'pg-restored', secret: secret.name });
    await waitStatefulSetReady(clients, restored);
    lap('new StatefulSet Ready on the restored PVC');
    const pod = await clients.core.readNamespacedPod({ name: restored.pod, namespace: ns });
    expect(pod.spec?.volumes?.find((vol) => vol.name === 'data')?.persistentVolumeClaim?.claimName).toBe('data-pg-restored-0');
    const pvc = await clients.core.readNamespacedPersistentVolumeClaim({ name: 'data-pg-restored-0', namespace: ns });
    expect(pvc.metadata?.labels?.[DBAAS_LABELS.restoredFrom]).toBe('rt');

    const pfRestored = await portForward(info.kubeconfig, ns, restored.pod);
    forwards.push(pfRestored);
    const copy = await connectThrough(clients, restored, pfRestored);
    try {
      const present = await copy.query<{ n: string }>('select count(*)::text as n from t where id = any($1::bigint[])', [acked]);
      expect(Number(present.rows[0]!.n), 'every acknowledged row').toBe(acked.length);
      const later = await copy.query<{ n: string }>('select count(*)::text as n from t where id >= $1', [after]);
      expect(later.rows[0]!.n, 'nothing written after the backup').toBe('0');
      // The insert in flight when the server stopped may have committed without its acknowledgement.
      const total = await copy.query<{ n: string }>('select count(*)::text as n from t');
      expect([20_000 + acked.length, 20_000 + acked.length + 1]).toContain(Number(total.rows[0]!.n));
      await copy.query("insert into t (id, pad) values (-1, 'the copy takes writes')");
    } finally {
      await copy.end();
    }
    console.log(`[round trip] ${acked.length} acknowledged rows; ${times.join(', ')}`);
  });
});
