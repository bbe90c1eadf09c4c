import { describe, expect, it } from 'vitest';
import { isDbaasError } from '../errors.js';
import { assertDnsLabel, assertDnsSubdomain, assertLabelValue, assertQualifiedName, derivedName } from './names.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isDbaasError(e) ? e.code : 'not a DbaasError';
  }
  return undefined;
}

describe('Kubernetes name rules', () => {
  it('DNS-1123 labels', () => {
    expect(assertDnsLabel('db')).toBe('db');
    expect(assertDnsLabel('a'.repeat(63))).toHaveLength(63);
    for (const bad of ['', 'a'.repeat(64), 'Db', 'a.b', '-a', 'a-', 'a_b', 'ä'])
      expect(
        code(() => assertDnsLabel(bad)),
        bad,
      ).toBe('INVALID_NAME');
  });

  it('DNS-1123 subdomains', () => {
    expect(assertDnsSubdomain('data-pg-0')).toBe('data-pg-0');
    expect(assertDnsSubdomain('a.b.c')).toBe('a.b.c');
    expect(assertDnsSubdomain(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`)).toHaveLength(253);
    for (const bad of ['', 'a'.repeat(254), 'A', 'a..b', '.a', 'a.', 'a_b', 'a/b'])
      expect(
        code(() => assertDnsSubdomain(bad)),
        bad,
      ).toBe('INVALID_NAME');
  });

  it('label values and qualified keys', () => {
    expect(assertLabelValue('')).toBe('');
    expect(assertLabelValue('Data_pg.0')).toBe('Data_pg.0');
    for (const bad of ['a'.repeat(64), '-a', 'a-', 'a b', 'a/b'])
      expect(
        code(() => assertLabelValue(bad)),
        bad,
      ).toBe('INVALID_NAME');
    expect(assertQualifiedName('dbaas.io/backup-set')).toBe('dbaas.io/backup-set');
    expect(assertQualifiedName('team')).toBe('team');
    for (const bad of ['/a', 'dbaas.io/', 'Dbaas.io/x', `x/${'a'.repeat(64)}`, 'a b'])
      expect(
        code(() => assertQualifiedName(bad)),
        bad,
      ).toBe('INVALID_NAME');
  });

  it('derived names must still fit', () => {
    expect(derivedName('nightly', '-wal')).toBe('nightly-wal');
    expect(derivedName('a'.repeat(59), '-wal')).toHaveLength(63);
    let error: unknown;
    try {
      derivedName('a'.repeat(60), '-wal', 'label', 'WAL snapshot name');
    } catch (e) {
      error = e;
    }
    expect(isDbaasError(error, 'INVALID_NAME')).toBe(true);
    expect((error as Error).message).toContain('WAL snapshot name');
    expect((error as Error).message).toContain('64 characters');
  });
});
