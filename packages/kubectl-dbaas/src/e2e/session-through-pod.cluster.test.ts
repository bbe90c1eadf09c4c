// e2e (docs/architecture.md, "Test tiers": cluster): the SQL session of checkpoint and online
// backups goes through the API server to the database pod itself, with no connection flags, as
// from a laptop on EKS or GKE: credentials from the pod's own environment (a secretKeyRef) or a
// named Secret; stray $PGHOST/$DATABASE_URL/$MYSQL_HOST never redirect it; a session that lands
// on another server (a user's port-forward to the wrong pod) is refused before any snapshot.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeClients } from '@kubectl-dbaas/sdk';
import {
  clusterFromEnv,
  deployMariadb,
  deployPostgres,
  hostpathSkipReason,
  skipWhen,
  STORAGE_CLASS,
  type MariadbPod,
  type PostgresPod,
} from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BackupCreateReport } from '../commands/backup/create/run.js';
import { KubectlWithPlugin, showRun as show } from './kubectl-plugin.js';
import { applyRbacDocRoles, rbacDocRoles, serviceAccountKubeconfig } from './rbac-doc.js';
import { deleteNamespaceAndWait } from './postgres-statefulset.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = path.resolve(here, '../../dist/cli.js');
const info = clusterFromEnv(inject('dbaasCluster'));
const why = hostpathSkipReason(info, 'backups whose SQL session goes through the pod');
const ns = `cli-sess-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
// Addresses that must never be dialled (TEST-NET-1): a session that used them would fail.
const STRAY = { PGHOST: '192.0.2.1', PGPORT: '1', DATABASE_URL: 'postgresql://nobody@192.0.2.1:1/none', MYSQL_HOST: '192.0.2.1' };
let plugin: KubectlWithPlugin | undefined;
let pg: PostgresPod | undefined;
let maria: MariadbPod | undefined;
let otherMaria: MariadbPod | undefined;
const clusterObjects: string[] = [];

async function snapshotNames(): Promise<string[]> {
  return (await clients.volumeSnapshots.list({ namespace: ns })).items.map((vs) => vs.metadata.name!).sort();
}

beforeAll(async () => {
  if (why) return;
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: build first (npm run build); these tests run the built plugin`);
  plugin = await KubectlWithPlugin.create(BUNDLE, info.kubeconfig);
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  [pg, maria, otherMaria] = await Promise.all([
    deployPostgres({ kubeConfig: clients.kubeConfig, namespace: ns, name: 'pg', major: 17 }),
    deployMariadb({ kubeConfig: clients.kubeConfig, namespace: ns, name: 'maria' }),
    deployMariadb({ kubeConfig: clients.kubeConfig, namespace: ns, name: 'other' }),
  ]);
  await pg.query('create table t (id int primary key)');
  await pg.query('insert into t select generate_series(1, 1000)');
}, 300_000);

afterAll(async () => {
  for (const o of clusterObjects) await plugin?.run(['delete', o, '--ignore-not-found']);
  await Promise.all([pg?.close(), maria?.close(), otherMaria?.close()]);
  await deleteNamespaceAndWait(clients, ns);
  await plugin?.dispose();
}, 240_000);

describe('the SQL session goes through the API server to the pod', () => {
  it(
    'PostgreSQL online with no connection flags: through pg-0, the password from its POSTGRES_PASSWORD secretKeyRef; stray $PGHOST/$DATABASE_URL unused',
    skipWhen(why),
    async () => {
      const password = String(pg!.connectionConfig.password);
      const r = await plugin!.dbaas(['backup', 'create', '--pod', pg!.podName, '--mode', 'online', '--name', 'pg-online', '-n', ns, '-o', 'json'], {
        timeoutMs: 280_000,
        env: STRAY,
      });
      expect(r.code, show(r)).toBe(0);
      expect(r.stderr).toContain(`SQL session through the API server to pod ${pg!.podName} (credentials from the pod's environment)`);
      expect(r.stdout + r.stderr).not.toContain(password);
      const report = JSON.parse(r.stdout) as BackupCreateReport;
      expect(report).toMatchObject({ name: 'pg-online', mode: 'online', pvc: pg!.pvcName });
      expect(report.snapshots.map((s) => s.name)).toEqual(['pg-online', 'pg-online-wal']);
      // Where PGDATA lies in the volume, read from the pod spec (PGDATA below the data volume's mount).
      expect(report.metadata.dataSubPath).toBe(pg!.dataSubPath);
    },
  );

  it(
    'as a service account with only the backup-create Roles of docs/rbac.md: online through the pod works (pods/portforward, the Secret its env names)',
    skipWhen(why),
    async () => {
      const sa = 'backup-operator';
      const limited = await serviceAccountKubeconfig(clients, {
        namespace: ns,
        name: sa,
        baseKubeconfig: info.kubeconfig,
        file: path.join(plugin!.shimDir, 'limited.kubeconfig'),
      });
      const roles = await rbacDocRoles((name) => name.startsWith('kubectl-dbaas-backup-create'));
      expect(roles.map((o) => o.metadata.name)).toEqual(['kubectl-dbaas-backup-create', 'kubectl-dbaas-backup-create-cluster']);
      await applyRbacDocRoles((args) => plugin!.run(args), roles, {
        namespaces: [ns],
        serviceAccount: { name: sa, namespace: ns },
        clusterSuffix: ns,
        manifestFile: path.join(plugin!.shimDir, 'rbac.json'),
        clusterObjects,
      });
      const r = await plugin!.dbaas(['backup', 'create', '--pod', pg!.podName, '--mode', 'online', '--name', 'pg-online-sa', '-n', ns, '-o', 'json'], {
        kubeconfig: limited,
        timeoutMs: 280_000,
      });
      expect(r.code, show(r)).toBe(0);
      expect((JSON.parse(r.stdout) as BackupCreateReport).snapshots.map((s) => s.name)).toEqual(['pg-online-sa', 'pg-online-sa-wal']);
    },
  );

  it(
    "PostgreSQL checkpoint (forced on hostpath) with --db-secret: the Secret's credentials, still through the pod; the dry run says so",
    skipWhen(why),
    async () => {
      const dry = await plugin!.dbaas(
        ['backup', 'create', '--pod', pg!.podName, '--mode', 'checkpoint', '--force', '--db-secret', pg!.secretName, '--dry-run=client', '-n', ns],
        { env: STRAY },
      );
      expect(dry.code, show(dry)).toBe(0);
      expect(dry.stdout).toContain(
        `# SQL session: through the API server to pod ${pg!.podName} port 5432 (a port-forward), credentials from Secret ${ns}/${pg!.secretName}`,
      );
      const r = await plugin!.dbaas(
        [
          'backup',
          'create',
          '--pod',
          pg!.podName,
          '--mode',
          'checkpoint',
          '--force',
          '--db-secret',
          pg!.secretName,
          '--name',
          'pg-checkpoint',
          '-n',
          ns,
          '-o',
          'json',
        ],
        {
          timeoutMs: 200_000,
          env: STRAY,
        },
      );
      expect(r.code, show(r)).toBe(0);
      expect(JSON.parse(r.stdout) as BackupCreateReport).toMatchObject({ name: 'pg-checkpoint', mode: 'checkpoint' });
    },
  );

  it('a PVC no pod mounts: online is refused before anything is created, saying the database is not running there', skipWhen(why), async () => {
    await clients.core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: {
        metadata: { name: 'lonely' },
        spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS, resources: { requests: { storage: '16Mi' } } },
      },
    });
    const deadline = Date.now() + 60_000;
    while ((await clients.core.readNamespacedPersistentVolumeClaim({ name: 'lonely', namespace: ns })).status?.phase !== 'Bound') {
      if (Date.now() > deadline) throw new Error('PVC lonely not Bound after 60 s');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const before = await snapshotNames();
    const r = await plugin!.dbaas(['backup', 'create', '--pvc', 'lonely', '--mode', 'online', '-n', ns], { env: STRAY });
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toMatch(/mode online needs a SQL session, and no pod mounts PVC .*\/lonely: the database is not running there/);
    expect(await snapshotNames()).toEqual(before);
  });

  it('MariaDB online (forced) with no connection flags: through maria-0 with its MARIADB_ROOT_PASSWORD; stray $MYSQL_HOST unused', skipWhen(why), async () => {
    const r = await plugin!.dbaas(
      ['backup', 'create', '--pod', maria!.podName, '--mode', 'online', '--force', '--name', 'maria-online', '-n', ns, '-o', 'json'],
      { timeoutMs: 280_000, env: STRAY },
    );
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toContain(`SQL session through the API server to pod ${maria!.podName}`);
    expect(r.stdout + r.stderr).not.toContain(String(maria!.connectionConfig.password));
    expect(JSON.parse(r.stdout) as BackupCreateReport).toMatchObject({ name: 'maria-online', mode: 'online' });
  });

  it('a session that lands on another server (a port-forward to other-0 while backing up maria-0) is refused before any snapshot', skipWhen(why), async () => {
    const fwd = await otherMaria!.forward();
    const before = await snapshotNames();
    const r = await plugin!.dbaas(
      [
        'backup',
        'create',
        '--pod',
        maria!.podName,
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
        'wrong-server',
        '-n',
        ns,
      ],
      { timeoutMs: 120_000, env: { MYSQL_PWD: String(otherMaria!.connectionConfig.password) } },
    );
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain(
      `the SQL session is not on the database whose volume is backed up: the session reached the server on host "${otherMaria!.podName}", and pod ${ns}/${maria!.podName} has host name "${maria!.podName}"`,
    );
    expect(await snapshotNames()).toEqual(before);
  });
});
