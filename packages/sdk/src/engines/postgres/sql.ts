// The one module of the SDK that talks to PostgreSQL through `pg`. Everything else asks this module
// for a session and gets plain rows back; errors come out as DbaasError.
// pg is imported when a session is opened, not with the SDK (start-up of the commands that never
// open one; bench/cli-startup).
import type pg from 'pg';

import { DbaasError } from '../../errors.js';

/**
 * How to reach a PostgreSQL server: a `postgresql://` URL or the options of `pg.Client`
 * (`host`, `port`, `user`, `password`, `database`, `ssl`, ...).
 *
 * @example
 * ```ts
 * const config: PostgresConnectionConfig = { host: '127.0.0.1', port: 5432, user: 'postgres' };
 * ```
 */
export type PostgresConnectionConfig = string | pg.ClientConfig;

/** A row as `pg` returns it: column name to value (`pg_lsn`, `int8`, `numeric` come back as strings). */
export type SqlRow = Record<string, unknown>;

/**
 * One open session on a PostgreSQL server.
 *
 * @example
 * ```ts
 * const session = await openSession(config);
 * try { console.log(await session.query('select 1 as one')); } finally { await session.close(); }
 * ```
 */
export interface SqlSession {
  /** Backend process ID of this session on the server (`pg_backend_pid()`). */
  readonly backendPid: number;
  /** `server_version_num`, e.g. 170010. */
  readonly serverVersionNum: number;
  /** Runs one statement and returns its rows. */
  query<R extends SqlRow = SqlRow>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Whether a statement is running on the session right now. */
  readonly busy: boolean;
  /** Whether the session has ended (closed, or lost). */
  readonly closed: boolean;
  /** Ends the session gracefully (`Terminate` message); never throws. */
  close(): Promise<void>;
  /** Drops the socket at once, without waiting for a running statement; never throws. */
  destroy(): void;
  /**
   * Calls `listener` once when the connection is lost without `close()`/`destroy()` (the server
   * died or restarted, the network dropped the socket): at once when it already was. Returns a
   * function that removes the listener.
   */
  onLost(listener: (error: Error) => void): () => void;
}

function normalise(config: PostgresConnectionConfig, applicationName: string | undefined): pg.ClientConfig {
  const base: pg.ClientConfig = typeof config === 'string' ? { connectionString: config } : { ...config };
  if (applicationName !== undefined && base.application_name === undefined) base.application_name = applicationName;
  if (base.keepAlive === undefined) base.keepAlive = true;
  return base;
}

function where(config: pg.ClientConfig): string {
  if (config.connectionString) {
    try {
      const url = new URL(config.connectionString);
      return `${url.hostname || 'localhost'}:${url.port || 5432}`;
    } catch {
      return 'the configured server';
    }
  }
  return `${config.host ?? 'localhost'}:${config.port ?? 5432}`;
}

/**
 * Maps a `pg` error (which carries the SQLSTATE in `code`) to a {@link DbaasError}.
 *
 * @example
 * ```ts
 * try { await client.query(sql); } catch (error) { throw sqlError(error, sql); }
 * ```
 */
export function sqlError(error: unknown, sql: string): DbaasError {
  if (error instanceof DbaasError) return error;
  const pgError = error as { code?: string; message?: string; detail?: string; hint?: string };
  const sqlState = typeof pgError.code === 'string' && /^[0-9A-Z]{5}$/.test(pgError.code) ? pgError.code : undefined;
  const message = pgError.message ?? String(error);
  let fix: string | undefined = pgError.hint;
  if (sqlState === '42501')
    fix =
      'Connect as a superuser, or as a role that has been granted EXECUTE on the function (e.g. pg_backup_start, pg_create_physical_replication_slot) and the pg_monitor role.';
  if (sqlState === '55000' && /replication slots can only be used if/i.test(message))
    fix = 'Set wal_level to replica (or logical) and max_replication_slots above 0, then restart PostgreSQL.';
  if (sqlState === '53400' || /all replication slots are in use/i.test(message)) fix = 'Raise max_replication_slots or drop unused replication slots.';
  if (sqlState === '57P01' || sqlState === '57P02' || sqlState === '57P03' || /Connection terminated/i.test(message)) {
    return new DbaasError('PG_CONNECTION_FAILED', `the PostgreSQL session ended: ${message}`, { cause: error, details: { sql, sqlState } });
  }
  return new DbaasError('PG_QUERY_FAILED', `PostgreSQL: ${message}`, {
    cause: error,
    ...(fix ? { fix } : {}),
    details: { sql, ...(sqlState ? { sqlState } : {}), ...(pgError.detail ? { detail: pgError.detail } : {}) },
  });
}

/**
 * Opens a session on a PostgreSQL server.
 *
 * @throws DbaasError `PG_CONNECTION_FAILED` when the server cannot be reached or refuses the login.
 * @example
 * ```ts
 * const session = await openSession('postgresql://postgres@127.0.0.1:5432/postgres', { applicationName: 'kubectl-dbaas' });
 * ```
 */
export async function openSession(
  config: PostgresConnectionConfig,
  options: { applicationName?: string; connectTimeoutMs?: number } = {},
): Promise<SqlSession> {
  const clientConfig = normalise(config, options.applicationName);
  if (options.connectTimeoutMs !== undefined && clientConfig.connectionTimeoutMillis === undefined) {
    clientConfig.connectionTimeoutMillis = options.connectTimeoutMs;
  }
  const { default: postgres } = await import('pg');
  const client = new postgres.Client(clientConfig);
  let closed = false;
  let ending = false;
  let lost: Error | undefined;
  let busy = 0;
  const lostListeners = new Set<(error: Error) => void>();
  const markLost = (error: Error): void => {
    closed = true;
    if (ending || lost) return;
    lost = error;
    const listeners = [...lostListeners];
    lostListeners.clear();
    for (const listener of listeners) {
      try {
        listener(error);
      } catch {
        // a listener's failure must not break pg's event emitter
      }
    }
  };
  // A lost connection must not become an unhandled 'error' event: the next query reports it.
  client.on('error', (error: Error) => markLost(error));
  client.on('end', () => {
    closed = true;
    // pg emits 'error' before 'end' for an unexpected close of an idle client, but not always for
    // a busy one (its query is rejected instead): an 'end' we did not ask for is a loss too.
    markLost(new Error('Connection terminated unexpectedly'));
  });
  try {
    await client.connect();
  } catch (error) {
    closed = true;
    const message = (error as Error).message ?? String(error);
    throw new DbaasError('PG_CONNECTION_FAILED', `cannot connect to PostgreSQL at ${where(clientConfig)}: ${message}`, {
      cause: error,
      fix: 'Check host, port, user, password and database, and that pg_hba.conf admits this client.',
    });
  }
  let info: { pid: number; num: number };
  try {
    const result = await client.query<{ pid: number; num: string }>("select pg_backend_pid() as pid, current_setting('server_version_num') as num");
    const row = result.rows[0];
    info = { pid: Number(row?.pid), num: Number(row?.num) };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw sqlError(error, 'select pg_backend_pid()');
  }
  const session: SqlSession = {
    backendPid: info.pid,
    serverVersionNum: info.num,
    get busy() {
      return busy > 0;
    },
    get closed() {
      return closed;
    },
    async query<R extends SqlRow = SqlRow>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
      if (closed) {
        throw new DbaasError('PG_CONNECTION_FAILED', `the PostgreSQL session is closed${lost ? ` (${lost.message})` : ''}`, {
          cause: lost,
          details: { sql },
        });
      }
      busy++;
      try {
        return (await client.query<R>(sql, params as unknown[])).rows;
      } catch (error) {
        throw sqlError(error, sql);
      } finally {
        busy--;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      ending = true;
      await client.end().catch(() => undefined);
    },
    destroy() {
      closed = true;
      ending = true;
      // pg has no public "abort": end the socket under it.
      const connection = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection;
      connection?.stream?.destroy();
      client.end().catch(() => undefined);
    },
    onLost(listener) {
      if (lost) {
        listener(lost);
        return () => undefined;
      }
      if (ending) return () => undefined;
      lostListeners.add(listener);
      return () => lostListeners.delete(listener);
    },
  };
  return session;
}
