// runBackup against the shared local cluster with the real CSI hostpath driver (a real
// snapshot-controller, csi-snapshotter, csi-provisioner) and a real PostgreSQL on the volume's
// directory, under a concurrent write load: back up in each mode, restore the snapshot into a new
// PVC, start PostgreSQL there and check every acknowledged row and the btree indexes (amcheck).
// Needs the hostpath plugin (DBAAS_TESTING_BIN_DIR with `hostpathplugin`): skipped with the reason
// printed, never counted as passed, when it is unavailable.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import {
  PostgresStartError,
  STORAGE_CLASS,
  availablePostgresMajors,
  clusterFromEnv,
  localPostgresFencing,
  runPostgresOnVolume,
  WriteLoad,
  type PostgresServer,
  dbaasRejection, createBoundPvc, pvcFromSnapshot } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isDbaasError, type DbaasError } from '../errors.js';
import { KubeClients } from '../kube/clients.js';
import type { VolumeSnapshot } from '../kube/snapshot-types.js';
import { watchUntil } from '../kube/watch-until.js';
import { RESTORE_PREP_SCRIPT, walFilesForBackup } from '../manifests/builders.js';
import { readSnapshotMetadata } from '../manifests/metadata.js';
import { inspectDataDirectory } from '../wal/data-directory.js';
import { formatLsn } from '../wal/lsn.js';
import { runBackup, type BackupProgress, type BackupResult } from './backup.js';
import { skipWhen } from '@kubectl-dbaas/testing';

const info = clusterFromEnv(inject('dbaasCluster'));
const hasHostpath = !info.hostpathUnavailable;
const ns = `bk-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
const major = availablePostgresMajors().at(-1);
const servers: PostgresServer[] = [];
const WRITERS = 4;
const SEED_ROWS = Number(process.env.DBAAS_BACKUP_TEST_SEED_ROWS ?? 200_000);
let source: PostgresServer;

function recorder(): { events: BackupProgress[]; at: (phase: string, snapshot?: string) => number; onProgress: (e: BackupProgress) => void } {
  const events: BackupProgress[] = [];
  const times: { phase: string; snapshot?: string; at: number }[] = [];
  return {
    events,
    onProgress: (e) => {
      events.push(e);
      times.push({ phase: e.phase, ...(e.snapshot ? { snapshot: e.snapshot } : {}), at: Date.now() });
    },
    at: (phase, snapshot) => {
      const hit = times.find((t) => t.phase === phase && (snapshot === undefined || t.snapshot === snapshot));
      if (!hit) throw new Error(`no progress event ${phase} ${snapshot ?? ''}`);
      return hit.at;
    },
  };
}

const createPvc = (body: V1PersistentVolumeClaim) => createBoundPvc(clients, info, { ...body, metadata: { ...body.metadata, namespace: ns } });
/** A PVC from a snapshot (the testing package's pvcFromSnapshot); returns its volume directory. */
const restore = (vs: VolumeSnapshot, pvcName: string) => pvcFromSnapshot(clients, info, { namespace: ns, snapshot: vs.metadata.name!, pvcName });

/** What the restore-prep Job does (RESTORE_PREP_SCRIPT, run locally on the two volume directories). */
function prepareOnlineRestore(dataDir: string, walDir: string, result: BackupResult, root: string): string {
  const meta = result.metadata.wal!;
  const files = walFilesForBackup(meta.startLsn!, meta.stopLsn!, meta.timeline!, meta.walSegmentSize);
  const out = spawnSync('/bin/sh', ['-ec', RESTORE_PREP_SCRIPT], {
    env: {
      PATH: process.env.PATH,
      DBAAS_ROOT: root,
      DBAAS_WAL_FILES: files.join(' '),
      DBAAS_BACKUP_LABEL_B64: Buffer.from(meta.backupLabel!, 'utf8').toString('base64'),
      ...(meta.tablespaceMap ? { DBAAS_TABLESPACE_MAP_B64: Buffer.from(meta.tablespaceMap, 'utf8').toString('base64') } : {}),
    },
    encoding: 'utf8',
  });
  if (out.status !== 0) throw new Error(`restore prep failed: ${out.stderr}`);
  void dataDir;
  void walDir;
  return out.stdout.trim();
}

async function snapFile(vs: VolumeSnapshot): Promise<string> {
  const fresh = await clients.volumeSnapshots.get(vs.metadata.name!, ns);
  const content = await clients.volumeSnapshotContents.get(fresh.status!.boundVolumeSnapshotContentName!);
  return path.join(info.hostpathStateDir, `${content.status!.snapshotHandle}.snap`);
}

/** Starts PostgreSQL on a restored PVC and checks acknowledged rows and amcheck. */
async function verifyRestored(pvcName: string, acked: number[]): Promise<{ rows: number; missing: number[]; indexes: number }> {
  const server = await runPostgresOnVolume(info, { namespace: ns, name: pvcName });
  servers.push(server);
  const rows = await server.query<{ id: string }>('select id from t');
  const present = new Set(rows.map((r) => Number(r.id)));
  const missing = acked.filter((id) => !present.has(id));
  await server.query('create extension if not exists amcheck');
  const checked = await server.query<{ name: string }>(
    `select c.oid::regclass::text as name, bt_index_check(c.oid, true)
       from pg_index i join pg_class c on c.oid = i.indexrelid join pg_am am on am.oid = c.relam
      where am.amname = 'btree' and c.relpersistence <> 't' and i.indisvalid and i.indisready`,
  );
  await server.stop();
  return { rows: rows.length, missing, indexes: checked.length };
}


const report: string[] = [];

function dirSize(dir: string): string {
  return spawnSync('du', ['-sh', dir], { encoding: 'utf8' }).stdout.split('\t')[0] ?? '?';
}

beforeAll(async () => {
  if (!hasHostpath) return;
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  await createPvc({
    metadata: { name: 'pgdata', namespace: ns },
    spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS, resources: { requests: { storage: '1Gi' } } },
  });
  source = await runPostgresOnVolume(info, { namespace: ns, name: 'pgdata' }, { major: major!, settings: { max_wal_size: '64MB', min_wal_size: '32MB', checkpoint_timeout: '30s' } });
  servers.push(source);
  await source.query('create table t (id bigint primary key, w int not null, pad text not null)');
  await source.query('create index t_w on t (w, id)');
  await source.query(`insert into t select g, 0, repeat(md5(g::text), 4) from generate_series(1, ${SEED_ROWS}) g`);
  await source.query('checkpoint');
});

afterAll(async () => {
  for (const s of servers) await s.stop().catch(() => undefined);
  if (report.length) console.log(`[backup.cluster] measurements:\n  ${report.join('\n  ')}`);
  if (hasHostpath) await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe('runBackup on the hostpath CSI driver with a real PostgreSQL under write load', () => {
  const why = `CSI hostpath plugin unavailable: ${info.hostpathUnavailable}`;
  if (!hasHostpath) console.warn(`[dbaas-testing] SKIPPING runBackup cluster tests (not passed): ${why}`);

  it('refuses crash and checkpoint on hostpath without force, naming why; default mode is fenced', skipWhen(info.hostpathUnavailable), async () => {
    const e = await dbaasRejection(runBackup(clients, { namespace: ns, target: { pvc: 'pgdata' }, mode: 'crash', name: 'refused' }));
    expect(e.code).toBe('MODE_UNSAFE');
    expect(e.message).toMatch(/not atomic/);
    expect(e.fix).toMatch(/fenced/);
    const f = await dbaasRejection(runBackup(clients, { namespace: ns, target: { pvc: 'pgdata' }, name: 'no-fence' }));
    expect(f.code).toBe('INVALID_ARGUMENT');
    expect(f.message).toMatch(/mode fenced needs a way to stop the database/);
    expect(await clients.volumeSnapshots.listAll({ namespace: ns })).toHaveLength(0);
  });

  it('fenced: clean stop, snapshot, cut, start; restore has every acknowledged row and passes amcheck', skipWhen(info.hostpathUnavailable), async () => {
    const load = new WriteLoad(source, { writers: WRITERS }).start();
    await new Promise((r) => setTimeout(r, 2000));
    const fencing = localPostgresFencing(source);
    const rec = recorder();
    let result: BackupResult;
    try {
      result = await runBackup(clients, { namespace: ns, target: { pvc: 'pgdata' }, name: 'fenced-1', fencing, database: source.connectionConfig, onProgress: rec.onProgress, deadlineMs: 180_000 });
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await load.stop();
    }
    expect(result.mode).toBe('fenced');
    expect(fencing.stats).toMatchObject({ fenced: 1, unfenced: 1 });
    expect(source.running).toBe(true);
    // The fence ended at the cut: the database was started before readiness was waited for.
    expect(rec.at('unfenced')).toBeGreaterThanOrEqual(rec.at('cut', 'fenced-1'));
    const meta = readSnapshotMetadata(await clients.volumeSnapshots.get('fenced-1', ns));
    expect(meta).toMatchObject({ mode: 'fenced', engine: 'postgres', backupSet: 'fenced-1', role: 'data', sourcePvc: 'pgdata' });
    expect(meta.cutAt).toBeInstanceOf(Date);
    expect(meta.readyAt).toBeInstanceOf(Date);
    expect(meta.systemIdentifier).toBeTypeOf('bigint');
    const fenceAt = fencing.stats.stoppedAt!;
    const acked = load.ackedBefore(fenceAt);
    expect(acked.length).toBeGreaterThan(100);
    const snap = await snapFile(result.snapshots.data);
    const inspection = await inspectDataDirectory(snap);
    expect(inspection.verdict).toBe('clean-shutdown');
    report.push(`fenced: .snap file ${((await stat(snap)).size / 1048576).toFixed(1)} MiB (tar czf), data directory ${dirSize(source.dataDirectory)}`);
    expect(load.acked.some(([, at]) => at > fencing.stats.startedAt!)).toBe(true); // writers went on after the fence
    await restore(result.snapshots.data, 'fenced-1-restored');
    const v = await verifyRestored('fenced-1-restored', acked);
    expect(v.missing).toEqual([]);
    expect(v.indexes).toBeGreaterThanOrEqual(2);
    const t = result.timings.snapshots['fenced-1']!;
    report.push(
      `fenced: total ${result.timings.totalMs} ms, fenced ${result.timings.fencedMs} ms, request->cut ${t.requestToCutMs} ms, request->ready ${t.requestToReadyMs} ms, ` +
        `restoreSize ${result.snapshots.data.status?.restoreSize}; ${acked.length} rows acked before the fence, ${load.errors} writer errors while fenced; restored rows ${v.rows}`,
    );
  });

  it('fenced: re-running the same name adopts its own set; a foreign snapshot of that name is refused', skipWhen(info.hostpathUnavailable), async () => {
    const fencing = localPostgresFencing(source);
    const again = await runBackup(clients, { namespace: ns, target: { pvc: 'pgdata' }, name: 'fenced-1', fencing, deadlineMs: 60_000 });
    expect(again.adopted).toBe(true);
    expect(fencing.stats.fenced).toBe(0); // already cut: nothing to fence
    await clients.volumeSnapshots.create({
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshot',
      metadata: { name: 'someone-elses', namespace: ns, labels: { 'app.kubernetes.io/managed-by': 'velero' } },
      spec: { source: { persistentVolumeClaimName: 'pgdata' } },
    });
    const e = await dbaasRejection(runBackup(clients, { namespace: ns, target: { pvc: 'pgdata' }, name: 'someone-elses', fencing, deadlineMs: 60_000 }));
    expect(e.code).toBe('KUBE_CONFLICT');
    expect(e.message).toMatch(/not managed by kubectl-dbaas \(managed-by: velero\)/);
    expect(fencing.stats.fenced).toBe(0);
    await clients.volumeSnapshots.delete('someone-elses', ns);
  });

  /** Restores an online set (data + -wal PVCs, the restore-prep script) and verifies it. */
  async function restoreOnline(r: BackupResult, acked: number[], label: string): Promise<string> {
    const name = r.name;
    const dataMeta = readSnapshotMetadata(await clients.volumeSnapshots.get(name, ns));
    // The data snapshot alone is not restorable: the inspector flags it.
    const alone = await inspectDataDirectory(await snapFile(r.snapshots.data), { backupStopLsn: dataMeta.stopLsn! });
    report.push(`${label}: inspectDataDirectory(data .snap, backupStopLsn ${formatLsn(dataMeta.stopLsn!)}) -> ${alone.verdict} (${alone.reasons[0]})`);
    expect(alone.safe).toBe(false);

    // Without the -wal segments (backup_label only): PostgreSQL refuses to start.
    const noWalDir = await restore(r.snapshots.data, `${name}-nowal`);
    await rm(path.join(noWalDir, 'postmaster.pid'), { force: true });
    await writeFile(path.join(noWalDir, 'backup_label'), dataMeta.backupLabel!, { mode: 0o600 });
    const noWal = await runPostgresOnVolume(info, { namespace: ns, name: `${name}-nowal` }).then(
      async (srv) => {
        servers.push(srv);
        await srv.stop();
        return 'started';
      },
      (e: unknown) => (e instanceof PostgresStartError ? e.log : String(e)),
    );
    expect(noWal).toMatch(/WAL ends before end of online backup|could not locate required checkpoint record|could not find redo location/);
    report.push(`${label}: restore without the -wal segments: ${/WAL ends before end of online backup/.test(noWal) ? '"WAL ends before end of online backup"' : noWal.split('\n').find((l) => /FATAL|PANIC/.test(l))}`);

    const dataDir = await restore(r.snapshots.data, `${name}-restored`);
    const walDir = await restore(r.snapshots.wal!, `${name}-restored-wal`);
    const root = await mkdtemp(path.join(tmpdir(), 'prep-'));
    try {
      await symlink(dataDir, path.join(root, 'data'));
      await symlink(walDir, path.join(root, 'wal'));
      // A copy of a running server carries its postmaster.pid; a new pod has its own PID space.
      await rm(path.join(dataDir, 'postmaster.pid'), { force: true });
      prepareOnlineRestore(dataDir, walDir, r, root);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
    const prepared = await inspectDataDirectory(dataDir, { backupStopLsn: dataMeta.stopLsn! });
    expect(prepared.verdict).toBe('online-backup-complete');
    const v = await verifyRestored(`${name}-restored`, acked);
    expect(v.missing).toEqual([]);
    expect(v.indexes).toBeGreaterThanOrEqual(2);
    return `restored rows ${v.rows}, all ${acked.length} rows acknowledged before the cut present, amcheck passed on ${v.indexes} btree indexes`;
  }

  function checkOnlineMetadata(r: BackupResult): void {
    expect(r.snapshots.wal?.metadata.name).toBe(`${r.name}-wal`);
    for (const m of [r.metadata.data, r.metadata.wal!]) {
      expect(m).toMatchObject({ mode: 'online', engine: 'postgres', backupSet: r.name });
      expect(m.startLsn).toBeTypeOf('bigint');
      expect(m.stopLsn! >= m.startLsn!).toBe(true);
      expect(m.backupLabel).toMatch(/START WAL LOCATION/);
      expect(m.firstWalFile).toMatch(/^[0-9A-F]{24}$/);
      expect(m.lastWalFile! >= m.firstWalFile!).toBe(true);
      expect(m.systemIdentifier).toBeTypeOf('bigint');
      expect(m.cutAt).toBeInstanceOf(Date);
      expect(m.readyAt).toBeInstanceOf(Date);
    }
    expect(r.metadata.wal!.role).toBe('wal');
  }

  async function slotsLeft(): Promise<string> {
    return (await source.query<{ n: string }>('select count(*)::text as n from pg_replication_slots'))[0]!.n;
  }

  it(`online under ${WRITERS} unthrottled writers: either a restorable set, or (hostpath tar "file changed as we read it") a timeout that says so and points to fenced`, skipWhen(info.hostpathUnavailable), async () => {
    const load = new WriteLoad(source, { writers: WRITERS }).start();
    await new Promise((r) => setTimeout(r, 2000));
    const rec = recorder();
    let result: BackupResult | undefined;
    let failure: DbaasError | undefined;
    const started = Date.now();
    try {
      result = await runBackup(clients, { namespace: ns, target: { pvc: 'pgdata' }, mode: 'online', name: 'online-load', database: source.connectionConfig, onProgress: rec.onProgress, deadlineMs: 120_000 });
    } catch (e) {
      failure = e as DbaasError;
    } finally {
      await load.stop();
    }
    const rate = load.rate(started, Date.now());
    const driverErrors = rec.events.filter((e) => e.phase === 'snapshot-error').length;
    report.push(`online under ${WRITERS} writers (${rate.toFixed(0)} commits/s, 120 s deadline): ${failure ? `FAILED ${failure.code} after ${driverErrors} driver error(s): ${String(failure.details?.driverError ?? failure.message).slice(0, 200)}` : `succeeded after ${driverErrors} driver error(s)`}`);
    expect(rate).toBeGreaterThan(10);
    expect(await slotsLeft()).toBe('0');
    if (failure) {
      expect(failure.code).toBe('KUBE_TIMEOUT');
      expect(failure.details?.driverError).toMatch(/file changed as we read it/);
      expect(failure.fix).toMatch(/--mode fenced/);
      // Deleted, or (when the driver is still inside a CreateSnapshot retry) reported as remaining
      // with its deletion requested; either way it is gone soon after.
      const deleted = failure.details?.deletedSnapshots as string[];
      const remaining = failure.details?.remainingSnapshots as string[];
      expect([...deleted, ...remaining.map((r) => r.split(' ')[0])]).toEqual(['online-load']);
      if (remaining.length) expect(remaining[0]).toMatch(/deletion requested/);
      await watchUntil<VolumeSnapshot>(clients, {
        path: clients.volumeSnapshots.path({ namespace: ns }),
        name: 'online-load',
        predicate: (_vs, e) => e.type === 'ABSENT' || e.type === 'DELETED',
        deadline: Date.now() + 120_000,
      });
      return;
    }
    checkOnlineMetadata(result!);
    report.push(`online under load: ${await restoreOnline(result!, load.ackedBefore(rec.at('cut', 'online-load')), 'online under load')}`);
  });

  it('online in a lull of writes: data + -wal snapshots; restore with WAL and backup_label has every acknowledged row, amcheck clean', skipWhen(info.hostpathUnavailable), async () => {
    const load = new WriteLoad(source, { writers: WRITERS }).start();
    await new Promise((r) => setTimeout(r, 3000));
    await load.stop(); // the lull: acknowledged writes just before the backup, none during it
    const rec = recorder();
    const r = await runBackup(clients, { namespace: ns, target: { pvc: 'pgdata' }, mode: 'online', name: 'online-1', database: source.connectionConfig, onProgress: rec.onProgress, deadlineMs: 240_000 });
    checkOnlineMetadata(r);
    expect(await slotsLeft()).toBe('0');
    const acked = load.ackedBefore(rec.at('cut', 'online-1'));
    expect(acked.length).toBeGreaterThan(100);
    const restored = await restoreOnline(r, acked, 'online (lull)');
    const td = r.timings.snapshots['online-1']!;
    const tw = r.timings.snapshots['online-1-wal']!;
    report.push(
      `online (lull): total ${r.timings.totalMs} ms, session ${r.timings.backupSessionMs} ms; data request->cut ${td.requestToCutMs} ms, ->ready ${td.requestToReadyMs} ms; ` +
        `wal request->cut ${tw.requestToCutMs} ms; WAL ${r.metadata.data.firstWalFile}..${r.metadata.data.lastWalFile}; driver errors ${r.snapshotErrors.length}; ${restored}`,
    );
  });

  it('measure: online on hostpath, commits/s vs success (DBAAS_BACKUP_MEASURE=1)', skipWhen(info.hostpathUnavailable ?? (process.env.DBAAS_BACKUP_MEASURE === '1' ? undefined : 'a measurement, run on request: DBAAS_BACKUP_MEASURE=1')), async () => {
    for (const rate of (process.env.DBAAS_BACKUP_MEASURE_RATES ?? '1,5,20,100').split(',').map(Number)) {
      const load = new WriteLoad(source, { writers: WRITERS, ratePerSecond: rate }).start();
      await new Promise((r) => setTimeout(r, 1000));
      const t = Date.now();
      let outcome: string;
      try {
        const r = await runBackup(clients, { namespace: ns, target: { pvc: 'pgdata' }, mode: 'online', name: `measure-${rate}`, database: source.connectionConfig, deadlineMs: 90_000 });
        outcome = `succeeded in ${r.timings.totalMs} ms after ${r.snapshotErrors.length} driver error(s)`;
      } catch (e) {
        const err = e as DbaasError;
        outcome = `${err.code} after ${Date.now() - t} ms, ${Array.isArray(err.details?.snapshotErrors) ? err.details.snapshotErrors.length : '?'} driver error(s)`;
      } finally {
        await load.stop();
      }
      report.push(`measure online: target ${rate} commits/s (measured ${load.rate(t, Date.now()).toFixed(1)}): ${outcome}`);
    }
  });

  for (const mode of ['crash', 'checkpoint'] as const) {
    // At full speed (thousands of commits/s) the hostpath driver's tar fails on every attempt for
    // crash and checkpoint just as for online (see the online tests); at 5 commits/s it gets its copy,
    // which is what this test needs: a torn copy of a live server, taken while it writes.
    it(`${mode} with force under a light write load: snapshot taken, and the inspector calls the hostpath copy unsafe-not-atomic`, skipWhen(info.hostpathUnavailable), async () => {
      const load = new WriteLoad(source, { writers: WRITERS, ratePerSecond: 5 }).start();
      await new Promise((r) => setTimeout(r, 1500));
      const rec = recorder();
      let result: BackupResult | undefined;
      let failure: DbaasError | undefined;
      try {
        result = await runBackup(clients, { namespace: ns, target: { pvc: 'pgdata' }, mode, force: true, name: `${mode}-1`, database: source.connectionConfig, onProgress: rec.onProgress, deadlineMs: 120_000 });
      } catch (e) {
        failure = e as DbaasError;
      } finally {
        await load.stop();
      }
      if (failure) {
        report.push(`${mode} (forced) under load: FAILED ${failure.code}: ${failure.message}`);
        throw failure;
      }
      const r = result!;
      const meta = readSnapshotMetadata(await clients.volumeSnapshots.get(`${mode}-1`, ns));
      expect(meta.mode).toBe(mode);
      if (mode === 'checkpoint') expect(meta.checkpointLsn).toBeTypeOf('bigint');
      const inspection = await inspectDataDirectory(await snapFile(r.snapshots.data));
      expect(inspection.verdict).toBe('unsafe-not-atomic');
      // What a restore of this torn copy does is reported, not asserted: it may start and be corrupt.
      const acked = load.ackedBefore(rec.at('snapshot-requested', `${mode}-1`));
      const dir = await restore(r.snapshots.data, `${mode}-1-restored`);
      await rm(path.join(dir, 'postmaster.pid'), { force: true });
      let outcome: string;
      try {
        const v = await verifyRestored(`${mode}-1-restored`, acked);
        outcome = `started; ${v.missing.length} of ${acked.length} acknowledged rows missing; amcheck passed on ${v.indexes} indexes`;
      } catch (e) {
        outcome = `restore failed: ${(e as Error).message.split('\n')[0]}`;
      }
      const t = r.timings.snapshots[`${mode}-1`]!;
      report.push(`${mode} (forced): total ${r.timings.totalMs} ms, request->ready ${t.requestToReadyMs} ms; inspector: unsafe-not-atomic; restore of the torn copy: ${outcome}`);
    });
  }

  it('checkpoint with the connection from a Secret (user/database keys, host/port given); a missing Secret fails before any snapshot', skipWhen(info.hostpathUnavailable), async () => {
    await clients.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'pg-conn' }, type: 'kubernetes.io/basic-auth', stringData: { username: source.superuser, password: 'unused-trust-auth', dbname: 'postgres' } },
    });
    const database = { secretRef: { name: 'pg-conn' }, host: source.host, port: source.port };
    const missing = await dbaasRejection(runBackup(clients, { namespace: ns, target: { pvc: 'pgdata' }, mode: 'checkpoint', force: true, name: 'from-secret-missing', database: { ...database, secretRef: { name: 'nope' } } }));
    expect(missing.code).toBe('KUBE_NOT_FOUND');
    expect(missing.message).toBe(`Secret ${ns}/nope with the database credentials does not exist`);
    expect(await clients.volumeSnapshots.get('from-secret-missing', ns).catch((x: unknown) => (isDbaasError(x, 'KUBE_NOT_FOUND') ? undefined : x))).toBeUndefined();
    const r = await runBackup(clients, { namespace: ns, target: { pvc: 'pgdata' }, mode: 'checkpoint', force: true, name: 'from-secret', database, deadlineMs: 120_000 });
    expect(r.metadata.data).toMatchObject({ mode: 'checkpoint', engine: 'postgres' });
    expect(r.metadata.data.checkpointLsn).toBeTypeOf('bigint');
    expect(r.metadata.data.systemIdentifier).toBeTypeOf('bigint');
    report.push(`checkpoint with the connection from Secret ${ns}/pg-conn: total ${r.timings.totalMs} ms, checkpoint LSN ${formatLsn(r.metadata.data.checkpointLsn!)}`);
  });

  it('abort during an online backup ends the backup, releases the slot and deletes the partial snapshot', skipWhen(info.hostpathUnavailable), async () => {
    const controller = new AbortController();
    const rec = recorder();
    const e = await dbaasRejection(
      runBackup(clients, {
        namespace: ns,
        target: { pvc: 'pgdata' },
        mode: 'online',
        name: 'aborted-1',
        database: source.connectionConfig,
        signal: controller.signal,
        onProgress: (ev) => {
          rec.onProgress(ev);
          if (ev.phase === 'snapshot-requested') controller.abort(new Error('operator pressed ^C'));
        },
      }),
    );
    expect(e.code).toBe('BACKUP_ABORTED');
    expect(e.details?.deletedSnapshots).toEqual(['aborted-1']);
    expect(e.details?.remainingSnapshots).toEqual([]);
    const slots = await source.query<{ n: string }>('select count(*)::text as n from pg_replication_slots');
    expect(slots[0]!.n).toBe('0');
    const backends = await source.query<{ n: string }>("select count(*)::text as n from pg_stat_activity where backend_type = 'client backend' and query ilike '%backup%' and pid <> pg_backend_pid()");
    expect(backends[0]!.n).toBe('0');
    expect(await clients.volumeSnapshots.get('aborted-1', ns).catch((x: unknown) => (isDbaasError(x, 'KUBE_NOT_FOUND') ? undefined : x))).toBeUndefined();
  });
});
