// For the argument-parsing tests: runs the real root command on `args`, expects a usage error, and
// returns what the one error handler prints for it (after checking it exits 2).
import { expect } from 'vitest';
import { isUsageError, reportError } from '../error-handler.js';
import { EXIT_USAGE } from '../exit-codes.js';
import { buildCli, commandPath } from '../main.js';

/**
 * The stderr text of the usage error `args` cause.
 *
 * @example
 * expect(await usageError(['restore', 'x'])).toMatch(/--to/);
 */
export async function usageError(args: string[]): Promise<string> {
  // yargs' own validation throws synchronously from parseAsync, a handler's error rejects: catch both.
  const thrown = await (async () => buildCli(args).exitProcess(false).parseAsync())().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isUsageError(thrown), `expected a usage error for ${args.join(' ')}, got ${String(thrown)}`).toBe(true);
  const stderr: string[] = [];
  expect(await reportError(thrown, (t) => void stderr.push(t), { command: ['kubectl dbaas', ...commandPath(args)].join(' ') })).toBe(EXIT_USAGE);
  return stderr.join('');
}
