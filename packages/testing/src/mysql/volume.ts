// MariaDB on a local cluster's hostpath volume directory (no kubelet: the process runs where a
// Pod would mount the PV), and a fencing strategy that stops it cleanly for `fenced` backups.
import { chmod, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { accessProblem, postgresRunAs } from '../postgres/user.js';
import { volumeDirectoryOf, type VolumeHost } from '../local-cluster/workloads.js';
import { isMariadbDataDirectory, startMariadb, type MariadbServer, type StartMariadbOptions } from './server.js';

/**
 * Options of {@link runMariadbOnVolume}.
 *
 * @example
 * ```ts
 * const o: RunMariadbOnVolumeOptions = { subPath: 'mysql', settings: { innodb_buffer_pool_size: '256M' } };
 * ```
 */
export interface RunMariadbOnVolumeOptions extends Omit<StartMariadbOptions, 'dataDirectory'> {
  /** Use `<volume>/<subPath>` as the data directory (as a Pod's `volumeMounts[].subPath`). Default: the volume root. */
  subPath?: string;
}

/**
 * Runs MariaDB whose data directory is a PVC's hostpath volume directory. An empty volume is
 * initialized with `mariadb-install-db`; one holding a data directory (a restored snapshot) is
 * started as it is (InnoDB crash recovery if it was copied from a running server). The directories
 * above the volume get search permission (o+x) for the server's user, never read permission.
 *
 * @example
 * ```ts
 * const db = await runMariadbOnVolume(cluster, { namespace: 'db', name: 'data' });
 * await db.query('create database app');
 * await db.stop();
 * ```
 */
export async function runMariadbOnVolume(
  host: VolumeHost,
  pvc: { namespace: string; name: string },
  options: RunMariadbOnVolumeOptions = {},
): Promise<MariadbServer> {
  const volume = await volumeDirectoryOf(host, pvc);
  const { subPath, ...rest } = options;
  const dataDirectory = subPath ? path.join(volume, subPath) : volume;
  if (subPath) await mkdir(dataDirectory, { recursive: true, mode: 0o700 });
  const runAs = postgresRunAs();
  if (runAs.switched) {
    for (const dir of [path.dirname(host.hostpathStateDir), host.hostpathStateDir, ...(subPath ? [volume] : [])]) {
      const st = await stat(dir);
      if ((st.mode & 0o001) === 0) await chmod(dir, (st.mode & 0o7777) | 0o001);
    }
    const problem = accessProblem(path.dirname(dataDirectory), runAs, 'x');
    if (problem) throw new Error(`mariadbd cannot reach ${dataDirectory}: ${problem}`);
  }
  return await startMariadb({ ...rest, dataDirectory, initialize: rest.initialize ?? !isMariadbDataDirectory(dataDirectory) });
}

/**
 * What {@link localMariadbFencing} returns: a `FencingStrategy` of `@kubectl-dbaas/sdk` (structurally)
 * plus counters for tests.
 *
 * @example
 * ```ts
 * const fencing: LocalMariadbFencing = localMariadbFencing(db);
 * ```
 */
export interface LocalMariadbFencing {
  readonly description: string;
  fence(ctx?: { log?: (message: string) => void }): Promise<void>;
  unfence(ctx?: { log?: (message: string) => void }): Promise<void>;
  readonly stats: { fenced: number; unfenced: number; stoppedAt?: number; startedAt?: number };
}

/**
 * Fences a local MariaDB by a clean shutdown (SIGTERM, as a Pod's termination would: InnoDB
 * flushes and checkpoints, "Shutdown complete") and unfences it by starting it again on the same
 * port. `unfence()` is idempotent.
 *
 * @example
 * ```ts
 * await runBackup(clients, { namespace: 'db', target: { pvc: 'data' }, mode: 'fenced', fencing: localMariadbFencing(db), engine });
 * ```
 */
export function localMariadbFencing(server: MariadbServer): LocalMariadbFencing {
  const stats: LocalMariadbFencing['stats'] = { fenced: 0, unfenced: 0 };
  return {
    description: `local MariaDB on ${server.dataDirectory} (pid ${server.pid ?? 'stopped'}) shut down cleanly and started again`,
    stats,
    async fence(ctx) {
      stats.fenced += 1;
      ctx?.log?.(`shutting down MariaDB on ${server.dataDirectory}`);
      await server.stop();
      if (!/Shutdown complete/.test(server.logOfLastStart()))
        throw new Error(`MariaDB on ${server.dataDirectory} did not log "Shutdown complete": not a clean shutdown`);
      stats.stoppedAt = Date.now();
    },
    async unfence(ctx) {
      stats.unfenced += 1;
      if (server.running) return;
      ctx?.log?.(`starting MariaDB on ${server.dataDirectory}`);
      await server.start();
      stats.startedAt = Date.now();
    },
  };
}
