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
