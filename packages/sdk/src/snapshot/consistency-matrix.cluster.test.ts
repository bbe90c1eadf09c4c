// The consistency matrix (docs/consistency.md) on an atomic driver, as users with EBS, GCE PD or
// Ceph RBD meet it: PostgreSQL 14-18 and MariaDB in pods on the project's btrfs test driver
// (read-only subvolume snapshots: one instant for the whole volume) under a sustained write load
// that does not stop for the backup. Each mode is backed up with no override (the SDK's table knows
// the driver is atomic), restored into a new PVC and checked: PostgreSQL by verify in pods (the WAL
// inspector's verdict must be what really happened, then a scratch server and amcheck), MariaDB by
// CHECK TABLE on a server started on the copy; then every commit acknowledged before the cut must be
// in the copy. The SQL sessions go through the API server to the pod, as the CLI's do by default.
import { randomBytes } from 'node:crypto';
import {
  BTRFS_DRIVER,
  BTRFS_STORAGE_CLASS,
  POSTGRES_IMAGE_UID,
  TEST_IMAGES,
  MysqlWriteLoad,
  clusterFromEnv,
  deployMariadb,
  deployPostgres,
  skipWhen,
  type MariadbPod,
  type PostgresImageMajor,
  type PostgresPod,
  type WriteLoad,
} from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkMysqlTables } from '../engines/mysql/verify.js';
import { KubeClients } from '../kube/clients.js';
import type { ConsistencyMode } from '../manifests/metadata.js';
import { podVerifyRuntime } from '../restore/pod-runtime.js';
import { RestoreClient } from '../restore/restore-client.js';
import type { DataDirectoryVerdict } from '../wal/data-directory.js';
import { runBackup, type BackupPhase } from './backup.js';

const info = clusterFromEnv(inject('dbaasCluster'));
const why = info.nodeUnavailable
  ? `the test cluster has no node: ${info.nodeUnavailable}`
  : info.btrfsUnavailable
    ? `the btrfs test driver is unavailable: ${info.btrfsUnavailable}`
    : undefined;
if (why) console.warn(`[dbaas-testing] SKIPPING the consistency matrix on the atomic driver (not passed): ${why}`);

const stamp = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const runtime = podVerifyRuntime({ image: (m) => TEST_IMAGES.postgres(m as PostgresImageMajor), runAsUser: POSTGRES_IMAGE_UID, imagePullPolicy: 'Never' });
const password = randomBytes(18).toString('base64url');
const MAJORS: readonly PostgresImageMajor[] = [14, 15, 16, 17, 18];

/**
 * The moment before which every acknowledged commit must be in the copy: the snapshot request for
 * crash and checkpoint (an atomic cut after it), the data snapshot's cut for online (WAL up to the
 * stop LSN, which comes later, is in the set), the start of fencing for fenced.
 */
const CUT_PHASE: Record<ConsistencyMode, BackupPhase> = { crash: 'snapshot-requested', checkpoint: 'snapshot-requested', online: 'cut', fenced: 'fencing' };

/** What the WAL inspector must say of each mode's copy: what really happened to the data directory. */
const VERDICT: Record<ConsistencyMode, DataDirectoryVerdict> = {
  crash: 'crash-recoverable',
  checkpoint: 'crash-recoverable',
  online: 'online-backup-complete',
  fenced: 'clean-shutdown',
};

/**
 * The load ran into the backup and went on after it: its pace in the 2 s before the backup started,
 * and a commit acknowledged after the backup returned (for fenced, once the database is back). The
 * pace during the backup says nothing on its own: online on MariaDB holds commits for most of its
 * run, and fenced's window before the stop is a few hundred ms.
 */
async function expectWritersThrough(
  load: { readonly acked: [number, number][]; rate(from: number, to: number): number; describe(): string },
  started: number,
  finished: number,
): Promise<number> {
  const state = () => load.describe();
  const pace = load.rate(started - 2000, started);
  expect(pace, `commits/s in the 2 s before the backup: ${state()}`).toBeGreaterThan(20);
  const goneOn = () => load.acked.some(([, at]) => at > finished);
  for (const deadline = Date.now() + 60_000; !goneOn() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
  expect(goneOn(), `a commit acknowledged within 60 s after the backup returned: ${state()}`).toBe(true);
  return pace;
}

describe.each(MAJORS)('the consistency matrix on the atomic btrfs driver: PostgreSQL %i in a pod under a sustained write load', (major) => {
  const ns = `matrix-${major}-${stamp}`;
  const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
  const restoreClient = new RestoreClient(clients);
  const prep = { image: TEST_IMAGES.postgres(major), runAsUser: POSTGRES_IMAGE_UID, imagePullPolicy: 'Never' as const };
  const report: string[] = [];
  let source: PostgresPod;
  let load: WriteLoad | undefined;

  beforeAll(async () => {
    if (why) return;
    await clients.core.createNamespace({ body: { metadata: { name: ns } } });
    source = await deployPostgres({ kubeConfig: clients.kubeConfig, namespace: ns, name: 'src', major, password, storageClass: BTRFS_STORAGE_CLASS });
    await source.query('create table t (id bigint primary key, w int not null, pad text not null)');
    await source.query('create index t_w on t (w, id)');
    await source.query('insert into t select g, 0, repeat(md5(g::text), 4) from generate_series(1, 20000) g');
    load = (await source.writer({ writers: 8 })).start();
    // Let it reach its pace before the first backup.
    await new Promise((r) => setTimeout(r, 3000));
  }, 300_000);

  afterAll(async () => {
    await load?.stop();
    if (report.length > 0) console.log(`[consistency-matrix] PostgreSQL ${major} on ${BTRFS_DRIVER}:\n  ${report.join('\n  ')}`);
    await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
  }, 120_000);

  it.each(['crash', 'checkpoint', 'online', 'fenced'] as const)(
    '%s: backed up while the writers go on (checkpoint: the default, no mode given); restored, verified, and every commit acknowledged before the cut is there',
    { ...skipWhen(why), timeout: 600_000 },
    async (mode) => {
      let cutAt = 0;
      const started = Date.now();
      const backup = await runBackup(clients, {
        namespace: ns,
        target: { pod: source.podName },
        // On an atomic driver the SDK's default is checkpoint: asked for by giving no mode.
        ...(mode === 'checkpoint' ? {} : { mode }),
        name: `m-${mode}`,
        // checkpoint and online reach the server as the CLI does by default: through the API server to the pod.
        ...(mode === 'checkpoint' || mode === 'online' ? { database: { throughPod: {} } } : {}),
        deadlineMs: 300_000,
        onProgress: (e) => {
          if (e.phase === CUT_PHASE[mode] && cutAt === 0) cutAt = Date.now();
        },
      });
      const finished = Date.now();
      expect(backup.mode).toBe(mode);
      expect(backup.plan.modeSource).toBe(mode === 'checkpoint' ? 'default' : 'requested');
      // Atomic by the SDK's own table: no annotation, no force.
      expect(backup.atomicity).toMatchObject({ driver: BTRFS_DRIVER, atomic: true, source: 'table' });
      expect(cutAt).toBeGreaterThan(0);
      const acked = load!.ackedBefore(cutAt);
      const pace = await expectWritersThrough(load!, started, finished);
      const rate = load!.rate(started, mode === 'fenced' ? cutAt : finished);

      const restored = await restoreClient.restore({ backup: `m-${mode}`, namespace: ns, pvcName: `r-${mode}`, ...(mode === 'online' ? { prep } : {}) });
      expect(restored.state).toBe('ready');
      const verified = await restoreClient.verify({ namespace: ns, pvc: `r-${mode}`, runtime, amcheck: 'install' });
      expect(verified.failures).toEqual([]);
      expect(verified.offline?.verdict).toBe(VERDICT[mode]);
      expect(verified.live?.amcheck.ran).toBe(true);

      const copy = await deployPostgres({ kubeConfig: clients.kubeConfig, namespace: ns, name: `c-${mode}`, major, password, existingClaim: `r-${mode}` });
      try {
        const { missing, rows } = await copy.missing(acked);
        expect(missing).toEqual([]);
        const { startLsn, stopLsn } = backup.metadata.wal ?? backup.metadata.data;
        // The WAL the temporary slot held for the backup: from pg_backup_start to pg_backup_stop.
        const walHeld =
          startLsn !== undefined && stopLsn !== undefined ? `, WAL held by the slot ${(Number(stopLsn - startLsn) / 2 ** 20).toFixed(1)} MiB` : '';
        const session = backup.timings.backupSessionMs !== undefined ? `, in backup mode ${backup.timings.backupSessionMs} ms${walHeld}` : '';
        const down = backup.timings.fencedMs !== undefined ? `, down ${backup.timings.fencedMs} ms` : '';
        report.push(
          `${mode}: backup ${finished - started} ms, ${Math.round(pace)} commits/s before it and ${Math.round(rate)} during it${session}${down}, ${acked.length} acknowledged before the cut, ` +
            `${rows} rows in the copy; restore ${restored.timings.totalMs} ms; verify ${verified.timings.totalMs} ms (${verified.offline?.verdict})`,
        );
      } finally {
        await copy.delete();
      }
    },
  );
});

describe('the consistency matrix on the atomic btrfs driver: MariaDB 10.11 in a pod under a sustained write load', () => {
  const ns = `matrix-mariadb-${stamp}`;
  const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
  const restoreClient = new RestoreClient(clients);
  const report: string[] = [];
  let source: MariadbPod;
  let load: MysqlWriteLoad | undefined;

  beforeAll(async () => {
    if (why) return;
    await clients.core.createNamespace({ body: { metadata: { name: ns } } });
    source = await deployMariadb({ kubeConfig: clients.kubeConfig, namespace: ns, name: 'src', password, storageClass: BTRFS_STORAGE_CLASS });
    await source.query('CREATE DATABASE app');
    await source.query('CREATE TABLE app.t (id BIGINT PRIMARY KEY, w INT NOT NULL, pad VARCHAR(200) NOT NULL, KEY t_w (w, id)) ENGINE=InnoDB');
    await source.query('CREATE TABLE app.u (id INT PRIMARY KEY, n BIGINT NOT NULL, pad VARCHAR(200) NOT NULL, KEY u_n (n)) ENGINE=InnoDB');
    // The sequence engine's tables live in whichever database is named.
    await source.query('INSERT INTO app.u SELECT seq, 0, REPEAT(MD5(seq), 4) FROM app.seq_0_to_19999');
    await source.query('INSERT INTO app.t SELECT seq, 0, REPEAT(MD5(seq), 4) FROM app.seq_1_to_20000');
    load = new MysqlWriteLoad(source, 8).start();
    await new Promise((r) => setTimeout(r, 3000));
  }, 300_000);

  afterAll(async () => {
    await load?.stop();
    if (report.length > 0) console.log(`[consistency-matrix] MariaDB on ${BTRFS_DRIVER}:\n  ${report.join('\n  ')}`);
    await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
  }, 120_000);

  // MariaDB has no checkpoint mode; its online mode holds BACKUP STAGE BLOCK_COMMIT across the cut.
  it.each(['crash', 'online', 'fenced'] as const)(
    '%s: backed up while the writers go on, the SQL session (online) through the pod; restored, CHECK TABLE clean, every commit acknowledged before the cut there',
    { ...skipWhen(why), timeout: 600_000 },
    async (mode) => {
      let cutAt = 0;
      const started = Date.now();
      const backup = await runBackup(clients, {
        namespace: ns,
        target: { pod: source.podName },
        mode,
        name: `m-${mode}`,
        engineKind: 'mariadb',
        ...(mode === 'online' ? { database: { throughPod: {} } } : {}),
        deadlineMs: 300_000,
        onProgress: (e) => {
          if (e.phase === (mode === 'fenced' ? 'fencing' : 'snapshot-requested') && cutAt === 0) cutAt = Date.now();
        },
      });
      const finished = Date.now();
      expect(backup.mode).toBe(mode);
      expect(backup.metadata.data.engine).toBe('mariadb');
      expect(backup.atomicity).toMatchObject({ driver: BTRFS_DRIVER, atomic: true, source: 'table' });
      const acked = load!.ackedBefore(cutAt);
      const pace = await expectWritersThrough(load!, started, finished);
      const rate = load!.rate(started, mode === 'fenced' ? cutAt : finished);

      const restored = await restoreClient.restore({ backup: `m-${mode}`, namespace: ns, pvcName: `r-${mode}` });
      expect(restored.state).toBe('ready');
      const copy = await deployMariadb({ kubeConfig: clients.kubeConfig, namespace: ns, name: `c-${mode}`, password, existingClaim: `r-${mode}` });
      try {
        const checked = await checkMysqlTables({ connection: copy.connectionConfig });
        expect(checked.problems).toEqual([]);
        expect(checked.tables.length).toBeGreaterThanOrEqual(2);
        const ids = new Set((await copy.query<{ id: string }[]>('SELECT id FROM app.t WHERE id >= 1000000000')).map((r) => Number(r.id)));
        expect(acked.filter((id) => !ids.has(id))).toEqual([]);
        const session = backup.timings.backupSessionMs !== undefined ? `, lock held ${backup.timings.backupSessionMs} ms` : '';
        const down = backup.timings.fencedMs !== undefined ? `, down ${backup.timings.fencedMs} ms` : '';
        report.push(
          `${mode}: backup ${finished - started} ms, ${Math.round(pace)} commits/s before it and ${Math.round(rate)} during it${session}${down}, ${acked.length} acknowledged before the cut, ${ids.size} in the copy; ` +
            `restore ${restored.timings.totalMs} ms; CHECK TABLE on ${checked.tables.length} tables clean`,
        );
      } finally {
        await copy.delete();
      }
    },
  );
});
