// The one answer to "is the watched object gone", shared by every wait for a deletion.
import { describe, expect, it } from 'vitest';
import { isGone } from './watch-until.js';

describe('isGone', () => {
  it('is true for a DELETED event and for a (re)list without the object, false while it exists', () => {
    expect(isGone({ type: 'DELETED' })).toBe(true);
    expect(isGone({ type: 'ABSENT' })).toBe(true);
    for (const type of ['LISTED', 'ADDED', 'MODIFIED'] as const) expect(isGone({ type })).toBe(false);
  });
});
