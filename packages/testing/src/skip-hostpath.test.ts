import { afterEach, describe, expect, it, vi } from 'vitest';
import { hostpathSkipReason } from './skip-hostpath.js';

describe('hostpathSkipReason', () => {
  afterEach(() => vi.restoreAllMocks());

  it('runs the tests (undefined, no warning) when the cluster has its node and the hostpath plugin', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(hostpathSkipReason({}, 'pod tests')).toBeUndefined();
    expect(warn).not.toHaveBeenCalled();
  });

  it('names the missing part, the node first (without it no pod runs at all), and warns naming the tests', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(hostpathSkipReason({ nodeUnavailable: 'not root', hostpathUnavailable: 'no binaries' }, 'pod tests')).toBe('the test cluster has no node: not root');
    expect(hostpathSkipReason({ hostpathUnavailable: 'no binaries' }, 'restore tests')).toBe('CSI hostpath plugin unavailable: no binaries');
    expect(warn.mock.calls).toEqual([
      ['[dbaas-testing] SKIPPING pod tests (not passed): the test cluster has no node: not root'],
      ['[dbaas-testing] SKIPPING restore tests (not passed): CSI hostpath plugin unavailable: no binaries'],
    ]);
  });
});
