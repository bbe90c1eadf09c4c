// `npm run demo`: the README's first command.
//
// The main job, on the local Kubernetes cluster of this package (a control plane, the snapshot
// controller, the CSI hostpath driver and a node: kubelet + containerd, all on this machine; the Go
// binaries and the container images are built once and cached): PostgreSQL in a StatefulSet's pod,
// with its data on a hostpath PVC and a writer inserting rows through a port-forward (as from a
// laptop), is backed up online, listed, restored, verified (scratch pods) and served again by a new
// StatefulSet on the restored volume, with the real `kubectl dbaas` commands, each printed before it
// runs; the rows acknowledged before the backup's cut must all be in the restored database.
// Everything is torn down afterwards (also on failure and on Ctrl-C).
//
// Every prerequisite is checked before anything is built. Where the cluster part cannot run (no
// root for the node, no CSI hostpath driver binaries, ...), it says what is missing and runs the
// embedded part instead, without a cluster: why a file-by-file copy of a running server (what the
// hostpath driver's `tar czf` snapshot is) cannot be trusted, and that an online backup with a
// replication slot, backup_label and the WAL to the stop LSN can (the WalInspector judges both
// copies; PostgreSQL is started on the good one to prove it).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { connectLive, formatLsn, inspectDataDirectory, type DataDirectoryInspection } from '@kubectl-dbaas/sdk';
import { CSI_DRIVER_TOOLS, BUILT_TOOLS, cachedToolPath } from './local-cluster/binaries.js';
import { LocalCluster, STORAGE_CLASS, missingNodeTools } from './local-cluster/cluster.js';
import { nodeUnavailableReason } from './local-cluster/node/host.js';
import { cacheRoot, packageDir } from './local-cluster/paths.js';
import { copyDataDirectory, makeTemporaryDirectory, startPostgres, startPostgresOnDirectory, stopAllPostgres } from './postgres/index.js';
import { WriteLoad } from './postgres/write-load.js';
import { TEST_IMAGES } from './node/images.js';

const MAJOR = 17;
const WRITERS = 4;

const startedAt = Date.now();
const say = (text: string) => process.stdout.write(`[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)} s] ${text}\n`);

async function embeddedDemo(): Promise<void> {
  say(`starting an embedded PostgreSQL ${MAJOR}`);
  const source = await startPostgres({ major: MAJOR });
  await source.query('CREATE TABLE orders (id bigserial PRIMARY KEY, writer int NOT NULL, payload text NOT NULL)');
  await source.query("INSERT INTO orders (writer, payload) SELECT 0, repeat('x', 200) FROM generate_series(1, 20000)");
  say(`PostgreSQL ${MAJOR} on port ${source.port}, data in ${source.dataDirectory}; 20000 rows loaded`);

  const load = startWriteLoad(source.connectionConfig);
  say(`${WRITERS} writers inserting continuously`);
  await sleep(1000);

  const workspace = await makeTemporaryDirectory('dbaas-demo-');

  say('copy 1: file by file while the server runs, as the hostpath driver snapshots (tar of the live directory)');
  const tornCopy = path.join(workspace, 'torn-copy');
  await copyDataDirectory(source.dataDirectory, tornCopy, { exclude: ['postmaster.pid', 'postmaster.opts'], tolerateVanished: true });
  report(await inspectDataDirectory(tornCopy));

  say('copy 2: online backup: temporary replication slot, pg_backup_start, copy, pg_backup_stop, then the WAL to the stop LSN');
  const inspector = await connectLive(source.connectionConfig);
  const goodCopy = path.join(workspace, 'online-copy');
  let acknowledgedBeforeStart: bigint;
  try {
    acknowledgedBeforeStart = load.acknowledged();
    const backup = await inspector.startOnlineBackup({ label: 'kubectl-dbaas demo', fast: true, replicationSlot: true });
    say(`  backup started at ${formatLsn(backup.started.startLsn)} (${backup.started.startWalFile}), slot ${backup.started.slotName}`);
    await copyDataDirectory(source.dataDirectory, goodCopy, {
      exclude: ['postmaster.pid', 'postmaster.opts', 'pg_wal/'],
      tolerateVanished: true,
    });
    await inspector.switchWal();
    const stopped = await backup.stop({ keepSlot: true });
    say(`  backup stopped at ${formatLsn(stopped.stopLsn)} (${stopped.stopWalFile})`);
    await writeFile(path.join(goodCopy, 'backup_label'), stopped.labelFile, { mode: 0o600 });
    if (stopped.tablespaceMap) await writeFile(path.join(goodCopy, 'tablespace_map'), stopped.tablespaceMap, { mode: 0o600 });
    const copied = await copyWalRange(path.join(source.dataDirectory, 'pg_wal'), path.join(goodCopy, 'pg_wal'), stopped.startWalFile, stopped.stopWalFile);
    say(`  copied ${copied} WAL segment(s) ${stopped.startWalFile} .. ${stopped.stopWalFile}; releasing the slot`);
    await backup.release();
  } finally {
    await inspector.close();
  }
  report(await inspectDataDirectory(goodCopy));

  const writes = await load.stop();
  say(`writers stopped after ${writes} acknowledged inserts`);
  await source.stop({ mode: 'fast' });

  say(`starting PostgreSQL ${MAJOR} on copy 2 (replays the WAL to the end of the backup)`);
  const restored = await startPostgresOnDirectory(goodCopy, MAJOR);
  const [{ missing }] = (await restored.query<{ missing: string }>(
    'SELECT count(*) AS missing FROM generate_series(1, $1::bigint) AS g(id) WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = g.id)',
    [acknowledgedBeforeStart.toString()],
  )) as [{ missing: string }];
  await restored.query('CREATE EXTENSION IF NOT EXISTS amcheck');
  const indexes = await restored.query<{ name: string }>(
    "SELECT c.relname AS name, bt_index_check(c.oid, true) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam WHERE am.amname = 'btree' AND c.relpersistence <> 't'",
  );
  say(`  recovered; rows acknowledged before the backup started: ${acknowledgedBeforeStart}, missing: ${missing}; amcheck passed on ${indexes.length} indexes`);
  await restored.stop({ mode: 'fast' });
  if (missing !== '0') throw new Error(`${missing} acknowledged rows are missing from the restored copy`);
  say('done: the torn copy is flagged, the online backup restores with every acknowledged row');
}

function report(inspection: DataDirectoryInspection): void {
  say(`  WalInspector verdict: ${inspection.verdict} (${inspection.safe ? 'safe to start' : 'NOT safe to start'})`);
  for (const reason of inspection.reasons) say(`    - ${reason}`);
}

/** Concurrent writers; `acknowledged()` is the highest id whose INSERT has committed, with all lower ids committed too. */
function startWriteLoad(config: pg.ClientConfig) {
  let running = true;
  let count = 0;
  const committed = new Set<bigint>();
  let contiguous = 0n;
  const advance = () => {
    while (committed.has(contiguous + 1n)) committed.delete(++contiguous);
  };
  const writers = Array.from({ length: WRITERS }, async (_, writer) => {
    const client = new pg.Client(config);
    await client.connect();
    try {
      while (running) {
        const result = await client.query<{ id: string }>("INSERT INTO orders (writer, payload) VALUES ($1, repeat('y', 200)) RETURNING id", [writer + 1]);
        committed.add(BigInt(result.rows[0]?.id ?? '0'));
        count += 1;
      }
    } finally {
      await client.end();
    }
  });
  return {
    acknowledged: () => {
      // Ids below 20001 were loaded before the writers; the writers continue the sequence.
      if (contiguous === 0n) contiguous = 20000n;
      advance();
      return contiguous;
    },
    stop: async () => {
      running = false;
      await Promise.all(writers);
      return count;
    },
  };
}

async function copyWalRange(from: string, to: string, first: string, last: string): Promise<number> {
  const names = (await readdir(from)).filter((name) => /^[0-9A-F]{24}$/.test(name) && name >= first && name <= last);
  for (const name of names) await copyFile(path.join(from, name), path.join(to, name));
  return names.length;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const NAMESPACE = 'dbaas-demo';
/** Commits per second of the write load during the backup: the hostpath driver's tar of a live directory fails under more (docs/consistency.md). */
const DEMO_WRITE_RATE = 2;

/** The command running now, so a signal to this process reaches it (it cleans up what it started). */
let current: ChildProcess | undefined;

/** Where `kubectl dbaas` comes from: the built plugin of this repository. */
function pluginBundle(): string {
  // dist/demo.js (npm run demo) or src/demo.ts (tsx): both two levels below packages/.
  return path.resolve(path.dirname(process.argv[1] ?? '.'), '../../kubectl-dbaas/dist/cli.js');
}

/** Runs a command with its output passed through, after printing it; resolves with its exit code. */
async function run(display: string, command: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<number> {
  process.stdout.write(`\n$ ${display}\n`);
  const child = spawn(command, args, { env, stdio: [input === undefined ? 'ignore' : 'pipe', 'inherit', 'inherit'] });
  current = child;
  if (input !== undefined) child.stdin!.end(input);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 1)));
    });
  } finally {
    current = undefined;
  }
}

async function must(display: string, command: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<void> {
  const code = await run(display, command, args, env, input);
  if (code !== 0) throw new Error(`\`${display}\` exited ${code}`);
}

/** The PostgreSQL major of the demo's database (the image is built locally from Debian and the embedded binaries). */
const DEMO_MAJOR = 17;

/**
 * The CSI hostpath driver's binaries: `DBAAS_TESTING_BIN_DIR`, else the upstream release builds
 * that this project's machines get beside the repository (`../shared/prebuilt/linux-amd64`).
 */
function csiBinDir(): string | undefined {
  const candidates = [process.env.DBAAS_TESTING_BIN_DIR, path.resolve(packageDir(), '../../../shared/prebuilt/linux-amd64')];
  return candidates.find((dir) => dir && CSI_DRIVER_TOOLS.every((tool) => existsSync(path.join(dir, tool))));
}

/**
 * Everything the cluster part needs, checked before anything is built: what is missing (with the
 * fix), or undefined. Also says what a first run will build and cache, and roughly how long it takes.
 */
async function clusterPrerequisites(): Promise<{ missing: string[]; binDir: string | undefined; toBuild: string[] }> {
  const missing: string[] = [];
  if (spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status !== 0)
    missing.push('kubectl is not on PATH (the demo runs the real `kubectl dbaas ...`)');
  if (!existsSync(pluginBundle())) missing.push(`${pluginBundle()} is missing: run npm run build first (npm run demo does)`);
  const noNode = nodeUnavailableReason() ?? (await missingNodeTools());
  if (noNode) missing.push(`the database runs in a pod, and the local node cannot run here: ${noNode}`);
  if (spawnSync('mmdebstrap', ['--version'], { stdio: 'ignore' }).status !== 0)
    missing.push("mmdebstrap (builds the images' Debian root filesystems): apt-get install mmdebstrap");
  const binDir = csiBinDir();
  if (!binDir) {
    missing.push(
      'the CSI hostpath driver (hostpathplugin, csi-node-driver-registrar): the Go module proxy here refuses their modules ' +
        '(packages/testing/go/BLOCKED.md); put upstream builds in a directory and set DBAAS_TESTING_BIN_DIR to it',
    );
  }
  const toBuild: string[] = [];
  for (const tool of BUILT_TOOLS) if (!existsSync(await cachedToolPath(tool))) toBuild.push(tool);
  if (toBuild.length > 0 && spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) {
    missing.push(`Go >= 1.26 (builds ${toBuild.join(', ')} from Go modules; nothing is cached yet)`);
  }
  return { missing, binDir, toBuild };
}

/** `kubectl port-forward` to a pod, as a user on a laptop reaches a database in a cluster; resolves with the local port. */
async function portForward(env: NodeJS.ProcessEnv, namespace: string, pod: string, port: number): Promise<{ port: number; stop: () => void }> {
  const child = spawn('kubectl', ['port-forward', '-n', namespace, `pod/${pod}`, `:${port}`, '--address', '127.0.0.1'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  process.once('exit', () => child.kill());
  let output = '';
  const local = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kubectl port-forward to ${pod} did not start: ${output}`)), 30_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code) => reject(new Error(`kubectl port-forward exited ${code}: ${output}`)));
  });
  return { port: local, stop: () => child.kill() };
}

/** A PostgreSQL StatefulSet as users run one: a Secret, the official image's conventions, a volume claim template. */
function postgresStatefulSet(name: string, image: string): object[] {
  return [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-credentials`, namespace: NAMESPACE }, stringData: { password: DEMO_PASSWORD } },
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name, namespace: NAMESPACE },
      spec: {
        serviceName: name,
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            securityContext: { fsGroup: 999 },
            containers: [
              {
                name: 'postgres',
                image,
                imagePullPolicy: 'Never',
                env: [
                  { name: 'POSTGRES_PASSWORD', valueFrom: { secretKeyRef: { name: `${name}-credentials`, key: 'password' } } },
                  { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
                ],
                ports: [{ containerPort: 5432, name: 'postgres' }],
                readinessProbe: { exec: { command: ['pg_isready', '-U', 'postgres', '-h', '127.0.0.1'] }, periodSeconds: 2 },
                resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
                volumeMounts: [{ name: 'data', mountPath: '/var/lib/postgresql/data' }],
              },
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS, resources: { requests: { storage: '1Gi' } } },
          },
        ],
      },
    },
  ];
}

/** Not a secret: a throwaway password of a throwaway database in a cluster torn down at the end. */
const DEMO_PASSWORD = 'demo-only-password';

/**
 * The main job on the local cluster; throws when a step fails.
 */
async function clusterDemo(binDir: string): Promise<void> {
  say('starting the local Kubernetes cluster with its node (binaries and images cached in ~/.cache/kubectl-dbaas)');
  const cluster = await LocalCluster.start({
    binDir,
    nodeImages: [`postgres:${DEMO_MAJOR}`],
    log: (line) => say(`  ${line.replace(/^\[dbaas-testing\] /, '')}`),
  });
  let shimDir: string | undefined;
  let load: WriteLoad | undefined;
  let forward: { port: number; stop: () => void } | undefined;
  try {
    const bundle = pluginBundle();
    shimDir = await mkdtemp(path.join(tmpdir(), 'dbaas-demo-bin-'));
    const shim = shimDir;
    // On Ctrl-C the cluster's signal handler tears it down and exits before this function's finally.
    process.once('exit', () => rmSync(shim, { recursive: true, force: true }));
    // `kubectl dbaas` finds the plugin as the executable kubectl-dbaas on PATH (as an npm or Krew install puts it there).
    await writeFile(path.join(shimDir, 'kubectl-dbaas'), `#!/bin/sh\nexec '${process.execPath}' '${bundle}' "$@"\n`);
    await chmod(path.join(shimDir, 'kubectl-dbaas'), 0o755);
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${shimDir}${path.delimiter}${process.env.PATH}`, KUBECONFIG: cluster.kubeconfigPath };
    say(`cluster ready; KUBECONFIG=${cluster.kubeconfigPath}; kubectl-dbaas on PATH runs ${bundle}`);

    const image = TEST_IMAGES.postgres(DEMO_MAJOR);
    await must(`kubectl create namespace ${NAMESPACE}`, 'kubectl', ['create', 'namespace', NAMESPACE], env);
    const manifests = postgresStatefulSet('pg', image);
    const manifestText = manifests.map((m) => JSON.stringify(m)).join('\n');
    await must(
      `kubectl apply -f - <<< '<Secret pg-credentials, StatefulSet pg: ${image}, PGDATA on volume claim template "data" (${STORAGE_CLASS})>'`,
      'kubectl',
      ['apply', '-f', '-'],
      env,
      manifestText,
    );
    await must(
      `kubectl rollout status -n ${NAMESPACE} statefulset/pg --timeout=180s`,
      'kubectl',
      ['rollout', 'status', '-n', NAMESPACE, 'statefulset/pg', '--timeout=180s'],
      env,
    );

    process.stdout.write(`\n$ kubectl port-forward -n ${NAMESPACE} pod/pg-0 :5432 &\n`);
    forward = await portForward(env, NAMESPACE, 'pg-0', 5432);
    say(`PostgreSQL ${DEMO_MAJOR} of pod pg-0 reachable on 127.0.0.1:${forward.port} through the API server (kubectl port-forward)`);
    const connectionConfig = { host: '127.0.0.1', port: forward.port, user: 'postgres', password: DEMO_PASSWORD, database: 'postgres' };
    const admin = new pg.Client(connectionConfig);
    await admin.connect();
    try {
      await admin.query('CREATE TABLE t (id bigint PRIMARY KEY, w int NOT NULL, pad text NOT NULL)');
      await admin.query('INSERT INTO t SELECT g, 0, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g');
    } finally {
      await admin.end();
    }
    load = new WriteLoad({ connectionConfig }, { writers: 1, ratePerSecond: DEMO_WRITE_RATE }).start();
    say(`20000 rows loaded; a writer now inserts ${DEMO_WRITE_RATE} rows/s (each acknowledged commit recorded) and keeps writing through the backup`);
    await sleep(3000);

    // No connection flags: the backup's SQL session goes through the API server to pg-0 itself,
    // with the password from the pod's POSTGRES_PASSWORD (its Secret).
    await must(
      `kubectl dbaas backup create --pod pg-0 --mode online --name demo-1 -n ${NAMESPACE}`,
      'kubectl',
      ['dbaas', 'backup', 'create', '--pod', 'pg-0', '--mode', 'online', '--name', 'demo-1', '--timeout', '4m', '-n', NAMESPACE],
      env,
    );
    await must(`kubectl dbaas backup list -n ${NAMESPACE}`, 'kubectl', ['dbaas', 'backup', 'list', '-n', NAMESPACE], env);
    await load.stop();
    const described = spawnSync('kubectl', ['get', 'volumesnapshot', 'demo-1', '-n', NAMESPACE, '-o', 'jsonpath={.metadata.annotations.dbaas\\.io/cut-at}'], {
      env,
      encoding: 'utf8',
    });
    const cutAt = Date.parse(described.stdout.trim());
    if (Number.isNaN(cutAt)) throw new Error(`the backup records no cut time (dbaas.io/cut-at): ${described.stderr || described.stdout}`);
    const acked = load.ackedBefore(cutAt);
    process.stdout.write('\n');
    say(
      `the writer stopped: ${load.acked.length} inserts acknowledged, ${acked.length} of them before the backup's cut (${new Date(cutAt).toISOString()}), ${load.acked.length - acked.length} after it`,
    );

    // The restored volume is named as the new StatefulSet's claim template expects: data-<sts>-0.
    const restoredPvc = 'data-pg-restored-0';
    await must(
      `kubectl dbaas restore demo-1 --to ${restoredPvc} --prep-image ${image} -n ${NAMESPACE}`,
      'kubectl',
      ['dbaas', 'restore', 'demo-1', '--to', restoredPvc, '--prep-image', image, '-n', NAMESPACE],
      env,
    );
    const check =
      acked.length > 0
        ? `acked-before-cut=select (select count(*) from t where id <= 20000) = 20000 and (select count(*) from t where id between ${Math.min(...acked)} and ${Math.max(...acked)}) = ${acked.length}`
        : 'acked-before-cut=select count(*) = 20000 from t where id <= 20000';
    await must(
      `kubectl dbaas verify --pvc ${restoredPvc} --image '${TEST_IMAGES.postgres(DEMO_MAJOR).replace(String(DEMO_MAJOR), '{major}')}' --amcheck install -n ${NAMESPACE} --check '${check}'`,
      'kubectl',
      [
        'dbaas',
        'verify',
        '--pvc',
        restoredPvc,
        '--image',
        TEST_IMAGES.postgres(DEMO_MAJOR).replace(String(DEMO_MAJOR), '{major}'),
        '--amcheck',
        'install',
        '-n',
        NAMESPACE,
        '--check',
        check,
      ],
      env,
    );
    process.stdout.write('\n');
    say(`every row acknowledged before the cut is in the restored copy (verify's check "acked-before-cut" passed in a scratch pod)`);

    const restoredSet = postgresStatefulSet('pg-restored', image).filter((m) => (m as { kind: string }).kind === 'StatefulSet');
    await must(
      `kubectl apply -f - <<< '<StatefulSet pg-restored: same spec, claim template "data" -> the restored PVC ${restoredPvc}>'`,
      'kubectl',
      ['apply', '-f', '-'],
      env,
      [
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'pg-restored-credentials', namespace: NAMESPACE },
          stringData: { password: DEMO_PASSWORD },
        }),
        ...restoredSet.map((m) => JSON.stringify(m)),
      ].join('\n'),
    );
    await must(
      `kubectl rollout status -n ${NAMESPACE} statefulset/pg-restored --timeout=180s`,
      'kubectl',
      ['rollout', 'status', '-n', NAMESPACE, 'statefulset/pg-restored', '--timeout=180s'],
      env,
    );
    const count = spawnSync(
      'kubectl',
      [
        'exec',
        '-n',
        NAMESPACE,
        'pg-restored-0',
        '--',
        'psql',
        '-U',
        'postgres',
        '-Atc',
        `select count(*) from t where id <= 20000 or id = any('{${acked.join(',')}}'::bigint[])`,
      ],
      { env, encoding: 'utf8' },
    );
    const served = Number(count.stdout.trim());
    if (count.status !== 0 || served !== 20000 + acked.length) {
      throw new Error(
        `the new StatefulSet's pod serves ${count.stdout.trim() || '?'} of the ${20000 + acked.length} rows acknowledged before the cut: ${count.stderr}`,
      );
    }
    say(`the new StatefulSet pg-restored serves the restored database: all ${served} rows acknowledged before the cut`);
  } finally {
    say('tearing down: the port-forward, the cluster (pods, volumes, node) and its state directory');
    forward?.stop();
    await load?.stop().catch(() => undefined);
    await cluster.stop();
    if (shimDir) await rm(shimDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  // A signal to this process alone (not the terminal's process group) still reaches the running
  // command, which cleans up; the cluster's own handlers stop it and exit 130/143.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => current?.kill(signal));
  const { missing, binDir, toBuild } = await clusterPrerequisites();
  if (missing.length > 0 || !binDir) {
    process.stdout.write(
      `\nMISSING for the cluster part (nothing was built):\n${missing.map((m) => `  - ${m}`).join('\n')}\nRunning the embedded PostgreSQL part only.\n\n`,
    );
    await embeddedDemo();
    say('done (embedded part only: see MISSING above)');
    return;
  }
  if (toBuild.length > 0) {
    process.stdout.write(
      `\nFirst run: building ${toBuild.join(', ')} from Go modules, about 15-25 min on 2 cores, and the container images ` +
        '(Debian root filesystems, ~2-5 min). Cached afterwards: binaries and images in ' +
        `${cacheRoot()} (~1 GB), Go's module cache (~1.5 GB) and build cache (~6 GB). Later runs start in under a minute.\n\n`,
    );
  }
  await clusterDemo(binDir);
  say('done: a database in a pod backed up online under writes, listed, restored, verified and served again by a new StatefulSet; everything torn down');
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopAllPostgres());
