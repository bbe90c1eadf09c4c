// `npm run demo`: the README's first command.
//
// The main job, on the local Kubernetes cluster of this package (etcd, kube-apiserver, the
// snapshot controller and the CSI hostpath plugin as local processes; the Go binaries are built
// once and cached): a PostgreSQL with its data on a hostpath PVC, under a small write load, is
// backed up, listed, restored and verified with the real `kubectl dbaas` commands, each printed
// before it runs; the rows acknowledged before the backup's cut must all be in the restored copy.
// Everything is torn down afterwards (also on failure and on Ctrl-C).
//
// When the CSI hostpath plugin is unavailable (it cannot be built from the Go module proxy here:
// packages/testing/go/BLOCKED.md), it says so and runs the embedded part instead, without a
// cluster: why a file-by-file copy of a running server (what the hostpath driver's `tar czf`
// snapshot is) cannot be trusted, and that an online backup with a replication slot, backup_label
// and the WAL to the stop LSN can (the WalInspector judges both copies; PostgreSQL is started on the
// good one to prove it).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { connectLive, formatLsn, inspectDataDirectory, type DataDirectoryInspection } from '@kubectl-dbaas/sdk';
import { LocalCluster, STORAGE_CLASS } from './local-cluster/cluster.js';
import { runPostgresOnVolume } from './local-cluster/workloads.js';
import { availablePostgresMajors, copyDataDirectory, makeTemporaryDirectory, startPostgres, startPostgresOnDirectory, stopAllPostgres, type PostgresServer } from './postgres/index.js';
import { WriteLoad } from './postgres/write-load.js';

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

/** Why the cluster part cannot run here, or undefined when it can. */
function missingTools(): string | undefined {
  if (spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status !== 0) return 'kubectl is not on PATH (the demo runs the real `kubectl dbaas ...`)';
  if (!existsSync(pluginBundle())) return `${pluginBundle()} is missing: run npm run build first (npm run demo does)`;
  return undefined;
}

/**
 * The main job on the local cluster. Returns false when the cluster has no CSI hostpath plugin
 * (after saying what is missing and why); throws when a step fails.
 */
async function clusterDemo(): Promise<boolean> {
  say('starting the local Kubernetes cluster (binaries built from Go modules on first use, then reused from ~/.cache/kubectl-dbaas)');
  const cluster = await LocalCluster.start({ log: (line) => say(`  ${line.replace(/^\[dbaas-testing\] /, '')}`) });
  let shimDir: string | undefined;
  let server: PostgresServer | undefined;
  let load: WriteLoad | undefined;
  try {
    if (cluster.hostpathUnavailable) {
      process.stdout.write(
        `\nMISSING: the CSI hostpath plugin (hostpathplugin), so this machine has no CSI driver to back up, restore and verify with.\n` +
          `  why: ${cluster.hostpathUnavailable}\n` +
          `  to run the cluster part: put a hostpathplugin binary (csi-driver-host-path v1.7 or later) in a directory and run\n` +
          `       DBAAS_TESTING_BIN_DIR=<that directory> npm run demo\n` +
          `  The cluster itself started (etcd, kube-apiserver, kube-controller-manager, snapshot-controller) and is stopped now.\n\n`,
      );
      return false;
    }
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

    await must(`kubectl create namespace ${NAMESPACE}`, 'kubectl', ['create', 'namespace', NAMESPACE], env);
    const pvc = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'pgdata', namespace: NAMESPACE }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS, resources: { requests: { storage: '1Gi' } } } };
    await must(`kubectl apply -f - <<< '${JSON.stringify(pvc)}'`, 'kubectl', ['apply', '-f', '-'], env, JSON.stringify(pvc));
    await must(`kubectl wait -n ${NAMESPACE} pvc/pgdata --for=jsonpath='{.status.phase}'=Bound --timeout=60s`, 'kubectl', ['wait', '-n', NAMESPACE, 'pvc/pgdata', '--for=jsonpath={.status.phase}=Bound', '--timeout=60s'], env);

    const major = availablePostgresMajors().at(-1)!;
    process.stdout.write('\n');
    say(`starting PostgreSQL ${major} on the volume of PVC ${NAMESPACE}/pgdata (a local process on the hostpath directory, where kubelet would mount it: this cluster has no kubelet)`);
    server = await runPostgresOnVolume(cluster, { namespace: NAMESPACE, name: 'pgdata' }, { major });
    await server.query('CREATE TABLE t (id bigint PRIMARY KEY, w int NOT NULL, pad text NOT NULL)');
    await server.query('INSERT INTO t SELECT g, 0, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g');
    load = new WriteLoad(server, { writers: 1, ratePerSecond: DEMO_WRITE_RATE }).start();
    say(`20000 rows loaded; a writer now inserts ${DEMO_WRITE_RATE} rows/s (each acknowledged commit recorded) and keeps writing through the backup`);
    await sleep(3000);

    const dsn = `postgresql://${encodeURIComponent(server.superuser)}@${server.host}:${server.port}/postgres`;
    const pgEnv = server.password === undefined ? env : { ...env, PGPASSWORD: server.password };
    const passwordShown = server.password === undefined ? '' : 'PGPASSWORD=... ';
    await must(`${passwordShown}kubectl dbaas backup create --pvc pgdata --mode online --dsn ${dsn} --name demo-1 -n ${NAMESPACE}`, 'kubectl', ['dbaas', 'backup', 'create', '--pvc', 'pgdata', '--mode', 'online', '--dsn', dsn, '--name', 'demo-1', '--timeout', '4m', '-n', NAMESPACE], pgEnv);
    await must(`kubectl dbaas backup list -n ${NAMESPACE}`, 'kubectl', ['dbaas', 'backup', 'list', '-n', NAMESPACE], env);
    await load.stop();
    const described = spawnSync('kubectl', ['get', 'volumesnapshot', 'demo-1', '-n', NAMESPACE, '-o', 'jsonpath={.metadata.annotations.dbaas\\.io/cut-at}'], { env, encoding: 'utf8' });
    const cutAt = Date.parse(described.stdout.trim());
    if (Number.isNaN(cutAt)) throw new Error(`the backup records no cut time (dbaas.io/cut-at): ${described.stderr || described.stdout}`);
    const acked = load.ackedBefore(cutAt);
    const after = load.acked.length - acked.length;
    process.stdout.write('\n');
    say(`the writer stopped: ${load.acked.length} inserts acknowledged, ${acked.length} of them before the backup's cut (${new Date(cutAt).toISOString()}), ${after} after it`);

    await must(`kubectl dbaas restore demo-1 --to pgdata-restored --prep local -n ${NAMESPACE}`, 'kubectl', ['dbaas', 'restore', 'demo-1', '--to', 'pgdata-restored', '--prep', 'local', '-n', NAMESPACE], env);
    const check =
      acked.length > 0
        ? `acked-before-cut=select (select count(*) from t where id <= 20000) = 20000 and (select count(*) from t where id between ${Math.min(...acked)} and ${Math.max(...acked)}) = ${acked.length}`
        : 'acked-before-cut=select count(*) = 20000 from t where id <= 20000';
    await must(`kubectl dbaas verify --pvc pgdata-restored --runtime local --amcheck install -n ${NAMESPACE} --check '${check}'`, 'kubectl', ['dbaas', 'verify', '--pvc', 'pgdata-restored', '--runtime', 'local', '--amcheck', 'install', '-n', NAMESPACE, '--check', check], env);
    process.stdout.write('\n');
    say(`every row acknowledged before the cut is in the restored copy: the 20000 loaded rows and the ${acked.length} the writer inserted before it (verify's check "acked-before-cut" passed)`);
    return true;
  } finally {
    say(server ? 'tearing down: PostgreSQL, the cluster, its volumes and state directory' : 'stopping the cluster and removing its state directory');
    await load?.stop().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await stopAllPostgres().catch(() => undefined);
    await cluster.stop();
    if (shimDir) await rm(shimDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  // A signal to this process alone (not the terminal's process group) still reaches the running
  // command, which cleans up; the cluster's own handlers stop it and exit 130/143.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => current?.kill(signal));
  const missing = missingTools();
  if (missing) {
    process.stdout.write(`\nMISSING: ${missing}\nSkipping the cluster part; running the embedded PostgreSQL part only.\n\n`);
    await embeddedDemo();
    say('done (embedded part only: see MISSING above)');
    return;
  }
  if (await clusterDemo()) {
    say('done: backed up online under writes, listed, restored and verified with kubectl dbaas; everything torn down');
    return;
  }
  say('running the embedded PostgreSQL part instead (no cluster needed)');
  await embeddedDemo();
  say('done: embedded part only; the cluster part needs the CSI hostpath plugin (see MISSING above), so it did not run');
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopAllPostgres());
