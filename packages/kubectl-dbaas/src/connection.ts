// The PostgreSQL connection flags shared by the commands that open a SQL session (`wal status`,
// `backup create` in checkpoint/online mode): declared, parsed and turned into a connection once.
import type { PostgresConnectionConfig } from '@kubectl-dbaas/sdk';
import type { Argv } from 'yargs';
import * as z from 'zod/mini';

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
 * (`--db-user`, not `--user`: that is kubectl's flag for the kubeconfig user).
 * Passwords are never flags: `$PGPASSWORD` or `~/.pgpass`, as libpq.
 *
 * @example
 * ```ts
 * builder: (argv) => withConnectionOptions(argv, 'Database connection (checkpoint and online modes):');
 * ```
 */
export function withConnectionOptions<T>(argv: Argv<T>, group?: string) {
  const g = group ? { group } : {};
  return argv
    .option('dsn', { type: 'string', describe: 'Connection string (default: $DATABASE_URL, else the PG* variables)', ...g })
    .option('host', { type: 'string', describe: 'Server host or socket directory (default: $PGHOST)', ...g })
    .option('port', { type: 'number', describe: 'Server port (default: $PGPORT or 5432)', ...g })
    .option('db-user', { type: 'string', describe: 'Database user (default: $PGUSER); the password comes from $PGPASSWORD or ~/.pgpass', ...g })
    .option('dbname', { type: 'string', describe: 'Database (default: $PGDATABASE)', ...g });
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
  const connectionString = args.dsn ?? environment.DATABASE_URL;
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
 * Whether the user said how to reach the database: a connection flag, `$DATABASE_URL` or `$PGHOST`.
 * Commands for which a connection is optional (`backup create` in crash/fenced mode) connect only then.
 *
 * @example
 * ```ts
 * connectionGiven({}, {}); // false
 * connectionGiven({ port: 5433 }, {}); // true
 * ```
 */
export function connectionGiven(args: ConnectionArgs, environment: NodeJS.ProcessEnv = process.env): boolean {
  return [args.dsn, args.host, args.port, args.dbUser, args.dbname, environment.DATABASE_URL, environment.PGHOST].some((v) => v !== undefined && v !== '');
}
