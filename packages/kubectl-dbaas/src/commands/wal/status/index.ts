import type { CommandModule } from 'yargs';
import * as z from 'zod/mini';
import { globalOptionsSchema } from '../../../global-options.js';
import { writeResult } from '../../../output.js';
import { parseArgs } from '../../../parse-args.js';
import { UsageError } from '../../../usage-error.js';

const nonEmpty = () => z.optional(z.string().check(z.minLength(1)));
const walStatusArgsSchema = z.extend(globalOptionsSchema, {
  dsn: nonEmpty(),
  host: nonEmpty(),
  port: z.optional(z.int().check(z.minimum(1), z.maximum(65535))),
  user: nonEmpty(),
  dbname: nonEmpty(),
});
export type WalStatusArgs = z.infer<typeof walStatusArgsSchema>;

/**
 * `kubectl dbaas wal status`: WAL position, timeline, checkpoint and archiver of a live server.
 *
 * @example
 * ```sh
 * PGHOST=/run/postgresql kubectl dbaas wal status -o yaml
 * ```
 */
export const walStatusCommand: CommandModule = {
  command: 'status',
  describe: 'Show the WAL position, timeline, checkpoint and archiver state of a live PostgreSQL server',
  builder: (argv) =>
    argv
      .option('dsn', { type: 'string', describe: 'Connection string (default: $DATABASE_URL, else the PG* variables)' })
      .option('host', { type: 'string', describe: 'Server host or socket directory (default: $PGHOST)' })
      .option('port', { type: 'number', describe: 'Server port (default: $PGPORT or 5432)' })
      .option('user', { type: 'string', describe: 'User name (default: $PGUSER); the password comes from $PGPASSWORD or ~/.pgpass' })
      .option('dbname', { type: 'string', describe: 'Database (default: $PGDATABASE)' }),
  handler: async (argv) => {
    const args = parseArgs(walStatusArgsSchema, argv);
    if (args.output === 'name') throw new UsageError('wal status has no -o name output; use -o text, json or yaml');
    const { runWalStatus, renderWalStatus } = await import('./run.js');
    await writeResult(await runWalStatus(args), args.output, renderWalStatus);
  },
};
