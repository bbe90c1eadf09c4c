import type { CommandModule } from 'yargs';
import { z } from 'zod';
import { globalOptionsSchema } from '../../../global-options.js';
import { writeResult } from '../../../output.js';
import { parseArgs } from '../../../parse-args.js';

const walInspectArgsSchema = globalOptionsSchema.extend({
  source: z.string().min(1, 'name a data directory or a .snap / .tar.gz file'),
  atomicSnapshot: z.boolean().default(false),
});

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
    const report = await runWalInspect(args);
    writeResult(report, args.output, renderWalInspect);
    if (!report.restorable) process.exitCode = 1;
  },
};
