// The pod fixtures on the shared cluster's node: a PostgreSQL and a MariaDB StatefulSet on the
// hostpath CSI driver become Ready, serve SQL through a port-forward, keep every acknowledged row
// across a scale to 0 and back, and are deleted without leaving a pod, a PVC or a listener.
// Needs the node and the hostpath plugin: skipped with the reason printed otherwise.
import net from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hostpathSkipReason } from '../skip-hostpath.js';
import { skipWhen } from '../skip-reason.js';
import { clusterFromEnv } from './shared.js';
import { deployMariadb, deployPostgres } from './pods.js';

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
