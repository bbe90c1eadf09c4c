import { rmSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

/** Something the registry must clean up when the process ends. */
export interface Disposable {
  /** Best effort, synchronous (used from `process.on('exit')` and signal handlers). */
  disposeSync(): void;
  /** Orderly, asynchronous (used by {@link stopAllPostgres}). */
  dispose(): Promise<void>;
}

const live = new Set<Disposable>();
let hooked = false;

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function onSignal(signal: NodeJS.Signals): void {
  cleanupSync();
  // When nobody else handles the signal, restore the default action and re-raise it so the
  // process still ends the way it was asked to.
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', cleanupSync);
  if (isMainThread) for (const signal of SIGNALS) process.on(signal, onSignal);
}

/**
 * Adds a resource to the process-wide cleanup registry (installs the exit and signal hooks on first
 * use). Returns a function that removes it again.
 *
 * @example
 * ```ts
 * const unregister = registerForCleanup({ disposeSync() {}, async dispose() {} });
 * unregister();
 * ```
 */
export function registerForCleanup(resource: Disposable): () => void {
  hook();
  live.add(resource);
  return () => {
    live.delete(resource);
  };
}

function cleanupSync(): void {
  for (const resource of [...live]) {
    try {
      resource.disposeSync();
    } catch {
      // keep going: the others must be cleaned up too
    }
    live.delete(resource);
  }
}

/**
 * Stops every PostgreSQL server this process started (fast shutdown, SIGKILL when that does not
 * finish) and removes their temporary directories and those made by {@link makeTemporaryDirectory}.
 * Also runs by itself at process exit and on SIGINT/SIGTERM/SIGHUP.
 *
 * @example
 * ```ts
 * afterAll(stopAllPostgres);
 * ```
 */
export async function stopAllPostgres(): Promise<void> {
  const errors: unknown[] = [];
  await Promise.all(
    [...live].map(async (resource) => {
      try {
        await resource.dispose();
      } catch (error) {
        errors.push(error);
        try {
          resource.disposeSync();
        } catch {
          // best effort
        }
      } finally {
        live.delete(resource);
      }
    }),
  );
  if (errors.length > 0) throw new AggregateError(errors, 'some PostgreSQL test resources did not clean up cleanly');
}

/**
 * Registers {@link stopAllPostgres} with a test framework's `afterAll` (vitest, jest, mocha's
 * `after`...), so that every server of the test file is gone when the file ends, failed or not.
 *
 * @example
 * ```ts
 * import { afterAll } from 'vitest';
 * cleanupPostgresAfterAll(afterAll);
 * ```
 */
export function cleanupPostgresAfterAll(afterAll: (fn: () => Promise<void>, timeout?: number) => void): void {
  afterAll(stopAllPostgres, 120_000);
}

/** The number of live servers and temporary directories in the registry (for tests of the registry). */
export function registeredResourceCount(): number {
  return live.size;
}

/** Removes a directory tree, ignoring errors (synchronous). */
export function removeTreeSync(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // best effort
  }
}
