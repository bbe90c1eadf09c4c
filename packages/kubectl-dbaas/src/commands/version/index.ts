import type { CommandModule } from 'yargs';
import { globalOptionsSchema } from '../../global-options.js';
import { writeResult } from '../../output.js';
import { parseArgs } from '../../parse-args.js';

export const versionCommand: CommandModule = {
  command: 'version',
  describe: 'Print the version of kubectl-dbaas',
  handler: async (argv) => {
    const args = parseArgs(globalOptionsSchema.loose(), argv);
    const { runVersion, renderVersion } = await import('./run.js');
    writeResult(runVersion(), args.output, renderVersion);
  },
};
