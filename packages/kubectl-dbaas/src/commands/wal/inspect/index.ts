import type { CommandModule } from 'yargs';
import * as z from 'zod/mini';
import { globalOptionsSchema } from '../../../global-options.js';
import { writeResult } from '../../../output.js';
import { parseArgs } from '../../../parse-args.js';
import { UsageError } from '../../../usage-error.js';

const walInspectArgsSchema = z.extend(globalOptionsSchema, {
  source: z.optional(z.string().check(z.minLength(1, 'name a data directory or a .snap / .tar.gz file'))),
  atomicSnapshot: z._default(z.boolean(), false),
  backupStopLsn: z.optional(z.string().check(z.minLength(1, 'give the LSN pg_backup_stop() returned, e.g. 0/5000100'))),
});

/**
 * `kubectl dbaas wal inspect <source>`: whether a data directory copy or a hostpath `.snap` file
 * would restore. Exit code 1 when it would not. On a terminal the scan shows a spinner on stderr.
 *
 * @example
 * ```sh
 * kubectl dbaas wal inspect ./pg.snap -o json
 * ```
 */
export const walInspectCommand: CommandModule = {
  // [source], not <source>: a missing one gets our message, not yargs' "Not enough non-option arguments".
  command: 'inspect [source]',
  describe: 'Check whether a PostgreSQL data directory or a hostpath .snap file is restorable',
  builder: (argv) =>
    argv
      .positional('source', { type: 'string', describe: 'A data directory, or a .snap / .tar.gz of one' })
      .option('atomic-snapshot', {
        type: 'boolean',
        default: false,
        describe: 'The copy was taken atomically (one point in time), so a running server copy is crash-consistent',
      })
      .option('backup-stop-lsn', {
        type: 'string',
        describe:
          'For an online backup: the LSN pg_backup_stop() returned (backup describe shows it as stopLsn), so that an incomplete copy names the missing WAL segments',
      })
      .example('kubectl dbaas wal inspect /var/lib/postgresql/data', 'A data directory (of a stopped server, or a copy)')
      .example('kubectl dbaas wal inspect ./pg.snap --backup-stop-lsn 0/5000100 -o json', 'A hostpath snapshot file of an online backup'),
  handler: async (argv) => {
    const parsed = parseArgs(walInspectArgsSchema, argv);
    if (parsed.source === undefined)
      throw new UsageError('name what to inspect: kubectl dbaas wal inspect DIRECTORY (a PostgreSQL data directory) or FILE (a .snap / .tar.gz of one)');
    const args = { ...parsed, source: parsed.source };
    const { runWalInspect, renderWalInspect } = await import('./run.js');
    // Progress only where a person watches (stderr is a terminal); logs and pipes get the result alone.
    const report = process.stderr.isTTY
      ? await (await import('../../../progress.js')).createProgress().run(`inspecting ${args.source}`, () => runWalInspect(args))
      : await runWalInspect(args);
    await writeResult(report, args.output, { text: renderWalInspect, name: (r) => r.source });
    if (!report.restorable) process.exitCode = 1;
  },
};
