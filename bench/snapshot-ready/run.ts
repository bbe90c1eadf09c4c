// How long the CSI hostpath driver takes to cut and ready a VolumeSnapshot of the volume of a
// PostgreSQL StatefulSet's pod (stopped, as a fenced backup has it), to restore it into a new PVC
// and to have a new PostgreSQL pod serving on it, against `tar czf` of the same directory run in the
// same run (the driver's own work is a `tar czf`, so the difference is the controllers' and
// sidecars' share). The seed document reported 5-10 s to readyToUse on minikube for ~100 MB.
//
//   DBAAS_TESTING_BIN_DIR=<dir with hostpathplugin> npx tsx bench/snapshot-ready/run.ts [--mb 100] [--runs 3]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi, type V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { deployPostgres, LocalCluster, SNAPSHOT_CLASS, STORAGE_CLASS, volumeDirectoryOf } from '@kubectl-dbaas/testing';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '100' }, runs: { type: 'string', default: '3' } } });
const targetMb = Number(values.mb);
const runs = Number(values.runs);
const namespace = 'bench';

const cluster = await LocalCluster.start({ nodeImages: ['postgres:17'], log: (line) => process.stderr.write(`${line}\n`) });
try {
  if (cluster.hostpathUnavailable || cluster.nodeUnavailable) {
    throw new Error(`cannot measure: ${cluster.hostpathUnavailable ?? cluster.nodeUnavailable}`);
  }
  const kc = cluster.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  await core.createNamespace({ body: { metadata: { name: namespace } } });

  // One password for the source and the databases restored from it (they hold its pg_authid).
  const password = randomBytes(18).toString('base64url');
  const source = await deployPostgres({ kubeConfig: kc, namespace, name: 'pg', major: 17, storage: '2Gi', password });
  const rows = Math.round((targetMb * 1024 * 1024) / 300);
  await source.query(`CREATE TABLE filler AS SELECT g AS id, md5(g::text) || repeat('x', 200) AS payload FROM generate_series(1, ${rows}) g`);
  await source.query('CREATE INDEX ON filler (id)');
  await source.query('CHECKPOINT');
  // Stopped, as a fenced backup has it: a tar of a live directory fails on hostpath.
  await source.scale(0);
  await source.close();
  const volume = await volumeDirectoryOf(cluster, { namespace, name: source.pvcName });
  const volumeBytes = await directoryBytes(volume);

  const results: { tarSeconds: number; cutSeconds: number; readySeconds: number; restoreBoundSeconds: number; servingSeconds: number; snapBytes: number }[] =
    [];
  for (let run = 1; run <= runs; run++) {
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'bench-tar-'));
    const tarStart = performance.now();
    await exec('tar', ['czf', path.join(scratch, 'copy.tar.gz'), '-C', volume, '.']);
    const tarSeconds = (performance.now() - tarStart) / 1000;
    await rm(scratch, { recursive: true, force: true });

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
        spec: { volumeSnapshotClassName: SNAPSHOT_CLASS, source: { persistentVolumeClaimName: source.pvcName } },
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
        if (!cutSeconds && snapshot.status?.boundVolumeSnapshotContentName && snapshot.status.creationTime) cutSeconds = (performance.now() - created) / 1000;
        return snapshot.status?.readyToUse === true;
      },
      300_000,
      50,
    );
    const readySeconds = (performance.now() - created) / 1000;

    const restoreName = `restore-${run}`;
    const restoreStart = performance.now();
    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: pvc(restoreName, snapshot.status?.restoreSize ?? '2Gi', { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name }),
    });
    await waitFor(async () => (await core.readNamespacedPersistentVolumeClaim({ namespace, name: restoreName })).status?.phase === 'Bound', 300_000, 50);
    const restoreBoundSeconds = (performance.now() - restoreStart) / 1000;
    // A new StatefulSet's pod on the restored volume: the node publishes it and PostgreSQL starts.
    const podStart = performance.now();
    const restored = await deployPostgres({ kubeConfig: kc, namespace, name: `pg-r${run}`, major: 17, existingClaim: restoreName, password });
    const servingSeconds = (performance.now() - podStart) / 1000;
    const [{ n }] = (await restored.query<{ n: string }>('SELECT count(*) AS n FROM filler')) as [{ n: string }];
    if (Number(n) !== rows) throw new Error(`the restored database has ${n} of ${rows} rows`);
    await restored.delete();
    const snapBytes = await snapFileBytes(cluster.hostpathStateDir);
    results.push({ tarSeconds, cutSeconds, readySeconds, restoreBoundSeconds, servingSeconds, snapBytes });
    process.stderr.write(
      `run ${run}: tar czf ${tarSeconds.toFixed(2)} s, snapshot cut ${cutSeconds.toFixed(2)} s, ready ${readySeconds.toFixed(2)} s, restore Bound ${restoreBoundSeconds.toFixed(2)} s, new pod serving ${servingSeconds.toFixed(2)} s\n`,
    );
  }
  const median = (pick: (r: (typeof results)[number]) => number) => {
    const sorted = results.map(pick).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  };
  const summary = {
    volumeMiB: +(volumeBytes / 2 ** 20).toFixed(1),
    runs,
    tarCzfSeconds: +median((r) => r.tarSeconds).toFixed(2),
    snapshotCutSeconds: +median((r) => r.cutSeconds).toFixed(2),
    snapshotReadySeconds: +median((r) => r.readySeconds).toFixed(2),
    readyOverTarRatio: +(median((r) => r.readySeconds) / median((r) => r.tarSeconds)).toFixed(2),
    restoreBoundSeconds: +median((r) => r.restoreBoundSeconds).toFixed(2),
    newPodServingSeconds: +median((r) => r.servingSeconds).toFixed(2),
    snapMiB: +(median((r) => r.snapBytes) / 2 ** 20).toFixed(1),
  };
  process.stdout.write(
    `volume ${summary.volumeMiB} MiB: tar czf ${summary.tarCzfSeconds} s | VolumeSnapshot cut ${summary.snapshotCutSeconds} s, readyToUse ${summary.snapshotReadySeconds} s (ratio to tar ${summary.readyOverTarRatio}) | PVC from snapshot Bound ${summary.restoreBoundSeconds} s, a new StatefulSet's pod serving on it ${summary.newPodServingSeconds} s | .snap ${summary.snapMiB} MiB (medians of ${runs})\n`,
  );
  process.stdout.write(`${JSON.stringify(summary)}\n`);
} finally {
  await cluster.stop();
}

function pvc(name: string, size: string, dataSource?: { apiGroup: string; kind: string; name: string }): V1PersistentVolumeClaim {
  return {
    metadata: { name },
    spec: {
      accessModes: ['ReadWriteOnce'],
      storageClassName: STORAGE_CLASS,
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

async function directoryBytes(directory: string): Promise<number> {
  const { readdir, lstat } = await import('node:fs/promises');
  let total = 0;
  for (const entry of await readdir(directory, { recursive: true })) {
    const info = await lstat(path.join(directory, entry));
    if (info.isFile()) total += info.size;
  }
  return total;
}

async function snapFileBytes(stateDir: string): Promise<number> {
  const { readdir, stat } = await import('node:fs/promises');
  const snaps = (await readdir(stateDir)).filter((name) => name.endsWith('.snap'));
  const newest = snaps.length ? await Promise.all(snaps.map((name) => stat(path.join(stateDir, name)))) : [];
  return newest.reduce((latest, info) => (info.mtimeMs > latest.mtimeMs ? info : latest), newest[0] ?? { size: 0, mtimeMs: 0 }).size;
}
