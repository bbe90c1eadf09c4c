// The connection flags shared by the commands that open a SQL session (`wal status`, `backup
// create` in checkpoint/online mode): declared, parsed and turned into a connection once, for
// PostgreSQL (`pg` options, the libpq variables) or MySQL/MariaDB (`mysql2` options, the mysql
// client's variables). Which engine it is, the caller says (backup create: detected from the target).
import type { MysqlConnectionConfig, PostgresConnectionConfig } from '@kubectl-dbaas/sdk';
import type { Argv } from 'yargs';
import * as z from 'zod/mini';
import { UsageError } from './usage-error.js';

const nonEmpty = () => z.optional(z.string().check(z.minLength(1)));

/**
 * zod fields of the connection flags, to extend a command's argument schema with.
 *
 * @example
 * ```ts
 * const schema = z.extend(globalOptionsSchema, { ...connectionArgsShape, source: z.string() });
 * ```
 */
export const connectionArgsShape = {
  dsn: nonEmpty(),
  host: nonEmpty(),
  port: z.optional(z.int().check(z.minimum(1), z.maximum(65535))),
  dbUser: nonEmpty(),
  dbname: nonEmpty(),
};

/**
 * The parsed connection flags.
 *
 * @example
 * ```ts
 * const args: ConnectionArgs = { host: '127.0.0.1', port: 5432, dbUser: 'postgres' };
 * ```
 */
export interface ConnectionArgs {
  dsn?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  dbUser?: string | undefined;
  dbname?: string | undefined;
}

/**
 * Adds the connection flags (`--dsn`, `--host`, `--port`, `--db-user`, `--dbname`) to a command
 * (`--db-user`, not `--user`: that is kubectl's flag for the kubeconfig user). With `mysql`, the
 * help names the MySQL/MariaDB defaults too (commands that can reach both engines).
 * Passwords are never flags: `$PGPASSWORD` or `~/.pgpass`, as libpq; `$MYSQL_PWD`, as the mysql client.
 *
 * @example
 * ```ts
 * builder: (argv) => withConnectionOptions(argv, 'Database connection (checkpoint and online modes):', { mysql: true });
 * ```
 */
export function withConnectionOptions<T>(argv: Argv<T>, group?: string, opts: { mysql?: boolean } = {}) {
  const g = group ? { group } : {};
  if (!opts.mysql) {
    return argv
      .option('dsn', { type: 'string', describe: 'Connection string (default: $DATABASE_URL, else the PG* variables)', ...g })
      .option('host', { type: 'string', describe: 'Server host or socket directory (default: $PGHOST)', ...g })
      .option('port', { type: 'number', describe: 'Server port (default: $PGPORT or 5432)', ...g })
      .option('db-user', { type: 'string', describe: 'Database user (default: $PGUSER); the password comes from $PGPASSWORD or ~/.pgpass', ...g })
      .option('dbname', { type: 'string', describe: 'Database (default: $PGDATABASE)', ...g });
  }
  return argv
    .option('dsn', {
      type: 'string',
      describe: "A postgresql:// or mysql:// URL (default: $DATABASE_URL of the engine's scheme, else the variables below)",
      ...g,
    })
    .option('host', {
      type: 'string',
      describe: 'Server host, or socket (PostgreSQL: its directory; MySQL/MariaDB: its path) (default: $PGHOST; $MYSQL_HOST)',
      ...g,
    })
    .option('port', { type: 'number', describe: 'Server port (default: $PGPORT or 5432; $MYSQL_TCP_PORT or 3306)', ...g })
    .option('db-user', {
      type: 'string',
      describe:
        'Database user (default: $PGUSER; the login name, as the mysql client). The password comes from $PGPASSWORD or ~/.pgpass (PostgreSQL), $MYSQL_PWD (MySQL/MariaDB)',
      ...g,
    })
    .option('dbname', { type: 'string', describe: 'Database (default: $PGDATABASE; none for MySQL/MariaDB)', ...g });
}

/**
 * The engine family a `--dsn` names by its scheme: `postgres://`/`postgresql://` (and libpq's
 * `key=value` form, which has no scheme) are PostgreSQL, `mysql://`/`mariadb://` MySQL/MariaDB.
 *
 * @throws UsageError for another scheme.
 * @example
 * ```ts
 * dsnEngine('mysql://root@127.0.0.1:3306/app'); // 'mysql'
 * dsnEngine('host=/run/postgresql dbname=app'); // 'postgres'
 * ```
 */
export function dsnEngine(dsn: string): 'postgres' | 'mysql' {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(dsn)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  if (scheme === 'mysql' || scheme === 'mariadb') return 'mysql';
  throw new UsageError(`--dsn: a ${scheme}:// URL is neither PostgreSQL's nor MySQL's; use postgresql://USER@HOST:PORT/DB or mysql://USER@HOST:PORT/DB`);
}

/**
 * The connection to use: flags win over `--dsn`, which wins over `$DATABASE_URL`; what is left
 * unset comes from libpq's variables (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD), which `pg`
 * reads itself. Passwords never come from flags, so they stay out of shell history and `ps`.
 *
 * @example
 * ```ts
 * connectionFromArgs({ host: 'h', port: 6543 }, {}); // { host: 'h', port: 6543, application_name: 'kubectl-dbaas' }
 * ```
 */
export function connectionFromArgs(args: ConnectionArgs, environment: NodeJS.ProcessEnv = process.env): PostgresConnectionConfig {
  // A mysql:// $DATABASE_URL is not PostgreSQL's: libpq's variables are used then.
  const fromEnv = environment.DATABASE_URL && dsnEngineOrUndefined(environment.DATABASE_URL) !== 'mysql' ? environment.DATABASE_URL : undefined;
  const connectionString = args.dsn ?? fromEnv;
  return {
    ...(connectionString ? { connectionString } : {}),
    ...(args.host ? { host: args.host } : {}),
    ...(args.port ? { port: args.port } : {}),
    ...(args.dbUser ? { user: args.dbUser } : {}),
    ...(args.dbname ? { database: args.dbname } : {}),
    application_name: 'kubectl-dbaas',
  };
}

/**
 * The MySQL/MariaDB connection to use (`mysql2` options): flags win over `--dsn` (a `mysql://`
 * URL), which wins over `$DATABASE_URL` (when it is a `mysql://` URL); what is left comes from the
 * mysql client's variables: `$MYSQL_HOST`, `$MYSQL_TCP_PORT`, the login name (`$USER`) as the user,
 * and `$MYSQL_PWD` as the password unless the URL has one. A `--host` starting with `/` is the
 * server's socket. The password is never a flag (shell history, `ps`).
 *
 * @example
 * ```ts
 * mysqlConnectionFromArgs({ host: '127.0.0.1', port: 13306, dbUser: 'root' }, { MYSQL_PWD: 's3cret' });
 * // { host: '127.0.0.1', port: 13306, user: 'root', password: 's3cret' }
 * ```
 */
export function mysqlConnectionFromArgs(args: ConnectionArgs, environment: NodeJS.ProcessEnv = process.env): MysqlConnectionConfig {
  const fromEnv = environment.DATABASE_URL && dsnEngineOrUndefined(environment.DATABASE_URL) === 'mysql' ? environment.DATABASE_URL : undefined;
  const uri = args.dsn ?? fromEnv;
  const host = args.host ?? (uri ? undefined : nonEmptyValue(environment.MYSQL_HOST));
  const portText = args.port !== undefined ? String(args.port) : uri ? undefined : nonEmptyValue(environment.MYSQL_TCP_PORT);
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new UsageError(`$MYSQL_TCP_PORT is not a TCP port: "${portText}"`);
  const user = args.dbUser ?? (uri ? undefined : nonEmptyValue(environment.USER));
  const password = uri && urlHasPassword(uri) ? undefined : nonEmptyValue(environment.MYSQL_PWD);
  return {
    ...(uri ? { uri } : {}),
    ...(host ? (host.startsWith('/') ? { socketPath: host } : { host }) : {}),
    ...(port !== undefined ? { port } : {}),
    ...(user ? { user } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(args.dbname ? { database: args.dbname } : {}),
  };
}

function nonEmptyValue(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

function dsnEngineOrUndefined(dsn: string): 'postgres' | 'mysql' | undefined {
  try {
    return dsnEngine(dsn);
  } catch {
    return undefined;
  }
}

function urlHasPassword(uri: string): boolean {
  try {
    return new URL(uri).password !== '';
  } catch {
    return false;
  }
}

/**
 * Whether the user said how to reach the database: a connection flag, `$DATABASE_URL` or `$PGHOST`
 * (for MySQL/MariaDB: a `mysql://` `$DATABASE_URL` or `$MYSQL_HOST`). Commands for which a
 * connection is optional (`backup create` in crash/fenced mode) connect only then.
 *
 * @example
 * ```ts
 * connectionGiven({}, {}); // false
 * connectionGiven({ port: 5433 }, {}); // true
 * connectionGiven({}, { MYSQL_HOST: '127.0.0.1' }, 'mysql'); // true
 * ```
 */
export function connectionGiven(args: ConnectionArgs, environment: NodeJS.ProcessEnv = process.env, engine: 'postgres' | 'mysql' = 'postgres'): boolean {
  const url = environment.DATABASE_URL && dsnEngineOrUndefined(environment.DATABASE_URL) === engine ? environment.DATABASE_URL : undefined;
  const hostVariable = engine === 'postgres' ? environment.PGHOST : environment.MYSQL_HOST;
  return [args.dsn, args.host, args.port, args.dbUser, args.dbname, url, hostVariable].some((v) => v !== undefined && v !== '');
}
