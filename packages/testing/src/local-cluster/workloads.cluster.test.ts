import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { availablePostgresMajors } from '../postgres/binaries.js';
import type { PostgresServer } from '../postgres/server.js';
import { HOSTPATH_DRIVER } from './cluster.js';
import { clusterFromEnv } from './shared.js';
import { runPostgresOnVolume, volumeDirectoryOf } from './workloads.js';
import './provided-context.js';

const info = clusterFromEnv(inject('dbaasCluster'));
const kc = new KubeConfig();
kc.loadFromFile(info.kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const ns = `w-${Date.now().toString(36)}`;
const handle = `static-${randomUUID()}`;
const pvName = `pv-${handle}`.slice(0, 63);
const servers: PostgresServer[] = [];

afterAll(async () => {
  for (const s of servers) await s.stop().catch(() => undefined);
  await core.deleteNamespace({ name: ns }).catch(() => undefined);
  await core.deletePersistentVolume({ name: pvName }).catch(() => undefined);
});

describe('workloads without kubelet: PostgreSQL on a PV directory', () => {
  // A pre-provisioned (static) hostpath PV: the real PV binder binds the claim to it; the directory
  // is where the hostpath plugin keeps volume <handle>. This runs with or without the plugin.
  it('binds a static hostpath PV and runs a real PostgreSQL on <statedir>/<volumeHandle>', async () => {
    await mkdir(path.join(info.hostpathStateDir, handle), { recursive: true });
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createPersistentVolume({
      body: {
        metadata: { name: pvName },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Retain',
          storageClassName: '',
          csi: { driver: HOSTPATH_DRIVER, volumeHandle: handle },
        },
      },
    });
    await core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: {
        metadata: { name: 'pgdata' },
        spec: {
          accessModes: ['ReadWriteOnce'],
          storageClassName: '',
          volumeName: pvName,
          resources: { requests: { storage: '1Gi' } },
        },
      },
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const pvc = await core.readNamespacedPersistentVolumeClaim({ namespace: ns, name: 'pgdata' });
      if (pvc.status?.phase === 'Bound') break;
      if (Date.now() > deadline) throw new Error(`PVC not Bound: ${JSON.stringify(pvc.status)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const dir = await volumeDirectoryOf(info, { namespace: ns, name: 'pgdata' });
    expect(dir).toBe(path.join(info.hostpathStateDir, handle));

    const major = availablePostgresMajors().at(-1);
    expect(major, 'no PostgreSQL binaries installed').toBeDefined();
    const pg = await runPostgresOnVolume(info, { namespace: ns, name: 'pgdata' }, { major: major! });
    servers.push(pg);
    await pg.query('create table kept (id int primary key, note text)');
    await pg.query("insert into kept values (1, 'on the PV')");
    await pg.stop();
    expect((await readFile(path.join(dir, 'PG_VERSION'), 'utf8')).trim()).toBe(String(major));
    expect(existsSync(path.join(dir, 'pg_wal'))).toBe(true);

    // Started again on the same volume (no initdb): the data is there.
    const again = await runPostgresOnVolume(info, { namespace: ns, name: 'pgdata' });
    servers.push(again);
    const rows = await again.query<{ note: string }>('select note from kept where id = 1');
    expect(rows[0]?.note).toBe('on the PV');
    await again.stop();
  });
});
