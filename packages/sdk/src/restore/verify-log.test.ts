import { describe, expect, it } from 'vitest';
import { fatalLine } from './verify.js';

describe('fatalLine: why the scratch server did not start, in its own words', () => {
  it("skips the readiness probe's turned-away connections, even when they come after the real failure", () => {
    const log = [
      'LOG:  database system was interrupted; last known up at 2026-12-05 07:54:40 UTC',
      'FATAL:  the database system is starting up',
      'PANIC:  could not locate a valid checkpoint record at 0/6000080 (backup_label)',
      'FATAL:  the database system is in recovery mode',
      'LOG:  startup process (PID 17) was terminated by signal 6: Aborted',
    ].join('\n');
    expect(fatalLine(log)).toBe('PANIC:  could not locate a valid checkpoint record at 0/6000080 (backup_label)');
  });

  it('falls back to the last FATAL when there is nothing else, and says nothing for a log without one', () => {
    expect(fatalLine('FATAL:  the database system is shutting down\n')).toBe('FATAL:  the database system is shutting down');
    expect(fatalLine('LOG:  all good\n')).toBeUndefined();
  });
});
