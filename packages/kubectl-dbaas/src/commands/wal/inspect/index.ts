import type { CommandModule } from 'yargs';
import * as z from 'zod/mini';
import { globalOptionsSchema } from '../../../global-options.js';
import { writeResult } from '../../../output.js';
import { parseArgs } from '../../../parse-args.js';

const walInspectArgsSchema = z.extend(globalOptionsSchema, {
  source: z.string().check(z.minLength(1, 'name a data directory or a .snap / .tar.gz file')),
  atomicSnapshot: z._default(z.boolean(), false),
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
  command: 'inspect <source>',
  describe: 'Check whether a PostgreSQL data directory or a hostpath .snap file is restorable',
  builder: (argv) =>
    argv
      .positional('source', { type: 'string', describe: 'A data directory, or a .snap / .tar.gz of one' })
      .option('atomic-snapshot', {
        type: 'boolean',
        default: false,
        describe: 'The copy was taken atomically (one point in time), so a running server copy is crash-consistent',
      }),
  handler: async (argv) => {
    const args = parseArgs(walInspectArgsSchema, argv);
    const { runWalInspect, renderWalInspect } = await import('./run.js');
    // Progress only where a person watches (stderr is a terminal); logs and pipes get the result alone.
    const report = process.stderr.isTTY
      ? await (await import('../../../progress.js')).createProgress().run(`inspecting ${args.source}`, () => runWalInspect(args))
      : await runWalInspect(args);
    await writeResult(report, args.output, { text: renderWalInspect, name: (r) => r.source });
    if (!report.restorable) process.exitCode = 1;
  },
};
