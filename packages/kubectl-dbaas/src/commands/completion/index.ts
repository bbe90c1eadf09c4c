import type { CommandModule } from 'yargs';
import * as z from 'zod/mini';
import { parseArgs } from '../../parse-args.js';
import { COMPLETION_SHELLS, completionScript, shellFromEnvironment } from './run.js';

const completionArgsSchema = z.looseObject({ shell: z.optional(z.enum(COMPLETION_SHELLS)) });

/**
 * `kubectl dbaas completion [bash|zsh]`: prints a shell completion script.
 *
 * @example
 * ```sh
 * source <(kubectl-dbaas completion bash)
 * ```
 */
export const completionCommand: CommandModule = {
  command: 'completion [shell]',
  describe: 'Print a shell completion script for kubectl-dbaas (bash or zsh; default from $SHELL)',
  builder: (argv) =>
    argv
      .positional('shell', { choices: COMPLETION_SHELLS, describe: 'The shell' })
      .example('source <(kubectl-dbaas completion bash)', 'Complete in this bash session')
      // biome-ignore lint/suspicious/noTemplateCurlyInString: zsh's ${fpath[1]}, written as the user types it
      .example('kubectl-dbaas completion zsh > "${fpath[1]}/_kubectl-dbaas"', 'Install for zsh'),
  handler: (argv) => {
    const args = parseArgs(completionArgsSchema, argv);
    process.stdout.write(completionScript(args.shell ?? shellFromEnvironment()));
  },
};
