import { EXIT_FAILURE, EXIT_USAGE } from './exit-codes.js';
import { interruptedIn } from './interrupt.js';
import { flagOfSdkOption } from './sdk-options.js';
import { UsageError } from './usage-error.js';
import { verbosity } from './verbosity.js';

/**
 * The one place where the CLI catches errors: prints the cause, the flag it is about, the fix to
 * stderr and returns the exit code. By the kind of failure:
 * - usage (bad flags, from yargs, zod or the command's own checks, and the SDK's DbaasErrors of kind
 *   `usage`: an option wrong in itself, found before anything is read): exit 2, with a pointer to
 *   the command's `--help`;
 * - interrupted (Ctrl-C or SIGTERM, after the operation cleaned up): 130 or 143;
 * - everything else (not found, refused, failed, anything unexpected): exit 1.
 * SDK errors name the option they are about (`DbaasError.option`), never a flag: the flag of
 * this CLI that sets it is printed on its own line. The SDK (for its error normaliser) is loaded
 * only here, when a command failed, so that `version` and `--help` never load it.
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
  const helpPointer = `Run '${options.command ?? 'kubectl dbaas'} --help' for usage.\n`;
  if (isUsageError(thrown)) {
    write(`error: ${thrown.message}\n${helpPointer}`);
    return EXIT_USAGE;
  }
  const { DbaasError, toDbaasError } = await import('./sdk-errors.js');
  const error = toDbaasError(thrown);
  const flag = flagOfSdkOption(error.option);
  write(`error: ${error.message}\n`);
  if (flag) write(`flag: ${flag}\n`);
  if (error.fix) write(`fix: ${error.fix}\n`);
  if (error.code === 'INTERNAL' && !(thrown instanceof DbaasError) && thrown instanceof Error && thrown.stack && verbosity() >= 1) {
    write(`${thrown.stack}\n`);
  }
  const interrupted = interruptedIn(thrown);
  if (interrupted) return interrupted.exitCode;
  if (error.kind === 'usage') {
    write(helpPointer);
    return EXIT_USAGE;
  }
  // Whatever else the SDK reports, from a missing PVC to a Pending one to an unreachable API
  // server, is a failure of the command, not of how it was called.
  return EXIT_FAILURE;
}

/** A usage error of ours or one of yargs' own validation errors (`YError`). */
export function isUsageError(thrown: unknown): thrown is Error {
  return thrown instanceof UsageError || (thrown instanceof Error && thrown.name === 'YError');
}
