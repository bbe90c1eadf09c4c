import { EXIT_FAILURE, EXIT_USAGE } from './exit-codes.js';
import { interruptedIn } from './interrupt.js';
import { UsageError } from './usage-error.js';
import { verbosity } from './verbosity.js';

/**
 * The one place where the CLI catches errors: prints the cause and the fix to stderr and returns
 * the exit code. Usage mistakes (bad flags, from yargs, zod or the command's own checks) exit 2,
 * and nothing else does; an operation stopped by Ctrl-C or SIGTERM exits 130 or 143 once it has
 * cleaned up; every other failure (the SDK's DbaasErrors whatever their code, anything unexpected) 1.
 * The SDK (for its error normaliser) is loaded only here, when a command failed, so that `version`
 * and `--help` never load it.
 *
 * @example
 * ```ts
 * process.exitCode = await reportError(new UsageError('--output: invalid value')); // 2
 * ```
 */
export async function reportError(
  thrown: unknown,
  write: (text: string) => void = (text) => process.stderr.write(text),
  options: { command?: string } = {},
): Promise<number> {
  if (isUsageError(thrown)) {
    write(`error: ${thrown.message}\nRun '${options.command ?? 'kubectl dbaas'} --help' for usage.\n`);
    return EXIT_USAGE;
  }
  const { DbaasError, toDbaasError } = await import('./sdk-errors.js');
  const error = toDbaasError(thrown);
  write(`error: ${error.message}\n`);
  if (error.fix) write(`fix: ${error.fix}\n`);
  if (error.code === 'INTERNAL' && !(thrown instanceof DbaasError) && thrown instanceof Error && thrown.stack && verbosity() >= 1) {
    write(`${thrown.stack}\n`);
  }
  const interrupted = interruptedIn(thrown);
  if (interrupted) return interrupted.exitCode;
  // Exit 2 is the CLI's own verdict on its arguments (above); whatever the SDK reports, from a
  // missing PVC to a Pending one to an unreachable API server, is a failure of the command.
  return EXIT_FAILURE;
}

/** A usage error of ours or one of yargs' own validation errors (`YError`). */
export function isUsageError(thrown: unknown): thrown is Error {
  return thrown instanceof UsageError || (thrown instanceof Error && thrown.name === 'YError');
}
