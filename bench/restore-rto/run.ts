// The RTO of a restore, broken down: RestoreClient.restore of a fenced backup of a PostgreSQL
// StatefulSet (default ~1 GiB; fenced = the StatefulSet scaled to 0 and back) into a new PVC, then
// PostgreSQL started on it in verify's scratch pod (podVerifyRuntime, our test image). Per driver,
// side by side in the same run: on the CSI hostpath driver against `tar xzf` of the same .snap file
// (that driver's own work on a restore is that untar, so restore-to-Bound minus the untar is the
// share of the controllers, sidecars and the SDK); on the project's atomic btrfs test driver (a
// restore is a writable subvolume snapshot of the read-only one, constant time) against hostpath's
// RTO for the same database. The seed document quoted "30 s" for a restore without a breakdown.
// Uses the running shared cluster when DBAAS_TESTING_CLUSTER_RECORD names it (only one node can run
// per machine), else starts one.
//
//   DBAAS_TESTING_BIN_DIR=<dir with hostpathplugin> npx tsx bench/restore-rto/run.ts [--mb 1024] [--runs 3] [--drivers hostpath,btrfs]
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { KubeClients, RestoreClient, podVerifyRuntime, runBackup } from '@kubectl-dbaas/sdk';
import {
  LOCAL_DRIVER_CLASSES,
  LocalCluster,
  POSTGRES_IMAGE_UID,
  TEST_IMAGES,
  deployPostgres,
  type ClusterRecord,
  type LocalDriver,
  type PostgresImageMajor,
} from '@kubectl-dbaas/testing';

const { values } = parseArgs({
  options: { mb: { type: 'string', default: '1024' }, runs: { type: 'string', default: '3' }, drivers: { type: 'string', default: 'hostpath,btrfs' } },
});
const targetMb = Number(values.mb);
const runs = Number(values.runs);
type Driver = LocalDriver;
const drivers = values.drivers.split(',').map((d) => d.trim());
for (const d of drivers) {
  if (!(d in LOCAL_DRIVER_CLASSES)) {
    process.stderr.write(`bench/restore-rto: --drivers takes ${Object.keys(LOCAL_DRIVER_CLASSES).join(' and/or ')}, not ${JSON.stringify(d)}\n`);
    process.exit(2);
  }
}
const CLASSES = LOCAL_DRIVER_CLASSES;

const record = process.env.DBAAS_TESTING_CLUSTER_RECORD;
const cluster = record ? undefined : await LocalCluster.start({ log: (line) => process.stderr.write(`${line}\n`) });
const shared = record ? (JSON.parse(await readFile(record, 'utf8')) as ClusterRecord) : undefined;
const kubeconfig = shared?.kubeconfig ?? cluster!.kubeconfigPath;
const hostpathStateDir = shared?.hostpathStateDir ?? cluster!.hostpathStateDir;
const stamp = Date.now().toString(36);

interface Run {
  untarMs?: number;
  resolveMs: number;
  createToBoundMs: number;
  restoreMs: number;
  readyMs: number;
  amcheckMs: number;
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)] ?? Number.NaN);
};

async function measure(driver: Driver) {
  const host = shared ?? cluster!;
  const unavailable = host.nodeUnavailable ?? host.hostpathUnavailable ?? (driver === 'btrfs' ? host.btrfsUnavailable : undefined);
  if (unavailable) throw new Error(`cannot measure on ${driver}: ${unavailable}`);
  const { storageClass, snapshotClass } = CLASSES[driver];
  const namespace = `bench-rto-${driver}-${stamp}`;
  const clients = KubeClients.load({ kubeconfig, namespace });
  try {
    await clients.core.createNamespace({ body: { metadata: { name: namespace } } });
    const major: PostgresImageMajor = 17;
    const server = await deployPostgres({
      kubeConfig: clients.kubeConfig,
      namespace,
      name: 'pg',
      major,
      storageClass,
      storage: `${Math.ceil((targetMb * 2) / 1024)}Gi`,
      settings: { max_wal_size: '1GB' },
    });
    const rows = Math.round((targetMb * 1024 * 1024) / 300);
    process.stderr.write(`${driver}: filling ~${targetMb} MiB (${rows} rows)\n`);
    await server.query(`CREATE TABLE filler AS SELECT g AS id, md5(g::text) || repeat('x', 200) AS payload FROM generate_series(1, ${rows}) g`);
    await server.query('CREATE INDEX ON filler (id)');
    await server.query('CHECKPOINT');
    const [size] = await server.query<{ bytes: string }>('select sum(pg_database_size(datname))::text as bytes from pg_database');
    const backup = await runBackup(clients, { namespace, target: { pod: server.podName }, mode: 'fenced', name: 'rto', snapshotClass, deadlineMs: 1_800_000 });
    await server.delete();
    // hostpath's snapshot is a .snap tarball; its untar is that driver's whole work on a restore.
    const content = await clients.volumeSnapshotContents.get(backup.snapshots.data.status!.boundVolumeSnapshotContentName!);
    const snap = driver === 'hostpath' ? path.join(hostpathStateDir, `${content.status!.snapshotHandle}.snap`) : undefined;
    const snapMiB = snap ? Math.round((await stat(snap)).size / 2 ** 20) : undefined;
    process.stderr.write(
      `${driver}: backup fenced ${backup.timings.fencedMs} ms, total ${backup.timings.totalMs} ms${snapMiB !== undefined ? `; .snap ${snapMiB} MiB` : ''}\n`,
    );

    const restoreClient = new RestoreClient(clients);
    const runtime = podVerifyRuntime({ image: (m) => TEST_IMAGES.postgres(m as PostgresImageMajor), runAsUser: POSTGRES_IMAGE_UID, imagePullPolicy: 'Never' });
    const results: Run[] = [];
    for (let run = 1; run <= runs; run++) {
      let untarMs: number | undefined;
      if (snap) {
        const scratch = await mkdtemp(path.join(os.tmpdir(), 'bench-untar-'));
        const untarStart = performance.now();
        await exec('tar', ['xzf', snap, '-C', scratch]);
        untarMs = performance.now() - untarStart;
        await rm(scratch, { recursive: true, force: true });
      }
      const pvcName = `restored-${run}`;
      const r = await restoreClient.restore({ backup: 'rto', namespace, pvcName, storageClass, deadlineMs: 1_800_000 });
      const v = await restoreClient.verify({ namespace, pvc: pvcName, runtime, amcheck: 'install' });
      if (!v.ok) throw new Error(`verify failed: ${v.failures.join('; ')}`);
      const at = (phase: string) => v.timings.phases.find((p) => p.phase === phase)?.atMs ?? Number.NaN;
      const resolveMs = r.timings.phases.find((p) => p.phase === 'resolved')!.atMs;
      const result: Run = {
        ...(untarMs !== undefined ? { untarMs } : {}),
        resolveMs,
        createToBoundMs: r.timings.createToBoundMs!,
        restoreMs: r.timings.totalMs,
        readyMs: v.live!.readyMs,
        amcheckMs: at('amcheck') - at('recovery-done'),
      };
      results.push(result);
      process.stderr.write(
        `${driver} run ${run}: ${untarMs !== undefined ? `tar xzf ${untarMs.toFixed(0)} ms | ` : ''}restore ${r.timings.totalMs} ms (checks ${resolveMs} ms, PVC created->Bound ${r.timings.createToBoundMs} ms) | PostgreSQL ready ${v.live!.readyMs} ms | amcheck ${v.live!.amcheck.indexes} indexes ${result.amcheckMs} ms\n`,
      );
      await clients.core.deleteNamespacedPersistentVolumeClaim({ namespace, name: pvcName });
    }
    const of = (pick: (r: Run) => number) => median(results.map(pick));
    return {
      driver,
      databaseMiB: Math.round(Number(size!.bytes) / 2 ** 20),
      ...(snapMiB !== undefined ? { snapMiB, untarMs: of((r) => r.untarMs!), boundMinusUntarMs: of((r) => r.createToBoundMs - r.untarMs!) } : {}),
      runs,
      restoreChecksMs: of((r) => r.resolveMs),
      pvcCreatedToBoundMs: of((r) => r.createToBoundMs),
      restoreTotalMs: of((r) => r.restoreMs),
      postgresReadyMs: of((r) => r.readyMs),
      rtoMs: of((r) => r.restoreMs + r.readyMs),
      amcheckMs: of((r) => r.amcheckMs),
    };
  } finally {
    await clients.core.deleteNamespace({ name: namespace }).catch(() => undefined);
  }
}

try {
  const summaries: Awaited<ReturnType<typeof measure>>[] = [];
  for (const driver of drivers as Driver[]) summaries.push(await measure(driver));
  const hostpath = summaries.find((s) => s.driver === 'hostpath');
  for (const s of summaries) {
    const vsHostpath = hostpath && s !== hostpath ? ` (${(s.rtoMs / hostpath.rtoMs).toFixed(2)}x hostpath's)` : '';
    process.stdout.write(
      `${s.driver}: database ${s.databaseMiB} MiB${s.snapMiB !== undefined ? ` (.snap ${s.snapMiB} MiB)` : ''}, medians of ${runs}:\n` +
        `  RTO ${s.rtoMs} ms${vsHostpath} = restore ${s.restoreTotalMs} ms + PostgreSQL ready ${s.postgresReadyMs} ms\n` +
        `  restore: SDK checks before creating ${s.restoreChecksMs} ms; PVC created -> Bound ${s.pvcCreatedToBoundMs} ms` +
        (s.untarMs !== undefined ? `, of which the driver's untar (tar xzf alone) ${s.untarMs} ms, the rest ${s.boundMinusUntarMs} ms` : '') +
        `\n  verification after: amcheck ${s.amcheckMs} ms\n`,
    );
  }
  process.stdout.write(`${JSON.stringify({ bench: 'restore-rto', summaries, loadAverage: os.loadavg()[0] })}\n`);
} finally {
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
