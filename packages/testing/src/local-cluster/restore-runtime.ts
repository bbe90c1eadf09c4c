// What a kubelet would do for RestoreClient in this cluster: the restore-prep Job's container
// command run as a local process over the two volume directories, and a scratch PostgreSQL on a
// volume for verify. The SDK decides what runs; this only supplies where.
import { spawn } from 'node:child_process';
import { chown, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import {
  DbaasError,
  findDataSubPath,
  watchUntil,
  type KubeClients,
  type RestorePrepExecutor,
  type ScratchPostgres,
  type VerifyRuntime,
} from '@kubectl-dbaas/sdk';
import { postgresRunAs } from '../postgres/user.js';
import { LOCAL_NODE_NAME } from './cluster.js';
import { letPostgresUserReach, runPostgresOnVolume, volumeDirectoryOf, type VolumeHost } from './workloads.js';

async function boundVolume(host: VolumeHost, clients: KubeClients, namespace: string, name: string, deadline: number, signal?: AbortSignal): Promise<string> {
  await watchUntil<V1PersistentVolumeClaim>(clients, {
    path: `/api/v1/namespaces/${namespace}/persistentvolumeclaims`,
    name,
    predicate: (p) => p?.status?.phase === 'Bound',
    deadline,
    ...(signal ? { signal } : {}),
    what: 'to be Bound (a WaitForFirstConsumer PVC needs a consumer node here: there is no scheduler)',
  });
  return await volumeDirectoryOf(host, { namespace, name });
}

/**
 * Runs the restore-prep Job's container command with the Job's environment as a local process
 * (as the PostgreSQL test user, the Job's `runAsUser` here), with the data volume at
 * `$DBAAS_ROOT/data` and the WAL volume at `$DBAAS_ROOT/wal` (symbolic links in a private temporary
 * directory, removed afterwards).
 *
 * @example
 * await restoreClient.restore({ ..., prep: { executor: localRestorePrepExecutor(cluster) } });
 */
export function localRestorePrepExecutor(host: VolumeHost): RestorePrepExecutor {
  return {
    description: 'a local process over the hostpath volume directories (what the Job runs)',
    async run(clients, request) {
      const container = request.job.spec?.template.spec?.containers[0];
      if (!container?.command?.length) throw new Error('the restore-prep Job has no container command');
      const dataDir = await boundVolume(host, clients, request.namespace, request.dataPvc, request.deadline, request.signal);
      const walDir = await boundVolume(host, clients, request.namespace, request.walPvc, request.deadline, request.signal);
      await letPostgresUserReach(host, dataDir, dataDir);
      await letPostgresUserReach(host, walDir, walDir);
      const root = await mkdtemp(path.join(tmpdir(), 'dbaas-restore-prep-'));
      try {
        await symlink(dataDir, path.join(root, 'data'));
        await symlink(walDir, path.join(root, 'wal'));
        const runAs = postgresRunAs();
        if (runAs.switched) await chown(root, runAs.uid, runAs.gid);
        const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', DBAAS_ROOT: root };
        for (const e of container.env ?? []) env[e.name] = e.value ?? '';
        const [command, ...args] = container.command;
        const child = spawn(command!, args, { env, stdio: ['ignore', 'pipe', 'pipe'], ...(runAs.switched ? { uid: runAs.uid, gid: runAs.gid } : {}) });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const onAbort = (): void => void child.kill('SIGKILL');
        request.signal?.addEventListener('abort', onAbort, { once: true });
        const timer = setTimeout(onAbort, Math.max(0, request.deadline - Date.now()));
        const code = await new Promise<number | null>((resolve, reject) => {
          child.on('error', reject);
          child.on('close', (c) => resolve(c));
        }).finally(() => {
          clearTimeout(timer);
          request.signal?.removeEventListener('abort', onAbort);
        });
        if (request.signal?.aborted) throw new DbaasError('KUBE_ABORTED', 'the restore-prep step was aborted');
        if (code !== 0) {
          const line = stderr.split('\n').filter((l) => l.startsWith('dbaas-restore-prep')).pop() ?? stderr.trim();
          throw new DbaasError('RESTORE_PREP_FAILED', `restore-prep failed (exit ${code ?? 'killed: deadline'}): ${line}`, { details: { stderr } });
        }
        return { output: stdout.trim() };
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    },
  };
}

/**
 * The verify runtime of the local cluster: reads volumes from their hostpath directories and starts
 * the scratch PostgreSQL as a local process on them (runPostgresOnVolume), binds
 * WaitForFirstConsumer scratch restores to the plugin's node, and runs restore-prep locally.
 *
 * @example
 * const v = await new RestoreClient(clients).verify({ namespace: 'db', backup: 'nightly', runtime: localVerifyRuntime(cluster) });
 */
export function localVerifyRuntime(host: VolumeHost): VerifyRuntime {
  return {
    description: 'a local PostgreSQL over the hostpath volume directory',
    consumerNode: LOCAL_NODE_NAME,
    prepExecutor: localRestorePrepExecutor(host),
    async openVolume(clients, request) {
      const volume = await boundVolume(host, clients, request.namespace, request.pvc, request.deadline, request.signal);
      const dataSubPath = await findDataSubPath(volume, request.dataSubPath);
      return { source: path.join(volume, dataSubPath), dataSubPath, release: async () => undefined };
    },
    async startPostgres(clients, request): Promise<ScratchPostgres> {
      await boundVolume(host, clients, request.namespace, request.pvc, request.deadline, request.signal);
      const startedAt = Date.now();
      const server = await runPostgresOnVolume(host, { namespace: request.namespace, name: request.pvc }, {
        major: request.major,
        initdb: false,
        settings: request.settings,
        ...(request.dataSubPath ? { subPath: request.dataSubPath } : {}),
        timeoutMs: Math.max(10_000, request.deadline - Date.now()),
      });
      const readyMs = Date.now() - startedAt;
      return {
        connection: server.connectionConfig,
        readyMs,
        log: async () => server.readLog(),
        stop: async () => {
          await server.stop().catch(() => undefined);
          await server.destroy();
        },
      };
    },
  };
}
