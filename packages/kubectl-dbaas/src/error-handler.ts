import { EXIT_FAILURE, EXIT_USAGE } from './exit-codes.js';
import { interruptedIn } from './interrupt.js';
import { UsageError } from './usage-error.js';

/**
 * The one place where the CLI catches errors: prints the cause and the fix to stderr and returns
 * the exit code. Usage mistakes (bad flags, from yargs or from zod) exit 2; an operation stopped
 * by Ctrl-C or SIGTERM exits 130 or 143 once it has cleaned up; everything else 1.
 * The SDK (for its error normaliser) is loaded only here, when a command failed, so that `version`
 * and `--help` never load it.
 *
 * @example
 * ```ts
 * process.exitCode = await reportError(new UsageError('--output: invalid value')); // 2
 * ```
 */
export async function reportError(thrown: unknown, write: (text: string) => void = (text) => process.stderr.write(text)): Promise<number> {
  if (isUsageError(thrown)) {
    write(`error: ${thrown.message}\nRun 'kubectl dbaas --help' for usage.\n`);
    return EXIT_USAGE;
  }
  const { DbaasError, toDbaasError } = await import('./sdk-errors.js');
  const error = toDbaasError(thrown);
  write(`error: ${error.message}\n`);
  if (error.fix) write(`fix: ${error.fix}\n`);
  if (error.code === 'INTERNAL' && !(thrown instanceof DbaasError) && thrown instanceof Error && thrown.stack && process.env.DBAAS_DEBUG) {
    write(`${thrown.stack}\n`);
  }
  const interrupted = interruptedIn(thrown);
  if (interrupted) return interrupted.exitCode;
  return error.code === 'INVALID_ARGUMENT' ? EXIT_USAGE : EXIT_FAILURE;
}

/** A usage error of ours or one of yargs' own validation errors (`YError`). */
export function isUsageError(thrown: unknown): thrown is Error {
  return thrown instanceof UsageError || (thrown instanceof Error && thrown.name === 'YError');
}
