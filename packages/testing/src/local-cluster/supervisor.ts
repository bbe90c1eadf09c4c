import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LocalCluster, COMPONENTS, reapStaleClusters, type ClusterRecord, type ComponentStatus } from './cluster.js';
import { probe } from './http.js';
import { cacheRoot } from './paths.js';
import { pidRunning, tailFile } from './process.js';

/** What `dbaas-testing up` records in `~/.cache/kubectl-dbaas/run/<name>.json`. */
export interface RunRecord {
  name: string;
  supervisorPid: number;
  logFile: string;
  state: 'starting' | 'ready' | 'failed';
  stateDir?: string;
  kubeconfig?: string;
  clusterRecord?: string;
  error?: string;
}

/** Directory of run records and supervisor logs. */
export function runDir(): string {
  return path.join(cacheRoot(), 'run');
}

function runRecordPath(name: string): string {
  if (!/^[\w.-]+$/.test(name)) throw new Error(`invalid cluster name ${JSON.stringify(name)}`);
  return path.join(runDir(), `${name}.json`);
}

/** Reads a run record, or undefined when there is none. */
export async function readRunRecord(name: string): Promise<RunRecord | undefined> {
  try {
    return JSON.parse(await readFile(runRecordPath(name), 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
}

async function writeRunRecord(rec: RunRecord): Promise<void> {
  await mkdir(runDir(), { recursive: true });
  await writeFile(runRecordPath(rec.name), JSON.stringify(rec, null, 2), { mode: 0o600 });
}

/**
 * The detached supervisor (`dbaas-testing __supervise <name>`): starts the cluster, records it,
 * and keeps it up until SIGTERM/SIGINT, then tears it down in order.
 */
export async function supervise(name: string, logFile: string, opts: { withoutNode?: boolean } = {}): Promise<void> {
  await writeRunRecord({ name, supervisorPid: process.pid, logFile, state: 'starting' });
  let cluster: LocalCluster;
  try {
    cluster = await LocalCluster.start({ log: (l) => console.log(l), ...(opts.withoutNode ? { withoutNode: true } : {}) });
  } catch (err) {
    await writeRunRecord({ name, supervisorPid: process.pid, logFile, state: 'failed', error: (err as Error).message });
    console.error((err as Error).message);
    process.exit(1);
  }
  await cluster.writeRecord({ supervisorPid: process.pid });
  await writeRunRecord({
    name,
    supervisorPid: process.pid,
    logFile,
    state: 'ready',
    stateDir: cluster.stateDir,
    kubeconfig: cluster.kubeconfigPath,
    clusterRecord: path.join(cluster.stateDir, 'cluster.json'),
  });
  // The signal handlers installed by LocalCluster stop the cluster and exit; also remove our record.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.prependOnceListener(sig, () => {
      void rm(runRecordPath(name), { force: true });
    });
  }
  setInterval(() => undefined, 1 << 30); // keep the event loop alive
}

/**
 * `dbaas-testing up`: starts the supervisor detached, streams its log until the cluster is ready,
 * and returns the run record. Throws (with the log's tail) when it fails.
 */
export async function up(
  name: string,
  scriptArgs: { execPath: string; execArgv: string[]; script: string },
  opts: { withoutNode?: boolean } = {},
): Promise<RunRecord> {
  const existing = await readRunRecord(name);
  if (existing && pidRunning(existing.supervisorPid)) {
    if (existing.state === 'ready') return existing;
    throw new Error(`cluster "${name}" is already starting (supervisor pid ${existing.supervisorPid}); log: ${existing.logFile}`);
  }
  await mkdir(runDir(), { recursive: true });
  const logFile = path.join(runDir(), `${name}.log`);
  await writeFile(logFile, '', { mode: 0o600 });
  await rm(runRecordPath(name), { force: true });
  const fd = openSync(logFile, 'a');
  const child = spawn(
    scriptArgs.execPath,
    [...scriptArgs.execArgv, scriptArgs.script, '__supervise', name, logFile, ...(opts.withoutNode ? ['--without-node'] : [])],
    {
      detached: true,
      stdio: ['ignore', fd, fd],
    },
  );
  closeSync(fd);
  child.unref();
  let printed = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const text = await readFile(logFile, 'utf8').catch(() => '');
    if (text.length > printed) {
      process.stderr.write(text.slice(printed));
      printed = text.length;
    }
    const rec = await readRunRecord(name);
    if (rec?.state === 'ready') return rec;
    if (rec?.state === 'failed' || child.pid === undefined || !pidRunning(child.pid)) {
      throw new Error(`the cluster did not start${rec?.error ? `: ${rec.error}` : ''}\nsupervisor log: ${logFile}\n${await tailFile(logFile, 30)}`);
    }
  }
}

/** `dbaas-testing down`: SIGTERM to the supervisor, wait for the ordered teardown, clean up leftovers. */
export async function down(name: string, log: (l: string) => void): Promise<boolean> {
  const rec = await readRunRecord(name);
  if (!rec) {
    // Nothing of that name runs; still undo what a dead run left (e.g. a SIGKILLed test run's node).
    await reapStaleClusters(log);
    return false;
  }
  let cluster: ClusterRecord | undefined;
  if (rec.clusterRecord) cluster = JSON.parse(await readFile(rec.clusterRecord, 'utf8').catch(() => 'null')) ?? undefined;
  if (pidRunning(rec.supervisorPid)) {
    process.kill(rec.supervisorPid, 'SIGTERM');
    const deadline = Date.now() + 90_000;
    while (pidRunning(rec.supervisorPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    if (pidRunning(rec.supervisorPid)) {
      log(`supervisor ${rec.supervisorPid} did not stop in 90 s; killing it`);
      process.kill(rec.supervisorPid, 'SIGKILL');
    }
  }
  // Leftovers of a supervisor killed hard: its components, the node's machine-wide changes, the
  // state directory (unmounted first), as for any cluster whose owner is gone.
  for (const c of cluster?.components ?? []) {
    if (c.pid && pidRunning(c.pid)) {
      log(`killing leftover ${c.name} (pid ${c.pid})`);
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  await reapStaleClusters(log);
  await rm(runRecordPath(name), { force: true });
  // The supervisor's log too, once the cluster is down: each run had left one behind. (A cluster
  // that failed to start keeps its log until the next `up` of that name; `up` prints where it is.)
  await rm(rec.logFile, { force: true });
  return true;
}

/** `dbaas-testing status`: one line per component, from the run record and live checks. */
export async function status(name: string): Promise<{ running: boolean; lines: string[] }> {
  const rec = await readRunRecord(name);
  if (!rec || !pidRunning(rec.supervisorPid)) {
    return { running: false, lines: [`cluster "${name}": not running`] };
  }
  if (rec.state !== 'ready' || !rec.clusterRecord) {
    return { running: true, lines: [`cluster "${name}": ${rec.state} (supervisor pid ${rec.supervisorPid}, log ${rec.logFile})`] };
  }
  const cluster = JSON.parse(await readFile(rec.clusterRecord, 'utf8')) as ClusterRecord;
  const lines = [`cluster "${name}": supervisor pid ${rec.supervisorPid}, state dir ${cluster.stateDir}`, `KUBECONFIG=${cluster.kubeconfig}`];
  let ready = '';
  try {
    const kubeconfig = await readFile(cluster.kubeconfig, 'utf8');
    const token = /token:\s*(\S+)/.exec(kubeconfig)?.[1];
    const ca = await readFile(path.join(cluster.stateDir, 'pki', 'ca.crt'));
    const r = await probe(`${cluster.server}/readyz`, { ...(token ? { token } : {}), ca });
    ready = r.status === 200 ? ' (readyz ok)' : ` (readyz HTTP ${r.status})`;
  } catch (err) {
    ready = ` (readyz failed: ${(err as Error).message})`;
  }
  for (const name of COMPONENTS) {
    const c = cluster.components.find((x) => x.name === name);
    let st: ComponentStatus['state'] = 'not started';
    if (c?.pid) st = pidRunning(c.pid) ? 'running' : 'exited';
    else if (name === 'hostpathplugin' && cluster.hostpathUnavailable) st = 'unavailable';
    else if (name === 'btrfs-csi' && cluster.btrfsUnavailable) st = 'unavailable';
    const extra =
      st === 'unavailable'
        ? name === 'btrfs-csi'
          ? `btrfs CSI driver unavailable: ${cluster.btrfsUnavailable}`
          : `CSI hostpath plugin unavailable: ${cluster.hostpathUnavailable}`
        : [c?.pid ? `pid ${c.pid}` : '', c?.health ?? c?.detail ?? '', name === 'kube-apiserver' ? ready.trim() : ''].filter(Boolean).join(', ');
    lines.push(`${name.padEnd(24)} ${st.padEnd(12)} ${extra}`);
  }
  return { running: true, lines };
}
