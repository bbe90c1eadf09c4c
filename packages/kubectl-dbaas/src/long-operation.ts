// What every long command (backup create, restore, verify) does around its work: a progress
// reporter on stderr, Ctrl-C / SIGTERM turned into an abort of the work's signal, and the phase
// that was running marked failed when the work throws. Loaded lazily, with the command's run.ts.
import { whileInterruptible } from './interrupt.js';
import { createProgress, type ProgressReporter } from './progress.js';

/**
 * Runs `work` with a progress reporter and an AbortSignal that SIGINT/SIGTERM abort.
 *
 * @example
 * ```ts
 * const report = await runLongOperation((ctx) => runRestoreCommand(parsed, ctx));
 * ```
 */
export async function runLongOperation<T>(
  work: (context: { signal: AbortSignal; progress: ProgressReporter }) => Promise<T>,
  writeInterruptNotice?: (text: string) => void,
): Promise<T> {
  const progress = createProgress();
  return await whileInterruptible(async (signal) => {
    try {
      return await work({ signal, progress });
    } catch (error) {
      // When the step that failed was already marked (the SDK said so before cleaning up), the
      // phase still open is the cleanup, which ran to its end; otherwise the open phase failed.
      if (progress.failureReported()) progress.succeed();
      else progress.fail((error as Error).message?.split('\n')[0]);
      throw error;
    }
  }, writeInterruptNotice);
}
