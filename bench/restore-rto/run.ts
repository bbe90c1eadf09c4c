// The RTO of a restore, broken down: RestoreClient.restore of a fenced backup of a PostgreSQL
// database (default ~1 GiB) into a new PVC, then PostgreSQL started on it (verify's live step),
// against `tar xzf` of the same .snap file run in the same run: the hostpath driver's own work on a
// restore is that untar, so restore-to-Bound minus the untar is the share of the controllers,
// sidecars and the SDK. The seed document quoted "30 s" for a restore without a breakdown.
//
//   DBAAS_TESTING_BIN_DIR=<dir with hostpathplugin> npx tsx bench/restore-rto/run.ts [--mb 1024] [--runs 3]
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { KubeClients, RestoreClient, runBackup, watchUntil } from '@kubectl-dbaas/sdk';
import { LocalCluster, STORAGE_CLASS, localPostgresFencing, localVerifyRuntime, runPostgresOnVolume } from '@kubectl-dbaas/testing';
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '1024' }, runs: { type: 'string', default: '3' } } });
const targetMb = Number(values.mb);
const runs = Number(values.runs);
const namespace = 'bench-rto';

const cluster = await LocalCluster.start({ log: (line) => process.stderr.write(`${line}\n`) });
try {
  if (cluster.hostpathUnavailable) throw new Error(`cannot measure: ${cluster.hostpathUnavailable}`);
  const clients = KubeClients.load({ kubeconfig: cluster.kubeconfigPath, namespace });
  await clients.core.createNamespace({ body: { metadata: { name: namespace } } });
  await clients.core.createNamespacedPersistentVolumeClaim({
    namespace,
    body: { metadata: { name: 'pg-data' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS, resources: { requests: { storage: `${Math.ceil((targetMb * 2) / 1024)}Gi` } } } },
  });
  await watchUntil<V1PersistentVolumeClaim>(clients, {
    path: `/api/v1/namespaces/${namespace}/persistentvolumeclaims`,
    name: 'pg-data',
    predicate: (p) => p?.status?.phase === 'Bound',
    deadline: Date.now() + 60_000,
  });
  const server = await runPostgresOnVolume(cluster, { namespace, name: 'pg-data' }, { major: 17, settings: { max_wal_size: '1GB' } });
  const rows = Math.round((targetMb * 1024 * 1024) / 300);
  process.stderr.write(`filling ~${targetMb} MiB (${rows} rows)\n`);
  await server.query(`CREATE TABLE filler AS SELECT g AS id, md5(g::text) || repeat('x', 200) AS payload FROM generate_series(1, ${rows}) g`);
  await server.query('CREATE INDEX ON filler (id)');
  await server.query('CHECKPOINT');
  const [size] = await server.query<{ bytes: string }>('select sum(pg_database_size(datname))::text as bytes from pg_database');
  const backup = await runBackup(clients, { namespace, target: { pvc: 'pg-data' }, mode: 'fenced', name: 'rto', fencing: localPostgresFencing(server), deadlineMs: 1_800_000 });
  await server.destroy();
  const content = await clients.volumeSnapshotContents.get(backup.snapshots.data.status!.boundVolumeSnapshotContentName!);
  const snap = path.join(cluster.hostpathStateDir, `${content.status!.snapshotHandle}.snap`);
  process.stderr.write(`backup: fenced ${backup.timings.fencedMs} ms, total ${backup.timings.totalMs} ms; .snap ${((await stat(snap)).size / 2 ** 20).toFixed(0)} MiB\n`);

  const restoreClient = new RestoreClient(clients);
  const runtime = localVerifyRuntime(cluster);
  const results: { untarMs: number; resolveMs: number; createToBoundMs: number; restoreMs: number; readyMs: number; amcheckMs: number }[] = [];
  for (let run = 1; run <= runs; run++) {
    // The driver's own share: the same untar hostpath does in CreateVolume.
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'bench-untar-'));
    const untarStart = performance.now();
    await exec('tar', ['xzf', snap, '-C', scratch]);
    const untarMs = performance.now() - untarStart;
    await rm(scratch, { recursive: true, force: true });

    const pvcName = `restored-${run}`;
    const r = await restoreClient.restore({ backup: 'rto', namespace, pvcName, deadlineMs: 1_800_000 });
    const v = await restoreClient.verify({ namespace, pvc: pvcName, runtime, amcheck: 'install' });
    if (!v.ok) throw new Error(`verify failed: ${v.failures.join('; ')}`);
    const at = (phase: string) => v.timings.phases.find((p) => p.phase === phase)?.atMs ?? Number.NaN;
    const resolveMs = r.timings.phases.find((p) => p.phase === 'resolved')!.atMs;
    results.push({ untarMs, resolveMs, createToBoundMs: r.timings.createToBoundMs!, restoreMs: r.timings.totalMs, readyMs: v.live!.readyMs, amcheckMs: at('amcheck') - at('recovery-done') });
    process.stderr.write(
      `run ${run}: tar xzf ${untarMs.toFixed(0)} ms | restore ${r.timings.totalMs} ms (checks ${resolveMs} ms, PVC created->Bound ${r.timings.createToBoundMs} ms) | PostgreSQL ready ${v.live!.readyMs} ms | amcheck ${v.live!.amcheck.indexes} indexes ${results.at(-1)!.amcheckMs} ms\n`,
    );
    await clients.core.deleteNamespacedPersistentVolumeClaim({ namespace, name: pvcName });
  }
  const median = (pick: (r: (typeof results)[number]) => number) => {
    const sorted = results.map(pick).sort((a, b) => a - b);
    return Math.round(sorted[Math.floor(sorted.length / 2)] ?? Number.NaN);
  };
  const summary = {
    bench: 'restore-rto',
    databaseMiB: Math.round(Number(size!.bytes) / 2 ** 20),
    snapMiB: Math.round((await stat(snap)).size / 2 ** 20),
    runs,
    untarMs: median((r) => r.untarMs),
    restoreChecksMs: median((r) => r.resolveMs),
    pvcCreatedToBoundMs: median((r) => r.createToBoundMs),
    boundMinusUntarMs: median((r) => r.createToBoundMs - r.untarMs),
    restoreTotalMs: median((r) => r.restoreMs),
    postgresReadyMs: median((r) => r.readyMs),
    rtoMs: median((r) => r.restoreMs + r.readyMs),
    amcheckMs: median((r) => r.amcheckMs),
    loadAverage: os.loadavg()[0],
  };
  process.stdout.write(
    `database ${summary.databaseMiB} MiB (.snap ${summary.snapMiB} MiB), medians of ${runs}:\n` +
      `  RTO ${summary.rtoMs} ms = restore ${summary.restoreTotalMs} ms + PostgreSQL ready ${summary.postgresReadyMs} ms\n` +
      `  restore: SDK checks before creating ${summary.restoreChecksMs} ms; PVC created -> Bound ${summary.pvcCreatedToBoundMs} ms, of which the driver's untar (tar xzf alone) ${summary.untarMs} ms, the rest ${summary.boundMinusUntarMs} ms\n` +
      `  verification after: amcheck ${summary.amcheckMs} ms\n`,
  );
  process.stdout.write(`${JSON.stringify(summary)}\n`);
} finally {
  await cluster.stop();
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

