import { describe, expect, it } from 'vitest';
import { skipReasonOf, skipWhen } from './skip-reason.js';

describe('skip reasons', () => {
  it('skipWhen skips only with a reason, and carries it', () => {
    expect(skipWhen(undefined)).toEqual({ skip: false, meta: {} });
    expect(skipWhen('no CSI hostpath plugin')).toEqual({ skip: true, meta: { skipReason: 'no CSI hostpath plugin' } });
  });

  it("the reporter's reason: ctx.skip's note first, then the test's meta, then the nearest describe's", () => {
    expect(skipReasonOf('note', [{ skipReason: 'meta' }])).toBe('note');
    expect(skipReasonOf(undefined, [{}, { skipReason: 'inner' }, { skipReason: 'outer' }])).toBe('inner');
    expect(skipReasonOf(undefined, [{}, {}])).toBeUndefined();
  });
});
