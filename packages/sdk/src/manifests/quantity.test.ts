import { describe, expect, it } from 'vitest';
import { isDbaasError } from '../errors.js';
import { bytesToQuantity, compareQuantities, parseQuantity, quantityToBytes } from './quantity.js';

describe('parseQuantity', () => {
  it.each([
    ['1Gi', 1073741824n],
    ['1.5Gi', 1610612736n],
    ['512Mi', 536870912n],
    ['1Ki', 1024n],
    ['1Ei', 1n << 60n],
    ['1k', 1000n],
    ['1M', 1000000n],
    ['1G', 1000000000n],
    ['2T', 2000000000000n],
    ['1E', 10n ** 18n],
    ['5e9', 5000000000n],
    ['1E3', 1000n],
    ['1e+3', 1000n],
    ['1073741824', 1073741824n],
    ['+10', 10n],
    ['.5Ki', 512n],
    ['1.', 1n],
  ])('%s = %s bytes', (text, bytes) => {
    expect(quantityToBytes(parseQuantity(text))).toBe(bytes);
  });

  it('keeps fractions exact and rounds bytes up like apimachinery Value()', () => {
    const q = parseQuantity('500m');
    expect([q.numerator, q.denominator]).toEqual([1n, 2n]);
    expect(quantityToBytes('500m')).toBe(1n);
    expect(quantityToBytes('1500m')).toBe(2n);
    expect(quantityToBytes('1e-3')).toBe(1n);
    expect(quantityToBytes('100n')).toBe(1n);
    expect(parseQuantity('1u').denominator).toBe(1000000n);
  });

  it('names the format', () => {
    expect(parseQuantity('1Gi').format).toBe('BinarySI');
    expect(parseQuantity('1G').format).toBe('DecimalSI');
    expect(parseQuantity('1').format).toBe('DecimalSI');
    expect(parseQuantity('1e9').format).toBe('DecimalExponent');
  });

  it.each(['', 'Gi', '1GB', '1gi', '1 Gi', '1.2.3', '1e', '1e1.5', '1Gi ', '- 1', '1iB', '0x10', '1e101'])('refuses %j', (text) => {
    let error: unknown;
    try {
      parseQuantity(text);
    } catch (e) {
      error = e;
    }
    expect(isDbaasError(error, 'INVALID_QUANTITY')).toBe(true);
  });
});

describe('compareQuantities', () => {
  it('compares across suffix families exactly', () => {
    expect(compareQuantities('1Gi', '1073741824')).toBe(0);
    expect(compareQuantities('1G', '1Gi')).toBe(-1);
    expect(compareQuantities('1024Mi', '1Gi')).toBe(0);
    expect(compareQuantities('1073741825', '1Gi')).toBe(1);
    expect(compareQuantities('0.5Gi', '512Mi')).toBe(0);
    expect(compareQuantities('1e9', '1G')).toBe(0);
    expect(compareQuantities('-1', '0')).toBe(-1);
    // 1 byte below 1 Ti, beyond double precision of a float ratio
    expect(compareQuantities('1099511627775', '1Ti')).toBe(-1);
    expect(compareQuantities('9223372036854775807', '8Ei')).toBe(-1);
  });
});

describe('bytesToQuantity', () => {
  it('is the shortest exact form and parses back', () => {
    for (const [bytes, text] of [
      [1073741824n, '1Gi'],
      [1610612736n, '1536Mi'],
      [5000000000n, '5G'],
      [1234n, '1234'],
      [0n, '0'],
    ] as const) {
      expect(bytesToQuantity(bytes)).toBe(text);
      expect(quantityToBytes(text)).toBe(bytes);
    }
  });
});
