import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  StorageV1Api,
  setHeaderOptions,
  loadYaml,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { loadVersions, resolveBinaries, snapshotCrdDir, type ClusterTool } from './binaries.js';
import { probe } from './http.js';
import { newAdminCredentials, newServiceAccountKeyPair, writeKubeconfig, writeTokenFile, type AdminCredentials } from './kubeconfig.js';
import { ManagedProcess, freePort, pidRunning, processesMentioning, waitFor } from './process.js';
import { runCommand } from './binaries.js';
import { cniConfig, containerdConfig, corefile, kubeProxyConfig, kubeletConfig, nodeLayout, type NodeLayout } from './node/config.js';
import { claimNodeSlot, createPodBridge, nodeUnavailableReason, releaseNodeHost, staleNodeRecord, type NodeHostRecord } from './node/host.js';
import { writeKubeletPki } from './node/pki.js';
import {
  CNPG_IMAGE_NAMES,
  PAUSE_IMAGE,
  TEST_IMAGE_NAMES,
  buildTestImages,
  cnpgManagerUnavailable,
  importTestImages,
  type TestImageName,
} from '../node/images.js';
import { unmountAllUnder } from './mounts.js';
import { btrfsUnavailable, detachLoopDevicesUnder, loopBtrfsLayout, makeLoopBtrfs } from './btrfs.js';

/** Name of the Immediate-binding StorageClass of the hostpath driver. */
export const STORAGE_CLASS = 'csi-hostpath-sc';
/** Name of the WaitForFirstConsumer StorageClass of the hostpath driver. */
export const STORAGE_CLASS_WFFC = 'csi-hostpath-sc-wffc';
/** Name of the VolumeSnapshotClass of the hostpath driver. */
export const SNAPSHOT_CLASS = 'csi-hostpath-snapclass';
/** The hostpath driver's VolumeGroupSnapshotClass (group snapshots are GA in external-snapshotter v8.7.0). */
export const GROUP_SNAPSHOT_CLASS = 'csi-hostpath-groupsnapclass';
/** CSI driver name of the hostpath plugin. */
export const HOSTPATH_DRIVER = 'hostpath.csi.k8s.io';
/**
 * CSI driver name of the project's own test driver on btrfs (packages/testing/go/btrfs-csi), whose
 * snapshots are atomic: read-only btrfs subvolume snapshots.
 *
 * @example
 * if (!cluster.btrfsUnavailable) expect(pv.spec?.csi?.driver).toBe(BTRFS_DRIVER);
 */
export const BTRFS_DRIVER = 'btrfs.test.csi.kubectl-dbaas.io';
/**
 * Name of the (Immediate-binding) StorageClass of the btrfs driver.
 *
 * @example
 * const pvc = { spec: { storageClassName: BTRFS_STORAGE_CLASS, accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } };
 */
export const BTRFS_STORAGE_CLASS = 'dbaas-btrfs';
/**
 * Name of the VolumeSnapshotClass of the btrfs driver.
 *
 * @example
 * const vs = { spec: { volumeSnapshotClassName: BTRFS_SNAPSHOT_CLASS, source: { persistentVolumeClaimName: 'data' } } };
 */
export const BTRFS_SNAPSHOT_CLASS = 'dbaas-btrfs-snapclass';
/**
 * The local cluster's CSI drivers by their short names, with the StorageClass and
 * VolumeSnapshotClass of each: the one table benchmarks and tests choose a driver from.
 *
 * @example
 * const { storageClass, snapshotClass } = LOCAL_DRIVER_CLASSES.btrfs;
 */
export const LOCAL_DRIVER_CLASSES = {
  hostpath: { storageClass: STORAGE_CLASS, snapshotClass: SNAPSHOT_CLASS },
  btrfs: { storageClass: BTRFS_STORAGE_CLASS, snapshotClass: BTRFS_SNAPSHOT_CLASS },
} as const;
/** A short name of {@link LOCAL_DRIVER_CLASSES}. */
export type LocalDriver = keyof typeof LOCAL_DRIVER_CLASSES;
/** Size of the btrfs filesystem's image file (sparse: it takes only what is written). */
const BTRFS_IMAGE_BYTES = 16 * 1024 ** 3;

/**
 * The node's name: the kubelet registers it (`--hostname-override`) and the hostpath plugin serves it
 * (`--nodeid`). Without a kubelet (not root), a bare Node object of this name is created so that a
 * WaitForFirstConsumer PVC with `volume.kubernetes.io/selected-node` set to it is still provisioned.
 */
export const LOCAL_NODE_NAME = 'dbaas-local-node';

/** The Linux bridge of the node's pod network (one node per machine, so one fixed name). */
export const NODE_BRIDGE = 'dbaas0';
/** The pods' subnet: on the bridge only, no route out of the machine. */
export const POD_SUBNET = '10.244.0.0/24';
/**
 * The host's address on the pod bridge: the pods' default gateway (through which kube-proxy's rules
 * give them Service addresses), where the API server listens (pods reach it as the `kubernetes`
 * Service) and where CoreDNS answers (the kubelet's `clusterDNS`).
 */
export const POD_GATEWAY = '10.244.0.1';
/** The Service (ClusterIP) range; the `kubernetes` Service is its first address. */
export const SERVICE_CIDR = '10.96.0.0/16';

/** Debian's containerd (1.6 on bookworm). */
const CONTAINERD_BIN = '/usr/bin/containerd';
/** Debian's `containernetworking-plugins`. */
const CNI_BIN_DIR = '/usr/lib/cni';

/** The machine's tools a node needs that are not built by the project; undefined when all are there. */
export async function missingNodeTools(): Promise<string | undefined> {
  const needed: [string, string][] = [
    [CONTAINERD_BIN, 'containerd'],
    ['/usr/bin/ctr', 'containerd'],
    ['/usr/sbin/runc', 'runc'],
    [path.join(CNI_BIN_DIR, 'bridge'), 'containernetworking-plugins'],
    [path.join(CNI_BIN_DIR, 'host-local'), 'containernetworking-plugins'],
    ['/usr/bin/openssl', 'openssl'],
  ];
  const missing = needed.filter(([file]) => !existsSync(file));
  if (missing.length === 0) return undefined;
  const packages = [...new Set(missing.map(([, pkg]) => pkg))];
  return `missing ${missing.map(([f]) => f).join(', ')}: install Debian's ${packages.join(' ')} (apt-get install ${packages.join(' ')})`;
}

/** `ctr` against the node's containerd. */
function ctr(node: NodeLayout, args: string[]) {
  return runCommand('/usr/bin/ctr', ['--address', node.containerdSocket, ...args], { timeoutMs: 300_000 });
}

/** Components in start order (teardown runs in reverse). */
export const COMPONENTS = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'snapshot-controller',
  'hostpathplugin',
  'csi-provisioner',
  'csi-snapshotter',
  'btrfs-csi',
  'btrfs-csi-provisioner',
  'btrfs-csi-snapshotter',
  'containerd',
  'csi-node-driver-registrar',
  'btrfs-csi-registrar',
  'kubelet',
  'kube-proxy',
  'coredns',
] as const;

/** The node's components (kubelet and what it needs on the machine). */
const NODE_COMPONENTS: readonly ComponentName[] = ['containerd', 'csi-node-driver-registrar', 'btrfs-csi-registrar', 'kubelet', 'kube-proxy', 'coredns'];

/** The btrfs driver's sidecars: the same binaries as the hostpath driver's, a second instance each. */
const BTRFS_SIDECARS: readonly ComponentName[] = ['btrfs-csi-provisioner', 'btrfs-csi-snapshotter', 'btrfs-csi-registrar'];

/**
 * The executables of the components: how leftovers are found by command line. Each has its
 * component's name, but the btrfs driver's sidecars, which are csi-provisioner, csi-snapshotter
 * and csi-node-driver-registrar again.
 */
const COMPONENT_BINARIES = COMPONENTS.filter((name) => !BTRFS_SIDECARS.includes(name));

/** One of {@link COMPONENTS}. */
export type ComponentName = (typeof COMPONENTS)[number];

/** Per-component state as `status` shows it. */
export interface ComponentStatus {
  name: ComponentName;
  state: 'running' | 'exited' | 'unavailable' | 'not started';
  pid?: number | undefined;
  logFile?: string | undefined;
  detail?: string | undefined;
}

/** What a running cluster records in `<stateDir>/cluster.json` (for `dbaas-testing status|down`). */
export interface ClusterRecord {
  stateDir: string;
  kubeconfig: string;
  server: string;
  supervisorPid?: number;
  /** The process that started the cluster (whose exit handler tears it down). */
  ownerPid: number;
  hostpathStateDir: string;
  hostpathUnavailable?: string;
  /** Why the btrfs driver is not running; absent when it is. */
  btrfsUnavailable?: string;
  /** Why CloudNativePG cannot be installed (`installCnpgOperator`); absent when it can. */
  cnpgUnavailable?: string;
  /** The btrfs driver's `--root` (its loop-mounted filesystem), when it runs. */
  btrfsRoot?: string;
  nodeUnavailable?: string;
  components: { name: ComponentName; pid?: number; logFile?: string; health?: string; detail?: string }[];
  /** Every TCP port the components listen on (loopback). */
  ports: number[];
  startedAt: string;
  startSeconds: number;
}

/** Options of {@link LocalCluster.start}. */
export interface LocalClusterOptions {
  /** Prebuilt binaries; default `$DBAAS_TESTING_BIN_DIR`. */
  binDir?: string;
  /** Build missing binaries (default true). */
  build?: boolean;
  /** Progress lines. Default: `console.error`. */
  log?: (line: string) => void;
  /** Seconds to wait for each component to become ready. Default 120. */
  readyTimeoutSeconds?: number;
  /** Grace period between SIGTERM and SIGKILL at teardown, ms. Default 10 000. */
  stopGraceMs?: number;
  /** Start only etcd and kube-apiserver (fast; for teardown tests). Default false. */
  controlPlaneOnly?: boolean;
  /** Skip the hostpath plugin even when it is available. Default false. */
  withoutHostpath?: boolean;
  /** Skip the btrfs driver (and its loop-mounted filesystem) even where it can run. Default false. */
  withoutBtrfs?: boolean;
  /** Size of the btrfs filesystem's image file (sparse). Default 16 GiB. */
  btrfsImageBytes?: number;
  /** Start no node (kubelet, containerd) even where one can run. Default false. */
  withoutNode?: boolean;
  /**
   * The test images (built locally, see `node/images.ts`) the node's containerd gets before the
   * kubelet starts. Default: pause, postgres 14-18, mariadb, and CloudNativePG's operator and
   * operand images when its manager binary is at hand (else `cnpgUnavailable` says why). The pause
   * image is always included: it is every pod's sandbox.
   */
  nodeImages?: readonly TestImageName[];
}

const live = new Set<LocalCluster>();
let handlersInstalled = false;

function installProcessHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // Last resort when the process exits without stop() (uncaught error, process.exit): synchronous kill
  // of every component, unmount, and removal of the state directories.
  process.on('exit', () => {
    for (const c of live) c.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      const code = 128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1);
      const clusters = [...live];
      void Promise.allSettled(clusters.map((c) => c.stop())).then(() => process.exit(code));
      // A second signal, or a stuck teardown, ends it the hard way (the 'exit' handler still cleans up).
      setTimeout(() => process.exit(code), 30_000).unref();
    });
  }
}

/**
 * Clusters whose owning process died without any teardown (SIGKILL, OOM): kills their components
 * (only pids whose command line still names that state directory) and removes the directory.
 * Runs at every {@link LocalCluster.start}.
 *
 * @example
 * await reapStaleClusters(console.log);
 */
export async function reapStaleClusters(log: (line: string) => void = () => undefined): Promise<string[]> {
  const reaped: string[] = [];
  const staleNode = staleNodeRecord();
  if (staleNode) {
    log(`[dbaas-testing] cleaning up the node of a dead run (state ${staleNode.stateDir})`);
    const left = releaseNodeHost(staleNode, log);
    if (left.length > 0) log(`[dbaas-testing] could not undo: ${left.join('; ')}`);
  }
  const root = tmpdir();
  let entries: string[] = [];
  try {
    entries = (await readdir(root)).filter((e) => e.startsWith('dbaas-cluster-'));
  } catch {
    return reaped;
  }
  for (const entry of entries) {
    const dir = path.join(root, entry);
    let record: Partial<ClusterRecord>;
    try {
      const st = await stat(dir);
      if (typeof process.getuid === 'function' && st.uid !== process.getuid()) continue;
      record = JSON.parse(await readFile(path.join(dir, 'cluster.json'), 'utf8')) as Partial<ClusterRecord>;
    } catch {
      continue; // no record (yet): starting, or not ours
    }
    const owners = [record.ownerPid, record.supervisorPid].filter((p): p is number => typeof p === 'number');
    if (owners.length === 0 || owners.some((p) => pidRunning(p))) continue;
    // Every component has the state directory in its arguments; the record may miss one that was
    // being spawned when the owner died.
    for (const pid of processesMentioning(dir, COMPONENT_BINARIES)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    const deadline = Date.now() + 5000;
    while (processesMentioning(dir, COMPONENT_BINARIES).length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const left = [...unmountAllUnder(dir), ...detachLoopDevicesUnder(dir)];
    if (left.length === 0) {
      await rm(dir, { recursive: true, force: true });
      reaped.push(dir);
      log(`[dbaas-testing] removed stale cluster ${dir} (owner pid ${owners.join('/')} is gone)`);
    }
  }
  return reaped;
}

/**
 * A real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager), the snapshot
 * controller and, when its binary is available, the CSI hostpath plugin with csi-provisioner and
 * csi-snapshotter, all as plain processes on loopback and unix sockets, and, where the machine
 * allows one (root, containerd, runc, the CNI plugins; `nodeUnavailable` says why not), a node: a
 * kubelet with containerd that runs the pods (docs/testing-cluster.md).
 *
 * @example
 * const cluster = await LocalCluster.start();
 * try {
 *   const kc = cluster.kubeConfig();
 *   // ... talk to the cluster, or run `kubectl --kubeconfig cluster.kubeconfigPath ...`
 * } finally {
 *   await cluster.stop();
 * }
 */
export class LocalCluster {
  /** Temporary directory (fs.mkdtemp under os.tmpdir()) holding everything; removed by stop(). */
  readonly stateDir: string;
  /** Kubeconfig for `kubectl` and `@kubernetes/client-node` (mode 0600: it holds the admin token). */
  readonly kubeconfigPath: string;
  /** The hostpath plugin's `--statedir`: volume `<handle>` lives in `<hostpathStateDir>/<handle>`. */
  readonly hostpathStateDir: string;
  /** Why the hostpath plugin is not running, or undefined when it is. */
  hostpathUnavailable: string | undefined;
  /** Why the btrfs driver is not running, or undefined when it is. */
  btrfsUnavailable: string | undefined;
  /**
   * Why CloudNativePG cannot be installed on this cluster (no node, no manager binary, its images
   * not among `nodeImages`), or undefined when `installCnpgOperator` can install it.
   */
  cnpgUnavailable: string | undefined;
  /**
   * The btrfs driver's `--root`, the mount point of its filesystem (an image file under the state
   * directory, loop-mounted): volume `<handle>` is `<btrfsRoot>/volumes/<handle>`.
   */
  readonly btrfsRoot: string;
  /** Why there is no node (kubelet, containerd), or undefined when there is one. */
  nodeUnavailable: string | undefined;
  /** Where the node's files live (under {@link stateDir}). */
  readonly node: NodeLayout;
  /** `https://127.0.0.1:<port>` of kube-apiserver. */
  server = '';
  /** Seconds from start() to ready. */
  startSeconds = 0;

  private readonly opts: LocalClusterOptions;
  private readonly procs = new Map<ComponentName, ManagedProcess>();
  /** How each component was started, for {@link restartComponent}. */
  private readonly launches = new Map<ComponentName, { bin: string; args: string[] }>();
  private readonly health = new Map<ComponentName, string>();
  private readonly portsUsed: number[] = [];
  private admin: AdminCredentials | undefined;
  private nodeHost: NodeHostRecord | undefined;
  private stopping: Promise<void> | undefined;
  private destroyed = false;

  private constructor(stateDir: string, opts: LocalClusterOptions) {
    this.stateDir = stateDir;
    this.kubeconfigPath = path.join(stateDir, 'kubeconfig');
    this.hostpathStateDir = path.join(stateDir, 'hostpath');
    this.btrfsRoot = loopBtrfsLayout(this.btrfsDir).mountPoint;
    this.node = nodeLayout(stateDir);
    this.opts = opts;
  }

  /**
   * Builds or finds the binaries, starts every component in order and waits until each is ready,
   * the snapshot CRDs are Established and the storage and snapshot classes exist. On any failure
   * it tears down what it started and rethrows.
   *
   * @example
   * await using cluster = await LocalCluster.start({ log: console.log });
   */
  static async start(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
    const t0 = Date.now();
    const log = opts.log ?? ((l: string) => console.error(l));
    const bins = await resolveBinaries({
      binDir: opts.binDir,
      build: opts.build,
      log,
      withoutCsiDriver: opts.withoutHostpath,
      withoutBtrfsDriver: opts.withoutBtrfs,
    });
    await reapStaleClusters(log);
    const stateDir = await mkdtemp(path.join(tmpdir(), 'dbaas-cluster-'));
    const cluster = new LocalCluster(stateDir, opts);
    live.add(cluster);
    installProcessHandlers();
    try {
      await cluster.boot(
        bins.paths,
        opts.withoutHostpath ? 'disabled by option withoutHostpath' : bins.hostpathUnavailable,
        opts.withoutBtrfs ? 'disabled by option withoutBtrfs' : bins.btrfsDriverUnavailable,
      );
      cluster.startSeconds = Math.round((Date.now() - t0) / 100) / 10;
      await cluster.writeRecord();
      log(`[dbaas-testing] cluster ready in ${cluster.startSeconds}s: KUBECONFIG=${cluster.kubeconfigPath}`);
      if (cluster.hostpathUnavailable) log(`[dbaas-testing] CSI hostpath plugin unavailable: ${cluster.hostpathUnavailable}`);
      if (cluster.btrfsUnavailable) log(`[dbaas-testing] btrfs CSI driver unavailable: ${cluster.btrfsUnavailable}`);
      if (cluster.nodeUnavailable) log(`[dbaas-testing] no node: ${cluster.nodeUnavailable}`);
      else if (cluster.cnpgUnavailable) log(`[dbaas-testing] CloudNativePG unavailable: ${cluster.cnpgUnavailable}`);
      return cluster;
    } catch (err) {
      await cluster.stop().catch(() => undefined);
      throw err;
    }
  }

  /** A `KubeConfig` of `@kubernetes/client-node` loaded from {@link kubeconfigPath}. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  /** Directory of a provisioned hostpath volume (where kubelet would mount it). */
  volumeDir(volumeHandle: string): string {
    if (!/^[\w.-]+$/.test(volumeHandle)) throw new Error(`unexpected volume handle ${JSON.stringify(volumeHandle)}`);
    return path.join(this.hostpathStateDir, volumeHandle);
  }

  /** Process ids of the running components (for leak checks). */
  pids(): Partial<Record<ComponentName, number>> {
    const out: Partial<Record<ComponentName, number>> = {};
    for (const [name, p] of this.procs) if (p.running) out[name] = p.pid;
    return out;
  }

  /** Every loopback TCP port the components were given (for leak checks). */
  ports(): number[] {
    return [...this.portsUsed];
  }

  /** Per-component state. */
  status(): ComponentStatus[] {
    return COMPONENTS.map((name): ComponentStatus => {
      const p = this.procs.get(name);
      if (p) {
        return {
          name,
          state: p.running ? 'running' : 'exited',
          pid: p.pid,
          logFile: p.logFile,
          ...(this.health.get(name) ? { detail: this.health.get(name) } : {}),
        };
      }
      if (this.hostpathUnavailable && name === 'hostpathplugin') {
        return { name, state: 'unavailable', detail: `CSI hostpath plugin unavailable: ${this.hostpathUnavailable}` };
      }
      if (this.hostpathUnavailable && (name === 'csi-provisioner' || name === 'csi-snapshotter')) {
        return { name, state: 'not started', detail: 'needs the CSI hostpath plugin socket' };
      }
      if (this.btrfsUnavailable && name === 'btrfs-csi') {
        return { name, state: 'unavailable', detail: `btrfs CSI driver unavailable: ${this.btrfsUnavailable}` };
      }
      if (this.btrfsUnavailable && BTRFS_SIDECARS.includes(name)) {
        return { name, state: 'not started', detail: 'needs the btrfs CSI driver socket' };
      }
      if (this.nodeUnavailable && NODE_COMPONENTS.includes(name)) {
        return { name, state: 'unavailable', detail: `no node: ${this.nodeUnavailable}` };
      }
      return { name, state: 'not started' };
    });
  }

  /**
   * Stops every component in reverse start order (SIGTERM, then SIGKILL after the grace period,
   * waiting for each to exit), unmounts anything mounted under the state directory and removes it.
   * Safe to call more than once.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const grace = this.opts.stopGraceMs ?? 10_000;
      for (const name of [...COMPONENTS].reverse()) {
        const p = this.procs.get(name);
        if (p) await p.stop(grace);
      }
      const left = this.nodeHost ? releaseNodeHost(this.nodeHost, (l) => this.log(l)) : [];
      // The pods' bind mounts of btrfs volumes, then the btrfs filesystem itself, then its loop device.
      const failed = unmountAllUnder(this.stateDir);
      left.push(...detachLoopDevicesUnder(this.stateDir).map((dev) => `loop device ${dev}`));
      if (failed.length === 0 && left.length === 0) await rm(this.stateDir, { recursive: true, force: true });
      live.delete(this);
      this.destroyed = true;
      if (failed.length > 0 || left.length > 0) {
        throw new Error(
          `teardown incomplete: ${[...left, ...failed.map((m) => `mount ${m}`)].join('; ')}; left ${this.stateDir} in place ` +
            '(the next `dbaas-testing up` or `down` retries)',
        );
      }
    })();
    return this.stopping;
  }

  /**
   * Stops one running component (SIGTERM, SIGKILL after the grace period) and starts it again with
   * the same binary and arguments (same ports, certificates and data), for fault tests such as
   * an API server restart during a watch. Waits `downMs` in between (default 0). For
   * kube-apiserver it waits until `/readyz` answers 200 again; other components are only checked
   * to be running.
   *
   * @example
   * await cluster.restartComponent('kube-apiserver', { downMs: 2000 });
   */
  async restartComponent(name: ComponentName, opts: { downMs?: number } = {}): Promise<void> {
    const old = this.procs.get(name);
    const launch = this.launches.get(name);
    if (!old || !launch || this.stopping) throw new Error(`${name} is not running in this cluster`);
    await old.stop(this.opts.stopGraceMs ?? 10_000);
    if (opts.downMs) await new Promise((r) => setTimeout(r, opts.downMs));
    const p = await this.spawn(name, launch.bin, launch.args);
    if (name === 'kube-apiserver') {
      const caFile = path.join(this.stateDir, 'pki', 'apiserver', 'apiserver.crt');
      await waitFor(
        p,
        `${this.server}/readyz`,
        async () => {
          const r = await probe(`${this.server}/readyz`, { token: this.admin!.token, ca: await readFile(caFile) });
          return r.status === 200;
        },
        this.timeoutMs,
      );
    } else {
      await new Promise((r) => setTimeout(r, 500));
      if (!p.running) throw await p.failure('exited right after the restart');
    }
  }

  /** `await using cluster = await LocalCluster.start()` stops it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Synchronous teardown for the process 'exit' handler: SIGKILL all, unmount, remove the state dir. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const name of [...COMPONENTS].reverse()) this.procs.get(name)?.killNow();
    for (const pid of processesMentioning(this.stateDir, COMPONENT_BINARIES)) {
      try {
        process.kill(pid, 'SIGKILL'); // e.g. spawned a moment before the exit
      } catch {
        // gone
      }
    }
    if (this.nodeHost) releaseNodeHost(this.nodeHost, () => undefined);
    // Give the kernel a moment to reap the killed processes before removing their files.
    const deadline = Date.now() + 3000;
    while (
      Date.now() < deadline &&
      ([...this.procs.values()].some((p) => pidRunning(p.pid)) || processesMentioning(this.stateDir, COMPONENT_BINARIES).length > 0)
    ) {
      spawnSync('sleep', ['0.05']);
    }
    const unmounted = unmountAllUnder(this.stateDir).length === 0;
    const detached = detachLoopDevicesUnder(this.stateDir).length === 0;
    if (unmounted && detached) {
      try {
        rmSync(this.stateDir, { recursive: true, force: true });
      } catch {
        // nothing more we can do while exiting
      }
    }
    live.delete(this);
  }

  private get btrfsDir(): string {
    return path.join(this.stateDir, 'btrfs');
  }

  private log(line: string): void {
    (this.opts.log ?? ((l: string) => console.error(l)))(line);
  }

  private get timeoutMs(): number {
    return (this.opts.readyTimeoutSeconds ?? 120) * 1000;
  }

  private async port(): Promise<number> {
    const p = await freePort();
    this.portsUsed.push(p);
    return p;
  }

  private logFile(name: string): string {
    return path.join(this.stateDir, 'logs', `${name}.log`);
  }

  private async spawn(name: ComponentName, bin: string | undefined, args: string[]): Promise<ManagedProcess> {
    if (!bin) throw new Error(`${name}: no binary`);
    this.log(`[dbaas-testing] starting ${name}`);
    const p = await ManagedProcess.start(name, bin, args, this.logFile(name), { cwd: this.stateDir });
    this.procs.set(name, p);
    this.launches.set(name, { bin, args });
    await this.writeRecord(); // so a stale cluster can be reaped even if we die during start
    return p;
  }

  private async boot(
    bins: Partial<Record<ClusterTool, string>>,
    hostpathUnavailable: string | undefined,
    btrfsDriverUnavailable: string | undefined,
  ): Promise<void> {
    const dir = this.stateDir;
    await mkdir(path.join(dir, 'logs'), { recursive: true });
    await mkdir(path.join(dir, 'pki'), { recursive: true, mode: 0o700 });

    // etcd
    const etcdClient = await this.port();
    const etcdPeer = await this.port();
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcd = await this.spawn('etcd', bins.etcd, [
      '--name=dbaas-local',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=dbaas-local=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync=true',
      '--quota-backend-bytes=2147483648',
    ]);
    await waitFor(
      etcd,
      `${etcdUrl}/health`,
      async () => {
        const r = await probe(`${etcdUrl}/health`);
        return r.status === 200 && r.body.includes('"health":"true"');
      },
      this.timeoutMs,
    );
    this.health.set('etcd', etcdUrl);

    // kube-apiserver
    this.admin = newAdminCredentials();
    const pki = path.join(dir, 'pki');
    const tokenFile = path.join(pki, 'tokens.csv');
    await writeTokenFile(tokenFile, this.admin);
    const sa = newServiceAccountKeyPair();
    const saKey = path.join(pki, 'sa.key');
    const saPub = path.join(pki, 'sa.pub');
    await writeFile(saKey, sa.privateKeyPem, { mode: 0o600 });
    await writeFile(saPub, sa.publicKeyPem, { mode: 0o600 });
    // The node is decided before the API server starts: the API server needs its client
    // certificate towards the kubelet (logs, exec, port-forward).
    this.nodeUnavailable = this.opts.controlPlaneOnly
      ? 'not started (controlPlaneOnly)'
      : this.opts.withoutNode
        ? 'not started (withoutNode)'
        : (nodeUnavailableReason() ?? (await missingNodeTools()));
    if (this.nodeUnavailable) this.cnpgUnavailable = `its pods need a node (${this.nodeUnavailable})`;
    else {
      await writeKubeletPki(this.node);
      this.claimNode();
    }
    // containerd and the images' import (the slowest step of a warm start) run while the control
    // plane comes up; the kubelet waits for them.
    const runtimeReady = this.nodeUnavailable ? undefined : this.startContainerRuntime();
    runtimeReady?.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    const apiPort = await this.port();
    const certDir = path.join(pki, 'apiserver');
    // With a node the API server listens on the bridge's host address, which pods reach as the
    // `kubernetes` Service; without one on loopback only.
    const apiAddress = this.nodeUnavailable ? '127.0.0.1' : POD_GATEWAY;
    this.server = `https://${apiAddress}:${apiPort}`;
    const apiserver = await this.spawn('kube-apiserver', bins['kube-apiserver'], [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${apiAddress}`,
      `--advertise-address=${apiAddress}`,
      `--secure-port=${apiPort}`,
      `--cert-dir=${certDir}`,
      `--token-auth-file=${tokenFile}`,
      '--authorization-mode=RBAC',
      '--anonymous-auth=false',
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      // Without a node the "kubernetes" Service's endpoints would point at a loopback address,
      // which the API refuses; with one they point at the bridge address pods reach.
      `--endpoint-reconciler-type=${this.nodeUnavailable ? 'none' : 'lease'}`,
      '--disable-admission-plugins=TaintNodesByCondition',
      '--allow-privileged=true',
      '--profiling=false',
      ...(this.nodeUnavailable
        ? []
        : [
            `--kubelet-client-certificate=${this.node.apiserverKubeletClientCert}`,
            `--kubelet-client-key=${this.node.apiserverKubeletClientKey}`,
            '--kubelet-preferred-address-types=InternalIP',
          ]),
    ]);
    const caFile = path.join(certDir, 'apiserver.crt');
    await waitFor(
      apiserver,
      `${this.server}/readyz`,
      async () => {
        if (!existsSync(caFile)) return false;
        const r = await probe(`${this.server}/readyz`, { token: this.admin!.token, ca: await readFile(caFile) });
        return r.status === 200;
      },
      this.timeoutMs,
    );
    this.health.set('kube-apiserver', `${this.server}/readyz ok`);
    const caPem = await readFile(caFile, 'utf8');
    await writeKubeconfig(this.kubeconfigPath, { server: this.server, caPem, admin: this.admin });
    await writeFile(path.join(pki, 'ca.crt'), caPem);
    await this.writeRecord();
    if (this.opts.controlPlaneOnly) {
      this.hostpathUnavailable = 'not started (controlPlaneOnly)';
      this.btrfsUnavailable = 'not started (controlPlaneOnly)';
      return;
    }

    // kube-controller-manager: only the controllers a storage test cluster needs.
    const kcmPort = await this.port();
    const kcm = await this.spawn('kube-controller-manager', bins['kube-controller-manager'], [
      `--kubeconfig=${this.kubeconfigPath}`,
      `--authentication-kubeconfig=${this.kubeconfigPath}`,
      `--authorization-kubeconfig=${this.kubeconfigPath}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      `--cert-dir=${path.join(pki, 'kube-controller-manager')}`,
      '--leader-elect=false',
      '--use-service-account-credentials=false',
      `--service-account-private-key-file=${saKey}`,
      `--root-ca-file=${path.join(pki, 'ca.crt')}`,
      '--controllers=' +
        [
          'persistentvolume-binder-controller',
          'persistentvolumeclaim-protection-controller',
          'persistentvolume-protection-controller',
          'namespace-controller',
          'garbage-collector-controller',
          'serviceaccount-controller',
          'serviceaccount-token-controller',
          'root-ca-certificate-publisher-controller',
          'clusterrole-aggregation-controller',
          // What pods of a user's workloads need: StatefulSets, Deployments, Jobs, and their cleanup.
          'statefulset-controller',
          'deployment-controller',
          'replicaset-controller',
          'job-controller',
          'ttl-after-finished-controller',
          'pod-garbage-collector-controller',
          'resourcequota-controller',
          'endpointslice-controller',
          'persistentvolume-attach-detach-controller',
        ].join(','),
      '--profiling=false',
    ]);
    await waitFor(
      kcm,
      `https://127.0.0.1:${kcmPort}/healthz`,
      async () => {
        const r = await probe(`https://127.0.0.1:${kcmPort}/healthz`);
        return r.status === 200;
      },
      this.timeoutMs,
    );
    this.health.set('kube-controller-manager', `https://127.0.0.1:${kcmPort}/healthz ok`);

    // kube-scheduler: places pods without nodeName (Jobs, StatefulSets) and selects the node of
    // WaitForFirstConsumer volumes.
    const schedPort = await this.port();
    const sched = await this.spawn('kube-scheduler', bins['kube-scheduler'], [
      `--kubeconfig=${this.kubeconfigPath}`,
      `--authentication-kubeconfig=${this.kubeconfigPath}`,
      `--authorization-kubeconfig=${this.kubeconfigPath}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${schedPort}`,
      `--cert-dir=${path.join(pki, 'kube-scheduler')}`,
      '--leader-elect=false',
      '--profiling=false',
    ]);
    await waitFor(
      sched,
      `https://127.0.0.1:${schedPort}/healthz`,
      async () => {
        return (await probe(`https://127.0.0.1:${schedPort}/healthz`)).status === 200;
      },
      this.timeoutMs,
    );
    this.health.set('kube-scheduler', `https://127.0.0.1:${schedPort}/healthz ok`);

    // VolumeSnapshot CRDs, read from the Go module cache at run time.
    const kc = this.kubeConfig();
    await this.installSnapshotCrds(kc);

    // snapshot-controller
    const scPort = await this.port();
    const sc = await this.spawn('snapshot-controller', bins['snapshot-controller'], [
      `--kubeconfig=${this.kubeconfigPath}`,
      '--leader-election=false',
      `--http-endpoint=127.0.0.1:${scPort}`,
      '--retry-interval-max=30s',
      '--v=4',
    ]);
    await waitFor(
      sc,
      `http://127.0.0.1:${scPort}/metrics`,
      async () => {
        const r = await probe(`http://127.0.0.1:${scPort}/metrics`);
        return r.status === 200;
      },
      this.timeoutMs,
    );
    this.health.set('snapshot-controller', `http://127.0.0.1:${scPort}/metrics ok`);

    // Storage and snapshot classes (exist even without the driver, so manifests can be applied).
    await this.installClasses(kc);
    if (this.nodeUnavailable) {
      // The Node object a kubelet would register; without it csi-provisioner refuses a selected node.
      await kc
        .makeApiClient(CoreV1Api)
        .createNode({ body: { metadata: { name: LOCAL_NODE_NAME, labels: { 'kubernetes.io/hostname': LOCAL_NODE_NAME } } } })
        .catch((err: unknown) => {
          if ((err as { code?: number }).code !== 409) throw err;
        });
    }

    // hostpath plugin and its sidecars
    this.hostpathUnavailable = hostpathUnavailable;
    if (!hostpathUnavailable && bins.hostpathplugin) {
      await mkdir(this.hostpathStateDir, { recursive: true });
      await mkdir(path.join(dir, 'csi'), { recursive: true });
      const socket = path.join(dir, 'csi', 'csi.sock');
      const hp = await this.spawn('hostpathplugin', bins.hostpathplugin, [
        `--endpoint=unix://${socket}`,
        `--drivername=${HOSTPATH_DRIVER}`,
        `--nodeid=${LOCAL_NODE_NAME}`,
        `--statedir=${this.hostpathStateDir}`,
        '--v=5',
      ]);
      await waitFor(hp, `socket ${socket}`, async () => (await stat(socket)).isSocket(), this.timeoutMs);
      this.health.set('hostpathplugin', `listening on ${socket}`);
      await this.startControllerSidecars(socket, 'csi-provisioner', 'csi-snapshotter', bins);
      // CSIDriver object, as the driver's own deployment has it: `fsGroupPolicy: File`, so the
      // kubelet gives a pod's fsGroup the volume (CloudNativePG's instances, uid 26, rely on it).
      await kc
        .makeApiClient(StorageV1Api)
        .createCSIDriver({
          body: {
            metadata: { name: HOSTPATH_DRIVER },
            spec: { attachRequired: false, podInfoOnMount: true, fsGroupPolicy: 'File', volumeLifecycleModes: ['Persistent'] },
          },
        })
        .catch((err: unknown) => {
          if ((err as { code?: number }).code !== 409) throw err;
        });
    }
    await this.startBtrfsDriver(bins, kc, btrfsDriverUnavailable);
    if (runtimeReady) {
      await runtimeReady;
      await this.startKubelet(bins, kc);
      await this.startServiceNetwork(bins, kc);
    }
  }

  /**
   * kube-proxy (Service addresses, nftables) and CoreDNS (cluster DNS) on the node's host, as a
   * real cluster runs them per node: what an operator such as CloudNativePG needs (its pods reach
   * the API server as `kubernetes.default`, instances stream from `<cluster>-rw`, the API server
   * calls its webhook Service). Returns once kube-proxy has written the `kubernetes` Service's
   * rules and CoreDNS answers from the API.
   */
  private async startServiceNetwork(bins: Partial<Record<ClusterTool, string>>, kc: KubeConfig): Promise<void> {
    const proxyConfig = path.join(this.node.root, 'kube-proxy.yaml');
    const proxyHealthz = await this.port();
    await writeFile(
      proxyConfig,
      kubeProxyConfig({
        kubeconfig: this.kubeconfigPath,
        nodeName: LOCAL_NODE_NAME,
        clusterCidr: POD_SUBNET,
        healthzPort: proxyHealthz,
        metricsPort: await this.port(),
      }),
    );
    const proxy = await this.spawn('kube-proxy', bins['kube-proxy'], [`--config=${proxyConfig}`, '--v=2']);
    const kubernetesService = await kc.makeApiClient(CoreV1Api).readNamespacedService({ name: 'kubernetes', namespace: 'default' });
    const serviceIp = kubernetesService.spec?.clusterIP;
    await waitFor(
      proxy,
      `kube-proxy healthy with the rules of the kubernetes Service (${serviceIp})`,
      async () => {
        if ((await probe(`http://127.0.0.1:${proxyHealthz}/healthz`)).status !== 200) return false;
        const table = spawnSync('nft', ['list', 'table', 'ip', 'kube-proxy'], { encoding: 'utf8' });
        return table.status === 0 && serviceIp !== undefined && table.stdout.includes(serviceIp);
      },
      this.timeoutMs,
    );
    this.health.set('kube-proxy', `http://127.0.0.1:${proxyHealthz}/healthz ok; nftables table ip kube-proxy`);

    const conf = path.join(this.node.root, 'Corefile');
    const readyPort = await this.port();
    await writeFile(conf, corefile({ address: POD_GATEWAY, kubeconfig: this.kubeconfigPath, readyPort, healthPort: await this.port() }));
    const dns = await this.spawn('coredns', bins.coredns, ['-conf', conf]);
    await waitFor(dns, `http://127.0.0.1:${readyPort}/ready`, async () => (await probe(`http://127.0.0.1:${readyPort}/ready`)).status === 200, this.timeoutMs);
    this.health.set('coredns', `${POD_GATEWAY}:53; http://127.0.0.1:${readyPort}/ready ok`);
  }

  /**
   * The btrfs driver on a filesystem of its own (an image file under the state directory,
   * loop-mounted), with its own csi-provisioner and csi-snapshotter. A machine that cannot hold the
   * filesystem (not root, no btrfs, no loop device) gets `btrfsUnavailable` with the reason, not a
   * failed start; the driver failing once the filesystem is there is a failure.
   */
  private async startBtrfsDriver(bins: Partial<Record<ClusterTool, string>>, kc: KubeConfig, btrfsDriverUnavailable: string | undefined): Promise<void> {
    const missing = btrfsDriverUnavailable ?? (bins['btrfs-csi'] ? btrfsUnavailable() : 'btrfs-csi not built');
    if (missing) {
      this.btrfsUnavailable = missing;
      return;
    }
    try {
      await makeLoopBtrfs(this.btrfsDir, this.opts.btrfsImageBytes ?? BTRFS_IMAGE_BYTES);
    } catch (err) {
      this.btrfsUnavailable = `no btrfs filesystem: ${(err as Error).message}`;
      return;
    }
    await this.writeRecord();
    const socket = path.join(this.stateDir, 'btrfs-csi', 'csi.sock');
    await mkdir(path.dirname(socket), { recursive: true });
    const driver = await this.spawn('btrfs-csi', bins['btrfs-csi'], [
      `--endpoint=unix://${socket}`,
      `--root=${this.btrfsRoot}`,
      `--node-id=${LOCAL_NODE_NAME}`,
    ]);
    await waitFor(driver, `socket ${socket}`, async () => (await stat(socket)).isSocket(), this.timeoutMs);
    this.health.set('btrfs-csi', `listening on ${socket}, root ${this.btrfsRoot}`);
    await this.startControllerSidecars(socket, 'btrfs-csi-provisioner', 'btrfs-csi-snapshotter', bins);
    await kc
      .makeApiClient(StorageV1Api)
      .createCSIDriver({
        body: {
          metadata: { name: BTRFS_DRIVER },
          spec: { attachRequired: false, podInfoOnMount: false, fsGroupPolicy: 'File', volumeLifecycleModes: ['Persistent'] },
        },
      })
      .catch((err: unknown) => {
        if ((err as { code?: number }).code !== 409) throw err;
      });
  }

  /** csi-provisioner and csi-snapshotter for the CSI driver listening on `socket`. */
  private async startControllerSidecars(
    socket: string,
    provisioner: ComponentName,
    snapshotter: ComponentName,
    bins: Partial<Record<ClusterTool, string>>,
  ): Promise<void> {
    const provPort = await this.port();
    const prov = await this.spawn(provisioner, bins['csi-provisioner'], [
      `--kubeconfig=${this.kubeconfigPath}`,
      `--csi-address=${socket}`,
      '--leader-election=false',
      '--node-deployment=false',
      // No kubelet means no CSINode and no Node objects: with topology on, Immediate binding fails
      // with "no available topology found". Off, CreateVolume gets no topology requirement.
      '--feature-gates=Topology=false',
      '--immediate-topology=false',
      '--extra-create-metadata=true',
      `--http-endpoint=127.0.0.1:${provPort}`,
      '--timeout=60s',
      '--retry-interval-max=30s',
      '--v=4',
    ]);
    const snapPort = await this.port();
    const snapper = await this.spawn(snapshotter, bins['csi-snapshotter'], [
      `--kubeconfig=${this.kubeconfigPath}`,
      `--csi-address=${socket}`,
      '--leader-election=false',
      '--extra-create-metadata=true',
      `--http-endpoint=127.0.0.1:${snapPort}`,
      '--timeout=300s',
      '--retry-interval-max=30s',
      '--v=4',
    ]);
    await waitFor(
      prov,
      `http://127.0.0.1:${provPort}/metrics`,
      async () => {
        return (await probe(`http://127.0.0.1:${provPort}/metrics`)).status === 200;
      },
      this.timeoutMs,
    );
    this.health.set(provisioner, `http://127.0.0.1:${provPort}/metrics ok`);
    await waitFor(
      snapper,
      `http://127.0.0.1:${snapPort}/metrics`,
      async () => {
        return (await probe(`http://127.0.0.1:${snapPort}/metrics`)).status === 200;
      },
      this.timeoutMs,
    );
    this.health.set(snapshotter, `http://127.0.0.1:${snapPort}/metrics ok`);
  }

  /**
   * The images the node gets, and whether CloudNativePG can run with them: its images are in the
   * default set when the manager binary is at hand, and a caller's own list must name them.
   */
  private nodeImages(): readonly TestImageName[] {
    const managerMissing = cnpgManagerUnavailable(this.opts.binDir);
    const images = this.opts.nodeImages ?? [...TEST_IMAGE_NAMES, ...(managerMissing ? [] : CNPG_IMAGE_NAMES)];
    this.cnpgUnavailable =
      managerMissing ??
      (CNPG_IMAGE_NAMES.every((i) => images.includes(i)) ? undefined : `its images (${CNPG_IMAGE_NAMES.join(', ')}) are not among nodeImages`);
    return images;
  }

  /** Takes the machine's node slot and makes the pod bridge, whose address the API server binds. */
  private claimNode(): void {
    this.nodeHost = claimNodeSlot({ stateDir: this.stateDir, ownerPids: [process.pid], bridge: NODE_BRIDGE }, (l) => this.log(l));
    createPodBridge(NODE_BRIDGE, `${POD_GATEWAY}/${POD_SUBNET.split('/')[1]}`);
  }

  /** Starts containerd and imports the test images into it. */
  private async startContainerRuntime(): Promise<void> {
    const node = this.node;
    for (const dir of [
      node.containerdRoot,
      node.containerdState,
      node.cniConfDir,
      node.cniIpamDir,
      node.kubeletRoot,
      node.kubeletPodLogs,
      node.kubeletVolumePluginDir,
      node.pluginsRegistry,
    ]) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    }
    await writeFile(node.containerdConfig, containerdConfig({ layout: node, sandboxImage: PAUSE_IMAGE, cniBinDir: CNI_BIN_DIR }));
    await writeFile(path.join(node.cniConfDir, '10-dbaas-local.conflist'), cniConfig({ layout: node, bridge: NODE_BRIDGE, subnet: POD_SUBNET }));
    await writeFile(node.resolvConf, '');

    const containerd = await this.spawn('containerd', CONTAINERD_BIN, ['--config', node.containerdConfig]);
    await waitFor(
      containerd,
      `socket ${node.containerdSocket}`,
      async () => {
        if (!existsSync(node.containerdSocket)) return false;
        return (await ctr(node, ['version'])).code === 0;
      },
      this.timeoutMs,
    );
    this.health.set('containerd', `listening on ${node.containerdSocket}`);
    const wanted = new Set<TestImageName>(['pause', ...this.nodeImages()]);
    const t0 = Date.now();
    const built = await buildTestImages({ images: [...wanted], log: (l) => this.log(`[dbaas-testing] ${l}`) });
    await Promise.all(built.map((b) => importTestImages([b.archive], { containerdAddress: node.containerdSocket })));
    this.log(`[dbaas-testing] ${built.length} images in the node's containerd after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }

  /**
   * The CSI driver's node registration and the kubelet; returns once the Node is Ready (and, with
   * the CSI driver, its CSINode lists the driver).
   */
  private async startKubelet(bins: Partial<Record<ClusterTool, string>>, kc: KubeConfig): Promise<void> {
    const node = this.node;

    if (!this.hostpathUnavailable && bins['csi-node-driver-registrar']) {
      const socket = path.join(this.stateDir, 'csi', 'csi.sock');
      const regPort = await this.port();
      await this.spawn('csi-node-driver-registrar', bins['csi-node-driver-registrar'], [
        `--csi-address=${socket}`,
        `--kubelet-registration-path=${socket}`,
        `--plugin-registration-path=${node.pluginsRegistry}`,
        `--http-endpoint=127.0.0.1:${regPort}`,
        '--v=4',
      ]);
      this.health.set('csi-node-driver-registrar', `http://127.0.0.1:${regPort}/healthz`);
    }
    if (!this.btrfsUnavailable && bins['csi-node-driver-registrar']) {
      const socket = path.join(this.stateDir, 'btrfs-csi', 'csi.sock');
      const regPort = await this.port();
      await this.spawn('btrfs-csi-registrar', bins['csi-node-driver-registrar'], [
        `--csi-address=${socket}`,
        `--kubelet-registration-path=${socket}`,
        `--plugin-registration-path=${node.pluginsRegistry}`,
        `--http-endpoint=127.0.0.1:${regPort}`,
        '--v=4',
      ]);
      this.health.set('btrfs-csi-registrar', `http://127.0.0.1:${regPort}/healthz`);
    }

    const kubeletPort = await this.port();
    const healthzPort = await this.port();
    await writeFile(node.kubeletConfig, kubeletConfig({ layout: node, port: kubeletPort, healthzPort, clusterDns: POD_GATEWAY }));
    const kubelet = await this.spawn('kubelet', bins.kubelet, [
      `--config=${node.kubeletConfig}`,
      `--kubeconfig=${this.kubeconfigPath}`,
      `--root-dir=${node.kubeletRoot}`,
      `--cert-dir=${node.kubeletCertDir}`,
      `--hostname-override=${LOCAL_NODE_NAME}`,
      '--node-ip=127.0.0.1',
      '--v=2',
    ]);
    const core = kc.makeApiClient(CoreV1Api);
    await waitFor(
      kubelet,
      `Node ${LOCAL_NODE_NAME} Ready`,
      async () => {
        const n = await core.readNode({ name: LOCAL_NODE_NAME });
        return (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
      },
      this.timeoutMs,
    );
    // The kubelet refuses a loopback node IP ("nodeIP can't be loopback address") and would otherwise
    // advertise the machine's network address; the API server must reach it on 127.0.0.1 only. The
    // kubelet's own address setter fails on every status update and so never overwrites this.
    await core.patchNodeStatus(
      {
        name: LOCAL_NODE_NAME,
        body: {
          status: {
            addresses: [
              { type: 'InternalIP', address: '127.0.0.1' },
              { type: 'Hostname', address: LOCAL_NODE_NAME },
            ],
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    this.health.set('kubelet', `Node ${LOCAL_NODE_NAME} Ready; http://127.0.0.1:${healthzPort}/healthz`);
    const drivers = [
      ...(this.hostpathUnavailable ? [] : [HOSTPATH_DRIVER]),
      ...(this.btrfsUnavailable || !bins['csi-node-driver-registrar'] ? [] : [BTRFS_DRIVER]),
    ];
    const storage = kc.makeApiClient(StorageV1Api);
    for (const driver of drivers) {
      await waitFor(
        kubelet,
        `CSINode ${LOCAL_NODE_NAME} lists ${driver}`,
        async () => {
          const csiNode = await storage.readCSINode({ name: LOCAL_NODE_NAME });
          return (csiNode.spec?.drivers ?? []).some((d) => d.name === driver);
        },
        this.timeoutMs,
      );
    }
  }

  private async installSnapshotCrds(kc: KubeConfig): Promise<void> {
    const versions = await loadVersions();
    const crdDir = await snapshotCrdDir();
    const api = kc.makeApiClient(ApiextensionsV1Api);
    const names: string[] = [];
    for (const file of versions.snapshotCrds.files) {
      // loadYaml maps JSON names to the model's (x-kubernetes-validations -> xKubernetesValidations);
      // a plain YAML object would lose every such field in client-node's serializer, and with them
      // the CRDs' CEL validation rules.
      const body = loadYaml<V1CustomResourceDefinition>(await readFile(path.join(crdDir, file), 'utf8'));
      names.push(body.metadata!.name!);
      await api.createCustomResourceDefinition({ body }).catch((err: unknown) => {
        if ((err as { code?: number }).code !== 409) throw err;
      });
    }
    for (const name of names) {
      await waitFor(
        undefined,
        `CRD ${name} Established`,
        async () => {
          const crd = await api.readCustomResourceDefinition({ name });
          return (crd.status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');
        },
        this.timeoutMs,
      );
    }
    this.log(`[dbaas-testing] snapshot CRDs established (${versions.snapshotCrds.module}@${versions.snapshotCrds.version})`);
  }

  private async installClasses(kc: KubeConfig): Promise<void> {
    const storage = kc.makeApiClient(StorageV1Api);
    const ignoreExists = (err: unknown) => {
      if ((err as { code?: number }).code !== 409) throw err;
    };
    for (const [name, mode, provisioner, allowVolumeExpansion] of [
      [STORAGE_CLASS, 'Immediate', HOSTPATH_DRIVER, true],
      [STORAGE_CLASS_WFFC, 'WaitForFirstConsumer', HOSTPATH_DRIVER, true],
      // The btrfs driver's capacities are bookkeeping (no quota), and it implements no expansion.
      [BTRFS_STORAGE_CLASS, 'Immediate', BTRFS_DRIVER, false],
    ] as const) {
      await storage
        .createStorageClass({
          body: {
            metadata: { name },
            provisioner,
            reclaimPolicy: 'Delete',
            volumeBindingMode: mode,
            allowVolumeExpansion,
          },
        })
        .catch(ignoreExists);
    }
    for (const [name, driver] of [
      [SNAPSHOT_CLASS, HOSTPATH_DRIVER],
      [BTRFS_SNAPSHOT_CLASS, BTRFS_DRIVER],
    ] as const) {
      await kc
        .makeApiClient(CustomObjectsApi)
        .createClusterCustomObject({
          group: 'snapshot.storage.k8s.io',
          version: 'v1',
          plural: 'volumesnapshotclasses',
          body: {
            apiVersion: 'snapshot.storage.k8s.io/v1',
            kind: 'VolumeSnapshotClass',
            metadata: { name },
            driver,
            deletionPolicy: 'Delete',
          },
        })
        .catch(ignoreExists);
    }
    // The hostpath driver serves the CSI group controller: crash/checkpoint backups of a
    // multi-volume instance cut its volumes with one VolumeGroupSnapshot of this class.
    await kc
      .makeApiClient(CustomObjectsApi)
      .createClusterCustomObject({
        group: 'groupsnapshot.storage.k8s.io',
        version: 'v1',
        plural: 'volumegroupsnapshotclasses',
        body: {
          apiVersion: 'groupsnapshot.storage.k8s.io/v1',
          kind: 'VolumeGroupSnapshotClass',
          metadata: { name: GROUP_SNAPSHOT_CLASS },
          driver: HOSTPATH_DRIVER,
          deletionPolicy: 'Delete',
        },
      })
      .catch(ignoreExists);
    for (const name of [STORAGE_CLASS, STORAGE_CLASS_WFFC, BTRFS_STORAGE_CLASS]) {
      await waitFor(undefined, `StorageClass ${name}`, async () => !!(await storage.readStorageClass({ name })), this.timeoutMs);
    }
  }

  /** Writes `<stateDir>/cluster.json` for `dbaas-testing status` / `down`. No secrets in it. */
  async writeRecord(extra: Partial<ClusterRecord> = {}): Promise<void> {
    const record: ClusterRecord = {
      stateDir: this.stateDir,
      kubeconfig: this.kubeconfigPath,
      server: this.server,
      ownerPid: process.pid,
      hostpathStateDir: this.hostpathStateDir,
      ...(this.hostpathUnavailable ? { hostpathUnavailable: this.hostpathUnavailable } : {}),
      ...(this.btrfsUnavailable ? { btrfsUnavailable: this.btrfsUnavailable } : { btrfsRoot: this.btrfsRoot }),
      ...(this.nodeUnavailable ? { nodeUnavailable: this.nodeUnavailable } : {}),
      ...(this.cnpgUnavailable ? { cnpgUnavailable: this.cnpgUnavailable } : {}),
      components: this.status().map((s) => ({
        name: s.name,
        ...(s.pid !== undefined ? { pid: s.pid } : {}),
        ...(s.logFile ? { logFile: s.logFile } : {}),
        ...(this.health.has(s.name) ? { health: this.health.get(s.name)! } : {}),
        ...(s.detail ? { detail: s.detail } : {}),
      })),
      ports: this.ports(),
      startedAt: new Date().toISOString(),
      startSeconds: this.startSeconds,
      ...extra,
    };
    await writeFile(path.join(this.stateDir, 'cluster.json'), JSON.stringify(record, null, 2), { mode: 0o600 });
  }
}
