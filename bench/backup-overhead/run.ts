// bench/backup-overhead: what a backup costs on top of the snapshot machinery's own time, for the
// SDK (`runBackup`, mode `crash` with force on a plain data volume, so no database is measured)
// against a kubectl flow doing the same job (`kubectl apply -f` of the same VolumeSnapshot, then
// `kubectl wait --for=jsonpath='{.status.readyToUse}'=true`), on a fresh local cluster, on the CSI
// hostpath driver (a `tar` in CreateSnapshot) or the project's atomic btrfs test driver (a read-only
// subvolume snapshot), alternately, N rounds, medians.
//
//   DBAAS_TESTING_BIN_DIR=<dir with hostpathplugin> npx tsx bench/backup-overhead/run.ts [--driver hostpath|btrfs] [--rounds 20] [--mb 4] [--json FILE]
//
// "Driver time" of a snapshot: from its creation to readyToUse. The API server records both only to
// the second (metadata.creationTimestamp; the snapshot-controller's status update in
// managedFields[].time; its events' first/lastTimestamp) - the only sub-second time it keeps is the
// VolumeSnapshotContent's status.creationTime, the driver's cut, not readiness. So a watch in a
// worker thread (its own event loop, so neither flow's work delays it) records when the API server
// sent each snapshot's ADDED event and the first event with readyToUse=true, to the millisecond;
// driver time = ready event - ADDED event, measured the same way for both flows. Overhead = the
// flow's wall time - its snapshot's driver time. The second-resolution times the API server
// recorded are reported next to it as a cross-check.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { LOCAL_DRIVER_CLASSES, LocalCluster, volumeDirectoryOf } from '../../packages/testing/src/index.js';
import { KubeClients, buildVolumeSnapshot, runBackup, type VolumeSnapshot } from '../../packages/sdk/src/index.js';
import { watchUntil } from '../../packages/sdk/src/kube/watch-until.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const ROUNDS = Number(arg('rounds', '20'));
const MB = Number(arg('mb', '4'));
const JSON_OUT = arg('json', '');
const DRIVER = arg('driver', 'hostpath');
if (DRIVER !== 'hostpath' && DRIVER !== 'btrfs') {
  console.error(`bench/backup-overhead: --driver is hostpath or btrfs, not ${JSON.stringify(DRIVER)}`);
  process.exit(2);
}
const { storageClass, snapshotClass } = LOCAL_DRIVER_CLASSES[DRIVER];
const ns = 'overhead';

// ---- the hostpath plugin is required: say so and fail before starting anything ----
const binDir = process.env.DBAAS_TESTING_BIN_DIR;
try {
  if (!binDir) throw new Error('DBAAS_TESTING_BIN_DIR is not set');
  accessSync(path.join(binDir, 'hostpathplugin'), constants.X_OK);
} catch (error) {
  console.error(
    `bench/backup-overhead needs the CSI hostpath plugin: set DBAAS_TESTING_BIN_DIR to a directory holding an executable hostpathplugin ` +
      `(${(error as Error).message}; see packages/testing/go/BLOCKED.md for why it cannot be built here).`,
  );
  process.exit(2);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** What the observer saw of one snapshot (epoch ms, fractional), and what the API server recorded (epoch s). */
interface Observed {
  name: string;
  addedAt: number;
  cutAt: number;
  readyAt: number;
  /** metadata.creationTimestamp, seconds. */
  createdRecordedS: number;
  /** managedFields[].time of the snapshot-controller's status update that carried readyToUse, seconds. */
  readyRecordedS: number;
}

// The observer: a plain watch (node:https) in a worker thread; posts each snapshot once ready.
const OBSERVER = `
const { parentPort, workerData } = require('node:worker_threads');
const https = require('node:https');
const { server, token, ca, path } = workerData;
const now = () => performance.timeOrigin + performance.now();
const seen = new Map();
let rv;
function request(query, onLine, onEnd) {
  const url = new URL(server + path + query);
  const req = https.get(url, { ca, headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' } }, (res) => {
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      const at = now();
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) onLine(JSON.parse(line), at);
      }
    });
    res.on('end', () => { if (buf.trim()) onLine(JSON.parse(buf), now()); onEnd(); });
  });
  req.on('error', () => setTimeout(onEnd, 200));
}
function handle(type, vs, at) {
  if (vs.metadata && vs.metadata.resourceVersion) rv = vs.metadata.resourceVersion;
  if (type === 'BOOKMARK' || type === 'ERROR') { if (type === 'ERROR') rv = undefined; return; }
  const name = vs.metadata.name;
  let s = seen.get(name);
  if (!s || (type === 'ADDED' && s.uid !== vs.metadata.uid)) { s = { name, uid: vs.metadata.uid, addedAt: at }; seen.set(name, s); }
  const st = vs.status || {};
  if (!s.cutAt && st.boundVolumeSnapshotContentName && st.creationTime) s.cutAt = at;
  if (!s.readyAt && st.readyToUse === true) {
    s.readyAt = at;
    const mf = (vs.metadata.managedFields || []).filter((m) => m.subresource === 'status' && m.manager === 'snapshot-controller');
    s.createdRecordedS = Date.parse(vs.metadata.creationTimestamp) / 1000;
    s.readyRecordedS = mf.length ? Math.max(...mf.map((m) => Date.parse(m.time) / 1000)) : NaN;
    parentPort.postMessage({ name, addedAt: s.addedAt, cutAt: s.cutAt, readyAt: s.readyAt, createdRecordedS: s.createdRecordedS, readyRecordedS: s.readyRecordedS });
  }
}
function watch() {
  if (rv === undefined) {
    let body = '';
    const url = new URL(server + path);
    https.get(url, { ca, headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => { try { rv = JSON.parse(body).metadata.resourceVersion; } catch {} parentPort.postMessage({ listening: true }); watch(); });
    }).on('error', () => setTimeout(watch, 200));
    return;
  }
  request('?watch=1&allowWatchBookmarks=true&timeoutSeconds=600&resourceVersion=' + rv, (ev, at) => handle(ev.type, ev.object, at), watch);
}
watch();
`;

function exec(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${file} ${args.join(' ')} exited ${code}: ${stderr}`))));
  });
}

const cluster = await LocalCluster.start({ log: (l) => console.error(l) });
let observer: Worker | undefined;
const scratch = mkdtempSync(path.join(tmpdir(), 'backup-overhead-'));
try {
  const unavailable = DRIVER === 'btrfs' ? cluster.btrfsUnavailable : cluster.hostpathUnavailable;
  if (unavailable) throw new Error(`cannot measure on ${DRIVER}: ${unavailable}`);
  const clients = KubeClients.load({ kubeconfig: cluster.kubeconfigPath, namespace: ns });
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  await clients.core.createNamespacedPersistentVolumeClaim({
    namespace: ns,
    body: {
      metadata: { name: 'plain' },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: storageClass, resources: { requests: { storage: '1Gi' } } },
    },
  });
  await watchUntil<V1PersistentVolumeClaim>(clients, {
    path: `/api/v1/namespaces/${ns}/persistentvolumeclaims`,
    name: 'plain',
    predicate: (p) => p?.status?.phase === 'Bound',
    deadline: Date.now() + 120_000,
  });
  const dir = await volumeDirectoryOf(cluster, { namespace: ns, name: 'plain' });
  writeFileSync(path.join(dir, 'data'), randomBytes(MB << 20));

  // ---- observer ----
  const kc = clients.kubeConfig;
  const user = kc.getCurrentUser();
  const kcCluster = kc.getCurrentCluster()!;
  const observed = new Map<string, Observed>();
  const waiters = new Map<string, (o: Observed) => void>();
  observer = new Worker(OBSERVER, {
    eval: true,
    workerData: {
      server: kcCluster.server,
      token: user?.token,
      ca: Buffer.from(kcCluster.caData!, 'base64').toString(),
      path: clients.volumeSnapshots.path({ namespace: ns }),
    },
  });
  await new Promise<void>((resolve, reject) => {
    observer!.once('error', reject);
    observer!.on('message', (m: Observed | { listening: true }) => {
      if ('listening' in m) return resolve();
      observed.set(m.name, m);
      waiters.get(m.name)?.(m);
    });
  });
  const observedFor = (name: string): Promise<Observed> =>
    observed.has(name)
      ? Promise.resolve(observed.get(name)!)
      : new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`the observer did not see ${name} ready`)), 30_000);
          waiters.set(name, (o) => {
            clearTimeout(t);
            resolve(o);
          });
        });

  const kubectlEnv = { ...process.env, KUBECONFIG: cluster.kubeconfigPath };
  const now = () => performance.timeOrigin + performance.now();

  type Flow = 'sdk' | 'kubectl';
  const run = async (flow: Flow, name: string): Promise<{ wallMs: number; t0: number; t1: number; obs: Observed }> => {
    let t0: number;
    let t1: number;
    if (flow === 'sdk') {
      t0 = now();
      await runBackup(clients, { namespace: ns, target: { pvc: 'plain' }, mode: 'crash', force: true, name, snapshotClass, deadlineMs: 120_000 });
      t1 = now();
    } else {
      // The same VolumeSnapshot runBackup creates (its labels and annotations; no cut/ready times).
      const body = buildVolumeSnapshot({
        namespace: ns,
        pvc: 'plain',
        snapshotClass,
        metadata: { backupSet: name, role: 'data', mode: 'crash', requestedAt: new Date() },
      });
      const file = path.join(scratch, `${name}.json`);
      writeFileSync(file, JSON.stringify(body));
      t0 = now();
      await exec('kubectl', ['apply', '-f', file], kubectlEnv);
      await exec('kubectl', ['-n', ns, 'wait', '--for=jsonpath={.status.readyToUse}=true', `volumesnapshot/${name}`, '--timeout=120s'], kubectlEnv);
      t1 = now();
    }
    const obs = await observedFor(name);
    return { wallMs: t1 - t0, t0, t1, obs };
  };
  const remove = async (name: string): Promise<void> => {
    await clients.volumeSnapshots.delete(name, ns);
    await watchUntil<VolumeSnapshot>(clients, {
      path: clients.volumeSnapshots.path({ namespace: ns }),
      name,
      predicate: (_vs, e) => e.type === 'ABSENT' || e.type === 'DELETED',
      deadline: Date.now() + 60_000,
    });
  };

  // Warm-up (not counted): the SDK's first call in the process, kubectl's discovery cache.
  const warmup: Record<string, { wallMs: number; driverMs: number; overheadMs: number }> = {};
  for (const flow of ['sdk', 'kubectl'] as const) {
    const r = await run(flow, `warmup-${flow}`);
    const driverMs = r.obs.readyAt - r.obs.addedAt;
    warmup[flow] = { wallMs: +r.wallMs.toFixed(1), driverMs: +driverMs.toFixed(1), overheadMs: +(r.wallMs - driverMs).toFixed(1) };
    console.error(
      `warm-up ${flow} (not counted): wall ${r.wallMs.toFixed(0)} ms, driver ${driverMs.toFixed(0)} ms, overhead ${(r.wallMs - driverMs).toFixed(0)} ms`,
    );
    await remove(`warmup-${flow}`);
  }

  // beforeAddedMs: start of the flow until the API server sent the snapshot's ADDED event (discovery,
  // kubectl's start-up, the create request); afterReadyMs: the ready event until the flow returned.
  const rows: {
    round: number;
    flow: Flow;
    wallMs: number;
    driverMs: number;
    overheadMs: number;
    beforeAddedMs: number;
    afterReadyMs: number;
    driverRecordedS: number;
  }[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order: Flow[] = round % 2 ? ['sdk', 'kubectl'] : ['kubectl', 'sdk'];
    for (const flow of order) {
      const name = `${flow}-${round}`;
      const r = await run(flow, name);
      const driverMs = r.obs.readyAt - r.obs.addedAt;
      rows.push({
        round,
        flow,
        wallMs: r.wallMs,
        driverMs,
        overheadMs: r.wallMs - driverMs,
        beforeAddedMs: r.obs.addedAt - r.t0,
        afterReadyMs: r.t1 - r.obs.readyAt,
        driverRecordedS: r.obs.readyRecordedS - r.obs.createdRecordedS,
      });
      await remove(name);
    }
    const last = rows.slice(-2);
    console.error(
      `round ${round}: ${last.map((r) => `${r.flow} wall ${r.wallMs.toFixed(0)} driver ${r.driverMs.toFixed(0)} overhead ${r.overheadMs.toFixed(0)} ms`).join(' | ')}`,
    );
  }

  const of = (flow: Flow) => rows.filter((r) => r.flow === flow);
  const summary = (flow: Flow) => ({
    wallMs: +median(of(flow).map((r) => r.wallMs)).toFixed(1),
    driverMs: +median(of(flow).map((r) => r.driverMs)).toFixed(1),
    overheadMs: +median(of(flow).map((r) => r.overheadMs)).toFixed(1),
    overheadMinMs: +Math.min(...of(flow).map((r) => r.overheadMs)).toFixed(1),
    overheadMaxMs: +Math.max(...of(flow).map((r) => r.overheadMs)).toFixed(1),
    beforeAddedMs: +median(of(flow).map((r) => r.beforeAddedMs)).toFixed(1),
    afterReadyMs: +median(of(flow).map((r) => r.afterReadyMs)).toFixed(1),
    driverRecordedSeconds: of(flow).map((r) => r.driverRecordedS),
  });
  const sdk = summary('sdk');
  const kubectl = summary('kubectl');
  const ratio = sdk.overheadMs / kubectl.overheadMs;
  const counts = (xs: number[]) =>
    Object.entries(
      xs.reduce<Record<string, number>>((acc, x) => {
        acc[`${x} s`] = (acc[`${x} s`] ?? 0) + 1;
        return acc;
      }, {}),
    )
      .map(([k, v]) => `${k} x${v}`)
      .join(', ');
  console.log(`${DRIVER} driver, ${ROUNDS} rounds, alternating, ${MB} MiB plain volume, crash mode with force; medians (min..max of the overhead)`);
  for (const [label, s] of [
    ['SDK runBackup      ', sdk],
    ['kubectl apply+wait', kubectl],
  ] as const) {
    console.log(
      `${label} wall ${s.wallMs} ms  driver ${s.driverMs} ms  overhead ${s.overheadMs} ms (${s.overheadMinMs}..${s.overheadMaxMs}) = before ADDED ${s.beforeAddedMs} + after ready ${s.afterReadyMs}`,
    );
  }
  console.log(
    `overhead ratio SDK / kubectl ${ratio.toFixed(2)}; target: SDK overhead < 100 ms and below kubectl's -> ${sdk.overheadMs < 100 && sdk.overheadMs < kubectl.overheadMs ? 'met' : 'NOT met'}`,
  );
  console.log(
    `cross-check, driver time as the API server recorded it (1 s resolution: creationTimestamp to the status update's managedFields time): SDK ${counts(sdk.driverRecordedSeconds)}; kubectl ${counts(kubectl.driverRecordedSeconds)}`,
  );
  const result = {
    bench: 'backup-overhead',
    driver: DRIVER,
    rounds: ROUNDS,
    mb: MB,
    sdk,
    kubectl,
    ratio: +ratio.toFixed(3),
    warmup,
    rows,
    loadavg: loadavg(),
    at: new Date().toISOString(),
  };
  console.log(JSON.stringify(result));
  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(result, null, 2));
} finally {
  await observer?.terminate();
  rmSync(scratch, { recursive: true, force: true });
  await cluster.stop();
}
