import { describe, expect, it } from 'vitest';
import { reportError } from './error-handler.js';
import { EXIT_SIGINT, EXIT_SIGTERM } from './exit-codes.js';
import { Interrupted, interruptedIn, whileInterruptible } from './interrupt.js';

describe('whileInterruptible', () => {
  it('SIGINT aborts the signal with an Interrupted reason; the failure then exits 130 through the one handler', async () => {
    const said: string[] = [];
    const listenersBefore = process.listenerCount('SIGINT');
    const failure = await whileInterruptible(
      (signal) =>
        new Promise<never>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(new Error('the backup was aborted', { cause: signal.reason })));
          process.emit('SIGINT', 'SIGINT');
        }),
      (text) => void said.push(text),
    ).catch((e: unknown) => e);
    expect(interruptedIn(failure)).toBeInstanceOf(Interrupted);
    expect(said.join('')).toMatch(/SIGINT: stopping and cleaning up/);
    expect(process.listenerCount('SIGINT')).toBe(listenersBefore); // handlers removed
    const stderr: string[] = [];
    expect(await reportError(failure, (t) => void stderr.push(t))).toBe(EXIT_SIGINT);
    expect(stderr.join('')).toContain('error: the backup was aborted');
  });

  it('SIGTERM exits 143; a result is returned untouched when nothing interrupts', async () => {
    expect(new Interrupted('SIGTERM').exitCode).toBe(EXIT_SIGTERM);
    expect(await whileInterruptible(async () => 42)).toBe(42);
  });
});

describe('whileInterruptible notice', () => {
  it("names the command's own cleanup (a backup's by default)", async () => {
    const said: string[] = [];
    await whileInterruptible(
      (signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => resolve());
          process.emit('SIGINT', 'SIGINT');
        }),
      (text) => void said.push(text),
      'deleting what the restore created',
    );
    expect(said.join('')).toBe('\nSIGINT: stopping and cleaning up (deleting what the restore created); Ctrl-C again exits at once\n');
  });
});
