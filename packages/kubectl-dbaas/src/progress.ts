/**
 * Progress of long operations (backup, restore, WAL scans), always on stderr so that stdout keeps
 * only the result (`-o json` prints one JSON document and nothing else).
 *
 * On a terminal a spinner line is redrawn in place: `⠙ waiting for the snapshot to be cut (4.2s)`,
 * and replaced by `✓ <phase> (4.3s)` when the phase ends. Elsewhere (CI logs, pipes) each phase
 * is one plain line when it starts and one when it ends, with the elapsed time since the start of
 * the operation, so logs stay readable and diffable:
 *
 * ```
 * [  0.0s] creating snapshot pg-data-1
 * [  4.3s] creating snapshot pg-data-1: done in 4.3s
 * ```
 */
import { formatSeconds } from './duration.js';

/** Where progress goes: a writable stream; `isTTY`/`columns` say whether it is a terminal. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * Options of {@link createProgress}.
 *
 * @example
 * ```ts
 * createProgress({ stream: process.stderr, tty: false });
 * ```
 */
export interface ProgressOptions {
  /** Default `process.stderr`. */
  stream?: ProgressStream;
  /** Spinner mode; default: whether the stream is a terminal (and `$TERM` is not `dumb`). */
  tty?: boolean;
  /** Milliseconds between spinner frames (default 80). */
  intervalMs?: number;
  /** Clock in milliseconds (default `performance.now`); for tests. */
  now?: () => number;
  /** Timer functions (default the global ones); for tests. */
  setInterval?: (callback: () => void, ms: number) => { unref?: () => unknown };
  clearInterval?: (timer: unknown) => void;
}

/**
 * Reports the phases of one long operation.
 *
 * @example
 * ```ts
 * const progress = createProgress();
 * const snapshot = await progress.run('creating snapshot', () => client.create(spec));
 * progress.done('backup pg-1 ready');
 * ```
 */
export interface ProgressReporter {
  /** Starts a phase (ending the current one as done). */
  phase(name: string): void;
  /** Changes the detail shown after the current phase's name (e.g. `3/16 segments`). */
  detail(text: string | undefined): void;
  /** Ends the current phase as done. */
  succeed(): void;
  /**
   * Ends the current phase as failed, with an optional reason: `timed out after 270.0s: <reason>`
   * when the reason is a timeout, else `failed after ...`. Never "done".
   */
  fail(reason?: string): void;
  /** Runs `work` as a phase: done when it resolves, failed (and rethrown) when it rejects. */
  run<T>(name: string, work: () => Promise<T>): Promise<T>;
  /** Ends the operation: closes the current phase and prints the summary line, if any. */
  done(summary?: string): void;
  /** Seconds since the reporter was created. */
  elapsedSeconds(): number;
  /** Whether a phase has been ended as failed (the failure is then already on the screen). */
  failureReported(): boolean;
}

/**
 * How a failed phase is called: `timed out` when its reason says it ran out of time (the SDK's
 * deadline and timeout errors), else `failed`.
 *
 * @example
 * ```ts
 * failedWord('timed out waiting for jobs "x"'); // 'timed out'
 * ```
 */
export function failedWord(reason: string | undefined): 'timed out' | 'failed' {
  return reason !== undefined && /\b(timed out|deadline|no answer from .* in time)\b/i.test(reason) ? 'timed out' : 'failed';
}

/** Braille spinner frames, as most CLIs on a UTF-8 terminal. */
export const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] as const;

/**
 * Creates a progress reporter on stderr (or the given stream).
 *
 * @example
 * ```ts
 * const progress = createProgress({ stream: process.stderr });
 * progress.phase('scanning WAL');
 * progress.detail('12/64 segments');
 * progress.done();
 * ```
 */
export function createProgress(options: ProgressOptions = {}): ProgressReporter {
  const stream: ProgressStream = options.stream ?? process.stderr;
  const tty = options.tty ?? (stream.isTTY === true && process.env['TERM'] !== 'dumb');
  const now = options.now ?? (() => performance.now());
  const every = options.setInterval ?? ((callback: () => void, ms: number) => setInterval(callback, ms));
  const stop = options.clearInterval ?? ((timer: unknown) => clearInterval(timer as NodeJS.Timeout));
  const intervalMs = options.intervalMs ?? 80;
  const start = now();

  let current: { name: string; started: number; detail: string | undefined } | undefined;
  let frame = 0;
  let timer: unknown;
  let finished = false;
  let failed = false;

  const stamp = () => `[${formatSeconds(now() - start).padStart(6)}]`;
  const label = () => (current ? (current.detail ? `${current.name}: ${current.detail}` : current.name) : '');
  const fit = (line: string) => {
    const columns = stream.columns ?? 0;
    return columns > 1 && line.length > columns - 1 ? `${line.slice(0, columns - 2)}…` : line;
  };

  const draw = () => {
    if (!current) return;
    const line = `${SPINNER_FRAMES[frame % SPINNER_FRAMES.length]} ${label()} (${formatSeconds(now() - current.started)})`;
    frame++;
    stream.write(`\r\x1b[2K${fit(line)}`);
  };

  const startTimer = () => {
    if (!tty || timer !== undefined) return;
    const handle = every(draw, intervalMs);
    handle.unref?.(); // progress never keeps the process alive
    timer = handle;
  };
  const stopTimer = () => {
    if (timer === undefined) return;
    stop(timer);
    timer = undefined;
  };

  const end = (ok: boolean, reason?: string) => {
    if (!current) return;
    if (!ok) failed = true;
    const took = formatSeconds(now() - current.started);
    if (tty) {
      stopTimer();
      stream.write(`\r\x1b[2K${ok ? '✓' : '✗'} ${label()} (${took})${reason ? `: ${reason}` : ''}\n`);
    } else {
      stream.write(`${stamp()} ${current.name}: ${ok ? `done in ${took}` : `${failedWord(reason)} after ${took}`}${reason ? `: ${reason}` : ''}\n`);
    }
    current = undefined;
  };

  return {
    phase(name) {
      if (finished) return;
      end(true);
      current = { name, started: now(), detail: undefined };
      if (tty) {
        draw();
        startTimer();
      } else {
        stream.write(`${stamp()} ${name}\n`);
      }
    },
    detail(text) {
      if (!current) return;
      const changed = current.detail !== text;
      current.detail = text;
      if (changed && text !== undefined && !tty) stream.write(`${stamp()} ${current.name}: ${text}\n`);
      if (changed && tty) draw();
    },
    succeed() {
      end(true);
    },
    fail(reason) {
      end(false, reason);
    },
    async run(name, work) {
      this.phase(name);
      try {
        const result = await work();
        end(true);
        return result;
      } catch (error) {
        end(false, error instanceof Error ? error.message.split('\n')[0] : undefined);
        throw error;
      }
    },
    done(summary) {
      if (finished) return;
      end(true);
      finished = true;
      if (summary) stream.write(tty ? `${summary} (${formatSeconds(now() - start)})\n` : `${stamp()} ${summary}\n`);
    },
    elapsedSeconds() {
      return (now() - start) / 1000;
    },
    failureReported() {
      return failed;
    },
  };
}
