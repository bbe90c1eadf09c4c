import { describe, expect, it } from 'vitest';
import { DbaasError, errorKind } from './errors.js';

describe('error kinds', () => {
  it('separates the caller’s own input from a missing target, a refusal, an abort and a failure', () => {
    expect(errorKind('INVALID_ARGUMENT')).toBe('usage');
    expect(errorKind('TARGET_NOT_FOUND')).toBe('not-found');
    expect(errorKind('KUBE_NOT_FOUND')).toBe('not-found');
    expect(errorKind('MODE_UNSAFE')).toBe('refused');
    expect(errorKind('KUBE_ABORTED')).toBe('interrupted');
    expect(errorKind('KUBE_TIMEOUT')).toBe('failed');
    expect(errorKind('INTERNAL')).toBe('failed');
  });

  it('carries the SDK option an error is about, by its options-object name', () => {
    const error = new DbaasError('INVALID_ARGUMENT', 'mode fenced needs a way to stop the database', { option: 'fence' });
    expect(error.option).toBe('fence');
    expect(error.kind).toBe('usage');
    expect(new DbaasError('INTERNAL', 'x').option).toBeUndefined();
  });
});
