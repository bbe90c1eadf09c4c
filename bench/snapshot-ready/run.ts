// How long the CSI hostpath driver takes to cut and ready a VolumeSnapshot of a PostgreSQL volume,
// and to restore it into a new PVC, against `tar czf` of the same directory run in the same run
// (the driver's own work is a `tar czf`, so the difference is the controllers' and sidecars' share).
// The seed document reported 5-10 s to readyToUse on minikube for ~100 MB.
//
//   DBAAS_TESTING_BIN_DIR=<dir with hostpathplugin> npx tsx bench/snapshot-ready/run.ts [--mb 100] [--runs 3]
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi, type V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { LocalCluster, runPostgresOnVolume, SNAPSHOT_CLASS, STORAGE_CLASS, volumeDirectoryOf } from '@kubectl-dbaas/testing';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '100' }, runs: { type: 'string', default: '3' } } });
const targetMb = Number(values.mb);
const runs = Number(values.runs);
const namespace = 'bench';

const cluster = await LocalCluster.start({ log: (line) => process.stderr.write(`${line}\n`) });
try {
  if (cluster.hostpathUnavailable) {
    throw new Error(`cannot measure: ${cluster.hostpathUnavailable}`);
  }
  const kc = cluster.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedPersistentVolumeClaim({ namespace, body: pvc('pg-data', '2Gi') });
  await waitFor(async () => (await core.readNamespacedPersistentVolumeClaim({ namespace, name: 'pg-data' })).status?.phase === 'Bound', 60_000);

  const server = await runPostgresOnVolume(cluster, { namespace, name: 'pg-data' }, { major: 17 });
  const rows = Math.round((targetMb * 1024 * 1024) / 300);
  await server.query(`CREATE TABLE filler AS SELECT g AS id, md5(g::text) || repeat('x', 200) AS payload FROM generate_series(1, ${rows}) g`);
  await server.query('CREATE INDEX ON filler (id)');
  await server.query('CHECKPOINT');
  await server.stop({ mode: 'fast' });
  const volume = await volumeDirectoryOf(cluster, { namespace, name: 'pg-data' });
  const volumeBytes = await directoryBytes(volume);

  const results: { tarSeconds: number; cutSeconds: number; readySeconds: number; restoreBoundSeconds: number; snapBytes: number }[] = [];
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
        spec: { volumeSnapshotClassName: SNAPSHOT_CLASS, source: { persistentVolumeClaimName: 'pg-data' } },
      },
    });
    let cutSeconds = 0;
    let snapshot: { status?: { readyToUse?: boolean; restoreSize?: string; boundVolumeSnapshotContentName?: string; creationTime?: string } } = {};
    await waitFor(async () => {
      snapshot = (await custom.getNamespacedCustomObject({ group: 'snapshot.storage.k8s.io', version: 'v1', namespace, plural: 'volumesnapshots', name })) as typeof snapshot;
      if (!cutSeconds && snapshot.status?.boundVolumeSnapshotContentName && snapshot.status.creationTime) cutSeconds = (performance.now() - created) / 1000;
      return snapshot.status?.readyToUse === true;
    }, 300_000, 50);
    const readySeconds = (performance.now() - created) / 1000;

    const restoreName = `restore-${run}`;
    const restoreStart = performance.now();
    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: pvc(restoreName, snapshot.status?.restoreSize ?? '2Gi', { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name }),
    });
    await waitFor(async () => (await core.readNamespacedPersistentVolumeClaim({ namespace, name: restoreName })).status?.phase === 'Bound', 300_000, 50);
    const restoreBoundSeconds = (performance.now() - restoreStart) / 1000;
    const snapBytes = await snapFileBytes(cluster.hostpathStateDir);
    results.push({ tarSeconds, cutSeconds, readySeconds, restoreBoundSeconds, snapBytes });
    process.stderr.write(`run ${run}: tar czf ${tarSeconds.toFixed(2)} s, snapshot cut ${cutSeconds.toFixed(2)} s, ready ${readySeconds.toFixed(2)} s, restore Bound ${restoreBoundSeconds.toFixed(2)} s\n`);
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
    snapMiB: +(median((r) => r.snapBytes) / 2 ** 20).toFixed(1),
  };
  process.stdout.write(
    `volume ${summary.volumeMiB} MiB: tar czf ${summary.tarCzfSeconds} s | VolumeSnapshot cut ${summary.snapshotCutSeconds} s, readyToUse ${summary.snapshotReadySeconds} s (ratio to tar ${summary.readyOverTarRatio}) | PVC from snapshot Bound ${summary.restoreBoundSeconds} s | .snap ${summary.snapMiB} MiB (medians of ${runs})\n`,
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
