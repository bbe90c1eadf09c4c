import type { CommandModule } from 'yargs';
import * as z from 'zod/mini';
import { globalOptionsSchema } from '../../global-options.js';
import { writeResult } from '../../output.js';
import { parseArgs } from '../../parse-args.js';

/**
 * `kubectl dbaas version`: the plugin's version, the Node.js running it, the platform.
 *
 * @example
 * ```sh
 * kubectl dbaas version -o json
 * ```
 */
export const versionCommand: CommandModule = {
  command: 'version',
  describe: 'Print the version of kubectl-dbaas',
  handler: async (argv) => {
    const args = parseArgs(z.looseObject(globalOptionsSchema.shape), argv);
    const { runVersion, renderVersion } = await import('./run.js');
    await writeResult(runVersion(), args.output, { text: renderVersion, name: () => 'kubectl-dbaas' });
  },
};
