// The pod fixtures on the shared cluster's node: a PostgreSQL and a MariaDB StatefulSet on the
// hostpath CSI driver become Ready, serve SQL through a port-forward, keep every acknowledged row
// across a scale to 0 and back, and are deleted without leaving a pod, a PVC or a listener; a
// PostgreSQL with `walVolume` writes its WAL to the second PVC.
// Needs the node and the hostpath plugin: skipped with the reason printed otherwise.
import { existsSync } from 'node:fs';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hostpathSkipReason } from '../skip-hostpath.js';
import { skipWhen } from '../skip-reason.js';
import { POSTGRES_IMAGE_UID } from '../node/images.js';
import { clusterFromEnv } from './shared.js';
import { deployMariadb, deployPostgres, POSTGRES_WAL_DIR, POSTGRES_WAL_MOUNT } from './pods.js';
import { volumeDirectoryOf } from './workloads.js';

const info = clusterFromEnv(inject('dbaasCluster'));
const why = hostpathSkipReason(info, 'pod fixture tests');
const ns = `pods-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
const kc = new KubeConfig();
kc.loadFromFile(info.kubeconfig);
const core = kc.makeApiClient(CoreV1Api);

beforeAll(async () => {
  if (!why) await core.createNamespace({ body: { metadata: { name: ns } } });
});
afterAll(async () => {
  if (!why) await core.deleteNamespace({ name: ns }).catch(() => undefined);
});

function connectable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('databases in pods', () => {
  it(
    'PostgreSQL: Ready, SQL through the port-forward, acknowledged rows survive scale 0 -> 1 (a clean stop), a paused writer has nothing in flight, deleted without leftovers',
    skipWhen(why),
    async () => {
      const db = await deployPostgres({ kubeConfig: kc, namespace: ns, name: 'pg', major: 17, settings: { max_wal_size: '64MB' } });
      try {
        expect(db.podReadyMs).toBeLessThan(60_000);
        const [v] = await db.query<{ server_version_num: string; data_directory: string; max_wal_size: string }>(
          "select current_setting('server_version_num') as server_version_num, current_setting('data_directory') as data_directory, current_setting('max_wal_size') as max_wal_size",
        );
        expect(Number(v!.server_version_num)).toBeGreaterThanOrEqual(170000);
        expect(v!.data_directory).toBe('/var/lib/postgresql/data/pgdata');
        expect(v!.max_wal_size).toBe('64MB');
        await db.query('create table t (id bigint primary key, w int not null, pad text not null)');
        const load = (await db.writer({ writers: 2 })).start();
        await new Promise((r) => setTimeout(r, 1000));
        await load.pause();
        const [before] = await db.query<{ n: string }>('select count(*) as n from t');
        await new Promise((r) => setTimeout(r, 500));
        const [after] = await db.query<{ n: string }>('select count(*) as n from t');
        expect(after!.n).toBe(before!.n); // paused: no commit while paused
        expect(Number(before!.n)).toBe(load.acked.length);
        load.resume();
        await new Promise((r) => setTimeout(r, 500));
        await load.stop();
        const acked = load.acked.map(([id]) => id);
        expect(acked.length).toBeGreaterThan(Number(before!.n));
        await db.scale(0);
        await db.scale(1);
        const log = await db.log();
        expect(log).not.toMatch(/initialising/); // the second start found the data directory
        expect((await db.missing(acked)).missing).toEqual([]);
      } finally {
        const port = (await db.forward()).port;
        await db.delete();
        expect(await connectable(port)).toBe(false);
      }
      expect((await core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items).toEqual([]);
      expect((await core.listNamespacedPod({ namespace: ns })).items).toEqual([]);
    },
  );

  it(
    'PostgreSQL with walVolume: PVCs data-<name>-0 and wal-<name>-0, PGDATA/pg_wal a symlink to the WAL volume, the current WAL segment in that volume on the host; a restart keeps the rows; deleted with both PVCs',
    skipWhen(why),
    async () => {
      const db = await deployPostgres({ kubeConfig: kc, namespace: ns, name: 'pgwal', major: 17, walVolume: true, walStorage: '512Mi' });
      try {
        expect(db.walPvcName).toBe('wal-pgwal-0');
        const pod = await core.readNamespacedPod({ namespace: ns, name: db.podName });
        const claims = Object.fromEntries(
          (pod.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [[v.name, v.persistentVolumeClaim.claimName]] : [])),
        );
        expect(claims).toEqual({ data: 'data-pgwal-0', wal: 'wal-pgwal-0' });
        expect(pod.spec?.containers[0]?.volumeMounts).toContainEqual(expect.objectContaining({ name: 'wal', mountPath: POSTGRES_WAL_MOUNT }));
        const walClaim = await core.readNamespacedPersistentVolumeClaim({ namespace: ns, name: 'wal-pgwal-0' });
        expect(walClaim.spec?.resources?.requests?.storage).toBe('512Mi');
        expect(await db.log()).toContain(`WAL in ${POSTGRES_WAL_DIR}`);

        await db.query('create table t (id bigint primary key, w int not null, pad text not null)');
        await db.query("insert into t select g, 0, repeat('x', 200) from generate_series(1, 5000) g");
        const [w] = await db.query<{ segment: string }>('select pg_walfile_name(pg_current_wal_lsn()) as segment');
        const segment = w!.segment;
        expect(segment).toMatch(/^[0-9A-F]{24}$/);

        // The volumes as kubelet mounts them: the segment is a file in the WAL volume's pg_wal (the
        // postgres user's, 0700), and nowhere in the data volume, whose pg_wal is only the symlink.
        const walVolume = await volumeDirectoryOf(info, { namespace: ns, name: 'wal-pgwal-0' });
        const dataVolume = await volumeDirectoryOf(info, { namespace: ns, name: 'data-pgwal-0' });
        const walDir = path.join(walVolume, path.posix.relative(POSTGRES_WAL_MOUNT, POSTGRES_WAL_DIR));
        expect((await stat(path.join(walDir, segment))).isFile()).toBe(true);
        const walDirStat = await stat(walDir);
        expect({ uid: walDirStat.uid, mode: walDirStat.mode & 0o7777 }).toEqual({ uid: POSTGRES_IMAGE_UID, mode: 0o700 });
        const link = path.join(dataVolume, db.dataSubPath, 'pg_wal');
        expect((await lstat(link)).isSymbolicLink()).toBe(true);
        expect(await readlink(link)).toBe(POSTGRES_WAL_DIR);
        expect(existsSync(path.join(dataVolume, db.dataSubPath, 'PG_VERSION'))).toBe(true);
        expect((await readdir(dataVolume, { recursive: true })).filter((f) => path.basename(f) === segment)).toEqual([]);

        await db.scale(0);
        await db.scale(1);
        expect(await db.log()).not.toMatch(/initialising/); // POSTGRES_INITDB_WALDIR is ignored on an initialised PGDATA
        const [n] = await db.query<{ n: string }>('select count(*) as n from t');
        expect(n!.n).toBe('5000');
      } finally {
        await db.delete();
      }
      expect((await core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items).toEqual([]);
    },
  );

  it('MariaDB: Ready, SQL through the port-forward, deleted without leftovers', skipWhen(why), async () => {
    const db = await deployMariadb({ kubeConfig: kc, namespace: ns, name: 'maria' });
    try {
      const rows = await db.query<{ v: string }[]>('select version() as v');
      expect(rows[0]!.v).toMatch(/MariaDB/);
    } finally {
      await db.delete();
    }
    expect((await core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items).toEqual([]);
  });
});
