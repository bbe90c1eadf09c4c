// The one module of the SDK that talks to MySQL/MariaDB through `mysql2`. Everything else gets
// plain rows back; errors come out as DbaasError (MYSQL_CONNECTION_FAILED / MYSQL_QUERY_FAILED).
// mysql2 is imported when a session is opened, not with the SDK: most commands never talk to
// MySQL, and loading it cost every one of them its start-up time (bench/cli-startup).
import type mysql from 'mysql2/promise';

import { DbaasError } from '../../errors.js';

/**
 * How to reach a MySQL or MariaDB server: a `mysql://user:pass@host:port/db` URL or the options of
 * `mysql2` (`host`, `port`, `user`, `password`, `socketPath`, `ssl`, ...).
 *
 * @example
 * ```ts
 * const config: MysqlConnectionConfig = { host: '127.0.0.1', port: 3306, user: 'root' };
 * ```
 */
export type MysqlConnectionConfig = string | mysql.ConnectionOptions;

/**
 * A row as `mysql2` returns it (BIGINT/DECIMAL as strings: `supportBigNumbers` + `bigNumberStrings`).
 *
 * @example
 * ```ts
 * const [row] = await session.query<{ File: string; Position: string } & MysqlRow>('SHOW MASTER STATUS');
 * ```
 */
export type MysqlRow = Record<string, unknown>;

/**
 * One open session on a MySQL/MariaDB server.
 *
 * @example
 * ```ts
 * const s = await openMysqlSession({ host: '127.0.0.1', port: 3306, user: 'root' });
 * try { console.log(await s.query('select 1 as one')); } finally { await s.close(); }
 * ```
 */
export interface MysqlSession {
  /** `CONNECTION_ID()` of this session on the server. */
  readonly connectionId: number;
  query<R extends MysqlRow = MysqlRow>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Whether the session has ended (closed or lost). */
  readonly closed: boolean;
  /** Ends the session (`COM_QUIT`); never throws. */
  close(): Promise<void>;
  /** Drops the socket at once; never throws. The server ends the session and releases its locks. */
  destroy(): void;
  /** Calls `listener` once when the connection is lost without close()/destroy(); returns a remover. */
  onLost(listener: (error: Error) => void): () => void;
}

function options(config: MysqlConnectionConfig): mysql.ConnectionOptions {
  const base: mysql.ConnectionOptions = typeof config === 'string' ? { uri: config } : { ...config };
  base.supportBigNumbers = true;
  base.bigNumberStrings = true;
  base.dateStrings = true;
  base.multipleStatements = false;
  return base;
}

function where(config: MysqlConnectionConfig): string {
  if (typeof config === 'string') {
    try {
      const u = new URL(config);
      return `${u.hostname}:${u.port || 3306}`;
    } catch {
      return 'the given URL';
    }
  }
  return config.socketPath ? config.socketPath : `${config.host ?? 'localhost'}:${config.port ?? 3306}`;
}

/**
 * Opens a session.
 *
 * @throws DbaasError `MYSQL_CONNECTION_FAILED`
 * @example
 * ```ts
 * const session = await openMysqlSession('mysql://root@127.0.0.1:3306');
 * ```
 */
export async function openMysqlSession(config: MysqlConnectionConfig, opts: { connectTimeoutMs?: number } = {}): Promise<MysqlSession> {
  let conn: mysql.Connection;
  try {
    // A CommonJS module: its exports are the default export.
    const { default: mysql2 } = await import('mysql2/promise');
    conn = await mysql2.createConnection({ connectTimeout: opts.connectTimeoutMs ?? 10_000, ...options(config) });
  } catch (error) {
    throw new DbaasError('MYSQL_CONNECTION_FAILED', `cannot connect to MySQL/MariaDB at ${where(config)}: ${(error as Error).message}`, {
      fix: 'Check host, port, user and password (a port-forward to the database pod, e.g. kubectl port-forward pod/db-0 3306).',
      cause: error,
    });
  }
  let closed = false;
  let lostError: Error | undefined;
  const listeners = new Set<(error: Error) => void>();
  const lose = (error: Error): void => {
    if (closed) return;
    closed = true;
    lostError = error;
    for (const l of [...listeners]) l(error);
    listeners.clear();
  };
  conn.on('error', (error: Error) => lose(error));
  conn.on('end', () => lose(new Error('the server closed the connection')));
  const [idRows] = await conn.query('SELECT CONNECTION_ID() AS id');
  const connectionId = Number((idRows as MysqlRow[])[0]?.id);
  return {
    connectionId,
    get closed() {
      return closed;
    },
    async query<R extends MysqlRow = MysqlRow>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
      if (closed) throw new DbaasError('MYSQL_CONNECTION_FAILED', `the session to ${where(config)} has ended${lostError ? `: ${lostError.message}` : ''}`);
      try {
        const [rows] = await conn.query(sql, params as unknown[]);
        return (Array.isArray(rows) ? rows : []) as R[];
      } catch (error) {
        const e = error as { code?: string; errno?: number; sqlMessage?: string; message: string; fatal?: boolean };
        if (e.fatal) lose(error as Error);
        throw new DbaasError(
          e.fatal ? 'MYSQL_CONNECTION_FAILED' : 'MYSQL_QUERY_FAILED',
          `${sql.split('\n')[0]!.slice(0, 80)}: ${e.sqlMessage ?? e.message}${e.code ? ` (${e.code})` : ''}`,
          {
            cause: error,
            details: { ...(e.code ? { sqlCode: e.code } : {}), ...(e.errno !== undefined ? { errno: e.errno } : {}) },
          },
        );
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      listeners.clear();
      await conn.end().catch(() => conn.destroy());
    },
    destroy() {
      closed = true;
      listeners.clear();
      conn.destroy();
    },
    onLost(listener) {
      if (lostError) {
        listener(lostError);
        return () => undefined;
      }
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
