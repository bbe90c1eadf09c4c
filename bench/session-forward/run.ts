// bench/session-forward: what the API port-forward (the default path of a backup's SQL session:
// forwardPodPort, through the API server and the kubelet to the pod) costs against a direct
// connection to the same PostgreSQL, on `online` and `checkpoint` backups (runBackup, the call
// `kubectl dbaas backup create --mode online|checkpoint --force` makes).
//
//   npx tsx bench/session-forward/run.ts [--rounds 5] [--json FILE]
//       uses the cluster of $DBAAS_TESTING_CLUSTER_RECORD (a running test cluster's cluster.json),
//       else starts a local cluster (DBAAS_TESTING_BIN_DIR=<dir with hostpathplugin>) and stops it.
//
// The host has no route to the pod network, so the direct path is made real by running the pod on
// the node's network (`hostNetwork: true`, PostgreSQL on a free port, listening on 127.0.0.1 only):
// 127.0.0.1:<port> is then a direct TCP connection from this process, and the port-forward to the
// same pod and port is the other path. The same server, volume and data either way; the two paths
// alternate (the order flips every round); each backup set is deleted (untimed) before the next.
// SQL round trips are counted by wrapping pg's Client.query and Client.connect in this process
// (the SDK loads the same `pg` module). No timed assertion: the numbers are printed.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { loadavg } from 'node:os';
import pg from 'pg';
import { LocalCluster, postgresStatefulSet } from '../../packages/testing/src/index.js';
import { KubeClients, SnapshotClient, forwardPodPort, runBackup, type BackupOptions } from '../../packages/sdk/src/index.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const ROUNDS = Number(arg('rounds', '5'));
const JSON_OUT = arg('json', '');
const ns = `session-forward-${Date.now().toString(36)}`;
const NAME = 'pg';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// ---- round trips: every query and every connection the SDK's pg clients make in this process ----
const counts = { queries: 0, connects: 0, sqlMs: 0 };
const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown; connect: (...a: unknown[]) => unknown };
const origQuery = proto.query;
const origConnect = proto.connect;
/** Adds the time until `result` settles (when it is a promise) to the SQL time. */
function timed(result: unknown, t0: number): unknown {
  if (result instanceof Promise) {
    void result.then(
      () => (counts.sqlMs += performance.now() - t0),
      () => (counts.sqlMs += performance.now() - t0),
    );
  }
  return result;
}
proto.query = function (this: unknown, ...a: unknown[]) {
  counts.queries++;
  return timed(origQuery.apply(this, a), performance.now());
};
proto.connect = function (this: unknown, ...a: unknown[]) {
  counts.connects++;
  return timed(origConnect.apply(this, a), performance.now());
};

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---- the cluster: the running test cluster's record, else a fresh one ----
let cluster: LocalCluster | undefined;
let kubeconfig: string;
const record = process.env.DBAAS_TESTING_CLUSTER_RECORD;
if (record) {
  kubeconfig = (JSON.parse(readFileSync(record, 'utf8')) as { kubeconfig: string }).kubeconfig;
} else {
  cluster = await LocalCluster.start({ log: (l) => console.error(l) });
  if (cluster.hostpathUnavailable) throw new Error(`cannot measure: ${cluster.hostpathUnavailable}`);
  if (cluster.nodeUnavailable) throw new Error(`cannot measure: ${cluster.nodeUnavailable}`);
  kubeconfig = cluster.kubeconfigPath;
}
const clients = KubeClients.load({ kubeconfig, namespace: ns });

type Path = 'forward' | 'direct';
type Mode = 'online' | 'checkpoint';
interface Run {
  round: number;
  mode: Mode;
  path: Path;
  totalMs: number;
  /** Wall time inside pg's connect and query calls. */
  sqlMs: number;
  /** totalMs minus each snapshot's request-to-ready time (the driver's work): discovery, the session, the SDK. */
  outsideDriverMs: number;
  queries: number;
  connects: number;
}
const runs: Run[] = [];

try {
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  const port = await freePort();
  const password = randomBytes(18).toString('base64url');
  const secretName = `${NAME}-credentials`;
  await clients.core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: secretName }, stringData: { username: 'postgres', password, database: 'postgres' } },
  });
  const sts = postgresStatefulSet({ name: NAME, major: 17, secretName, storage: '1Gi', settings: { port: String(port), listen_addresses: '127.0.0.1' } });
  const podSpec = sts.spec!.template.spec!;
  podSpec.hostNetwork = true;
  podSpec.dnsPolicy = 'ClusterFirstWithHostNet';
  const container = podSpec.containers[0]!;
  container.ports = [{ name: 'postgres', containerPort: port }];
  container.readinessProbe!.exec!.command = ['pg_isready', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'];
  await clients.apps.createNamespacedStatefulSet({ namespace: ns, body: sts });
  const podName = `${NAME}-0`;
  const readyBy = Date.now() + 180_000;
  for (;;) {
    const pod = await clients.core.readNamespacedPod({ namespace: ns, name: podName }).catch(() => undefined);
    if (pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) break;
    if (Date.now() > readyBy) throw new Error(`pod ${ns}/${podName} not Ready after 180 s: ${JSON.stringify(pod?.status?.containerStatuses ?? pod?.status)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const direct = { host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' };
  {
    const c = new pg.Client(direct);
    await c.connect();
    await c.query('create table t (id bigint primary key, pad text not null)');
    await c.query("insert into t select g, repeat('x', 200) from generate_series(1, 50000) g");
    await c.query('checkpoint');
    await c.end();
  }

  // ---- one round trip and one connection, each way: the unit cost the ratios are made of ----
  const fwd = await forwardPodPort(clients.kubeConfig, { namespace: ns, pod: podName, port });
  const rtt: Record<Path, number[]> = { forward: [], direct: [] };
  const connectMs: Record<Path, number[]> = { forward: [], direct: [] };
  const endpoints: Record<Path, pg.ClientConfig> = { direct, forward: { ...direct, host: fwd.host, port: fwd.port } };
  for (let i = 0; i < 10; i++) {
    for (const p of (i % 2 ? ['direct', 'forward'] : ['forward', 'direct']) as Path[]) {
      const t0 = performance.now();
      const c = new pg.Client(endpoints[p]);
      await c.connect();
      await c.query('select 1');
      connectMs[p].push(performance.now() - t0);
      for (let j = 0; j < 20; j++) {
        const q0 = performance.now();
        await c.query('select 1');
        rtt[p].push(performance.now() - q0);
      }
      await c.end();
    }
  }
  await fwd.close();
  // Opening the forward (forwardPodPort opens and closes one stream first, to fail early).
  const openMs: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    const f = await forwardPodPort(clients.kubeConfig, { namespace: ns, pod: podName, port });
    openMs.push(performance.now() - t0);
    await f.close();
  }

  // ---- backups: online and checkpoint (--force), each way, alternately ----
  const snapshots = new SnapshotClient(clients);
  const backup = async (round: number, mode: Mode, path: Path) => {
    const name = `${mode.slice(0, 4)}-${path.slice(0, 3)}-${round}`;
    const options: BackupOptions = {
      namespace: ns,
      target: { pod: podName },
      mode,
      name,
      deadlineMs: 240_000,
      database: path === 'direct' ? direct : { throughPod: { port } },
      ...(mode === 'checkpoint' ? { force: true } : {}),
    };
    counts.queries = 0;
    counts.connects = 0;
    counts.sqlMs = 0;
    const t0 = performance.now();
    const result = await runBackup(clients, options);
    const totalMs = performance.now() - t0;
    const driverMs = Object.values(result.timings.snapshots).reduce((sum, t) => sum + (t.requestToReadyMs ?? 0), 0);
    const run: Run = {
      round,
      mode,
      path,
      totalMs,
      sqlMs: counts.sqlMs,
      outsideDriverMs: totalMs - driverMs,
      queries: counts.queries,
      connects: counts.connects,
    };
    await snapshots.delete({ namespace: ns, name, wait: true });
    return run;
  };
  // Warm-up of each (the first call loads pg and the engine modules): printed, not counted.
  const warm = [await backup(0, 'checkpoint', 'forward'), await backup(0, 'checkpoint', 'direct')];
  console.error(`warm-up: ${warm.map((w) => `${w.path} ${w.totalMs.toFixed(0)} ms`).join(', ')}`);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const mode of ['online', 'checkpoint'] as Mode[]) {
      for (const path of (round % 2 ? ['forward', 'direct'] : ['direct', 'forward']) as Path[]) {
        const r = await backup(round, mode, path);
        runs.push(r);
        console.error(
          `round ${round} ${mode} ${path}: ${r.totalMs.toFixed(0)} ms (outside the driver ${r.outsideDriverMs.toFixed(0)} ms, SQL ${r.sqlMs.toFixed(0)} ms), ${r.queries} queries, ${r.connects} connection(s)`,
        );
      }
    }
  }

  // ---- report ----
  const lines: string[] = [];
  const result: Record<string, unknown> = { bench: 'session-forward', rounds: ROUNDS, loadavg: loadavg(), runs };
  const rttF = median(rtt.forward);
  const rttD = median(rtt.direct);
  const conF = median(connectMs.forward);
  const conD = median(connectMs.direct);
  lines.push(`one round trip (select 1): forward ${rttF.toFixed(2)} ms, direct ${rttD.toFixed(2)} ms, ratio ${(rttF / rttD).toFixed(1)}`);
  lines.push(`connect + first query:     forward ${conF.toFixed(1)} ms, direct ${conD.toFixed(1)} ms, ratio ${(conF / conD).toFixed(1)}`);
  lines.push(`opening the forward (forwardPodPort): ${median(openMs).toFixed(1)} ms`);
  result.roundTripMs = { forward: rttF, direct: rttD };
  result.forwardOpenMs = median(openMs);
  result.connectMs = { forward: conF, direct: conD };
  for (const mode of ['online', 'checkpoint'] as Mode[]) {
    const of = (p: Path) => runs.filter((r) => r.mode === mode && r.path === p);
    const f = median(of('forward').map((r) => r.totalMs));
    const d = median(of('direct').map((r) => r.totalMs));
    const q = (p: Path) => median(of(p).map((r) => r.queries));
    const c = (p: Path) => median(of(p).map((r) => r.connects));
    const sqlF = median(of('forward').map((r) => r.sqlMs));
    const sqlD = median(of('direct').map((r) => r.sqlMs));
    const outF = median(of('forward').map((r) => r.outsideDriverMs));
    const outD = median(of('direct').map((r) => r.outsideDriverMs));
    const list = (p: Path, k: 'totalMs' | 'outsideDriverMs') =>
      of(p)
        .map((r) => r[k].toFixed(0))
        .join(' ');
    lines.push(
      `${mode}: SQL ${q('forward')} queries / ${c('forward')} connection(s) forward, ${q('direct')} / ${c('direct')} direct\n` +
        `  total           forward ${f.toFixed(0)} ms, direct ${d.toFixed(0)} ms, ratio ${(f / d).toFixed(2)} (runs: ${list('forward', 'totalMs')} | ${list('direct', 'totalMs')})\n` +
        `  outside driver  forward ${outF.toFixed(0)} ms, direct ${outD.toFixed(0)} ms, ratio ${(outF / outD).toFixed(2)}, added ${(outF - outD).toFixed(0)} ms (runs: ${list('forward', 'outsideDriverMs')} | ${list('direct', 'outsideDriverMs')})\n` +
        `  in SQL calls    forward ${sqlF.toFixed(0)} ms, direct ${sqlD.toFixed(0)} ms, ratio ${(sqlF / sqlD).toFixed(2)}, added ${(sqlF - sqlD).toFixed(0)} ms`,
    );
    result[mode] = {
      totalMs: { forward: f, direct: d },
      outsideDriverMs: { forward: outF, direct: outD },
      sqlMs: { forward: sqlF, direct: sqlD },
      queries: { forward: q('forward'), direct: q('direct') },
      connects: { forward: c('forward'), direct: c('direct') },
    };
  }
  console.log(lines.join('\n'));
  console.log(JSON.stringify(result));
  if (JSON_OUT) writeFileSync(JSON_OUT, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
  await cluster?.stop();
}
