// Per-engine hooks of a backup (docs/consistency.md): what a mode needs from the database besides
// the volume snapshot. `crash` and `fenced` need nothing engine-specific (fencing is a
// FencingStrategy); `checkpoint` needs a flush and the positions to record; `online` needs a held
// backup session. PostgreSQL implements all of it; MySQL/MariaDB can plug in the same interface.
import type { KubeClients } from '../kube/clients.js';
import type { SnapshotMetadata } from '../manifests/metadata.js';

/**
 * Metadata an engine contributes to a snapshot's annotations (LSNs, WAL files, backup_label, ...).
 * The backup sets the set name, role, source, mode and times itself.
 *
 * @example
 * ```ts
 * const facts: EngineMetadata = { engine: 'postgres', engineVersion: '17.6', timeline: 1 };
 * ```
 */
export type EngineMetadata = Partial<
  Omit<SnapshotMetadata, 'schemaVersion' | 'backupSet' | 'role' | 'sourcePvc' | 'backupType' | 'mode' | 'requestedAt' | 'cutAt' | 'readyAt' | 'sourceWorkload'>
>;

/**
 * A held online-backup session of an engine: started, then stopped once the data snapshot is cut;
 * `release()` after the WAL snapshot is cut (the engine keeps the WAL it needs until then);
 * `abort()` ends it whatever its state (idempotent).
 *
 * @example
 * ```ts
 * const session = await engine.beginOnlineBackup!({ label: 'nightly' });
 * await cutDataSnapshot();
 * const stopMeta = await session.stop();
 * await cutWalSnapshot();
 * await session.release();
 * ```
 */
export interface EngineOnlineBackup {
  /** Metadata known at the start (start LSN, timeline, first WAL file, segment size). */
  readonly startMetadata: EngineMetadata;
  /** Ends backup mode, keeping what the WAL snapshot needs; returns the stop metadata (stop LSN, last WAL file, backup_label, ...). */
  stop(): Promise<EngineMetadata>;
  /** After the WAL snapshot is cut: lets the engine recycle WAL again and closes the session. */
  release(): Promise<void>;
  /** Ends the backup without a result (abort, error, deadline). Idempotent. */
  abort(reason?: unknown): Promise<void>;
  /**
   * `false` when the data snapshot holds everything a restore needs (MySQL/MariaDB: redo and
   * binary logs live in the data directory), so the backup takes no `<name>-wal` snapshot after
   * `stop()`. Default `true` (PostgreSQL: the WAL to the stop LSN).
   */
  readonly separateWalSnapshot?: boolean;
  /**
   * What the session holds on the server, for messages (e.g. `replication slot dbaas_backup_1a2b`,
   * `backend 4242`). Optional.
   */
  readonly holds?: { description: string; slotName?: string; backendPid?: number };
  /**
   * Calls `listener` once if the session is lost (server died or restarted, connection dropped)
   * before the backup ended it; the backup then fails at once instead of at its next step.
   * Optional: without it a loss is noticed at `stop()`. Returns a function removing the listener.
   */
  onLost?(listener: (error: Error) => void): () => void;
}

/**
 * The engine-specific steps of a backup, on one connection to the database.
 *
 * @example
 * ```ts
 * const engine = await postgresEngine({ host: '127.0.0.1', port: 5432, user: 'postgres' });
 * try { console.log(await engine.describe()); } finally { await engine.close(); }
 * ```
 */
/**
 * What a database session can tell about the server it reached.
 *
 * @example
 * ```ts
 * const server: SessionServer = { address: '10.244.0.12', inRecovery: false };
 * ```
 */
export interface SessionServer {
  /** The address the server received the session on (PostgreSQL `inet_server_addr()`). */
  address?: string;
  /** The server's host name (MySQL/MariaDB `@@hostname`: the pod's host name in Kubernetes). */
  hostname?: string;
  /** PostgreSQL: a standby (or a server still replaying WAL). */
  inRecovery?: boolean;
  /** PostgreSQL: tablespaces outside the data directory (their files are not in its volume). */
  tablespaces?: { name: string; location: string }[];
}

export interface EngineHooks {
  readonly engine: 'postgres' | 'mysql' | 'mariadb';
  /** Facts recorded on every snapshot: engine version, system identifier, timeline. */
  describe(): Promise<EngineMetadata>;
  /** `checkpoint` mode: flush everything to the data files and return the positions to record. */
  checkpoint?(): Promise<EngineMetadata>;
  /** `online` mode: start the held backup session. */
  beginOnlineBackup?(options: { label: string; signal?: AbortSignal }): Promise<EngineOnlineBackup>;
  /**
   * Where this session landed, to prove it is on the instance whose volume is snapshotted (see
   * `sessionMismatch`). Optional: without it nothing is checked.
   */
  serverIdentity?(): Promise<SessionServer>;
  /** Closes the connection (not an online backup session that is still held: that one ends by stop/release/abort). */
  close(): Promise<void>;
}

/**
 * What a {@link FencingStrategy} is called with.
 *
 * @example
 * ```ts
 * const ctx: FenceContext = { clients, namespace: 'db', deadline: Date.now() + 120_000 };
 * ```
 */
export interface FenceContext {
  clients: KubeClients;
  namespace: string;
  /** Epoch ms by which fence() must have stopped the database. */
  deadline: number;
  signal?: AbortSignal;
  /** Progress lines. */
  log?: (message: string) => void;
  /**
   * Who fences: written into the lease on the fenced object, so that another run does not take or
   * lift this fence while it is held. `backup` is `<namespace>/<name>` of the backup set.
   */
  holder?: { backup: string; process: string };
}

/**
 * Stops the database cleanly for a `fenced` backup and starts it again. `fence()` resolves once
 * the database is down with everything on disk (a clean shutdown); `unfence()` undoes it and must
 * be idempotent and safe to call after a failed or partial `fence()` (the backup always calls it,
 * also on abort, error and deadline).
 *
 * @example
 * ```ts
 * // The caller's own operator API (here a hypothetical `myOperator` client) stops and starts the database.
 * const custom: FencingStrategy = {
 *   description: 'database "orders" paused through the platform operator',
 *   fence: async ({ signal }) => { await myOperator.pause('orders', { waitForCleanShutdown: true, signal }); },
 *   unfence: async () => { await myOperator.resume('orders'); },
 * };
 * await runBackup(clients, { namespace: 'db', target: { pvc: 'data' }, mode: 'fenced', fencing: custom });
 * ```
 */
export interface FencingStrategy {
  /** Human-readable: what is stopped, for progress and error messages. */
  readonly description: string;
  /** The fenced object as `kind/name` (e.g. `statefulset/pg`, `cnpg/pg`), for the way to lift a fence a run left. */
  readonly object?: string;
  /** Refusals known before anything is stopped (the plan calls it): e.g. a StatefulSet that deletes its PVCs when scaled down, or a fence another run holds. */
  preflight?(ctx: FenceContext): Promise<void>;
  fence(ctx: FenceContext): Promise<void>;
  /** Why the fence no longer holds (undefined: it does). Called just before the snapshot is requested and after it is cut. */
  check?(ctx: FenceContext): Promise<string | undefined>;
  unfence(ctx: FenceContext): Promise<void>;
  /** After unfence(): waits until the database serves again (its pods Ready), so the downtime is measured to there. */
  waitRestored?(ctx: FenceContext): Promise<void>;
}
