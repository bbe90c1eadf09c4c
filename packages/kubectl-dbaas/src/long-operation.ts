// What every long command (backup create, restore, verify) does around its work: a progress
// reporter on stderr, Ctrl-C / SIGTERM turned into an abort of the work's signal, and the phase
// that was running marked failed when the work throws. Loaded lazily, with the command's run.ts.
import { whileInterruptible } from './interrupt.js';
import { createProgress, type ProgressReporter } from './progress.js';

/**
 * Runs `work` with a progress reporter and an AbortSignal that SIGINT/SIGTERM abort; the notice
 * printed on a signal names `cleanup`, what the command undoes (by default a backup's).
 *
 * @example
 * ```ts
 * const report = await runLongOperation((ctx) => runRestoreCommand(parsed, ctx), 'deleting what the restore created');
 * ```
 */
export async function runLongOperation<T>(work: (context: { signal: AbortSignal; progress: ProgressReporter }) => Promise<T>, cleanup?: string): Promise<T> {
  const progress = createProgress();
  return await whileInterruptible(
    async (signal) => {
      try {
        return await work({ signal, progress });
      } catch (error) {
        // When the step that failed was already marked (the SDK said so before cleaning up), the
        // phase still open is the cleanup, which ran to its end; otherwise the open phase failed.
        if (progress.failureReported()) progress.succeed();
        else progress.fail((error as Error).message?.split('\n')[0]);
        throw error;
      }
    },
    undefined,
    cleanup,
  );
}
