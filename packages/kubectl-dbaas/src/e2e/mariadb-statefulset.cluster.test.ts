// e2e (docs/architecture.md, "Test tiers": cluster): a MariaDB StatefulSet on the node, backed up
// by the real `kubectl` running the built plugin, the engine detected from the pod. `fenced` needs
// no SQL; `online` (forced: the hostpath driver is not atomic) reaches MariaDB through a
// port-forward with the password in MYSQL_PWD, as a user on a laptop would.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DBAAS_ANNOTATIONS, KubeClients } from '@kubectl-dbaas/sdk';
import { clusterFromEnv, deployMariadb, hostpathSkipReason, skipWhen, type MariadbPod } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BackupCreateReport } from '../commands/backup/create/run.js';
import { KubectlWithPlugin, showRun as show } from './kubectl-plugin.js';
import { deleteNamespaceAndWait } from './postgres-statefulset.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = path.resolve(here, '../../dist/cli.js');
const info = clusterFromEnv(inject('dbaasCluster'));
const why = hostpathSkipReason(info, 'the MariaDB StatefulSet backups');
const ns = `cli-maria-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
let plugin: KubectlWithPlugin | undefined;
let db: MariadbPod | undefined;

beforeAll(async () => {
  if (why) return;
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: build first (npm run build); these tests run the built plugin`);
  plugin = await KubectlWithPlugin.create(BUNDLE, info.kubeconfig);
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  db = await deployMariadb({ kubeConfig: clients.kubeConfig, namespace: ns, name: 'maria' });
  await db.query('create database app');
  await db.query('create table app.t (id int primary key, pad varchar(64))');
  await db.query('insert into app.t select seq, md5(seq) from app.seq_1_to_500');
}, 300_000);

afterAll(async () => {
  await db?.close();
  await deleteNamespaceAndWait(clients, ns);
  await plugin?.dispose();
}, 240_000);

describe('a MariaDB StatefulSet through kubectl dbaas', () => {
  it(
    'fenced: the engine is detected from the pod (mariadb), the StatefulSet stops and comes back, the snapshot records the engine',
    skipWhen(why),
    async () => {
      const r = await plugin!.dbaas(['backup', 'create', '--pod', db!.podName, '--mode', 'fenced', '--name', 'maria-fenced', '-n', ns, '-o', 'json'], {
        timeoutMs: 280_000,
      });
      expect(r.code, show(r)).toBe(0);
      const report = JSON.parse(r.stdout) as BackupCreateReport;
      expect(report).toMatchObject({ name: 'maria-fenced', mode: 'fenced', pvc: db!.pvcName });
      expect(r.stderr).toMatch(/engine: mariadb, from image localhost\/kubectl-dbaas-test\/mariadb/);
      const vs = (await clients.custom.getNamespacedCustomObject({
        group: 'snapshot.storage.k8s.io',
        version: 'v1',
        namespace: ns,
        plural: 'volumesnapshots',
        name: 'maria-fenced',
      })) as { metadata: { annotations?: Record<string, string> } };
      expect(vs.metadata.annotations?.[DBAAS_ANNOTATIONS.engine]).toMatch(/^(mysql|mariadb)/);
      await db!.waitReady(1);
      const [row] = await db!.query<{ n: number }[]>('select count(*) as n from app.t');
      expect(Number(row!.n)).toBe(500);
    },
  );

  it('online, forced on this non-atomic driver: SQL through a port-forward with MYSQL_PWD, the snapshot taken in a backup lock', skipWhen(why), async () => {
    const fwd = await db!.forward();
    const password = String(db!.connectionConfig.password);
    const r = await plugin!.dbaas(
      [
        'backup',
        'create',
        '--pod',
        db!.podName,
        '--mode',
        'online',
        '--force',
        '--host',
        fwd.host,
        '--port',
        String(fwd.port),
        '--db-user',
        'root',
        '--name',
        'maria-online',
        '-n',
        ns,
        '-o',
        'json',
      ],
      { timeoutMs: 280_000, env: { MYSQL_PWD: password } },
    );
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(password);
    const report = JSON.parse(r.stdout) as BackupCreateReport;
    expect(report).toMatchObject({ name: 'maria-online', mode: 'online' });
    expect(report.snapshots.map((s) => s.name)).toEqual(['maria-online']);
  });
});
