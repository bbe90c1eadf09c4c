import { describe, expect, it } from 'vitest';
import { eventually, pollUntil } from './assertions.js';

describe('pollUntil', () => {
  it('returns the first value other than undefined; an error is "not yet"', async () => {
    let calls = 0;
    const value = await pollUntil(
      'the third call',
      5_000,
      async () => {
        calls++;
        if (calls === 1) throw new Error('not there yet');
        return calls === 3 ? 'ready' : undefined;
      },
      { intervalMs: 1 },
    );
    expect({ value, calls }).toEqual({ value: 'ready', calls: 3 });
  });

  it('times out naming what it waited for, the last value seen and the last error', async () => {
    let n = 0;
    const failure = await pollUntil(
      'the pod Ready',
      30,
      async () => {
        n++;
        if (n % 2) throw new Error(`refused ${n}`);
        return undefined;
      },
      { intervalMs: 5, describe: () => `phase Pending (${n} polls)` },
    ).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(
      /^timed out after 0 s waiting for the pod Ready; last seen: phase Pending \(\d+ polls\) \(last error: refused \d+\)$/,
    );
  });

  it('eventually: a yes/no check', async () => {
    let n = 0;
    await eventually(async () => ++n >= 2, 'the second call', 5_000);
    expect(n).toBe(2);
    await expect(eventually(async () => false, 'never', 20)).rejects.toThrow('waiting for never');
  });
});
