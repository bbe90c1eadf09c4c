import type { CommandModule } from 'yargs';
import { z } from 'zod';
import { globalOptionsSchema } from '../../../global-options.js';
import { writeResult } from '../../../output.js';
import { parseArgs } from '../../../parse-args.js';

const walStatusArgsSchema = globalOptionsSchema.extend({
  dsn: z.string().min(1).optional(),
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  user: z.string().min(1).optional(),
  dbname: z.string().min(1).optional(),
});
export type WalStatusArgs = z.infer<typeof walStatusArgsSchema>;

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
    const { runWalStatus, renderWalStatus } = await import('./run.js');
    writeResult(await runWalStatus(args), args.output, renderWalStatus);
  },
};
