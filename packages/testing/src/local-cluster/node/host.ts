import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { unmountAllUnder } from '../mounts.js';
import { pidRunning, processesMentioning } from '../process.js';
import { MACHINE_WIDE_PATHS, nodeLayout } from './config.js';

/**
 * The machine-wide sysctls the node changes, recorded before it starts and written back on every
 * teardown path: those the kubelet sets at start (`setupKernelTunables`) when they differ from what
 * it wants (it has no mode that leaves them alone and runs: `protectKernelDefaults` refuses to start
 * instead), and `net.ipv4.ip_forward`, which the CNI bridge plugin turns on for a gateway bridge
 * (pods reach Service addresses through the host).
 */
export const NODE_SYSCTLS = [
  'net/ipv4/ip_forward',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
] as const;

/**
 * The machine-wide record of the running node. It lives outside the cluster's state directory (on
 * /run, a tmpfs: gone after a reboot, like the processes it describes) so that a later `up` or
 * `down` can undo what a SIGKILLed owner left, even after the state directory is gone.
 */
export const NODE_RECORD_FILE = '/run/kubectl-dbaas/node.json';

/** What {@link NODE_RECORD_FILE} holds. */
export interface NodeHostRecord {
  stateDir: string;
  /** Processes whose life the node's life follows (test process, supervisor). */
  ownerPids: number[];
  bridge: string;
  /** Sysctl values before the node started (`vm/overcommit_memory` -> `0`). */
  sysctls: Record<string, string>;
  /** nftables tables before the node started (`ip kube-proxy`): kube-proxy's are deleted at teardown. */
  nftTablesBefore?: string[];
  /** Machine-wide directories that did not exist before the node: removed again at teardown. */
  createdDirs: string[];
  /** Network namespaces present before the node started (ours are the others named cni-*). */
  netnsBefore: string[];
  /** Top-level cgroup directories per controller before the node started. */
  cgroupsBefore: Record<string, string[]>;
  /** containerd shim sockets (/run/containerd/s) present before the node started. */
  shimSocketsBefore: string[];
  startedAt: string;
}

function readSysctl(name: string): string | undefined {
  try {
    return readFileSync(path.join('/proc/sys', name), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Current values of {@link NODE_SYSCTLS}. */
export function readNodeSysctls(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of NODE_SYSCTLS) {
    const v = readSysctl(name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** cgroup v1 controller hierarchies plus the cgroup2 mount, as directories under /sys/fs/cgroup. */
function cgroupHierarchies(): string[] {
  return listDir(CGROUP_ROOT)
    .map((d) => path.join(CGROUP_ROOT, d))
    .filter((d) => {
      try {
        return lstatSync(d).isDirectory() && existsSync(path.join(d, 'cgroup.procs'));
      } catch {
        return false;
      }
    });
}

function topLevelCgroups(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const h of cgroupHierarchies()) {
    out[h] = listDir(h).filter((e) => {
      try {
        return lstatSync(path.join(h, e)).isDirectory();
      } catch {
        return false;
      }
    });
  }
  return out;
}

/** The tables kube-proxy's nftables mode creates (and deletes with `kube-proxy --cleanup`). */
export const KUBE_PROXY_NFT_TABLES = ['ip kube-proxy', 'ip6 kube-proxy'] as const;

/** nftables tables as `<family> <name>` (`nft list tables`); empty when nft is missing. */
export function listNftTables(): string[] {
  const r = spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => /^table (\S+ \S+)$/.exec(l.trim())?.[1])
    .filter((t): t is string => t !== undefined)
    .sort();
}

/**
 * Creates the node's pod bridge with the pods' gateway address on it, before the API server binds
 * that address (the CNI bridge plugin would create it only with the first pod). Teardown deletes
 * the bridge, and the address and route go with it.
 *
 * @example
 * createPodBridge('dbaas0', '10.244.0.1/24');
 */
export function createPodBridge(bridge: string, gatewayCidr: string): void {
  const ip = (args: string[]) => {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${(r.stderr ?? '').trim() || `exit ${r.status}`}`);
  };
  if (!linkExists(bridge)) ip(['link', 'add', bridge, 'type', 'bridge']);
  const shown = spawnSync('ip', ['-o', '-4', 'addr', 'show', 'dev', bridge], { encoding: 'utf8' }).stdout ?? '';
  if (!shown.includes(` ${gatewayCidr} `)) ip(['addr', 'add', gatewayCidr, 'dev', bridge]);
  ip(['link', 'set', bridge, 'up']);
}

function readRecord(): NodeHostRecord | undefined {
  try {
    return JSON.parse(readFileSync(NODE_RECORD_FILE, 'utf8')) as NodeHostRecord;
  } catch {
    return undefined;
  }
}

function writeRecord(record: NodeHostRecord): void {
  mkdirSync(path.dirname(NODE_RECORD_FILE), { recursive: true, mode: 0o700 });
  const tmp = `${NODE_RECORD_FILE}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(record, null, 2), { mode: 0o600 });
  renameSync(tmp, NODE_RECORD_FILE);
}

/**
 * Why this process (or one with the given platform and uid) cannot run a node here, or undefined
 * when it can.
 *
 * @example
 * nodeUnavailableReason({ platform: 'linux', uid: 1000 }); // '... needs root ...'
 */
export function nodeUnavailableReason(
  as: { platform: NodeJS.Platform; uid: number | undefined } = { platform: process.platform, uid: process.getuid?.() },
): string | undefined {
  if (as.platform !== 'linux') return `a node needs Linux (this is ${as.platform})`;
  if (as.uid !== undefined && as.uid !== 0) {
    return 'a node (kubelet, containerd) needs root: it mounts volumes and creates network namespaces; run as root, or use the minikube backend';
  }
  return undefined;
}

/**
 * Takes the machine's one node slot for `stateDir`. Refuses while another live node holds it; a
 * node whose owners are all gone is cleaned up first (processes, mounts, network, cgroups, sysctls).
 *
 * @example
 * const record = claimNodeSlot({ stateDir, ownerPids: [process.pid], bridge: 'dbaas0' }, console.error);
 */
export function claimNodeSlot(input: { stateDir: string; ownerPids: number[]; bridge: string }, log: (line: string) => void): NodeHostRecord {
  const existing = readRecord();
  if (existing) {
    const alive = existing.ownerPids.filter((p) => pidRunning(p));
    if (alive.length > 0 && existing.stateDir !== input.stateDir) {
      throw new Error(
        `another local cluster node is running on this machine (state ${existing.stateDir}, owner pid ${alive.join('/')}): ` +
          'one node per machine, because the kubelet and containerd use machine-wide paths and ports. ' +
          'Stop it first (`npx dbaas-testing down`, or end the test run that owns it).',
      );
    }
    const left = releaseNodeHost(existing, log);
    if (left.length > 0) {
      throw new Error(`could not clean up the node a dead run left (state ${existing.stateDir}): ${left.join('; ')}`);
    }
  }
  const createdDirs = [
    MACHINE_WIDE_PATHS.containerLogs,
    MACHINE_WIDE_PATHS.devicePlugins,
    '/var/lib/kubelet',
    MACHINE_WIDE_PATHS.cniCache,
    MACHINE_WIDE_PATHS.containerdRun,
    MACHINE_WIDE_PATHS.netns,
  ].filter((d) => !existsSync(d));
  const record: NodeHostRecord = {
    stateDir: input.stateDir,
    ownerPids: input.ownerPids,
    bridge: input.bridge,
    sysctls: readNodeSysctls(),
    nftTablesBefore: listNftTables(),
    createdDirs,
    netnsBefore: listDir(MACHINE_WIDE_PATHS.netns),
    cgroupsBefore: topLevelCgroups(),
    shimSocketsBefore: listDir(SHIM_SOCKETS),
    startedAt: new Date().toISOString(),
  };
  writeRecord(record);
  return record;
}

/** Adds an owner (the supervisor of `dbaas-testing up`) to the node record. */
export function addNodeOwner(stateDir: string, pid: number): void {
  const rec = readRecord();
  if (!rec || rec.stateDir !== stateDir || rec.ownerPids.includes(pid)) return;
  writeRecord({ ...rec, ownerPids: [...rec.ownerPids, pid] });
}

/** The node record when its owners are all gone (a crashed run), else undefined. */
export function staleNodeRecord(): NodeHostRecord | undefined {
  const rec = readRecord();
  if (!rec) return undefined;
  return rec.ownerPids.some((p) => pidRunning(p)) ? undefined : rec;
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

function waitGone(pids: () => number[], ms: number): void {
  const deadline = Date.now() + ms;
  while (pids().length > 0 && Date.now() < deadline) spawnSync('sleep', ['0.05']);
}

/** The containerd namespace of the kubelet's containers; also their cgroup parent here (no per-QoS cgroups). */
const CRI_NAMESPACE = 'k8s.io';

/** Task directories (one per container and pod sandbox) of the node's containerd. */
function taskDirs(stateDir: string): { id: string; dir: string }[] {
  const tasks = path.join(nodeLayout(stateDir).containerdState, 'io.containerd.runtime.v2.task', CRI_NAMESPACE);
  return listDir(tasks).map((id) => ({ id, dir: path.join(tasks, id) }));
}

/** Pids of containers (and the pause processes) that containerd started under `stateDir`. */
function containerInitPids(stateDir: string): number[] {
  const pids: number[] = [];
  for (const { dir } of taskDirs(stateDir)) {
    try {
      const pid = Number(readFileSync(path.join(dir, 'init.pid'), 'utf8').trim());
      if (pid > 1 && pidRunning(pid)) pids.push(pid);
    } catch {
      // no init.pid: never started, or already cleaned
    }
  }
  return pids;
}

/** The cgroup directories of the node's containers, in every hierarchy. */
function containerCgroups(stateDir: string): string[] {
  const out: string[] = [];
  const ids = taskDirs(stateDir).map((t) => t.id);
  for (const h of cgroupHierarchies()) {
    for (const id of ids) {
      const dir = path.join(h, CRI_NAMESPACE, id);
      if (existsSync(dir)) out.push(dir);
    }
  }
  return out;
}

/** Processes still attached to a cgroup directory (and its children). */
function cgroupPids(dir: string): number[] {
  const out: number[] = [];
  const visit = (d: string) => {
    try {
      for (const line of readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n')) {
        if (/^\d+$/.test(line)) out.push(Number(line));
      }
    } catch {
      return;
    }
    for (const e of listDir(d)) {
      try {
        if (lstatSync(path.join(d, e)).isDirectory()) visit(path.join(d, e));
      } catch {
        // gone meanwhile
      }
    }
  };
  visit(dir);
  return out;
}

function removeCgroupTree(dir: string): boolean {
  for (const e of listDir(dir)) {
    const child = path.join(dir, e);
    try {
      if (lstatSync(child).isDirectory() && !removeCgroupTree(child)) return false;
    } catch {
      // gone
    }
  }
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** Where containerd 1.6 puts its shims' sockets, whatever its state directory. */
const SHIM_SOCKETS = path.join(MACHINE_WIDE_PATHS.containerdRun, 's');

/** Paths of unix sockets some process listens on (from /proc/net/unix). */
function listeningUnixSockets(): Set<string> {
  const out = new Set<string>();
  try {
    for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
      const p = line.trim().split(/\s+/)[7];
      if (p?.startsWith('/')) out.add(p);
    }
  } catch {
    // no /proc/net/unix: keep everything
  }
  return out;
}

function machineWideDirsDeepestFirst(dirs: string[]): string[] {
  const all = new Set<string>();
  for (const d of dirs) {
    all.add(d);
    // /var/lib/kubelet/device-plugins: the kubelet also made its parent when that was missing.
    if (d === MACHINE_WIDE_PATHS.devicePlugins) all.add(path.dirname(d));
  }
  return [...all].sort((a, b) => b.length - a.length);
}

function listCgroupChildren(dir: string): string[] {
  return listDir(dir).filter((e) => {
    try {
      return lstatSync(path.join(dir, e)).isDirectory();
    } catch {
      return false;
    }
  });
}

/** Removes a tree of empty directories (no files): what containerd leaves in /run/containerd. */
function removeEmptyTree(dir: string): void {
  for (const e of listDir(dir)) {
    const child = path.join(dir, e);
    try {
      if (lstatSync(child).isDirectory()) removeEmptyTree(child);
    } catch {
      // gone
    }
  }
  try {
    rmdirSync(dir);
  } catch {
    // not empty: someone else's
  }
}

function linkExists(name: string): boolean {
  return existsSync(path.join('/sys/class/net', name));
}

/**
 * Undoes everything the node did to the machine, in an order that works after a SIGKILL of every
 * component: container processes, mounts, network namespaces (their veths go with them), the bridge,
 * the kubelet's log links and machine-wide files, cgroup directories, sysctls; then removes the
 * record. Synchronous, so the process 'exit' handler can run it. Returns what could not be undone.
 *
 * @example
 * const left = releaseNodeHost(record, console.error);
 */
export function releaseNodeHost(record: NodeHostRecord, log: (line: string) => void): string[] {
  const left: string[] = [];
  const layout = nodeLayout(record.stateDir);
  const shimNames = ['containerd-shim-runc-v2', 'containerd-shim'];
  // kube-proxy before its tables are deleted (it would write them again); CoreDNS binds the bridge's address.
  const daemons = ['kubelet', 'containerd', 'csi-node-driver-registrar', 'kube-proxy', 'coredns', ...shimNames];
  const ourProcesses = () => [...containerInitPids(record.stateDir), ...processesMentioning(record.stateDir, daemons)];
  // Containers first (their init's death ends their pid namespace), then shims and daemons.
  killAll(containerInitPids(record.stateDir));
  killAll(processesMentioning(record.stateDir, daemons));
  waitGone(ourProcesses, 5000);
  // A process a container forked into another pid namespace would survive its init: its cgroup knows it.
  for (const cg of containerCgroups(record.stateDir)) killAll(cgroupPids(cg));
  const stillRunning = ourProcesses();
  if (stillRunning.length > 0) left.push(`processes still running: ${stillRunning.join(', ')}`);

  const stuck = unmountAllUnder(layout.root);
  if (stuck.length > 0) left.push(`mounts still present: ${stuck.join(', ')}`);

  const netnsBefore = new Set(record.netnsBefore);
  for (const ns of listDir(MACHINE_WIDE_PATHS.netns)) {
    if (netnsBefore.has(ns) || !ns.startsWith('cni-')) continue;
    const p = path.join(MACHINE_WIDE_PATHS.netns, ns);
    spawnSync('umount', [p], { stdio: 'ignore' });
    try {
      rmSync(p, { force: true });
    } catch (err) {
      left.push(`network namespace ${p}: ${(err as Error).message}`);
    }
  }
  if (linkExists(record.bridge)) {
    const r = spawnSync('ip', ['link', 'delete', record.bridge], { encoding: 'utf8' });
    if (r.status !== 0) left.push(`bridge ${record.bridge}: ${(r.stderr ?? '').trim()}`);
  }
  // kube-proxy's tables, unless they were there before the node (another kube-proxy's).
  const tablesBefore = new Set(record.nftTablesBefore ?? []);
  const tablesNow = new Set(listNftTables());
  for (const table of KUBE_PROXY_NFT_TABLES) {
    if (tablesBefore.has(table) || !tablesNow.has(table)) continue;
    const r = spawnSync('nft', ['delete', 'table', ...table.split(' ')], { encoding: 'utf8' });
    if (r.status !== 0) left.push(`nftables table ${table}: ${(r.stderr ?? '').trim()}`);
  }

  for (const entry of listDir(MACHINE_WIDE_PATHS.containerLogs)) {
    const link = path.join(MACHINE_WIDE_PATHS.containerLogs, entry);
    try {
      if (lstatSync(link).isSymbolicLink() && readlinkSync(link).startsWith(`${layout.kubeletPodLogs}/`)) rmSync(link);
    } catch {
      // gone meanwhile
    }
  }
  for (const entry of listDir(path.join(MACHINE_WIDE_PATHS.cniCache, 'results'))) {
    if (entry.startsWith('dbaas-local-')) rmSync(path.join(MACHINE_WIDE_PATHS.cniCache, 'results', entry), { force: true });
  }
  rmSync(path.join(MACHINE_WIDE_PATHS.devicePlugins, 'kubelet.sock'), { force: true });
  // Sockets of the shims we killed: new since the node started and nobody listens on them any more.
  const before = new Set(record.shimSocketsBefore ?? []);
  const listening = listeningUnixSockets();
  for (const entry of listDir(SHIM_SOCKETS)) {
    const p = path.join(SHIM_SOCKETS, entry);
    if (!before.has(entry) && !listening.has(p)) rmSync(p, { force: true });
  }
  if (record.createdDirs.includes(MACHINE_WIDE_PATHS.containerdRun)) {
    rmSync(path.join(MACHINE_WIDE_PATHS.containerdRun, 'fifo'), { recursive: true, force: true });
  }
  // Directories the node created, deepest first, when nothing else has put anything in them since.
  for (const dir of machineWideDirsDeepestFirst(record.createdDirs)) {
    try {
      rmdirSync(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' && dir === MACHINE_WIDE_PATHS.containerdRun) removeEmptyTree(dir);
      else if (code !== 'ENOENT' && code !== 'ENOTEMPTY') left.push(`${dir}: ${(err as Error).message}`);
    }
  }

  for (const cg of containerCgroups(record.stateDir)) {
    if (!removeCgroupTree(cg)) left.push(`cgroup ${cg} still has processes`);
  }
  for (const h of cgroupHierarchies()) {
    const parent = path.join(h, CRI_NAMESPACE);
    if (!(record.cgroupsBefore[h] ?? []).includes(CRI_NAMESPACE) && existsSync(parent) && listCgroupChildren(parent).length === 0) {
      removeCgroupTree(parent);
    }
  }

  for (const [name, value] of Object.entries(record.sysctls)) {
    if (readSysctl(name) === value) continue;
    try {
      writeFileSync(path.join('/proc/sys', name), value);
      log(`[dbaas-testing] sysctl ${name.replace(/\//g, '.')} restored to ${value}`);
    } catch (err) {
      left.push(`sysctl ${name} = ${value}: ${(err as Error).message}`);
    }
  }

  if (left.length === 0) {
    rmSync(NODE_RECORD_FILE, { force: true });
    try {
      rmdirSync(path.dirname(NODE_RECORD_FILE)); // ours, and empty once the record is gone
    } catch {
      // another file in it, or already gone
    }
  }
  return left;
}
