// The one Kubernetes quantity parser of the SDK (k8s.io/apimachinery/pkg/api/resource grammar),
// exact: values are rationals of bigints, never floats.
import { DbaasError } from '../errors.js';

/**
 * A parsed Kubernetes quantity: exactly `numerator / denominator` (denominator > 0, reduced).
 *
 * @example
 * ```ts
 * const q = parseQuantity('1.5Gi'); // { numerator: 1610612736n, denominator: 1n, format: 'BinarySI', text: '1.5Gi' }
 * ```
 */
export interface Quantity {
  numerator: bigint;
  denominator: bigint;
  /** The suffix family, as apimachinery names it. */
  format: 'BinarySI' | 'DecimalSI' | 'DecimalExponent';
  /** The text it was parsed from. */
  text: string;
}

const BINARY: Record<string, bigint> = { Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
// <sign>? <digits> | <digits>.<digits>? | .<digits>  then the suffix
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE])?$/;
const MAX_EXPONENT = 100;

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function invalidQuantity(text: string, why: string): DbaasError {
  return new DbaasError('INVALID_QUANTITY', `"${text}" is not a valid Kubernetes quantity: ${why}`, {
    fix: 'Write a number with an optional suffix: Ki Mi Gi Ti Pi Ei (powers of 1024), k M G T P E (powers of 1000), m u n, or an exponent such as 5e9. Example: 10Gi.',
    details: { text },
  });
}

/**
 * Parses a Kubernetes quantity exactly: binary SI (`Ki`..`Ei`), decimal SI (`n u m k M G T P E`),
 * decimal exponents (`5e9`, `1E-3`), signs and fractions (`1.5Gi`, `.5`).
 *
 * @throws DbaasError `INVALID_QUANTITY`
 * @example
 * ```ts
 * parseQuantity('1Gi').numerator; // 1073741824n
 * parseQuantity('500m'); // 1/2
 * ```
 */
export function parseQuantity(text: string): Quantity {
  if (typeof text !== 'string') throw invalidQuantity(String(text), 'not a string');
  const m = QUANTITY.exec(text);
  if (!m) throw invalidQuantity(text, 'expected <number><suffix>');
  const [, sign, number, suffix = ''] = m;
  const [whole = '', frac = ''] = number!.split('.');
  let numerator = BigInt(`${whole}${frac}` || '0');
  let denominator = 10n ** BigInt(frac.length);
  let format: Quantity['format'];
  if (suffix in BINARY) {
    numerator *= BINARY[suffix]!;
    format = 'BinarySI';
  } else {
    let exp: number;
    if (suffix.length > 1) {
      exp = Number(suffix.slice(1));
      format = 'DecimalExponent';
      if (!Number.isSafeInteger(exp) || Math.abs(exp) > MAX_EXPONENT) throw invalidQuantity(text, `exponent out of range (at most ±${MAX_EXPONENT})`);
    } else {
      exp = DECIMAL[suffix]!;
      format = 'DecimalSI';
    }
    if (exp >= 0) numerator *= 10n ** BigInt(exp);
    else denominator *= 10n ** BigInt(-exp);
  }
  if (sign === '-') numerator = -numerator;
  const g = gcd(numerator, denominator) || 1n;
  return { numerator: numerator / g, denominator: denominator / g, format, text };
}

/**
 * Compares two quantities exactly: negative when `a < b`, 0 when equal, positive when `a > b`.
 * Strings are parsed with {@link parseQuantity}.
 *
 * @example
 * ```ts
 * compareQuantities('1Gi', '1073741824'); // 0
 * compareQuantities('1G', '1Gi') < 0; // true
 * ```
 */
export function compareQuantities(a: Quantity | string, b: Quantity | string): number {
  const x = typeof a === 'string' ? parseQuantity(a) : a;
  const y = typeof b === 'string' ? parseQuantity(b) : b;
  const l = x.numerator * y.denominator;
  const r = y.numerator * x.denominator;
  return l < r ? -1 : l > r ? 1 : 0;
}

/**
 * The integer value of a quantity, rounded up as apimachinery's `Value()` does (a storage request
 * of `1.5` bytes needs 2).
 *
 * @example
 * ```ts
 * quantityToBytes('1.5Ki'); // 1536n
 * quantityToBytes('1500m'); // 2n
 * ```
 */
export function quantityToBytes(q: Quantity | string): bigint {
  const x = typeof q === 'string' ? parseQuantity(q) : q;
  const div = x.numerator / x.denominator;
  return x.numerator % x.denominator === 0n || x.numerator < 0n ? div : div + 1n;
}

/**
 * Formats a byte count as the shortest exact quantity: the largest binary suffix that divides it,
 * else the largest decimal one, else the plain number.
 *
 * @example
 * ```ts
 * bytesToQuantity(1073741824n); // '1Gi'
 * bytesToQuantity(5_000_000_000n); // '5G'
 * bytesToQuantity(1234n); // '1234'
 * ```
 */
export function bytesToQuantity(bytes: bigint | number): string {
  const b = BigInt(bytes);
  if (b === 0n) return '0';
  for (const s of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki']) if (b % BINARY[s]! === 0n) return `${b / BINARY[s]!}${s}`;
  for (const s of ['E', 'P', 'T', 'G', 'M', 'k']) {
    const unit = 10n ** BigInt(DECIMAL[s]!);
    if (b % unit === 0n) return `${b / unit}${s}`;
  }
  return b.toString();
}
