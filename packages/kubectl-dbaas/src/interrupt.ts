// Ctrl-C (SIGINT) and SIGTERM during a long operation: the operation's AbortSignal is aborted so it
// can undo what it started (lift a fence, end a backup session, delete a partial snapshot), and the
// process then exits 128 + the signal number (130, 143), as shells report a process killed by it.
import { EXIT_SIGINT, EXIT_SIGTERM } from './exit-codes.js';

/**
 * The abort reason when the user interrupts: carries the signal and the exit code. The error
 * handler finds it in an error's `cause` chain and exits with {@link Interrupted.exitCode}.
 *
 * @example
 * ```ts
 * controller.abort(new Interrupted('SIGINT'));
 * ```
 */
export class Interrupted extends Error {
  override readonly name = 'Interrupted';
  readonly exitCode: number;
  constructor(readonly signal: 'SIGINT' | 'SIGTERM') {
    super(`interrupted by ${signal}`);
    this.exitCode = signal === 'SIGINT' ? EXIT_SIGINT : EXIT_SIGTERM;
  }
}

let received: Interrupted | undefined;

/**
 * The {@link Interrupted} in an error's `cause` chain, else the interrupt this process received
 * during {@link whileInterruptible} (whatever the operation threw after it, the interrupt is why
 * it stopped).
 *
 * @example
 * ```ts
 * process.exitCode = interruptedIn(error)?.exitCode ?? 1;
 * ```
 */
export function interruptedIn(error: unknown): Interrupted | undefined {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 10; depth++) {
    if (e instanceof Interrupted) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return received;
}

/** What a backup undoes when interrupted: the cleanup the notice names unless a command names its own. */
const BACKUP_CLEANUP = 'lifting a fence, ending the backup session, deleting partial snapshots';

/**
 * Turns SIGINT and SIGTERM into an abort of the returned signal while `work` runs. The first
 * signal aborts (and says on stderr that `cleanup` runs); a second one exits at once, skipping the
 * cleanup. The handlers are removed when `work` settles.
 *
 * @example
 * ```ts
 * const result = await whileInterruptible((signal) => runBackup(clients, { ...options, signal }));
 * await whileInterruptible((signal) => client.restore({ ...options, signal }), undefined, 'deleting what the restore created');
 * ```
 */
export async function whileInterruptible<T>(
  work: (signal: AbortSignal) => Promise<T>,
  write: (text: string) => void = (text) => process.stderr.write(text),
  cleanup: string = BACKUP_CLEANUP,
): Promise<T> {
  const controller = new AbortController();
  const handler = (signal: 'SIGINT' | 'SIGTERM') => {
    if (controller.signal.aborted) {
      write(`\n${signal} again: exiting without cleanup\n`);
      process.exit(new Interrupted(signal).exitCode);
    }
    write(`\n${signal}: stopping and cleaning up (${cleanup}); ${signal === 'SIGINT' ? 'Ctrl-C' : signal} again exits at once\n`);
    received = new Interrupted(signal);
    controller.abort(received);
  };
  const onInt = () => handler('SIGINT');
  const onTerm = () => handler('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
