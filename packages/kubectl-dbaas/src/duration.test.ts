import { describe, expect, it } from 'vitest';
import { formatAge, parseKubeDuration } from './duration.js';
import { UsageError } from './usage-error.js';

describe('parseKubeDuration', () => {
  it('reads Go durations as kubectl --timeout does', () => {
    expect(parseKubeDuration('90s', '--timeout')).toBe(90_000);
    expect(parseKubeDuration('5m', '--timeout')).toBe(300_000);
    expect(parseKubeDuration('1h30m', '--timeout')).toBe(5_400_000);
    expect(parseKubeDuration('1.5h', '--timeout')).toBe(5_400_000);
    expect(parseKubeDuration('250ms', '--timeout')).toBe(250);
    expect(parseKubeDuration('0', '--timeout')).toBe(0);
    // Go accepts both spellings of microseconds (U+00B5 MICRO SIGN and "us").
    expect(parseKubeDuration('1500\u00b5s', '--timeout')).toBe(2);
    expect(parseKubeDuration('2s1500us', '--timeout')).toBe(2002);
  });

  it('refuses a bare number or an unknown unit, naming the flag', () => {
    for (const bad of ['30', '5d', 'm', '', '1 m', '-5s']) {
      expect(() => parseKubeDuration(bad, '--timeout')).toThrow(UsageError);
    }
    expect(() => parseKubeDuration('30', '--timeout')).toThrow(/--timeout: "30" is not a duration.*90s, 5m/);
  });
});

describe('formatAge', () => {
  it('prints ages as kubectl does', () => {
    expect(formatAge(0)).toBe('0s');
    expect(formatAge(45_000)).toBe('45s');
    expect(formatAge(150_000)).toBe('2m30s');
    expect(formatAge(12 * 60_000)).toBe('12m');
    expect(formatAge(3 * 3_600_000 + 5 * 60_000)).toBe('3h5m');
    expect(formatAge(30 * 3_600_000)).toBe('30h');
    expect(formatAge(4 * 86_400_000 + 6 * 3_600_000)).toBe('4d6h');
    expect(formatAge(400 * 86_400_000)).toBe('400d');
    expect(formatAge(-5000)).toBe('0s');
  });
});
