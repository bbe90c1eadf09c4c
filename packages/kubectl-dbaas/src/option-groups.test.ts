// The shared option groups through the real root command: relations shown in --help and refused
// as usage errors, timeouts parsed once.
import { describe, expect, it } from 'vitest';
import { helpText } from './docs/cli-reference.js';
import { timeoutMs } from './option-groups.js';

describe('option groups', () => {
  it('--help names the flags a flag cannot go with or needs', async () => {
    const flat = (text: string) => text.replace(/\s+/g, ' ');
    expect(flat(await helpText(['verify']))).toMatch(/--from-namespace .*\[not with: --pvc\]/);
    expect(flat(await helpText(['backup', 'prune']))).toMatch(/--wait Wait until each deleted backup is gone \[needs: --yes\]/);
    expect(flat(await helpText(['restore']))).toMatch(/--dry-run Print every object it would create: client \(no API writes\) or server/);
  });

  it('--timeout is a kubectl duration of more than 0', () => {
    expect(timeoutMs('2m')).toBe(120_000);
    expect(() => timeoutMs('0s')).toThrow(/--timeout must be more than 0/);
    expect(() => timeoutMs('soon')).toThrow(/--timeout: "soon" is not a duration/);
  });
});
