// e2e (issue 17, item 2): a CloudNativePG Cluster backed up with the built plugin through real
// kubectl, CloudNativePG 1.30 running for real on the test node (its operator, webhooks, a primary
// and a streaming standby on the btrfs test driver, which snapshots live volumes). Under a writer on
// the primary:
// - `backup create --cnpg-cluster pg --mode online` takes the standby by default, its SQL session
//   on the standby; `verify` recovers the standby's copy (standby.signal) and finds every row the
//   standby had replayed before the backup;
// - `--mode fenced` fences the standby through cnpg.io/fencedInstances, observed while the backup
//   runs (the annotation set, the instance not ready), and lifted afterwards (streaming again);
// - `--instance <primary> --mode online` backs up the primary under writes;
// - a Cluster without superuser access is refused with a fix naming --db-secret, and the least
//   privilege role docs/cnpg.md shows (REPLICATION, pg_checkpoint, EXECUTE on pg_backup_start/stop)
//   works through --db-secret.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CNPG_FENCED_INSTANCES_ANNOTATION, CNPG_RESTORE_FOR_LABEL, KubeClients, type CnpgRestoreResult } from '@kubectl-dbaas/sdk';
import {
  BTRFS_STORAGE_CLASS,
  CNPG_POSTGRES_IMAGE,
  clusterFromEnv,
  cnpgSkipReason,
  cnpgSuperuser,
  createCnpgCluster,
  installCnpgOperator,
  readCnpgCluster,
  skipWhen,
  waitCnpgClusterHealthy,
} from '@kubectl-dbaas/testing';
import { KubeConfig } from '@kubernetes/client-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BackupCreateReport } from '../commands/backup/create/run.js';
import { KubectlWithPlugin, showRun as show } from './kubectl-plugin.js';
import { ackedCheck, deleteNamespaceAndWait, portForward, seed, waitStatefulSetReady, Writer, type PortForward } from './postgres-statefulset.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = path.resolve(here, '../../dist/cli.js');
const info = clusterFromEnv(inject('dbaasCluster'));
// The btrfs test driver cuts a volume under writes at one instant; the hostpath driver's tar fails
// on files that change while it reads them (a standby replaying is such a volume).
const why =
  cnpgSkipReason(info, 'CloudNativePG backups') ?? (info.btrfsUnavailable ? `the btrfs test driver is unavailable: ${info.btrfsUnavailable}` : undefined);
const ns = `cli-cnpg-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
const kc = new KubeConfig();
kc.loadFromFile(info.kubeconfig);
const forwards: PortForward[] = [];
let plugin: KubectlWithPlugin | undefined;
let primary = '';
let standby = '';
let writerDb: pg.Client | undefined;
let writer: Writer | undefined;
/** The rows each backup holds for sure (acknowledged, and replayed by the standby, before it began), for the restores. */
const rowsOf: Record<string, number[]> = {};
/** Table t's digest (ROWS_DIGEST_SQL) in the Cluster CloudNativePG restored from each backup. */
const cnpgDigestOf: Record<string, string> = {};

const dbaas = (args: string[], timeoutMs = 280_000) => plugin!.dbaas([...args, '-n', ns], { timeoutMs });
/** verify's scratch pods: the Cluster's operand image, given (without it verify reads it from the Cluster); the user (26) is the one the backup recorded from the instance pod. */
const VERIFY_RUNTIME = ['--image', CNPG_POSTGRES_IMAGE, '--prep-image', CNPG_POSTGRES_IMAGE];

/** A superuser session to one instance of Cluster `cluster` (port-forward to its pod). */
async function connect(pod: string, cluster = 'pg'): Promise<pg.Client> {
  const { user, password } = await cnpgSuperuser(kc, ns, cluster);
  const pf = await portForward(info.kubeconfig, ns, pod);
  forwards.push(pf);
  const db = new pg.Client({ host: '127.0.0.1', port: pf.port, user, password, database: 'postgres' });
  await db.connect();
  return db;
}

/** A superuser session to the primary of a restored Cluster: CNPG sets the copy's postgres password from the new Secret shortly after it starts. */
async function connectRestored(cluster: string): Promise<pg.Client> {
  const { currentPrimary } = await readCnpgCluster(kc, ns, cluster);
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      return await connect(currentPrimary!, cluster);
    } catch (error) {
      if (!/password authentication failed/.test(String(error)) || Date.now() > deadline) throw error;
      await new Promise((res) => setTimeout(res, 1000));
    }
  }
}

/**
 * What a restored Cluster holds: whether every one of `rows` is there, amcheck on every btree index,
 * the standbys streaming from its primary, and a digest of table t row by row.
 */
async function restoredState(cluster: string, rows: number[]): Promise<{ allRows: boolean; amcheck: boolean; streaming: number; digest: string }> {
  const db = await connectRestored(cluster);
  try {
    const present = await db.query<{ n: number }>('select count(*)::int as n from t where id = any($1::bigint[])', [rows]);
    await db.query('create extension if not exists amcheck');
    const amcheck = await db.query<{ ok: boolean }>(
      `select coalesce(bool_and(bt_index_check(c.oid) is not null), true) as ok from pg_index i
         join pg_class c on c.oid = i.indexrelid join pg_am am on am.oid = c.relam
        where am.amname = 'btree' and c.relpersistence <> 't'`,
    );
    const streaming = await db.query<{ n: number }>("select count(*)::int as n from pg_stat_replication where state = 'streaming'");
    const digest = await db.query<{ d: string }>(ROWS_DIGEST_SQL);
    return { allRows: present.rows[0]!.n === rows.length, amcheck: amcheck.rows[0]!.ok, streaming: streaming.rows[0]!.n, digest: digest.rows[0]!.d };
  } finally {
    await db.end();
  }
}

/** Table t, row by row, as one value: two restores of one backup agree when their digests do. */
const ROWS_DIGEST_SQL = "select md5(coalesce(string_agg(id::text || ':' || pad, ',' order by id), '')) as d from t";

/** `kubectl dbaas restore BACKUP --cnpg-cluster NAME`, asserted to succeed; its JSON report. */
async function restoreIntoCnpg(backup: string, cluster: string): Promise<CnpgRestoreResult> {
  const r = await dbaas(['restore', backup, '--cnpg-cluster', cluster, '-o', 'json'], 900_000);
  expect(r.code, show(r)).toBe(0);
  const report = JSON.parse(r.stdout) as CnpgRestoreResult;
  console.log(`[cnpg-e2e] restore ${backup} into Cluster ${cluster}: ${JSON.stringify(report.timings)}`);
  return report;
}

/** Waits until the standby has replayed the primary's WAL up to now: every row acknowledged so far is on it. */
async function standbyCaughtUp(db: pg.Client): Promise<number[]> {
  const acked = writer!.ids();
  const lsn = (await db.query<{ l: string }>('select pg_current_wal_lsn()::text as l')).rows[0]!.l;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await db.query<{ caught: boolean }>(
      'select coalesce(bool_and(replay_lsn >= $1::pg_lsn), false) as caught from pg_stat_replication where application_name = $2',
      [lsn, standby],
    );
    if (r.rows[0]?.caught) return acked;
    if (Date.now() > deadline) throw new Error(`standby ${standby} did not replay up to ${lsn} in 60 s`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** `kubectl dbaas verify` of a backup on the operand image, checking that every one of `ids` is in `t`; asserts it passed. */
async function verifyWithRows(
  backup: string,
  ids: number[],
  runtime: string[] = VERIFY_RUNTIME,
): Promise<{ ok: boolean; offline: { standby: boolean; verdict: string }; live: { inRecovery: boolean } }> {
  const v = await dbaas(['verify', '--backup', backup, ...runtime, '--check', ackedCheck(ids), '-o', 'json'], 560_000);
  expect(v.code, show(v)).toBe(0);
  return JSON.parse(v.stdout);
}

/** The Cluster's `cnpg.io/fencedInstances` annotation (undefined when no instance is fenced). */
async function fencedInstances(): Promise<string | undefined> {
  const cluster = (await clients.custom.getNamespacedCustomObject({
    group: 'postgresql.cnpg.io',
    version: 'v1',
    plural: 'clusters',
    namespace: ns,
    name: 'pg',
  })) as {
    metadata?: { annotations?: Record<string, string> };
  };
  return cluster.metadata?.annotations?.[CNPG_FENCED_INSTANCES_ANNOTATION];
}

beforeAll(async () => {
  if (why) return;
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: build first (npm run build); these tests run the built plugin`);
  plugin = await KubectlWithPlugin.create(BUNDLE, info.kubeconfig);
  await installCnpgOperator(kc, { log: (l) => console.log(l) });
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  const status = await createCnpgCluster(kc, { namespace: ns, name: 'pg', instances: 2, storageClass: BTRFS_STORAGE_CLASS });
  primary = status.currentPrimary!;
  standby = status.instanceNames!.find((n) => n !== primary)!;
  writerDb = await connect(primary);
  await seed(writerDb);
  writer = new Writer(writerDb).start();
  await writer.until(50);
}, 600_000);

afterAll(async () => {
  await writer?.stop();
  await writerDb?.end().catch(() => undefined);
  for (const pf of forwards) await pf.close();
  if (!why) await deleteNamespaceAndWait(clients, ns);
  await plugin?.dispose();
}, 300_000);

describe('kubectl dbaas backup create --cnpg-cluster', () => {
  it('online, by default on the standby: the session is on the standby, verify recovers its copy with every row it had replayed', {
    ...skipWhen(why),
    timeout: 600_000,
  }, async () => {
    const replicated = await standbyCaughtUp(writerDb!);
    const r = await dbaas(['backup', 'create', '--cnpg-cluster', 'pg', '--mode', 'online', '--name', 'standby-online', '-o', 'json']);
    expect(r.code, show(r)).toBe(0);
    const report = JSON.parse(r.stdout) as BackupCreateReport;
    console.log(`[cnpg-e2e] online on standby ${standby}: ${JSON.stringify(report.timings)}`);
    expect(report.cnpg).toMatchObject({ cluster: 'pg', instance: standby, role: 'standby' });
    expect(report.pvc).toBe(standby);
    expect(writer!.failedAt, 'the writer on the primary never stopped').toBeUndefined();

    rowsOf['standby-online'] = replicated;
    // No --image: verify runs the Cluster's own image, read from the Cluster.
    expect(await verifyWithRows('standby-online', replicated, [])).toMatchObject({
      ok: true,
      offline: { standby: true, verdict: 'online-backup-complete' },
      live: { inRecovery: false },
    });
  });

  it('fenced, on the standby: CloudNativePG fences the instance while the snapshot is cut (observed), then it streams again', {
    ...skipWhen(why),
    timeout: 600_000,
  }, async () => {
    const replicated = await standbyCaughtUp(writerDb!);
    const seen = { annotation: false, notReady: false };
    let watching = true;
    const watch = (async () => {
      while (watching) {
        if ((await fencedInstances())?.includes(standby)) seen.annotation = true;
        const pod = await clients.core.readNamespacedPod({ namespace: ns, name: standby });
        if (seen.annotation && pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'False')) seen.notReady = true;
        await new Promise((res) => setTimeout(res, 200));
      }
    })();
    const r = await dbaas(['backup', 'create', '--cnpg-cluster', 'pg', '--mode', 'fenced', '--name', 'standby-fenced', '-o', 'json']);
    watching = false;
    await watch;
    expect(r.code, show(r)).toBe(0);
    const report = JSON.parse(r.stdout) as BackupCreateReport;
    console.log(`[cnpg-e2e] fenced standby ${standby}: ${JSON.stringify(report.timings)}`);
    expect(report.cnpg).toMatchObject({ instance: standby, role: 'standby' });
    expect(seen).toEqual({ annotation: true, notReady: true });
    expect(writer!.failedAt, 'the writer on the primary never stopped').toBeUndefined();

    const after = await readCnpgCluster(kc, ns, 'pg');
    expect(after.currentPrimary).toBe(primary);
    await waitCnpgClusterHealthy(kc, ns, 'pg', 180_000);
    expect(await fencedInstances()).toBeUndefined();
    await standbyCaughtUp(writerDb!);

    rowsOf['standby-fenced'] = replicated;
    expect(await verifyWithRows('standby-fenced', replicated)).toMatchObject({ ok: true, offline: { standby: true, verdict: 'clean-shutdown' } });
  });

  it('online on the primary (--instance): every row acknowledged before the backup is in it', { ...skipWhen(why), timeout: 600_000 }, async () => {
    const acked = writer!.ids();
    const r = await dbaas(['backup', 'create', '--cnpg-cluster', 'pg', '--instance', primary, '--mode', 'online', '--name', 'primary-online', '-o', 'json']);
    expect(r.code, show(r)).toBe(0);
    const report = JSON.parse(r.stdout) as BackupCreateReport;
    console.log(`[cnpg-e2e] online on primary ${primary}: ${JSON.stringify(report.timings)}`);
    expect(report.cnpg).toMatchObject({ instance: primary, role: 'primary' });
    expect(await verifyWithRows('primary-online', acked)).toMatchObject({ ok: true, offline: { standby: false, verdict: 'online-backup-complete' } });
  });

  it('without superuser access: refused with the fix; the least privilege role of docs/cnpg.md works through --db-secret', {
    ...skipWhen(why),
    timeout: 600_000,
  }, async () => {
    const password = `p-${Math.random().toString(36).slice(2)}`;
    await clients.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'dbaas-backup', labels: { 'cnpg.io/reload': 'true' } },
        type: 'kubernetes.io/basic-auth',
        stringData: { username: 'dbaas_backup', password },
      },
    });
    // As docs/cnpg.md shows it: the grants once after initdb, the role's password kept by CNPG.
    await createCnpgCluster(kc, {
      namespace: ns,
      name: 'lp',
      instances: 1,
      storageClass: BTRFS_STORAGE_CLASS,
      superuserAccess: false,
      spec: {
        bootstrap: {
          initdb: {
            postInitSQL: [
              'CREATE ROLE dbaas_backup LOGIN REPLICATION',
              'GRANT pg_checkpoint TO dbaas_backup',
              'GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean) TO dbaas_backup',
              'GRANT EXECUTE ON FUNCTION pg_backup_stop(boolean) TO dbaas_backup',
            ],
          },
        },
        managed: {
          roles: [
            { name: 'dbaas_backup', ensure: 'present', login: true, replication: true, inRoles: ['pg_checkpoint'], passwordSecret: { name: 'dbaas-backup' } },
          ],
        },
      },
    });
    const refused = await dbaas(['backup', 'create', '--cnpg-cluster', 'lp', '--mode', 'online', '--name', 'lp-refused']);
    expect(refused.code, show(refused)).toBe(1);
    expect(refused.stderr).toContain('Cluster lp has no lp-superuser Secret');
    expect(refused.stderr).toContain('--db-secret');
    expect((await clients.volumeSnapshots.list({})).items.map((v) => v.metadata?.name)).not.toContain('lp-refused');

    // The managed role's password arrives asynchronously: retry until CNPG has set it.
    let r = await dbaas(['backup', 'create', '--cnpg-cluster', 'lp', '--mode', 'online', '--db-secret', 'dbaas-backup', '--name', 'lp-online', '-o', 'json']);
    for (let i = 0; i < 10 && r.code !== 0 && /password authentication failed/.test(r.stderr); i++) {
      await new Promise((res) => setTimeout(res, 3000));
      r = await dbaas(['backup', 'create', '--cnpg-cluster', 'lp', '--mode', 'online', '--db-secret', 'dbaas-backup', '--name', 'lp-online', '-o', 'json']);
    }
    expect(r.code, show(r)).toBe(0);
    expect((JSON.parse(r.stdout) as BackupCreateReport).cnpg).toMatchObject({ cluster: 'lp', role: 'primary' });
    const v = await dbaas(['verify', '--backup', 'lp-online', ...VERIFY_RUNTIME, '-o', 'json'], 560_000);
    expect(v.code, show(v)).toBe(0);
  });
});

describe('kubectl dbaas restore --cnpg-cluster: CloudNativePG bootstraps a new Cluster from the backup', () => {
  /** The restored Cluster holds every row, passes amcheck, streams to its standby, and our own restore of the backup (verify's) agrees row for row. */
  async function expectRestored(backup: string, cluster: string, report: CnpgRestoreResult): Promise<void> {
    expect(report).toMatchObject({ cluster, state: 'healthy', readyInstances: 2, instances: 2 });
    const rows = rowsOf[backup];
    expect(rows, `the backup test of ${backup} ran first`).toBeDefined();
    const state = await restoredState(cluster, rows!);
    expect(state).toMatchObject({ allRows: true, amcheck: true, streaming: 1 });
    cnpgDigestOf[backup] = state.digest;
    const v = await dbaas(
      ['verify', '--backup', backup, ...VERIFY_RUNTIME, '--check', `same-rows=select (${ROWS_DIGEST_SQL}) = '${state.digest}'`, '-o', 'json'],
      560_000,
    );
    expect(v.code, `our restore of ${backup} has the rows CloudNativePG's has\n${show(v)}`).toBe(0);
    const staged = await clients.volumeSnapshots.list({ labelSelector: `${CNPG_RESTORE_FOR_LABEL}=${cluster}` });
    expect(staged.items.map((s) => s.metadata?.name)).toEqual([]);
  }

  it('an online backup of the standby: restored with its WAL and backup_label into staging snapshots, from which CloudNativePG brings up 2 instances', {
    ...skipWhen(why),
    timeout: 1_200_000,
  }, async () => {
    const report = await restoreIntoCnpg('standby-online', 'from-online');
    expect(report.source).toBe('prepared');
    expect(report.snapshots).toEqual({ data: 'from-online-dbaas-restore' });
    await expectRestored('standby-online', 'from-online', report);
    expect((await clients.core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items.map((p) => p.metadata?.name)).not.toContain(
      'from-online-dbaas-restore',
    );
  });

  it("a fenced backup of the standby: CloudNativePG bootstraps from the backup's own snapshot", { ...skipWhen(why), timeout: 1_200_000 }, async () => {
    const report = await restoreIntoCnpg('standby-fenced', 'from-fenced');
    expect(report).toMatchObject({ source: 'backup-snapshots', snapshots: { data: 'standby-fenced' } });
    await expectRestored('standby-fenced', 'from-fenced', report);
    const refused = await dbaas(['restore', 'standby-fenced', '--cnpg-cluster', 'from-fenced']);
    expect(refused.code, show(refused)).not.toBe(0);
    expect(refused.stderr).toContain(`Cluster ${ns}/from-fenced exists`);
  });
});

describe('a Cluster with walStorage (data and pg_wal on two PVCs): backed up as one set, restored by CloudNativePG', () => {
  it('online and fenced backups of the standby come back as 2-instance Clusters with walStorage and every row', {
    ...skipWhen(why),
    timeout: 1_500_000,
  }, async () => {
    const ws = await createCnpgCluster(kc, { namespace: ns, name: 'ws', instances: 2, storageClass: BTRFS_STORAGE_CLASS, walStorage: true });
    const wsStandby = ws.instanceNames!.find((n) => n !== ws.currentPrimary)!;
    const db = await connect(ws.currentPrimary!, 'ws');
    let rows: number[];
    try {
      await seed(db);
      const wsWriter = new Writer(db).start();
      await wsWriter.until(200);
      await wsWriter.stop();
      rows = wsWriter.ids();
      // Every row on the standby before either backup: both copies are the standby's.
      const lsn = (await db.query<{ l: string }>('select pg_current_wal_lsn()::text as l')).rows[0]!.l;
      const deadline = Date.now() + 60_000;
      while (!(await db.query<{ c: boolean }>('select coalesce(bool_and(replay_lsn >= $1::pg_lsn), false) as c from pg_stat_replication', [lsn])).rows[0]!.c) {
        if (Date.now() > deadline) throw new Error(`standby ${wsStandby} did not replay up to ${lsn} in 60 s`);
        await new Promise((res) => setTimeout(res, 200));
      }
    } finally {
      await db.end();
    }
    for (const mode of ['online', 'fenced'] as const) {
      const b = await dbaas(['backup', 'create', '--cnpg-cluster', 'ws', '--mode', mode, '--name', `ws-${mode}`, '-o', 'json']);
      expect(b.code, show(b)).toBe(0);
      const backup = JSON.parse(b.stdout) as BackupCreateReport;
      expect(backup.cnpg).toMatchObject({ instance: wsStandby, role: 'standby' });
      await waitCnpgClusterHealthy(kc, ns, 'ws', 180_000);

      const report = await restoreIntoCnpg(`ws-${mode}`, `ws-from-${mode}`);
      expect(report).toMatchObject({ state: 'healthy', readyInstances: 2, source: mode === 'online' ? 'prepared' : 'backup-snapshots' });
      expect(report.snapshots.wal, 'the pg_wal volume is given as walStorage').toBeDefined();
      expect(await restoredState(`ws-from-${mode}`, rows)).toMatchObject({ allRows: true, amcheck: true, streaming: 1 });
      const pvcs = await clients.core.listNamespacedPersistentVolumeClaim({ namespace: ns, labelSelector: `cnpg.io/cluster=ws-from-${mode}` });
      expect(pvcs.items.map((p) => p.metadata?.labels?.['cnpg.io/pvcRole']).sort()).toEqual(['PG_DATA', 'PG_DATA', 'PG_WAL', 'PG_WAL']);
    }
  });
});

describe('kubectl dbaas restore of a CloudNativePG backup for a plain PostgreSQL server (no operator)', () => {
  /**
   * Restores `backup` for a new StatefulSet that runs Debian's postgres binary itself (the operand
   * image without CloudNativePG's instance manager), as uid 26 on the restored PVC; returns what the
   * server says of itself and table t's digest.
   */
  async function plainServer(
    backup: string,
    name: string,
  ): Promise<{ ssl: string; inRecovery: boolean; digest: string; report: { plainServerSettings?: Record<string, string> } }> {
    const r = await dbaas(['restore', backup, '--for-statefulset', name, '-o', 'json'], 600_000);
    expect(r.code, show(r)).toBe(0);
    const report = JSON.parse(r.stdout) as { pvc: string; plainServerSettings?: Record<string, string>; timings: unknown };
    console.log(`[cnpg-e2e] restore ${backup} for the plain StatefulSet ${name}: ${JSON.stringify(report.timings)}`);
    expect(report.pvc).toBe(`data-${name}-0`);
    const labels = { app: name };
    await clients.apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name, labels },
        spec: {
          serviceName: name,
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              // The copy's files are uid 26's already; an fsGroup would have the kubelet open group
              // permissions on PGDATA, which PostgreSQL refuses.
              securityContext: { runAsUser: 26, runAsGroup: 26 },
              containers: [
                {
                  name: 'postgres',
                  image: CNPG_POSTGRES_IMAGE,
                  imagePullPolicy: 'IfNotPresent',
                  command: ['/usr/lib/postgresql/15/bin/postgres', '-D', '/var/lib/postgresql/data/pgdata'],
                  readinessProbe: {
                    exec: { command: ['sh', '-c', 'sed -n 8p /var/lib/postgresql/data/pgdata/postmaster.pid | grep -q ready'] },
                    periodSeconds: 1,
                  },
                  volumeMounts: [{ name: 'data', mountPath: '/var/lib/postgresql/data' }],
                },
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: 'data' },
              spec: { accessModes: ['ReadWriteOnce'], storageClassName: BTRFS_STORAGE_CLASS, resources: { requests: { storage: '1Gi' } } },
            },
          ],
        },
      },
    });
    await waitStatefulSetReady(clients, { namespace: ns, name, pod: `${name}-0`, pvc: report.pvc, secret: '' }).catch(async (error: unknown) => {
      const log = await clients.core.readNamespacedPodLog({ namespace: ns, name: `${name}-0`, tailLines: 30 }).catch((e: unknown) => String(e));
      throw new Error(`${(error as Error).message}\n--- log of ${name}-0\n${log}`);
    });
    // The copy keeps the source Cluster's roles and passwords.
    const db = await connect(`${name}-0`, 'pg');
    try {
      const ssl = (await db.query<{ ssl: string }>('show ssl')).rows[0]!.ssl;
      const inRecovery = (await db.query<{ r: boolean }>('select pg_is_in_recovery() as r')).rows[0]!.r;
      const digest = (await db.query<{ d: string }>(ROWS_DIGEST_SQL)).rows[0]!.d;
      return { ssl, inRecovery, digest, report };
    } finally {
      await db.end();
    }
  }

  it("a fenced backup of the standby: the server comes up as a primary with CloudNativePG's settings off, row for row what CloudNativePG restored", {
    ...skipWhen(why),
    timeout: 900_000,
  }, async () => {
    expect(cnpgDigestOf['standby-fenced'], 'the CloudNativePG restore of standby-fenced ran first').toBeDefined();
    const plain = await plainServer('standby-fenced', 'plain-fenced');
    expect(Object.keys(plain.report.plainServerSettings ?? {})).toEqual(expect.arrayContaining(['ssl', 'unix_socket_directories', 'archive_mode']));
    expect(plain).toMatchObject({ ssl: 'off', inRecovery: false, digest: cnpgDigestOf['standby-fenced'] });
  });

  it('an online backup of the standby: backup_label, its WAL and the settings in the files; row for row what CloudNativePG restored', {
    ...skipWhen(why),
    timeout: 900_000,
  }, async () => {
    expect(cnpgDigestOf['standby-online'], 'the CloudNativePG restore of standby-online ran first').toBeDefined();
    const plain = await plainServer('standby-online', 'plain-online');
    expect(plain).toMatchObject({ ssl: 'off', inRecovery: false, digest: cnpgDigestOf['standby-online'] });
  });
});
