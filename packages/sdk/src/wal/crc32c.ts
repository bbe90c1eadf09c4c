import { createRequire } from 'node:module';

/**
 * An incremental CRC-32C (Castagnoli) function: feeds `bytes` into a running CRC. Both the
 * argument and the result are in "finished" form (already xored with 0xFFFFFFFF), so calls chain
 * directly: `crc32c(b, crc32c(a))` equals `crc32c(a ++ b)`.
 */
type Crc32cUpdate = (bytes: Uint8Array, crc?: number) => number;

const CASTAGNOLI_REFLECTED = 0x82f63b78;

/**
 * Fills `tables` (a multiple of 256 entries) with slicing-by-N CRC-32C tables: row k maps a byte
 * that is k positions further back to its CRC effect. Shared by the JavaScript CRC and the
 * WebAssembly WAL walk, which keeps its tables in its own memory.
 */
export function fillCrc32cTables(tables: Uint32Array): Uint32Array {
  const rows = tables.length / 256;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CASTAGNOLI_REFLECTED : c >>> 1;
    tables[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n]!;
    for (let k = 1; k < rows; k++) {
      c = tables[c & 0xff]! ^ (c >>> 8);
      tables[k * 256 + n] = c >>> 0;
    }
  }
  return tables;
}

const TABLES: Uint32Array = fillCrc32cTables(new Uint32Array(8 * 256));

/**
 * CRC-32C in plain JavaScript (slicing-by-8). Used where the native module is unavailable, and as
 * the reference the native module is checked against at load time.
 *
 * @example
 * ```ts
 * crc32cPortable(new TextEncoder().encode('123456789')); // 0xE3069283
 * ```
 */
export function crc32cPortable(bytes: Uint8Array, crc = 0): number {
  const t = TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const length = bytes.length;
  const fastEnd = length - 8;
  while (i <= fastEnd) {
    const lo = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    const hi = bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) | (bytes[i + 7]! << 24);
    c =
      t[1792 + (lo & 0xff)]! ^
      t[1536 + ((lo >>> 8) & 0xff)]! ^
      t[1280 + ((lo >>> 16) & 0xff)]! ^
      t[1024 + (lo >>> 24)]! ^
      t[768 + (hi & 0xff)]! ^
      t[512 + ((hi >>> 8) & 0xff)]! ^
      t[256 + ((hi >>> 16) & 0xff)]! ^
      t[hi >>> 24]!;
    i += 8;
  }
  while (i < length) {
    c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    i++;
  }
  return ~c >>> 0;
}

function loadNative(): Crc32cUpdate | undefined {
  if (process.env['KUBECTL_DBAAS_CRC32C'] === 'js') return undefined;
  try {
    // The native module is optional: a platform without a prebuilt binary falls back to JS.
    // ESM has import.meta.url; the CJS build has a real `require` (and an empty import.meta).
    const metaUrl = (import.meta as { url?: string }).url;
    const load = typeof metaUrl === 'string' ? createRequire(metaUrl) : require;
    const native = load('@node-rs/crc32') as { crc32c: (input: Uint8Array, initial?: number) => number };
    const probe = new TextEncoder().encode('123456789');
    if (native.crc32c(probe) !== crc32cPortable(probe)) return undefined;
    if (native.crc32c(probe.subarray(4), native.crc32c(probe.subarray(0, 4))) !== 0xe3069283) return undefined;
    return (bytes, crc = 0) => native.crc32c(bytes, crc) >>> 0;
  } catch {
    return undefined;
  }
}

const nativeCrc32c = loadNative();

/**
 * Below this many bytes the JavaScript implementation beats the native call (N-API call overhead
 * dominates); measured on x86_64, see bench/wal-verify.
 */
const NATIVE_THRESHOLD = 128;

/**
 * CRC-32C (Castagnoli), as PostgreSQL computes it for WAL records and `pg_control`
 * (`INIT_CRC32C` 0xFFFFFFFF, `COMP_CRC32C`, `FIN_CRC32C` xor 0xFFFFFFFF). Incremental: pass the
 * previous result as `crc` to continue over more bytes. Uses the SIMD-accelerated `@node-rs/crc32`
 * when its prebuilt binary loads, and a slicing-by-8 JavaScript implementation otherwise.
 *
 * @example
 * ```ts
 * crc32c(new TextEncoder().encode('123456789')); // 0xE3069283
 * const whole = crc32c(tail, crc32c(head)); // same as crc32c(head ++ tail)
 * ```
 */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  if (nativeCrc32c !== undefined && bytes.length >= NATIVE_THRESHOLD) return nativeCrc32c(bytes, crc);
  return crc32cPortable(bytes, crc);
}

/** Multiplies two polynomials modulo the (reflected) Castagnoli polynomial. */
function multiplyModP(a: number, b: number): number {
  let mask = 0x80000000;
  let product = 0;
  for (;;) {
    if (a & mask) {
      product ^= b;
      if ((a & (mask - 1)) === 0) break;
    }
    mask >>>= 1;
    b = b & 1 ? (b >>> 1) ^ CASTAGNOLI_REFLECTED : b >>> 1;
  }
  return product >>> 0;
}

/** x^(2^k) modulo P for k = 0..31, for shifting a CRC by a byte count in O(log n). */
const X_POWER_2N: Uint32Array = (() => {
  const table = new Uint32Array(32);
  let power = 0x40000000; // x^1 in reflected form
  for (let k = 0; k < 32; k++) {
    table[k] = power;
    power = multiplyModP(power, power);
  }
  return table;
})();

function xPower8nModP(byteCount: number): number {
  let power = 0x80000000; // x^0
  let k = 3;
  let n = byteCount;
  while (n > 0) {
    if (n % 2 === 1) power = multiplyModP(X_POWER_2N[k & 31]!, power);
    n = Math.floor(n / 2);
    k++;
  }
  return power;
}

/**
 * Combines `crc32c(a)` and `crc32c(b)` into `crc32c(a ++ b)` without the bytes, given the length
 * of `b` (zlib's `crc32_combine`, for the Castagnoli polynomial). This lets WAL segments be checked
 * independently, in whatever order a tar archive holds them, and a record that spans two segments
 * still be CRC-checked when both summaries are joined.
 *
 * @example
 * ```ts
 * crc32cCombine(crc32c(head), crc32c(tail), tail.length) === crc32c(Buffer.concat([head, tail])); // true
 * ```
 */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  return (multiplyModP(xPower8nModP(lengthB), crcA) ^ crcB) >>> 0;
}

/**
 * Which CRC-32C implementation {@link crc32c} uses for large inputs: `native` (`@node-rs/crc32`)
 * or `javascript`. Set `KUBECTL_DBAAS_CRC32C=js` to force the JavaScript one.
 *
 * @example
 * ```ts
 * console.log(`CRC-32C: ${crc32cImplementation()}`);
 * ```
 */
export function crc32cImplementation(): 'native' | 'javascript' {
  return nativeCrc32c === undefined ? 'javascript' : 'native';
}
