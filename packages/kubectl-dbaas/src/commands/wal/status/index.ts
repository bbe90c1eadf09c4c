import type { CommandModule } from 'yargs';
import * as z from 'zod/mini';
import { connectionArgsShape, dsnEngine, withConnectionOptions } from '../../../connection.js';
import { globalOptionsSchema } from '../../../global-options.js';
import { writeResult } from '../../../output.js';
import { parseArgs } from '../../../parse-args.js';
import { UsageError } from '../../../usage-error.js';

const walStatusArgsSchema = z.extend(globalOptionsSchema, connectionArgsShape);
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
  builder: (argv) => withConnectionOptions(argv),
  handler: async (argv) => {
    const args = parseArgs(walStatusArgsSchema, argv);
    if (args.output === 'name') throw new UsageError('wal status has no -o name output; use -o text, json or yaml');
    if (args.dsn && dsnEngine(args.dsn) === 'mysql') {
      throw new UsageError(
        "wal status reads PostgreSQL's WAL; MySQL/MariaDB have none (backup create --mode online records their binary log position and GTID set on the snapshot); give a postgresql:// --dsn",
      );
    }
    const { runWalStatus, renderWalStatus } = await import('./run.js');
    await writeResult(await runWalStatus(args), args.output, renderWalStatus);
  },
};
