import { DbaasError } from '@kubectl-dbaas/sdk';

/**
 * Awaits a promise that must reject with a {@link DbaasError} and returns that error, so a test can
 * assert on its `code`, `message` and `fix`. Fails the test when the promise resolves or rejects
 * with anything else.
 *
 * @example
 * ```ts
 * const error = await dbaasRejection(clients.core.readNamespace({ name: 'missing' }));
 * expect(error.code).toBe('KUBE_NOT_FOUND');
 * ```
 */
export async function dbaasRejection(promise: Promise<unknown>): Promise<DbaasError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DbaasError) return error;
    throw new Error(`expected a DbaasError, got: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, { cause: error });
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/**
 * Polls `check` every `intervalMs` until it returns a value other than undefined: the one wait of
 * the tests for what the cluster does asynchronously (a finalizer, a controller, a diagnosis
 * settling). An error counts as "not yet"; when time runs out the error names `what`, the last
 * error and, if `describe` is given, the last value seen.
 *
 * @example
 * ```ts
 * const pvc = await pollUntil('the PVC to bind', 60_000, async () => ((await readPvc()).status?.phase === 'Bound' ? true : undefined));
 * ```
 */
export async function pollUntil<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  options: { intervalMs?: number; describe?: () => string | undefined } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() > deadline) {
      const seen = options.describe?.();
      throw new Error(
        `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${seen ? `; last seen: ${seen}` : ''}${lastError ? ` (last error: ${lastError})` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
}

/**
 * {@link pollUntil} for a check that says yes or no (default 90 s).
 *
 * @example
 * ```ts
 * await eventually(async () => !(await namespaceExists()), 'the namespace gone');
 * ```
 */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 90_000): Promise<void> {
  await pollUntil(what, timeoutMs, async () => ((await check()) ? true : undefined));
}
