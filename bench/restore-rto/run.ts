// The RTO of a restore, broken down: RestoreClient.restore of a fenced backup of a PostgreSQL
// StatefulSet (default ~1 GiB; fenced = the StatefulSet scaled to 0 and back) into a new PVC, then
// PostgreSQL started on it in verify's scratch pod (podVerifyRuntime, our test image), against
// `tar xzf` of the same .snap file run in the same run: the hostpath driver's own work on a
// restore is that untar, so restore-to-Bound minus the untar is the share of the controllers,
// sidecars and the SDK. The seed document quoted "30 s" for a restore without a breakdown.
// Uses the running shared cluster when DBAAS_TESTING_CLUSTER_RECORD names it (only one node can run
// per machine), else starts one.
//
//   DBAAS_TESTING_BIN_DIR=<dir with hostpathplugin> npx tsx bench/restore-rto/run.ts [--mb 1024] [--runs 3]
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { KubeClients, RestoreClient, podVerifyRuntime, runBackup } from '@kubectl-dbaas/sdk';
import {
  LocalCluster,
  POSTGRES_IMAGE_UID,
  STORAGE_CLASS,
  TEST_IMAGES,
  deployPostgres,
  type ClusterRecord,
  type PostgresImageMajor,
} from '@kubectl-dbaas/testing';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '1024' }, runs: { type: 'string', default: '3' } } });
const targetMb = Number(values.mb);
const runs = Number(values.runs);
const namespace = `bench-rto-${Date.now().toString(36)}`;

const record = process.env.DBAAS_TESTING_CLUSTER_RECORD;
const cluster = record ? undefined : await LocalCluster.start({ log: (line) => process.stderr.write(`${line}\n`) });
const shared = record ? (JSON.parse(await readFile(record, 'utf8')) as ClusterRecord) : undefined;
const kubeconfig = shared?.kubeconfig ?? cluster!.kubeconfigPath;
const hostpathStateDir = shared?.hostpathStateDir ?? cluster!.hostpathStateDir;
const clients = KubeClients.load({ kubeconfig, namespace });
try {
  const unavailable = (shared ?? cluster!).hostpathUnavailable ?? (shared ?? cluster!).nodeUnavailable;
  if (unavailable) throw new Error(`cannot measure: ${unavailable}`);
  await clients.core.createNamespace({ body: { metadata: { name: namespace } } });
  const major: PostgresImageMajor = 17;
  const server = await deployPostgres({
    kubeConfig: clients.kubeConfig,
    namespace,
    name: 'pg',
    major,
    storage: `${Math.ceil((targetMb * 2) / 1024)}Gi`,
    settings: { max_wal_size: '1GB' },
  });
  const rows = Math.round((targetMb * 1024 * 1024) / 300);
  process.stderr.write(`filling ~${targetMb} MiB (${rows} rows)\n`);
  await server.query(`CREATE TABLE filler AS SELECT g AS id, md5(g::text) || repeat('x', 200) AS payload FROM generate_series(1, ${rows}) g`);
  await server.query('CREATE INDEX ON filler (id)');
  await server.query('CHECKPOINT');
  const [size] = await server.query<{ bytes: string }>('select sum(pg_database_size(datname))::text as bytes from pg_database');
  const backup = await runBackup(clients, { namespace, target: { pod: server.podName }, mode: 'fenced', name: 'rto', deadlineMs: 1_800_000 });
  await server.delete();
  const content = await clients.volumeSnapshotContents.get(backup.snapshots.data.status!.boundVolumeSnapshotContentName!);
  const snap = path.join(hostpathStateDir, `${content.status!.snapshotHandle}.snap`);
  process.stderr.write(
    `backup: fenced ${backup.timings.fencedMs} ms, total ${backup.timings.totalMs} ms; .snap ${((await stat(snap)).size / 2 ** 20).toFixed(0)} MiB\n`,
  );

  const restoreClient = new RestoreClient(clients);
  const runtime = podVerifyRuntime({ image: (m) => TEST_IMAGES.postgres(m as PostgresImageMajor), runAsUser: POSTGRES_IMAGE_UID, imagePullPolicy: 'Never' });
  const results: { untarMs: number; resolveMs: number; createToBoundMs: number; restoreMs: number; readyMs: number; amcheckMs: number }[] = [];
  for (let run = 1; run <= runs; run++) {
    // The driver's own share: the same untar hostpath does in CreateVolume.
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'bench-untar-'));
    const untarStart = performance.now();
    await exec('tar', ['xzf', snap, '-C', scratch]);
    const untarMs = performance.now() - untarStart;
    await rm(scratch, { recursive: true, force: true });

    const pvcName = `restored-${run}`;
    const r = await restoreClient.restore({ backup: 'rto', namespace, pvcName, storageClass: STORAGE_CLASS, deadlineMs: 1_800_000 });
    const v = await restoreClient.verify({ namespace, pvc: pvcName, runtime, amcheck: 'install' });
    if (!v.ok) throw new Error(`verify failed: ${v.failures.join('; ')}`);
    const at = (phase: string) => v.timings.phases.find((p) => p.phase === phase)?.atMs ?? Number.NaN;
    const resolveMs = r.timings.phases.find((p) => p.phase === 'resolved')!.atMs;
    results.push({
      untarMs,
      resolveMs,
      createToBoundMs: r.timings.createToBoundMs!,
      restoreMs: r.timings.totalMs,
      readyMs: v.live!.readyMs,
      amcheckMs: at('amcheck') - at('recovery-done'),
    });
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
  await clients.core.deleteNamespace({ name: namespace }).catch(() => undefined);
  await cluster?.stop();
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
