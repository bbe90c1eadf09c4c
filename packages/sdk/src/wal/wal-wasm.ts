// The WAL scanner's per-record hot loop in hand-written WebAssembly (source: wal-wasm.wat beside
// this file; `wal-wasm-build.mjs` rebuilds the bytes below from it). WebAssembly has no CRC
// instruction, but a table-driven CRC-32C (slicing-by-16) run inside one call per WAL page costs a
// fraction of a JavaScript CRC or an N-API call per ~100-byte record.

import { fillCrc32cTables } from './crc32c.js';

const WASM_BASE64: string =
  'AGFzbQEAAAABEQJgA39/fwF/YAV/f3x8fwF/AwQDAAABBQMBAAIHFwMGbWVtb3J5AgADY3JjAAEEd2FsawACCtsIA7UEAQV/IAAgAWohAwJAA0BBECADIABrSg0BIAIgACgCAHMhBCAAKAIEIQUgACgCCCEGIAAoAgwhByAEQf8BcUECdCgCgHggBEEGdkH8B3EoAoBwcyAEQQ52QfwHcSgCgGggBEEYdkECdCgCgGBzcyAFQf8BcUECdCgCgFggBUEGdkH8B3EoAoBQcyAFQQ52QfwHcSgCgEggBUEYdkECdCgCgEBzc3MgBkH/AXFBAnQoAoA4IAZBBnZB/AdxKAKAMHMgBkEOdkH8B3EoAoAoIAZBGHZBAnQoAoAgc3MgB0H/AXFBAnQoAoAYIAdBBnZB/AdxKAKAEHMgB0EOdkH8B3EoAoAIIAdBGHZBAnQoAgBzc3NzIQIgAEEQaiEADAALCyADIABrQQhOBEAgAiAAKAIAcyEEIAAoAgQhBSAEQf8BcUECdCgCgDggBEEGdkH8B3EoAoAwcyAEQQ52QfwHcSgCgCggBEEYdkECdCgCgCBzcyAFQf8BcUECdCgCgBggBUEGdkH8B3EoAoAQcyAFQQ52QfwHcSgCgAggBUEYdkECdCgCAHNzcyECIABBCGohAAsgAyAAa0EETgRAIAIgACgCAHMhBCAEQf8BcUECdCgCgBggBEEGdkH8B3EoAoAQcyAEQQ52QfwHcSgCgAggBEEYdkECdCgCAHNzIQIgAEEEaiEACwJAA0AgACADTw0BIAIgAC0AAHNB/wFxQQJ0KAIAIAJBCHZzIQIgAEEBaiEADAALCyACCxAAIAAgASACQX9zEABBf3MLkAQEA38Dfgd/AX4gA7EhCSACsSESAkADQCABQYDAAE8NASAAIAFqIQUgBSgCACEGIAZBGEkNASAGQYDAACABa0sNASAFLQARIQcgB0UNASAHQT9LIAdBgAFJcQ0BIBIgAa18IQggBSkDCCEKIAQEQCAKIAlSDQIFIAogCFoNAgsgBUEYaiAGQRhrQX8QACENIA0gBSgCAHMhDiAFKAIEIQ8gBSgCCCEQIAUoAgwhESAOQf8BcUECdCgCgHggDkEGdkH8B3EoAoBwcyAOQQ52QfwHcSgCgGggDkEYdkECdCgCgGBzcyAPQf8BcUECdCgCgFggD0EGdkH8B3EoAoBQcyAPQQ52QfwHcSgCgEggD0EYdkECdCgCgEBzc3MgEEH/AXFBAnQoAoA4IBBBBnZB/AdxKAKAMHMgEEEOdkH8B3EoAoAoIBBBGHZBAnQoAoAgc3MgEUH/AXFBAnQoAoAYIBFBBnZB/AdxKAKAEHMgEUEOdkH8B3EoAoAIIBFBGHZBAnQoAgBzc3NzIQ0gDSAFKAIQcyEOIA5B/wFxQQJ0KAKAGCAOQQZ2QfwHcSgCgBBzIA5BDnZB/AdxKAKACCAOQRh2QQJ0KAIAc3MhDSANQX9zIAUoAhRHDQEgC0EBaiELIAEhDCAIIQlBASEEIAEgBkEHakF4cWohAQwACwtBgIABIAs2AgBBhIABIAw2AgAgAQs=';

const TABLE_COUNT = 16;
const RESULT_OFFSET = 16384;
const PAGE_OFFSET = 32768;
const PAGE_SIZE = 8192;
const SCRATCH_OFFSET = 65536;
const SCRATCH_SIZE = 65536;
const READ_BUFFER_OFFSET = 131072;
const WASM_PAGE = 65536;

/** The little of the WebAssembly API used here (the TypeScript lib in use has no DOM types). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

interface WalWasmExports {
  memory: { buffer: ArrayBuffer; grow: (pages: number) => number };
  crc: (pointer: number, length: number, crc: number) => number;
  walk: (page: number, offset: number, pageStart: number, last: number, hasLast: number) => number;
}

/**
 * The scanner's view of the WebAssembly module: one page slot, the record walk over it and a
 * CRC-32C. One instance per thread; calls are synchronous, so scanners in the same thread share it.
 */
export interface WalWasm {
  /**
   * Makes the WAL page at `bytes[base .. base + 8192)` readable by `walk`: where it lies when
   * `bytes` is the read buffer, else copied into the module's page slot. Returns its address.
   */
  loadPage(bytes: Uint8Array, base: number): number;
  /** The address of `bytes[base]` in the module's memory when `bytes` lies there, else -1. */
  addressOf(bytes: Uint8Array, base: number): number;
  /**
   * Checks and accepts the records wholly on the loaded page from `offset` (see wal-wasm.wat):
   * returns the offset of the first record it did not accept, or 8192 and more at the page end.
   * `last` is the LSN that the first record's xl_prev must equal (undefined: any earlier LSN).
   */
  walk(page: number, offset: number, pageStart: number, last: number | undefined): number;
  /** Records accepted by the last `walk`. */
  acceptedCount(): number;
  /** Page offset of the last record accepted by the last `walk`. */
  lastAcceptedOffset(): number;
  /** CRC-32C, same contract as crc32c() in crc32c.ts. */
  crc(bytes: Uint8Array, crc?: number): number;
  /** CRC-32C of `length` bytes at `address` of the module's memory (see `loadPage`), same contract. */
  crcAt(address: number, length: number, crc: number): number;
  /**
   * A buffer of `size` bytes inside the module's memory to read files into, so that `loadPage`
   * need not copy (the first call grows the memory; later calls return the same buffer). One user
   * at a time.
   */
  readBuffer(size: number): Uint8Array;
}

function instantiate(): WalWasm | undefined {
  const api = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  if (process.env['KUBECTL_DBAAS_WAL_WASM'] === '0' || api === undefined || WASM_BASE64 === '') return undefined;
  try {
    const module = new api.Module(Buffer.from(WASM_BASE64, 'base64'));
    const exports = new api.Instance(module, {}).exports as WalWasmExports;
    let memory = new Uint8Array(exports.memory.buffer);
    fillCrc32cTables(new Uint32Array(exports.memory.buffer, 0, TABLE_COUNT * 256));
    let results = new Uint32Array(exports.memory.buffer, RESULT_OFFSET, 2);
    let readBuffer: Uint8Array | undefined;
    const { walk, crc } = exports;
    const wasm: WalWasm = {
      loadPage(bytes, base) {
        if (bytes.buffer === memory.buffer) return bytes.byteOffset + base;
        memory.set(bytes.subarray(base, base + PAGE_SIZE), PAGE_OFFSET);
        return PAGE_OFFSET;
      },
      addressOf(bytes, base) {
        return bytes.buffer === memory.buffer ? bytes.byteOffset + base : -1;
      },
      walk(page, offset, pageStart, last) {
        return walk(page, offset, pageStart, last ?? 0, last === undefined ? 0 : 1);
      },
      acceptedCount: () => results[0]!,
      lastAcceptedOffset: () => results[1]!,
      crc(bytes, value = 0) {
        if (bytes.length <= SCRATCH_SIZE) {
          memory.set(bytes, SCRATCH_OFFSET);
          return crc(SCRATCH_OFFSET, bytes.length, value) >>> 0;
        }
        let c = value;
        for (let at = 0; at < bytes.length; at += SCRATCH_SIZE) {
          const piece = bytes.subarray(at, at + SCRATCH_SIZE);
          memory.set(piece, SCRATCH_OFFSET);
          c = crc(SCRATCH_OFFSET, piece.length, c) >>> 0;
        }
        return c >>> 0;
      },
      crcAt(address, length, value) {
        return crc(address, length, value) >>> 0;
      },
      readBuffer(size) {
        if (readBuffer === undefined || readBuffer.length < size) {
          const needed = Math.ceil((READ_BUFFER_OFFSET + size) / WASM_PAGE) - memory.buffer.byteLength / WASM_PAGE;
          if (needed > 0) exports.memory.grow(needed);
          memory = new Uint8Array(exports.memory.buffer);
          results = new Uint32Array(exports.memory.buffer, RESULT_OFFSET, 2);
          readBuffer = memory.subarray(READ_BUFFER_OFFSET, READ_BUFFER_OFFSET + size);
        }
        return readBuffer.subarray(0, size);
      },
    };
    // Self-test against the check value of CRC-32C.
    if (wasm.crc(new TextEncoder().encode('123456789')) !== 0xe3069283) return undefined;
    return wasm;
  } catch {
    return undefined;
  }
}

let instance: WalWasm | undefined | null = null;
let enabled = true;

/** The thread's WebAssembly helper, or undefined when disabled (`KUBECTL_DBAAS_WAL_WASM=0`) or unavailable. */
export function walWasm(): WalWasm | undefined {
  if (!enabled) return undefined;
  if (instance === null) instance = instantiate();
  return instance;
}

/** Turns the WebAssembly path off or on (tests compare it with the JavaScript path). Internal. */
export function setWalWasmEnabled(on: boolean): void {
  enabled = on;
}
