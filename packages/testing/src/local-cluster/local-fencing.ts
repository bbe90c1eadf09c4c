// A fencing strategy for `fenced` backups of a PostgreSQL that runs as a local process on a PV's
// directory (runPostgresOnVolume: the kubelet-less stand-in for a Pod). Structurally the SDK's
// `FencingStrategy` (this package does not depend on the SDK).
import type { PostgresServer } from '../postgres/server.js';

/**
 * What {@link localPostgresFencing} returns: a `FencingStrategy` of `@kubectl-dbaas/sdk` plus
 * counters for tests.
 *
 * @example
 * ```ts
 * const fencing: LocalPostgresFencing = localPostgresFencing(server);
 * expect(fencing.stats.unfenced).toBe(fencing.stats.fenced);
 * ```
 */
export interface LocalPostgresFencing {
  readonly description: string;
  fence(ctx?: { log?: (message: string) => void }): Promise<void>;
  unfence(ctx?: { log?: (message: string) => void }): Promise<void>;
  /** Calls and the times of the last stop/start (epoch ms). */
  readonly stats: { fenced: number; unfenced: number; stoppedAt?: number; startedAt?: number };
}

/**
 * Fences a local PostgreSQL by stopping it cleanly (`pg_ctl stop -m fast`: a shutdown checkpoint,
 * so the data directory is consistent on disk) and unfences it by starting it again on the same
 * port. `unfence()` is idempotent (a running server is left alone).
 *
 * @example
 * ```ts
 * const pg = await runPostgresOnVolume(cluster, { namespace: 'db', name: 'data' });
 * await runBackup(clients, { namespace: 'db', target: { pvc: 'data' }, mode: 'fenced', fencing: localPostgresFencing(pg) });
 * ```
 */
export function localPostgresFencing(server: PostgresServer, opts: { stopMode?: 'smart' | 'fast' } = {}): LocalPostgresFencing {
  const stats: LocalPostgresFencing['stats'] = { fenced: 0, unfenced: 0 };
  return {
    description: `local PostgreSQL ${server.major} on ${server.dataDirectory} (pid ${server.pid ?? 'stopped'}) stopped ${opts.stopMode ?? 'fast'} and started again`,
    stats,
    async fence(ctx) {
      stats.fenced += 1;
      ctx?.log?.(`stopping PostgreSQL (${opts.stopMode ?? 'fast'}) on ${server.dataDirectory}`);
      await server.stop({ mode: opts.stopMode ?? 'fast' });
      stats.stoppedAt = Date.now();
    },
    async unfence(ctx) {
      stats.unfenced += 1;
      if (server.running) return;
      ctx?.log?.(`starting PostgreSQL on ${server.dataDirectory}`);
      await server.start();
      stats.startedAt = Date.now();
    },
  };
}
