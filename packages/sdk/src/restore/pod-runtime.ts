// The verify runtime of a real cluster. An inspect pod mounts the volume read-only and streams the
// data directory (without relation files) as tar through the exec API into WalInspector; a scratch
// pod runs PostgreSQL on the volume listening on 127.0.0.1 only, reached through the port-forward
// API (so RBAC on pods/portforward is what guards it, and the copied pg_hba.conf and passwords are
// not needed). The pod specs are unit-tested; the pods run on the test cluster's node
// (restore.cluster.test.ts).
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { Exec, type V1Pod, type V1Status } from '@kubernetes/client-node';
import { DbaasError, isDbaasError } from '../errors.js';
import type { KubeClients } from '../kube/clients.js';
import { diagnosePod, failFastWhenStuck } from '../kube/pod-diagnosis.js';
import { forwardPodPort, type PodPortForward } from '../kube/port-forward.js';
import { isGone, watchUntil } from '../kube/watch-until.js';
import { type ContainerResources, DEFAULT_RESOURCES, assertNodeSelector, containerResources } from '../manifests/builders.js';
import { DBAAS_LABELS, MANAGED_BY } from '../manifests/metadata.js';
import { assertDnsLabel, assertDnsSubdomain } from '../manifests/names.js';
import { jobRestorePrepExecutor } from './restore-prep.js';
import { chooseDataSubPath, type ScratchPostgres, type SourceUser, type VerifyRuntime, type VolumeSetLayout } from './verify.js';

const VOLUME_MOUNT = '/dbaas/volume';
/** PostgreSQL's own default: fits the default memory limit of the scratch pod with room for backends. */
const SCRATCH_SHARED_BUFFERS = '128MB';
const SERVER_PORT = 5432;

/** Idles until the pod is deleted; the exec API does the work. */
const IDLE_SCRIPT = 'trap "exit 0" TERM INT; while :; do sleep 2; done';

/**
 * Starts PostgreSQL on the copy, reachable only from inside the pod (port-forward): its own
 * pg_hba.conf trusts loopback, the copied one is not used. Settings arrive as "$@" (`-c name=value`
 * pairs), never through the shell's parsing. With `DBAAS_LEAVE_STANDBY=1` a standby's copy loses
 * its standby.signal first, so it replays its WAL and comes up as a primary instead of waiting for
 * a primary that a scratch server must never reach.
 */
const SERVER_SCRIPT = `printf 'local all all trust\\nhost all all 127.0.0.1/32 trust\\n' > /tmp/dbaas-hba.conf
if [ "\${DBAAS_LEAVE_STANDBY:-}" = 1 ]; then rm -f "$PGDATA/standby.signal"; fi
exec postgres -D "$PGDATA" -c listen_addresses=127.0.0.1 -c port=${SERVER_PORT} -c unix_socket_directories=/tmp -c hba_file=/tmp/dbaas-hba.conf "$@"`;

/**
 * Options of {@link podVerifyRuntime}.
 *
 * @example
 * ```ts
 * const options: PodVerifyRuntimeOptions = { image: (major) => `ghcr.io/cloudnative-pg/postgresql:${major}`, runAsUser: 26 };
 * ```
 */
export interface PodVerifyRuntimeOptions {
  /** Image for a major version. Default: the image the backup's source runs when that is known and of the backup's major (a CloudNativePG Cluster's), else `postgres:<major>` (the official image). */
  image?: (major: number) => string;
  /** Default: the user the backup recorded from its database pod (26 for CloudNativePG), else 999 (the official image). */
  runAsUser?: number;
  /** Default: the fsGroup the backup recorded, else none. */
  fsGroup?: number;
  /** Role to connect as (trusted on loopback). Default `postgres`. */
  superuser?: string;
  serviceAccountName?: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /**
   * CPU and memory, laid over {@link DEFAULT_RESOURCES}: `inspect` (the pod that streams the files),
   * `server` (the scratch PostgreSQL) and `prep` (the restore-prep Job of a scratch `online` restore).
   */
  resources?: { inspect?: ContainerResources; server?: ContainerResources; prep?: ContainerResources };
  /** Node labels the verification pods must run on (the pod's `nodeSelector`), e.g. the zone of the volume. */
  nodeSelector?: Record<string, string>;
}

/**
 * What {@link buildScratchPod} needs.
 *
 * @example
 * ```ts
 * buildScratchPod({ role: 'server', name: 'verify-x-pg', namespace: 'db', pvc: 'pg-restored', image: 'postgres:17', runAsUser: 999, dataSubPath: '', settings: { archive_mode: 'off' } });
 * ```
 */
export interface ScratchPodInput {
  role: 'inspect' | 'server';
  name: string;
  namespace: string;
  pvc: string;
  image: string;
  runAsUser: number;
  fsGroup?: number;
  dataSubPath: string;
  /** A set of several volumes: `pvc` is mounted where the source pod had it, the others beside it (read-only for `inspect`). */
  set?: VolumeSetLayout;
  settings?: Record<string, string>;
  /** `server`: remove the copy's standby.signal before starting (see {@link VerifyRuntime.startPostgres}). */
  leaveStandby?: boolean;
  serviceAccountName?: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Laid over {@link DEFAULT_RESOURCES}`.inspect` or `.server` (by `role`). */
  resources?: ContainerResources;
  nodeSelector?: Record<string, string>;
}

/** Where a scratch pod mounts the data volume: where the source pod had it for a set (the links into the other volumes are absolute), else a fixed place. */
function dataMountOf(role: ScratchPodInput['role'], set: VolumeSetLayout | undefined): string {
  return set?.dataMountPath ?? (role === 'server' ? '/var/lib/postgresql/data' : VOLUME_MOUNT);
}

function assertSetLayout(set: VolumeSetLayout): void {
  const paths = [set.dataMountPath, ...set.volumes.map((v) => v.mountPath)];
  for (const p of paths) {
    if (!path.posix.isAbsolute(p) || path.posix.normalize(p) !== p || p === '/' || p === '/tmp') {
      throw new DbaasError('INVALID_ARGUMENT', `mount path "${p}" of the volume set is not a normalised absolute path other than / and /tmp`, {
        option: 'set',
      });
    }
  }
  if (new Set(paths).size !== paths.length)
    throw new DbaasError('INVALID_ARGUMENT', `two volumes of the set share a mount path (${paths.join(', ')})`, { option: 'set' });
  for (const v of set.volumes) assertDnsSubdomain(v.pvc, 'PVC name');
}

function assertSubPath(p: string): string {
  if (p === '') return p;
  if (!/^[\w.-]+(\/[\w.-]+)*$/.test(p) || p.split('/').some((s) => s === '.' || s === '..')) {
    throw new DbaasError('INVALID_ARGUMENT', `data subpath "${p}" must be a relative path without "." or ".." segments`, { option: 'dataSubPath' });
  }
  return p;
}

/**
 * The pod of a verification step: `inspect` mounts the volume read-only and idles (the exec API
 * streams the files); `server` runs PostgreSQL on it. Non-root, no privilege escalation, all
 * capabilities dropped, read-only root filesystem (an emptyDir at /tmp), no service account token.
 *
 * @throws DbaasError `INVALID_NAME`, `INVALID_ARGUMENT`
 * @example
 * ```ts
 * await clients.core.createNamespacedPod({ namespace: 'db', body: buildScratchPod(input) });
 * ```
 */
export function buildScratchPod(input: ScratchPodInput): V1Pod {
  assertDnsLabel(input.name, 'pod name');
  assertDnsLabel(input.namespace, 'namespace');
  assertDnsSubdomain(input.pvc, 'PVC name');
  const subPath = assertSubPath(input.dataSubPath);
  if (!input.image || /\s/.test(input.image)) throw new DbaasError('INVALID_ARGUMENT', `image "${input.image}" is not an image reference`, { option: 'image' });
  if (!Number.isInteger(input.runAsUser) || input.runAsUser < 1) {
    throw new DbaasError('INVALID_ARGUMENT', `runAsUser ${input.runAsUser} is not valid: verification pods never run as root`, {
      fix: 'Pass the uid PostgreSQL runs as in its image (999 for the official image, 26 for CloudNativePG).',
      option: 'runAsUser',
    });
  }
  const settingArgs: string[] = [];
  // The copy brings its server's postgresql.conf: a shared_buffers sized for the source's machine
  // would outgrow the scratch pod's memory limit once recovery and amcheck fill the buffer pool
  // (the pod is OOM-killed). A scratch server needs no large buffer pool; a setting given wins.
  const settings = input.role === 'server' ? { shared_buffers: SCRATCH_SHARED_BUFFERS, ...input.settings } : (input.settings ?? {});
  for (const [name, value] of Object.entries(settings)) {
    if (!/^[a-z_][a-z0-9_.]*$/.test(name)) throw new DbaasError('INVALID_ARGUMENT', `"${name}" is not a PostgreSQL setting name`);
    settingArgs.push('-c', `${name}=${value}`);
  }
  assertNodeSelector(input.nodeSelector);
  const server = input.role === 'server';
  const resources = containerResources(server ? DEFAULT_RESOURCES.server : DEFAULT_RESOURCES.inspect, input.resources, 'resources');
  if (input.set) assertSetLayout(input.set);
  const mountPath = dataMountOf(input.role, input.set);
  const setVolumes = (input.set?.volumes ?? []).map((v, i) => ({ name: `set-${i}`, ...v }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: input.name,
      namespace: input.namespace,
      labels: { [DBAAS_LABELS.managedBy]: MANAGED_BY, 'app.kubernetes.io/component': server ? 'verify-server' : 'verify-inspect' },
    },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      ...(input.serviceAccountName ? { serviceAccountName: input.serviceAccountName } : {}),
      ...(input.nodeSelector && Object.keys(input.nodeSelector).length > 0 ? { nodeSelector: { ...input.nodeSelector } } : {}),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: input.runAsUser,
        runAsGroup: input.runAsUser,
        ...(input.fsGroup !== undefined ? { fsGroup: input.fsGroup, fsGroupChangePolicy: 'OnRootMismatch' } : {}),
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: server ? 'postgres' : 'inspect',
          image: input.image,
          ...(input.imagePullPolicy ? { imagePullPolicy: input.imagePullPolicy } : {}),
          command: server ? ['/bin/sh', '-ec', SERVER_SCRIPT, 'dbaas-scratch-postgres', ...settingArgs] : ['/bin/sh', '-c', IDLE_SCRIPT],
          ...(server
            ? {
                env: [
                  { name: 'PGDATA', value: subPath ? `${mountPath}/${subPath}` : mountPath },
                  ...(input.leaveStandby ? [{ name: 'DBAAS_LEAVE_STANDBY', value: '1' }] : []),
                ],
                readinessProbe: { exec: { command: ['pg_isready', '-h', '127.0.0.1', '-p', String(SERVER_PORT)] }, periodSeconds: 1, failureThreshold: 1 },
              }
            : {}),
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
          resources,
          volumeMounts: [
            { name: 'data', mountPath, ...(server ? {} : { readOnly: true }) },
            ...setVolumes.map((v) => ({ name: v.name, mountPath: v.mountPath, ...(server ? {} : { readOnly: true }) })),
            { name: 'tmp', mountPath: '/tmp' },
          ],
        },
      ],
      volumes: [
        { name: 'data', persistentVolumeClaim: { claimName: input.pvc, ...(server ? {} : { readOnly: true }) } },
        ...setVolumes.map((v) => ({ name: v.name, persistentVolumeClaim: { claimName: v.pvc, ...(server ? {} : { readOnly: true }) } })),
        { name: 'tmp', emptyDir: {} },
      ],
    },
  };
}

/** Why a pod cannot become ready (image pull errors, crash, exit), or undefined while it may. */
function podProblem(pod: V1Pod | undefined): string | undefined {
  if (!pod) return 'the pod was deleted';
  if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded')
    return `the pod ended (${pod.status.phase}${pod.status.reason ? `: ${pod.status.reason}` : ''})`;
  for (const c of pod.status?.containerStatuses ?? []) {
    const waiting = c.state?.waiting?.reason;
    if (waiting && /ErrImagePull|ImagePullBackOff|InvalidImageName|CreateContainerConfigError|CrashLoopBackOff/.test(waiting))
      return `${waiting}: ${c.state?.waiting?.message ?? ''}`.trim();
    if (c.state?.terminated)
      return `the container exited with code ${c.state.terminated.exitCode}${c.state.terminated.reason ? ` (${c.state.terminated.reason})` : ''}`;
  }
  return undefined;
}

function podReady(pod: V1Pod | undefined): boolean {
  return (pod?.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

async function podLog(clients: KubeClients, namespace: string, name: string): Promise<string> {
  try {
    return String(await clients.core.readNamespacedPodLog({ namespace, name, tailLines: 200 }));
  } catch {
    return '';
  }
}

/** How long a verification pod is given to end once deleted (PostgreSQL's shutdown checkpoint included). */
const POD_GRACE_SECONDS = 30;

/**
 * Deletes the pod and waits until it is gone: until then its PostgreSQL may still be shutting down
 * on the volume, and whatever comes next (a clone, the user's own pod, verify in place returning)
 * must find the data directory shut down, not running.
 */
async function deletePod(clients: KubeClients, namespace: string, name: string): Promise<void> {
  const deleted = await clients.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: POD_GRACE_SECONDS }).then(
    () => true,
    (error: unknown) => {
      if (!isDbaasError(error, 'KUBE_NOT_FOUND')) throw error;
      return false;
    },
  );
  if (!deleted) return;
  await watchUntil<V1Pod>(clients, {
    path: `/api/v1/namespaces/${namespace}/pods`,
    name,
    predicate: (_pod, event) => isGone(event),
    deadline: Date.now() + (POD_GRACE_SECONDS + 30) * 1000,
    what: 'to be gone',
  });
}

/** Creates the pod and waits for it to be Ready (`server`) or Running (`inspect`); deletes it if it cannot. */
async function runPod(clients: KubeClients, body: V1Pod, deadline: number, signal: AbortSignal | undefined): Promise<V1Pod> {
  const { namespace, name } = body.metadata as { namespace: string; name: string };
  const wantReady = body.spec!.containers[0]!.readinessProbe !== undefined;
  await clients.core.createNamespacedPod({ namespace, body });
  try {
    const seen = await failFastWhenStuck(clients, { namespace, pod: name, what: `verification pod ${namespace}/${name}`, signal }, (stop) =>
      watchUntil<V1Pod>(clients, {
        path: `/api/v1/namespaces/${namespace}/pods`,
        name,
        predicate: (pod) => podProblem(pod) !== undefined || (wantReady ? podReady(pod) : pod?.status?.phase === 'Running'),
        deadline,
        signal: stop,
        what: wantReady ? 'to be Ready (PostgreSQL accepting connections)' : 'to be Running',
        describe: (pod) => `phase ${pod?.status?.phase ?? 'unknown'}${pod?.spec?.nodeName ? '' : ', not scheduled yet'}`,
      }),
    ).catch(async (error: unknown) => {
      // A timeout alone says nothing of why: read the pod's status and events before it is deleted.
      if (!isDbaasError(error, 'KUBE_TIMEOUT')) throw error;
      const pod = (await clients.core.readNamespacedPod({ namespace, name }).catch(() => undefined)) ?? (error.details?.['lastSeen'] as V1Pod | undefined);
      if (pod === undefined) throw error;
      const why = await diagnosePod(clients, pod);
      throw new DbaasError('KUBE_TIMEOUT', `${error.message}; ${why.reason}`, { fix: why.fix, cause: error, details: { ...error.details, ...why.details } });
    });
    const problem = podProblem(seen.object);
    if (problem) {
      const log = await podLog(clients, namespace, name);
      throw Object.assign(new DbaasError('RESTORE_FAILED', `verification pod ${namespace}/${name}: ${problem}`, { details: { log } }), { log });
    }
    return seen.object!;
  } catch (error) {
    await deletePod(clients, namespace, name);
    throw error;
  }
}

/** Runs a command in the pod; stdout as a stream, which errors when the command fails. */
async function execStream(clients: KubeClients, namespace: string, pod: string, container: string, command: string[]): Promise<PassThrough> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let stderrText = '';
  stderr.on('data', (d: Buffer) => (stderrText += d.toString()));
  await new Exec(clients.kubeConfig).exec(namespace, pod, container, command, stdout, stderr, null, false, (status: V1Status) => {
    if (status.status !== 'Success')
      stdout.destroy(
        new DbaasError('DATA_DIRECTORY_UNREADABLE', `${command[0]} in pod ${namespace}/${pod} failed: ${status.message ?? ''} ${stderrText.trim()}`.trim()),
      );
  });
  return stdout;
}

async function execText(clients: KubeClients, namespace: string, pod: string, container: string, command: string[]): Promise<string> {
  let text = '';
  for await (const chunk of await execStream(clients, namespace, pod, container, command)) text += (chunk as Buffer).toString();
  return text;
}

/**
 * The verify runtime for a real cluster: an inspect pod (volume read-only, files streamed as tar
 * over the exec API) for the offline check and a scratch PostgreSQL pod reached over the
 * port-forward API for the live one; the restore-prep step of a scratch `online` restore is a Job.
 * Needs RBAC for pods (create, get, watch, delete), pods/exec (create), pods/portforward (create),
 * pods/log (get) and jobs in the namespace (docs/rbac.md).
 *
 * @throws DbaasError `INVALID_NAME` (a `nodeSelector` key or value Kubernetes refuses)
 * @example
 * ```ts
 * const v = await new RestoreClient(clients).verify({ namespace: 'db', backup: 'nightly', runtime: podVerifyRuntime() });
 * ```
 */
export function podVerifyRuntime(options: PodVerifyRuntimeOptions = {}): VerifyRuntime {
  // Bad input fails here, before verify reads the cluster or creates anything.
  assertNodeSelector(options.nodeSelector);
  // The runtime's own image, else the one the source runs (a CloudNativePG Cluster's), else the official one.
  const image = (major: number, source?: SourceUser) => options.image?.(major) ?? source?.image ?? `postgres:${major}`;
  // The copy's files belong to the user the database ran as: the runtime's own, else the backup's.
  const userOf = (source: SourceUser | undefined) => {
    const fsGroup = options.fsGroup ?? (options.runAsUser === undefined ? source?.fsGroup : undefined);
    return { runAsUser: options.runAsUser ?? source?.runAsUser ?? 999, ...(fsGroup !== undefined ? { fsGroup } : {}) };
  };
  const common = {
    ...(options.serviceAccountName ? { serviceAccountName: options.serviceAccountName } : {}),
    ...(options.imagePullPolicy ? { imagePullPolicy: options.imagePullPolicy } : {}),
    ...(options.nodeSelector ? { nodeSelector: options.nodeSelector } : {}),
  };
  const podName = (pvc: string, suffix: string) => `${pvc.slice(0, 50).replace(/[.]/g, '-').replace(/-+$/, '')}-${suffix}`;
  return {
    description: 'pods in the cluster (exec and port-forward)',
    objects: ({ namespace, pvc }) => [
      { kind: 'Pod', name: podName(pvc, 'inspect'), namespace },
      { kind: 'Pod', name: podName(pvc, 'verify-pg'), namespace },
    ],
    prepExecutor: jobRestorePrepExecutor(),
    // The restore-prep Job of a scratch online restore runs the image and user the pods run.
    prepOptions: (major, source) => ({
      ...(major !== undefined ? { image: image(major, source) } : {}),
      ...(options.resources?.prep ? { resources: options.resources.prep } : {}),
      ...userOf(source),
      ...(options.serviceAccountName ? { serviceAccountName: options.serviceAccountName } : {}),
      ...(options.imagePullPolicy ? { imagePullPolicy: options.imagePullPolicy } : {}),
    }),
    async openVolume(clients, request) {
      const name = podName(request.pvc, 'inspect');
      // The inspect pod needs any image with sh and tar: the runtime's image of the backup's major
      // (the one the scratch server runs, so it is there), else of a recent major.
      const body = buildScratchPod({
        role: 'inspect',
        name,
        namespace: request.namespace,
        pvc: request.pvc,
        image: image(request.major ?? 17, request.source),
        dataSubPath: '',
        ...(request.set ? { set: request.set } : {}),
        ...userOf(request.source),
        ...common,
        ...(options.resources?.inspect ? { resources: options.resources.inspect } : {}),
      });
      await runPod(clients, body, request.deadline, request.signal);
      try {
        let dataSubPath = request.dataSubPath;
        const mount = dataMountOf('inspect', request.set);
        if (dataSubPath === undefined) {
          // The mount path travels as an argument ($1), never through the shell's parsing.
          const listing = await execText(clients, request.namespace, name, 'inspect', [
            '/bin/sh',
            '-c',
            `for d in "$1" "$1"/*; do [ -f "$d/PG_VERSION" ] && echo "dir:\${d#"$1"}"; done; true`,
            'dbaas-find-pgdata',
            mount,
          ]);
          dataSubPath = chooseDataSubPath(
            listing
              .split('\n')
              .filter((l) => l.startsWith('dir:'))
              .map((l) => l.slice('dir:'.length).replace(/^\//, '')),
          );
        }
        const root = dataSubPath ? `${mount}/${assertSubPath(dataSubPath)}` : mount;
        // Relation files are not needed to judge consistency: pg_control, backup_label, pg_wal are.
        // In a set, pg_wal is a link into another volume mounted beside: tar follows it (-h).
        const source = await execStream(clients, request.namespace, name, 'inspect', [
          'tar',
          '-cf',
          '-',
          ...(request.set ? ['-h'] : []),
          '-C',
          root,
          '--exclude=./base',
          '--exclude=./pg_tblspc',
          '.',
        ]);
        return { source, dataSubPath, release: async () => await deletePod(clients, request.namespace, name) };
      } catch (error) {
        await deletePod(clients, request.namespace, name);
        throw error;
      }
    },
    async startPostgres(clients, request): Promise<ScratchPostgres> {
      const name = podName(request.pvc, 'verify-pg');
      const body = buildScratchPod({
        role: 'server',
        name,
        namespace: request.namespace,
        pvc: request.pvc,
        image: image(request.major, request.source),
        dataSubPath: request.dataSubPath,
        ...(request.set ? { set: request.set } : {}),
        settings: request.settings,
        ...(request.leaveStandby ? { leaveStandby: true } : {}),
        ...userOf(request.source),
        ...common,
        ...(options.resources?.server ? { resources: options.resources.server } : {}),
      });
      const started = Date.now();
      await runPod(clients, body, request.deadline, request.signal);
      const readyMs = Date.now() - started;
      let forward: PodPortForward;
      try {
        forward = await forwardPodPort(clients.kubeConfig, { namespace: request.namespace, pod: name, port: SERVER_PORT });
      } catch (error) {
        await deletePod(clients, request.namespace, name);
        throw error;
      }
      return {
        connection: { host: forward.host, port: forward.port, user: options.superuser ?? 'postgres', database: 'postgres' },
        readyMs,
        log: async () => await podLog(clients, request.namespace, name),
        stop: async () => {
          await forward.close();
          await deletePod(clients, request.namespace, name);
        },
      };
    },
  };
}
