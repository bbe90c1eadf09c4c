// The MySQL/MariaDB implementation of the engine hooks (engines/engine.ts), on mysql2:
// describe() (flavor, version, server_uuid), and an online session that holds the global lock on
// ONE connection across the snapshot cut: `BACKUP STAGE START` + `BACKUP STAGE BLOCK_COMMIT` on
// MariaDB >= 10.4, `FLUSH TABLES WITH READ LOCK` on MySQL (and older MariaDB), recording the binlog
// file/position and the GTID set at the lock. There is no `checkpoint` hook: InnoDB has no
// statement that makes a non-atomic copy of a running server consistent (docs/engines.md).
import { DbaasError } from '../../errors.js';
import type { EngineHooks, EngineMetadata, EngineOnlineBackup } from '../engine.js';
import { openMysqlSession, type MysqlConnectionConfig, type MysqlSession } from './sql.js';

/**
 * What a server says it is.
 *
 * @example
 * ```ts
 * parseMysqlVersion('10.11.19-MariaDB-0+deb12u1-log'); // { flavor: 'mariadb', version: '10.11.19', major: 10, minor: 11, patch: 19 }
 * ```
 */
export interface MysqlServerVersion {
  flavor: 'mysql' | 'mariadb';
  /** `major.minor.patch` (what `dbaas.io/engine-version` records). */
  version: string;
  major: number;
  minor: number;
  patch: number;
  /** The server's own text (`VERSION()`). */
  raw: string;
}

/**
 * Parses `SELECT VERSION()` (and optionally `@@version_comment`): MariaDB says so in the version
 * (`10.11.19-MariaDB-...`; MariaDB 10.x also once used a `5.5.5-` prefix on the wire), MySQL and
 * Percona Server do not.
 *
 * @throws DbaasError `INVALID_ARGUMENT` when there is no `x.y.z` version in the text.
 * @example
 * ```ts
 * parseMysqlVersion('8.0.36').flavor; // 'mysql'
 * parseMysqlVersion('5.5.5-10.6.16-MariaDB').version; // '10.6.16'
 * ```
 */
export function parseMysqlVersion(raw: string, versionComment = ''): MysqlServerVersion {
  const mariadb = /mariadb/i.test(raw) || /mariadb/i.test(versionComment);
  const text = mariadb ? raw.replace(/^5\.5\.5-/, '') : raw;
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (!m) throw new DbaasError('INVALID_ARGUMENT', `"${raw}" is not a MySQL/MariaDB version (x.y.z...)`);
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return { flavor: mariadb ? 'mariadb' : 'mysql', version: `${major}.${minor}.${patch}`, major, minor, patch, raw };
}

/**
 * How the online session locks the server: MariaDB >= 10.4.1 has `BACKUP STAGE` (commits blocked,
 * reads and non-committing work go on); MySQL and older MariaDB use `FLUSH TABLES WITH READ LOCK`.
 *
 * @example
 * ```ts
 * onlineLockMethod(parseMysqlVersion('10.11.19-MariaDB')); // 'backup-stage'
 * onlineLockMethod(parseMysqlVersion('8.4.2')); // 'ftwrl'
 * ```
 */
export function onlineLockMethod(v: MysqlServerVersion): 'backup-stage' | 'ftwrl' {
  if (v.flavor === 'mariadb' && (v.major > 10 || (v.major === 10 && (v.minor > 4 || (v.minor === 4 && v.patch >= 1))))) return 'backup-stage';
  return 'ftwrl';
}

/**
 * The statement that shows the binary log position: MySQL 8.2 deprecated `SHOW MASTER STATUS`
 * and 8.4 removed it for `SHOW BINARY LOG STATUS`; MariaDB keeps `SHOW MASTER STATUS`
 * (alias `SHOW BINLOG STATUS` from 10.5.2).
 *
 * @example
 * ```ts
 * binlogStatusStatement(parseMysqlVersion('8.4.0')); // 'SHOW BINARY LOG STATUS'
 * ```
 */
export function binlogStatusStatement(v: MysqlServerVersion): string {
  if (v.flavor === 'mysql' && (v.major > 8 || (v.major === 8 && v.minor >= 2))) return 'SHOW BINARY LOG STATUS';
  return 'SHOW MASTER STATUS';
}

/**
 * Options of {@link mysqlEngine}.
 *
 * @example
 * ```ts
 * const engine = await mysqlEngine(config, { lockWaitTimeoutSeconds: 30 } satisfies MysqlEngineOptions);
 * ```
 */
export interface MysqlEngineOptions {
  /**
   * `lock_wait_timeout` (seconds) of the locking session: how long `FLUSH TABLES WITH READ LOCK` /
   * `BACKUP STAGE BLOCK_COMMIT` may wait behind running statements (meanwhile it blocks other
   * writers). Default 60.
   */
  lockWaitTimeoutSeconds?: number;
  /**
   * The lock of the online session. Default `auto` ({@link onlineLockMethod}: `BACKUP STAGE` on
   * MariaDB >= 10.4.1, else `FLUSH TABLES WITH READ LOCK`). MariaDB also has FTWRL.
   */
  lockMethod?: 'auto' | 'ftwrl' | 'backup-stage';
}

/**
 * Engine hooks for MySQL (5.7, 8.x, Percona Server) and MariaDB (10.x, 11.x), connected to
 * `config`. `engine` is `mariadb` or `mysql` as the server says. `describe()` records the flavor,
 * the version and (MySQL) `server_uuid`. `beginOnlineBackup()` takes the global lock on its own
 * session and records `binlogFile`/`binlogPosition` (empty when the binary log is off) and
 * `gtidExecuted` (MySQL `gtid_executed`, MariaDB `gtid_binlog_pos`) at the lock; `stop()` unlocks
 * (the caller calls it at the cut); `abort()` drops the connection, which releases the lock.
 * There is no separate WAL snapshot (`separateWalSnapshot: false`): the data snapshot holds the
 * redo log and the binary log.
 *
 * @throws DbaasError `MYSQL_CONNECTION_FAILED`
 * @example
 * ```ts
 * const engine = await mysqlEngine({ host: '127.0.0.1', port: 3306, user: 'root', password: 's3cret' });
 * await runBackup(clients, { namespace: 'db', target: { pvc: 'data-mariadb-0' }, mode: 'fenced', engine });
 * await engine.close();
 * ```
 */
export async function mysqlEngine(
  config: MysqlConnectionConfig,
  opts: MysqlEngineOptions = {},
): Promise<EngineHooks & { readonly version: MysqlServerVersion }> {
  const session = await openMysqlSession(config);
  let version: MysqlServerVersion;
  try {
    const [row] = await session.query<{ v: string; c: string | null }>('SELECT VERSION() AS v, @@version_comment AS c');
    version = parseMysqlVersion(String(row?.v ?? ''), String(row?.c ?? ''));
  } catch (error) {
    await session.close();
    throw error;
  }
  const lockTimeout = opts.lockWaitTimeoutSeconds ?? 60;
  if (!Number.isInteger(lockTimeout) || lockTimeout < 1)
    throw new DbaasError('INVALID_ARGUMENT', `lockWaitTimeoutSeconds must be a positive integer, not ${lockTimeout}`);

  const describe = async (): Promise<EngineMetadata> => {
    const facts: EngineMetadata = { engine: version.flavor, engineVersion: version.version };
    if (version.flavor === 'mysql') {
      const [row] = await session.query<{ u: string | null }>('SELECT @@server_uuid AS u');
      if (row?.u) facts.serverUuid = String(row.u);
    }
    return facts;
  };

  return {
    engine: version.flavor,
    version,
    describe,
    async serverIdentity() {
      const [row] = await session.query<{ h: string | null }>('SELECT @@hostname AS h');
      return row?.h ? { hostname: String(row.h) } : {};
    },
    async beginOnlineBackup({ signal }) {
      const method = opts.lockMethod === undefined || opts.lockMethod === 'auto' ? onlineLockMethod(version) : opts.lockMethod;
      if (method === 'backup-stage' && onlineLockMethod(version) !== 'backup-stage') {
        throw new DbaasError('TARGET_UNSUPPORTED', `BACKUP STAGE needs MariaDB 10.4.1 or later; this server is ${version.flavor} ${version.version}`, {
          fix: "Leave the lock method to 'auto' (FLUSH TABLES WITH READ LOCK on this server), or upgrade the server.",
          option: 'lockMethod',
        });
      }
      const lock = await openMysqlSession(config);
      let ended = false;
      const unlockSql = method === 'backup-stage' ? 'BACKUP STAGE END' : 'UNLOCK TABLES';
      const onAbort = (): void => lock.destroy();
      try {
        signal?.addEventListener('abort', onAbort, { once: true });
        if (signal?.aborted) throw new DbaasError('BACKUP_ABORTED', 'the backup was aborted before the lock was taken');
        await lock.query(`SET SESSION lock_wait_timeout = ${lockTimeout}`);
        if (method === 'backup-stage') {
          await lock.query('BACKUP STAGE START');
          await lock.query('BACKUP STAGE BLOCK_COMMIT');
        } else {
          await lock.query('FLUSH TABLES WITH READ LOCK');
        }
        const positions = await readPositions(lock, version);
        const startMetadata: EngineMetadata = { ...positions };
        const backup: EngineOnlineBackup & {
          readonly separateWalSnapshot: false;
          readonly lockMethod: 'backup-stage' | 'ftwrl';
          readonly connectionId: number;
        } = {
          startMetadata,
          separateWalSnapshot: false,
          lockMethod: method,
          connectionId: lock.connectionId,
          holds: {
            description: `${method === 'backup-stage' ? 'BACKUP STAGE BLOCK_COMMIT' : 'FLUSH TABLES WITH READ LOCK'} on connection ${lock.connectionId}`,
          },
          onLost: (listener) => lock.onLost(listener),
          async stop() {
            if (ended) throw new DbaasError('BACKUP_NOT_RUNNING', 'the online backup lock has already been released');
            await lock.query(unlockSql);
            ended = true;
            signal?.removeEventListener('abort', onAbort);
            return {};
          },
          async release() {
            ended = true;
            signal?.removeEventListener('abort', onAbort);
            await lock.close();
          },
          async abort() {
            ended = true;
            signal?.removeEventListener('abort', onAbort);
            // Dropping the connection ends the session on the server, which releases the lock.
            lock.destroy();
          },
        };
        return backup;
      } catch (error) {
        signal?.removeEventListener('abort', onAbort);
        lock.destroy();
        if (signal?.aborted) throw new DbaasError('BACKUP_ABORTED', 'the backup was aborted while the lock was being taken', { cause: error });
        throw error;
      }
    },
    close: () => session.close(),
  };
}

async function readPositions(lock: MysqlSession, version: MysqlServerVersion): Promise<EngineMetadata> {
  const out: EngineMetadata = {};
  const [status] = await lock.query<{ File?: string; Position?: string | number; Executed_Gtid_Set?: string }>(binlogStatusStatement(version));
  if (status?.File) {
    out.binlogFile = String(status.File);
    out.binlogPosition = BigInt(String(status.Position));
  }
  const gtidSql = version.flavor === 'mariadb' ? 'SELECT @@GLOBAL.gtid_binlog_pos AS g' : 'SELECT @@GLOBAL.gtid_executed AS g';
  const [g] = await lock.query<{ g: string | null }>(gtidSql);
  const gtid = String(g?.g ?? '').replace(/\s+/g, '');
  if (gtid) out.gtidExecuted = gtid;
  return out;
}
