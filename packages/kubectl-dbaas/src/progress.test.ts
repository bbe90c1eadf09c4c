import { describe, expect, it } from 'vitest';
import { createProgress, failedWord, SPINNER_FRAMES } from './progress.js';

/** A fake stream, clock and timer: the reporter's logic is pure, its output is all that matters. */
function harness(tty: boolean, columns?: number) {
  const chunks: string[] = [];
  let time = 1000;
  const timers: Array<{ callback: () => void; cleared: boolean; unrefd: boolean }> = [];
  const progress = createProgress({
    stream: { write: (text: string) => chunks.push(text), isTTY: tty, ...(columns ? { columns } : {}) },
    now: () => time,
    setInterval: (callback) => {
      const timer = { callback, cleared: false, unrefd: false };
      timers.push(timer);
      return { unref: () => (timer.unrefd = true) };
    },
    clearInterval: () => {
      for (const timer of timers) timer.cleared = true;
    },
  });
  return {
    progress,
    chunks,
    timers,
    advance(ms: number) {
      time += ms;
    },
    tick() {
      for (const timer of timers) if (!timer.cleared) timer.callback();
    },
    /** What a terminal would show: carriage returns and erase-line honoured. */
    screen() {
      const lines: string[] = [''];
      for (const chunk of chunks) {
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's erase-line sequence (ESC [2K) is what is split on
        for (const part of chunk.split(/(\r\x1b\[2K|\n)/)) {
          if (part === '\r\x1b[2K') lines[lines.length - 1] = '';
          else if (part === '\n') lines.push('');
          else lines[lines.length - 1] += part;
        }
      }
      return lines;
    },
  };
}

describe('createProgress, plain (not a terminal)', () => {
  it('prints one line per phase start and end, with elapsed time since the operation began', () => {
    const h = harness(false);
    h.progress.phase('creating snapshot pg-1');
    h.advance(4300);
    h.progress.phase('waiting for the cut');
    h.advance(1250);
    h.progress.done('backup pg-1 ready');
    expect(h.chunks.join('')).toBe(
      [
        '[  0.0s] creating snapshot pg-1',
        '[  4.3s] creating snapshot pg-1: done in 4.3s',
        '[  4.3s] waiting for the cut',
        '[  5.5s] waiting for the cut: done in 1.3s',
        '[  5.5s] backup pg-1 ready',
        '',
      ].join('\n'),
    );
    expect(h.timers).toHaveLength(0); // no spinner timer off a terminal
  });

  it('prints details as lines, once per change', () => {
    const h = harness(false);
    h.progress.phase('scanning WAL');
    h.progress.detail('1/3 segments');
    h.progress.detail('1/3 segments');
    h.advance(100);
    h.progress.detail('2/3 segments');
    expect(h.chunks).toEqual(['[  0.0s] scanning WAL\n', '[  0.0s] scanning WAL: 1/3 segments\n', '[  0.1s] scanning WAL: 2/3 segments\n']);
  });

  it('run() marks a rejected phase as failed with the first line of the error and rethrows', async () => {
    const h = harness(false);
    await expect(
      h.progress.run('restoring', async () => {
        h.advance(2000);
        throw new Error('PVC pg-restore exists\nmore detail');
      }),
    ).rejects.toThrow('PVC pg-restore exists');
    expect(h.chunks.at(-1)).toBe('[  2.0s] restoring: failed after 2.0s: PVC pg-restore exists\n');
  });

  it('run() returns the work result and closes the phase', async () => {
    const h = harness(false);
    await expect(h.progress.run('counting', async () => 42)).resolves.toBe(42);
    expect(h.chunks).toEqual(['[  0.0s] counting\n', '[  0.0s] counting: done in 0.0s\n']);
  });

  it('ignores phases after done()', () => {
    const h = harness(false);
    h.progress.done();
    h.progress.phase('late');
    expect(h.chunks).toEqual([]);
  });
});

describe('createProgress, on a terminal', () => {
  it('redraws one spinner line in place and leaves a check mark line per phase', () => {
    const h = harness(true);
    h.progress.phase('scanning WAL');
    expect(h.screen()).toEqual([`${SPINNER_FRAMES[0]} scanning WAL (0.0s)`]);
    h.advance(80);
    h.tick();
    h.advance(80);
    h.tick();
    expect(h.screen()).toEqual([`${SPINNER_FRAMES[2]} scanning WAL (0.2s)`]);
    h.progress.detail('3/16 segments');
    expect(h.screen().at(-1)).toBe(`${SPINNER_FRAMES[3]} scanning WAL: 3/16 segments (0.2s)`);
    h.advance(1000);
    h.progress.phase('checking pg_control');
    h.advance(50);
    h.progress.done('restorable');
    expect(h.screen()).toEqual(['✓ scanning WAL: 3/16 segments (1.2s)', '✓ checking pg_control (0.1s)', 'restorable (1.2s)', '']);
  });

  it('never keeps the process alive: the spinner timer is unref()d and cleared at the end', () => {
    const h = harness(true);
    h.progress.phase('waiting');
    expect(h.timers).toHaveLength(1);
    expect(h.timers[0]!.unrefd).toBe(true);
    h.progress.succeed();
    expect(h.timers[0]!.cleared).toBe(true);
  });

  it('marks a failure with a cross', () => {
    const h = harness(true);
    h.progress.phase('restoring');
    h.advance(500);
    h.progress.fail('timed out');
    expect(h.screen()).toEqual(['✗ restoring (0.5s): timed out', '']);
  });

  it('cuts the spinner line to the terminal width', () => {
    const h = harness(true, 20);
    h.progress.phase('a very long phase name that does not fit');
    const line = h.screen()[0]!;
    expect(line.length).toBeLessThanOrEqual(19);
    expect(line.endsWith('…')).toBe(true);
  });
});

describe('failedWord', () => {
  it('calls a phase that ran out of time "timed out", any other failure "failed"', () => {
    expect(failedWord('timed out waiting for jobs "orders-restored-job-prep"')).toBe('timed out');
    expect(failedWord('backup db/x (online) exceeded its deadline of 10m')).toBe('timed out');
    expect(failedWord('list pods: no answer from https://10.0.0.1:6443 in time')).toBe('timed out');
    expect(failedWord('restore-prep failed')).toBe('failed');
    expect(failedWord(undefined)).toBe('failed');
  });
});

describe('failureReported', () => {
  it('is false until a phase ends as failed', () => {
    const progress = createProgress({ stream: { write: () => true }, tty: false, now: () => 0 });
    progress.phase('waiting');
    progress.succeed();
    expect(progress.failureReported()).toBe(false);
    progress.phase('cutting');
    progress.fail('timed out waiting for x to be cut');
    expect(progress.failureReported()).toBe(true);
  });
});
