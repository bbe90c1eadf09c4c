// CloudNativePG for real on the shared cluster's node: the release manifest with the local images,
// the operator's webhooks answered through kube-proxy, and 2-instance Clusters (one with
// walStorage) reaching "Cluster in healthy state" on the hostpath driver, the standby streaming
// from the primary through the `<cluster>-rw` Service and cluster DNS.
// Needs the node, the hostpath plugin and CloudNativePG's manager binary: skipped with the reason
// printed otherwise.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cnpgSkipReason } from '../skip-hostpath.js';
import { skipWhen } from '../skip-reason.js';
import { CNPG_POSTGRES_IMAGE } from '../node/images.js';
import { createCnpgCluster, cnpgSuperuser, installCnpgOperator, untilCnpg } from './cnpg.js';
import { forwardPort } from './pods.js';
import { clusterFromEnv } from './shared.js';

const info = clusterFromEnv(inject('dbaasCluster'));
const why = cnpgSkipReason(info, 'CloudNativePG tests');
const ns = `cnpg-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
const kc = new KubeConfig();
kc.loadFromFile(info.kubeconfig);
const core = kc.makeApiClient(CoreV1Api);

beforeAll(async () => {
  if (why) return;
  await installCnpgOperator(kc, { log: (l) => console.log(l) });
  await core.createNamespace({ body: { metadata: { name: ns } } });
}, 400_000);
afterAll(async () => {
  if (!why) await core.deleteNamespace({ name: ns }).catch(() => undefined);
});

/** Runs `fn` with a superuser connection to one instance's pod (port-forward to 5432). */
async function onInstance<T>(cluster: string, pod: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const { user, password } = await cnpgSuperuser(kc, ns, cluster);
  const fwd = await forwardPort(kc, ns, pod, 5432);
  const client = new pg.Client({ host: fwd.host, port: fwd.port, user, password, database: 'postgres' });
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
    await fwd.close();
  }
}

describe('CloudNativePG on the local cluster', () => {
  for (const walStorage of [false, true]) {
    it(`a 2-instance Cluster${walStorage ? ' with walStorage' : ''} becomes healthy; the standby streams what the primary commits`, {
      ...skipWhen(why),
      timeout: 900_000,
    }, async () => {
      const name = walStorage ? 'pg-wal' : 'pg';
      const t0 = Date.now();
      const status = await createCnpgCluster(kc, { namespace: ns, name, instances: 2, walStorage });
      console.log(`[cnpg] ${name}: healthy after ${((Date.now() - t0) / 1000).toFixed(1)} s, primary ${status.currentPrimary}`);
      expect(status.readyInstances).toBe(2);
      const primary = status.currentPrimary!;
      const standby = (status.instanceNames ?? []).find((n) => n !== primary);
      expect(standby).toBeDefined();

      const pvcs = (await core.listNamespacedPersistentVolumeClaim({ namespace: ns, labelSelector: `cnpg.io/cluster=${name}` })).items;
      expect(pvcs.every((p) => p.status?.phase === 'Bound')).toBe(true);
      expect(pvcs.map((p) => p.metadata?.labels?.['cnpg.io/pvcRole']).sort()).toEqual(
        walStorage ? ['PG_DATA', 'PG_DATA', 'PG_WAL', 'PG_WAL'] : ['PG_DATA', 'PG_DATA'],
      );
      const pod = await core.readNamespacedPod({ namespace: ns, name: primary });
      expect(pod.spec?.containers.find((c) => c.name === 'postgres')?.image).toBe(CNPG_POSTGRES_IMAGE);

      const marker = `m-${Date.now()}`;
      const replication = await onInstance(name, primary, async (c) => {
        await c.query('create table if not exists marker (v text primary key)');
        await c.query('insert into marker values ($1)', [marker]);
        const r = await c.query<{ application_name: string; state: string }>('select application_name, state from pg_stat_replication');
        const settings = await c.query<{ name: string; setting: string }>(
          "select name, current_setting(name) as setting from pg_settings where name in ('checkpoint_completion_target', 'wal_buffers')",
        );
        return { senders: r.rows, settings: Object.fromEntries(settings.rows.map((s) => [s.name, s.setting])) };
      });
      expect(replication.senders).toEqual([{ application_name: standby, state: 'streaming' }]);
      expect(replication.settings).toEqual({ checkpoint_completion_target: '0.9', wal_buffers: '16MB' });
      const seen = await onInstance(name, standby!, (c) =>
        untilCnpg(
          'the standby serving the marker row',
          30_000,
          async () => {
            const r = await c.query<{ recovering: boolean; n: string }>(
              'select pg_is_in_recovery() as recovering, (select count(*) from marker where v = $1) as n',
              [marker],
            );
            return r.rows[0]?.n === '1' ? r.rows[0] : undefined;
          },
          500,
        ),
      );
      expect(seen).toEqual({ recovering: true, n: '1' });
      if (walStorage) {
        const walDir = await onInstance(
          name,
          primary,
          async (c) => (await c.query<{ link: string }>("select pg_read_file('/proc/self/mounts') ~ '/var/lib/postgresql/wal' as link")).rows[0],
        );
        expect(walDir).toEqual({ link: true });
      }
    });
  }
});
