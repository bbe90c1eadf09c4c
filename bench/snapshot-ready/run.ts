// How long a CSI driver takes to cut and ready a VolumeSnapshot of a PostgreSQL StatefulSet pod's
// volume (stopped, as a fenced backup has it), to restore it into a new PVC and to have a new
// PostgreSQL pod serving on it: the CSI hostpath driver (CreateSnapshot is a `tar czf` of the
// volume, so it grows with the data) against the project's btrfs test driver (a read-only subvolume
// snapshot: constant time), side by side in the same run for each size, with `tar czf` of the same
// hostpath directory as the yardstick of the hostpath driver's own work. The seed document reported
// 5-10 s to readyToUse on minikube for ~100 MB.
//
//   DBAAS_TESTING_BIN_DIR=<dir with hostpathplugin> npx tsx bench/snapshot-ready/run.ts [--mb 100,1024,4096] [--runs 3] [--drivers hostpath,btrfs]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi, type V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { deployPostgres, LOCAL_DRIVER_CLASSES, LocalCluster, volumeDirectoryOf, type LocalDriver } from '@kubectl-dbaas/testing';

const { values } = parseArgs({
  options: { mb: { type: 'string', default: '100,1024' }, runs: { type: 'string', default: '3' }, drivers: { type: 'string', default: 'hostpath,btrfs' } },
});
const sizesMb = values.mb.split(',').map(Number);
const runs = Number(values.runs);
const DRIVERS = LOCAL_DRIVER_CLASSES;
type Driver = LocalDriver;
const drivers = values.drivers.split(',') as Driver[];
for (const d of drivers) if (!(d in DRIVERS)) throw new Error(`--drivers: "${d}" is not one of ${Object.keys(DRIVERS).join(', ')}`);

interface Run {
  tarSeconds?: number;
  cutSeconds: number;
  readySeconds: number;
  restoreBoundSeconds: number;
  servingSeconds: number;
}
interface Measured {
  driver: Driver;
  mb: number;
  databaseMiB: number;
  runs: number;
  tarCzfSeconds?: number;
  snapshotCutSeconds: number;
  snapshotReadySeconds: number;
  restoreBoundSeconds: number;
  newPodServingSeconds: number;
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

const cluster = await LocalCluster.start({ nodeImages: ['postgres:17'], log: (line) => process.stderr.write(`${line}\n`) });
const measured: Measured[] = [];
try {
  const missing =
    cluster.nodeUnavailable ??
    (drivers.includes('hostpath') ? cluster.hostpathUnavailable : undefined) ??
    (drivers.includes('btrfs') ? cluster.btrfsUnavailable : undefined);
  if (missing) throw new Error(`cannot measure: ${missing}`);
  const kc = cluster.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  // One password for the sources and the databases restored from them (they hold its pg_authid).
  const password = randomBytes(18).toString('base64url');

  for (const mb of sizesMb) {
    for (const driver of drivers) {
      const { storageClass, snapshotClass } = DRIVERS[driver];
      const namespace = `bench-${driver}-${mb}`;
      await core.createNamespace({ body: { metadata: { name: namespace } } });
      const storage = `${Math.max(2, Math.ceil((mb * 3) / 1024))}Gi`;
      const source = await deployPostgres({ kubeConfig: kc, namespace, name: 'pg', major: 17, storage, storageClass, password });
      const rows = Math.round((mb * 1024 * 1024) / 300);
      await source.query(`CREATE TABLE filler AS SELECT g AS id, md5(g::text) || repeat('x', 200) AS payload FROM generate_series(1, ${rows}) g`);
      await source.query('CREATE INDEX ON filler (id)');
      await source.query('CHECKPOINT');
      const [{ size }] = (await source.query<{ size: string }>('SELECT sum(pg_database_size(datname)) AS size FROM pg_database')) as [{ size: string }];
      const databaseMiB = +(Number(size) / 2 ** 20).toFixed(1);
      // Stopped, as a fenced backup has it: hostpath's tar of a live directory fails under writes.
      await source.scale(0);
      await source.close();
      const volume = driver === 'hostpath' ? await volumeDirectoryOf(cluster, { namespace, name: source.pvcName }) : undefined;

      const results: Run[] = [];
      for (let run = 1; run <= runs; run++) {
        let tarSeconds: number | undefined;
        if (volume) {
          const scratch = await mkdtemp(path.join(os.tmpdir(), 'bench-tar-'));
          const tarStart = performance.now();
          await exec('tar', ['czf', path.join(scratch, 'copy.tar.gz'), '-C', volume, '.']);
          tarSeconds = (performance.now() - tarStart) / 1000;
          await rm(scratch, { recursive: true, force: true });
        }
        const name = `snap-${run}`;
        const created = performance.now();
        await custom.createNamespacedCustomObject({
          group: 'snapshot.storage.k8s.io',
          version: 'v1',
          namespace,
          plural: 'volumesnapshots',
          body: {
            apiVersion: 'snapshot.storage.k8s.io/v1',
            kind: 'VolumeSnapshot',
            metadata: { name },
            spec: { volumeSnapshotClassName: snapshotClass, source: { persistentVolumeClaimName: source.pvcName } },
          },
        });
        let cutSeconds = 0;
        let snapshot: { status?: { readyToUse?: boolean; restoreSize?: string; boundVolumeSnapshotContentName?: string; creationTime?: string } } = {};
        await waitFor(
          async () => {
            snapshot = (await custom.getNamespacedCustomObject({
              group: 'snapshot.storage.k8s.io',
              version: 'v1',
              namespace,
              plural: 'volumesnapshots',
              name,
            })) as typeof snapshot;
            if (!cutSeconds && snapshot.status?.boundVolumeSnapshotContentName && snapshot.status.creationTime)
              cutSeconds = (performance.now() - created) / 1000;
            return snapshot.status?.readyToUse === true;
          },
          900_000,
          50,
        );
        const readySeconds = (performance.now() - created) / 1000;

        const restoreName = `restore-${run}`;
        const restoreStart = performance.now();
        await core.createNamespacedPersistentVolumeClaim({
          namespace,
          body: pvc(restoreName, storageClass, snapshot.status?.restoreSize ?? storage, { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name }),
        });
        await waitFor(async () => (await core.readNamespacedPersistentVolumeClaim({ namespace, name: restoreName })).status?.phase === 'Bound', 900_000, 50);
        const restoreBoundSeconds = (performance.now() - restoreStart) / 1000;
        // A new StatefulSet's pod on the restored volume: the node publishes it and PostgreSQL starts.
        const podStart = performance.now();
        const restored = await deployPostgres({ kubeConfig: kc, namespace, name: `pg-r${run}`, major: 17, existingClaim: restoreName, password });
        const servingSeconds = (performance.now() - podStart) / 1000;
        const [{ n }] = (await restored.query<{ n: string }>('SELECT count(*) AS n FROM filler')) as [{ n: string }];
        if (Number(n) !== rows) throw new Error(`the restored database has ${n} of ${rows} rows`);
        await restored.delete();
        await core.deleteNamespacedPersistentVolumeClaim({ namespace, name: restoreName });
        results.push({ ...(tarSeconds !== undefined ? { tarSeconds } : {}), cutSeconds, readySeconds, restoreBoundSeconds, servingSeconds });
        process.stderr.write(
          `${driver} ${mb} MB run ${run}: ${tarSeconds !== undefined ? `tar czf ${tarSeconds.toFixed(2)} s, ` : ''}snapshot cut ${cutSeconds.toFixed(2)} s, ready ${readySeconds.toFixed(2)} s, restore Bound ${restoreBoundSeconds.toFixed(2)} s, new pod serving ${servingSeconds.toFixed(2)} s\n`,
        );
      }
      const tars = results.flatMap((r) => (r.tarSeconds !== undefined ? [r.tarSeconds] : []));
      measured.push({
        driver,
        mb,
        databaseMiB,
        runs,
        ...(tars.length > 0 ? { tarCzfSeconds: +median(tars).toFixed(2) } : {}),
        snapshotCutSeconds: +median(results.map((r) => r.cutSeconds)).toFixed(2),
        snapshotReadySeconds: +median(results.map((r) => r.readySeconds)).toFixed(2),
        restoreBoundSeconds: +median(results.map((r) => r.restoreBoundSeconds)).toFixed(2),
        newPodServingSeconds: +median(results.map((r) => r.servingSeconds)).toFixed(2),
      });
      await core.deleteNamespace({ name: namespace });
    }
  }
  for (const m of measured) {
    const peer = measured.find((o) => o.mb === m.mb && o.driver === 'hostpath');
    const ratio = m.driver !== 'hostpath' && peer ? ` (readyToUse ${(m.snapshotReadySeconds / peer.snapshotReadySeconds).toFixed(3)}x hostpath's)` : '';
    process.stdout.write(
      `${m.driver.padEnd(8)} ${String(m.mb).padStart(5)} MB (databases ${m.databaseMiB} MiB):${m.tarCzfSeconds !== undefined ? ` tar czf ${m.tarCzfSeconds} s |` : ''} ` +
        `cut ${m.snapshotCutSeconds} s, readyToUse ${m.snapshotReadySeconds} s${ratio} | PVC from it Bound ${m.restoreBoundSeconds} s, new pod serving ${m.newPodServingSeconds} s (medians of ${m.runs})\n`,
    );
  }
  process.stdout.write(`${JSON.stringify(measured)}\n`);
} finally {
  await cluster.stop();
}

function pvc(name: string, storageClassName: string, size: string, dataSource?: { apiGroup: string; kind: string; name: string }): V1PersistentVolumeClaim {
  return {
    metadata: { name },
    spec: {
      accessModes: ['ReadWriteOnce'],
      storageClassName,
      resources: { requests: { storage: size } },
      ...(dataSource ? { dataSource } : {}),
    },
  };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function exec(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${file} exited ${code}: ${stderr}`))));
  });
}
