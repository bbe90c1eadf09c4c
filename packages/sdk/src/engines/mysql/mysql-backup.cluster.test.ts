// runBackup with the MySQL/MariaDB engine against the shared local cluster with the real CSI
// hostpath driver and a real MariaDB on the volume's directory, under a concurrent write load:
// the modes the hostpath driver allows (fenced), the ones it refuses (online, crash: torn copies
// measured, docs/engines.md), and online forced anyway to show what it records and what its copy is.
// Each restore is a PVC from the snapshot (buildPvcFromSnapshot), then verifyMysqlRestore (a
// scratch mariadbd on the restored directory, CHECK TABLE on every table) and a row count against
// every commit acknowledged before the cut.
// Needs the hostpath plugin: skipped with the reason printed, never counted as passed, without it.
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import {
  STORAGE_CLASS,
  clusterFromEnv,
  cleanupMariadbAfterAll,
  dbaasRejection,
  localMariadbFencing,
  mariadbUnavailable,
  postgresRunAs,
  runMariadbOnVolume,
  type MariadbServer,
  MysqlWriteLoad,
  seedMysql,
  createBoundPvc,
  pvcFromSnapshot,
} from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClients } from '../../kube/clients.js';
import type { VolumeSnapshot } from '../../kube/snapshot-types.js';
import { readSnapshotMetadata } from '../../manifests/metadata.js';
import { runBackup, type BackupProgress, type BackupResult } from '../../snapshot/backup.js';
import { mysqlEngine } from './engine.js';
import { verifyMysqlRestore } from './verify.js';
import { skipWhen } from '@kubectl-dbaas/testing';

const info = clusterFromEnv(inject('dbaasCluster'));
const noMariadb = mariadbUnavailable();
const skip = info.hostpathUnavailable !== undefined || noMariadb !== undefined;
const skipReason = info.hostpathUnavailable ?? noMariadb;
const ns = `my-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
const SETTINGS = { innodb_buffer_pool_size: '256M', innodb_log_file_size: '8M', innodb_io_capacity: 2000 };
const report: string[] = [];
let source: MariadbServer;
cleanupMariadbAfterAll(afterAll);

const createPvc = (body: V1PersistentVolumeClaim) => createBoundPvc(clients, info, { ...body, metadata: { ...body.metadata, namespace: ns } });
/** A PVC from a snapshot (the testing package's pvcFromSnapshot); returns its volume directory. */
const restore = (vs: VolumeSnapshot, pvcName: string) => pvcFromSnapshot(clients, info, { namespace: ns, snapshot: vs.metadata.name!, pvcName });

/** verifyMysqlRestore on the restored volume directory, plus the acknowledged rows. */
async function verifyRestored(
  dir: string,
  acked: number[],
): Promise<{ ok: boolean; problems: string[]; crashRecovery: boolean; rows: number; missing: number; tables: number }> {
  const r = postgresRunAs();
  let ids = new Set<number>();
  const report = await verifyMysqlRestore({
    dataDirectory: dir,
    settings: SETTINGS,
    ...(r.switched ? { runAs: { uid: r.uid, gid: r.gid, name: r.name } } : {}),
    inspect: async (s) => {
      ids = new Set((await s.query<{ id: string }>('SELECT id FROM app.t WHERE id >= 1000000000')).map((x) => Number(x.id)));
    },
  });
  return {
    ok: report.ok,
    problems: report.problems,
    crashRecovery: report.crashRecovery,
    rows: ids.size,
    missing: acked.filter((id) => !ids.has(id)).length,
    tables: report.tables.length,
  };
}

function recorder(): { at: (phase: string) => number; onProgress: (e: BackupProgress) => void; events: BackupProgress[] } {
  const events: BackupProgress[] = [];
  const times: { phase: string; at: number }[] = [];
  return {
    events,
    onProgress: (e) => {
      events.push(e);
      times.push({ phase: e.phase, at: Date.now() });
    },
    at: (phase) => {
      const hit = times.find((t) => t.phase === phase);
      if (!hit) throw new Error(`no progress event ${phase}`);
      return hit.at;
    },
  };
}

beforeAll(async () => {
  if (skip) return;
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  await createPvc({
    metadata: { name: 'data-shop-mariadb-local-0', namespace: ns },
    spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS, resources: { requests: { storage: '2Gi' } } },
  });
  source = await runMariadbOnVolume(info, { namespace: ns, name: 'data-shop-mariadb-local-0' }, { settings: SETTINGS });
  await seedMysql(source, 100_000);
});

afterAll(async () => {
  await source?.stop().catch(() => undefined);
  if (report.length) console.log(`[mysql-backup.cluster] measurements:\n  ${report.join('\n  ')}`);
  if (!skip) await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe('runBackup with MariaDB on the hostpath CSI driver', () => {
  if (skip) console.warn(`[dbaas-testing] SKIPPING MariaDB cluster tests (not passed): ${info.hostpathUnavailable ?? noMariadb}`);

  it('refuses online and crash on hostpath (not atomic), has no checkpoint mode, defaults to fenced', skipWhen(skipReason), async () => {
    const engine = await mysqlEngine(source.connectionConfig);
    try {
      for (const mode of ['online', 'crash'] as const) {
        const e = await dbaasRejection(
          runBackup(clients, { namespace: ns, target: { pvc: 'data-shop-mariadb-local-0' }, mode, engine, name: `refused-${mode}` }),
        );
        expect(e.code).toBe('MODE_UNSAFE');
        expect(e.message).toMatch(/MariaDB on hostpath\.csi\.k8s\.io.*not atomic/);
        expect(e.fix).toMatch(/--mode fenced/);
      }
      const c = await dbaasRejection(
        runBackup(clients, { namespace: ns, target: { pvc: 'data-shop-mariadb-local-0' }, mode: 'checkpoint', engine, name: 'refused-checkpoint' }),
      );
      expect(c.code).toBe('INVALID_ARGUMENT');
      // Default: fenced, which needs a way to stop the database (none given, no StatefulSet).
      const f = await dbaasRejection(runBackup(clients, { namespace: ns, target: { pvc: 'data-shop-mariadb-local-0' }, engine, name: 'no-fence' }));
      expect(f.message).toMatch(/mode fenced needs a way to stop the database/);
      expect(await clients.volumeSnapshots.listAll({ namespace: ns })).toHaveLength(0);
    } finally {
      await engine.close();
    }
  });

  it(
    'fenced under write load: clean shutdown, snapshot, cut, start; the restored PVC recovers nothing, has every acknowledged row, CHECK TABLE passes',
    skipWhen(skipReason),
    async () => {
      const load = new MysqlWriteLoad(source, 4).start();
      await new Promise((r) => setTimeout(r, 2000));
      const engine = await mysqlEngine(source.connectionConfig);
      const fencing = localMariadbFencing(source);
      const rec = recorder();
      let result: BackupResult;
      const started = Date.now();
      try {
        result = await runBackup(clients, {
          namespace: ns,
          target: { pvc: 'data-shop-mariadb-local-0' },
          mode: 'fenced',
          name: 'fenced-1',
          engine,
          fencing,
          onProgress: rec.onProgress,
          deadlineMs: 240_000,
        });
        await new Promise((r) => setTimeout(r, 1000));
      } finally {
        await load.stop();
        await engine.close();
      }
      const rate = load.rate(started - 2000, fencing.stats.stoppedAt!);
      expect(rate).toBeGreaterThan(50);
      expect(fencing.stats).toMatchObject({ fenced: 1, unfenced: 1 });
      expect(source.running).toBe(true);
      expect(rec.at('unfenced')).toBeGreaterThanOrEqual(rec.at('cut'));
      expect(load.acked.some(([, at]) => at > fencing.stats.startedAt!)).toBe(true);
      expect(result.snapshots.wal).toBeUndefined();
      const meta = readSnapshotMetadata(await clients.volumeSnapshots.get('fenced-1', ns));
      expect(meta).toMatchObject({ mode: 'fenced', engine: 'mariadb', backupSet: 'fenced-1', role: 'data', sourcePvc: 'data-shop-mariadb-local-0' });
      expect(meta.engineVersion).toMatch(/^\d+\.\d+\.\d+$/);
      expect(meta.readyAt).toBeInstanceOf(Date);
      const acked = load.ackedBefore(fencing.stats.stoppedAt!);
      const dir = await restore(result.snapshots.data, 'fenced-1-restored');
      const v = await verifyRestored(dir, acked);
      expect(v.problems).toEqual([]);
      expect(v.crashRecovery).toBe(false);
      expect(v.missing).toBe(0);
      const t = result.timings.snapshots['fenced-1']!;
      report.push(
        `fenced: ${rate.toFixed(0)} commits/s before; total ${result.timings.totalMs} ms, fenced ${result.timings.fencedMs} ms, request->cut ${t.requestToCutMs} ms, request->ready ${t.requestToReadyMs} ms, ` +
          `restoreSize ${result.snapshots.data.status?.restoreSize}; ${acked.length} rows acked before the fence all present (${v.rows} restored), CHECK TABLE OK on ${v.tables} tables, no crash recovery`,
      );
    },
  );

  it('abort during a (forced) online backup releases the lock at once and deletes the partial snapshot', skipWhen(skipReason), async () => {
    const engine = await mysqlEngine(source.connectionConfig);
    const controller = new AbortController();
    let abortedAt = 0;
    try {
      const e = await dbaasRejection(
        runBackup(clients, {
          namespace: ns,
          target: { pvc: 'data-shop-mariadb-local-0' },
          mode: 'online',
          force: true,
          name: 'aborted-1',
          engine,
          signal: controller.signal,
          onProgress: (ev) => {
            if (ev.phase === 'snapshot-requested') {
              abortedAt = Date.now();
              controller.abort(new Error('operator pressed ^C'));
            }
          },
        }),
      );
      expect(e.code).toBe('BACKUP_ABORTED');
      expect(e.details?.deletedSnapshots).toEqual(['aborted-1']);
      // The lock is gone: a commit goes through (a lock left behind would hold it for lock_wait_timeout, a day by default).
      const t = Date.now();
      await source.query('INSERT INTO app.t (id, w, pad) VALUES (3000000001, 0, "after abort")');
      expect(Date.now() - t).toBeLessThan(15_000);
      expect(abortedAt).toBeGreaterThan(0);
      const waiting = await source.query<{ n: number }>(
        "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE 'BACKUP STAGE%' OR INFO LIKE 'FLUSH TABLES%'",
      );
      expect(Number(waiting[0]!.n)).toBe(0);
    } finally {
      await engine.close();
    }
  });

  it(
    'online forced on hostpath under write load: lock across the cut, binlog position recorded, no -wal snapshot; what the torn copy does is reported, not asserted',
    skipWhen(skipReason),
    async () => {
      const load = new MysqlWriteLoad(source, 4).start();
      await new Promise((r) => setTimeout(r, 2000));
      const engine = await mysqlEngine(source.connectionConfig);
      const rec = recorder();
      let result: BackupResult | undefined;
      let failure: Error | undefined;
      const started = Date.now();
      try {
        result = await runBackup(clients, {
          namespace: ns,
          target: { pvc: 'data-shop-mariadb-local-0' },
          mode: 'online',
          force: true,
          name: 'online-forced',
          engine,
          onProgress: rec.onProgress,
          deadlineMs: 180_000,
        });
      } catch (e) {
        failure = e as Error;
      }
      // The lock is gone whatever happened: writers commit again.
      const after = load.acked.length;
      await new Promise((r) => setTimeout(r, 1500));
      const resumed = load.acked.length - after;
      await load.stop();
      await engine.close();
      expect(resumed).toBeGreaterThan(0);
      const driverErrors = rec.events.filter((e) => e.phase === 'snapshot-error').map((e) => e.message);
      if (failure) {
        report.push(`online (forced): FAILED ${failure.message.slice(0, 200)}; driver errors ${driverErrors.length}`);
        return;
      }
      const r = result!;
      expect(r.snapshots.wal).toBeUndefined();
      expect(await clients.volumeSnapshots.get('online-forced-wal', ns).catch(() => undefined)).toBeUndefined();
      const meta = readSnapshotMetadata(await clients.volumeSnapshots.get('online-forced', ns));
      expect(meta).toMatchObject({ mode: 'online', engine: 'mariadb' });
      expect(meta.binlogFile).toMatch(/^mariadb-bin\.\d{6}$/);
      expect(meta.binlogPosition).toBeTypeOf('bigint');
      expect(meta.gtidExecuted).toMatch(/^\d+-\d+-\d+/);
      const lockedAt = rec.at('backup-started');
      const rate = load.rate(started, lockedAt);
      const acked = load.ackedBefore(lockedAt);
      const dir = await restore(r.snapshots.data, 'online-forced-restored');
      let outcome: string;
      try {
        const v = await verifyRestored(dir, acked);
        outcome = `${v.ok && v.missing === 0 ? 'clean' : 'CORRUPT'}: ${v.missing} of ${acked.length} acked rows missing, crash recovery ${v.crashRecovery}${v.problems.length ? `, ${v.problems[0]!.slice(0, 160)}` : ''}`;
      } catch (e) {
        outcome = `verify failed: ${(e as Error).message.split('\n')[0]}`;
      }
      const t = r.timings.snapshots['online-forced']!;
      report.push(
        `online (forced): ${rate.toFixed(0)} commits/s before the lock; lock held ${r.timings.backupSessionMs} ms (writers blocked), request->cut ${t.requestToCutMs} ms, ${driverErrors.length} driver error(s) ` +
          `${driverErrors[0] ? `(${driverErrors[0].slice(0, 120)})` : ''}; binlog ${meta.binlogFile}:${meta.binlogPosition} gtid ${meta.gtidExecuted}; restore of the hostpath copy: ${outcome}`,
      );
    },
  );
});
