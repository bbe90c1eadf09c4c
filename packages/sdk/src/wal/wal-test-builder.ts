// Test helper: writes synthetic but format-exact WAL and pg_control bytes. Not exported by the SDK.
import { crc32c } from './crc32c.js';
import { walFileNameForSegment } from './lsn.js';

const PAGE = 8192;

export interface BuiltSegment {
  name: string;
  bytes: Uint8Array;
}

/** Builds WAL the way PostgreSQL lays it out: page headers, aligned records, continuations. */
export class WalBuilder {
  readonly segmentSize: number;
  readonly systemIdentifier: bigint;
  readonly magic: number;
  timeline: number;
  position: number;
  previous = 0;
  private readonly segments = new Map<number, Uint8Array>();

  constructor(options: { segmentSize?: number; systemIdentifier?: bigint; magic?: number; timeline?: number; startSegment?: number } = {}) {
    this.segmentSize = options.segmentSize ?? 1024 * 1024;
    this.systemIdentifier = options.systemIdentifier ?? 7000000000000000001n;
    this.magic = options.magic ?? 0xd116;
    this.timeline = options.timeline ?? 1;
    this.position = (options.startSegment ?? 1) * this.segmentSize;
  }

  private segment(number: number): Uint8Array {
    let bytes = this.segments.get(number);
    if (bytes === undefined) {
      bytes = new Uint8Array(this.segmentSize);
      this.segments.set(number, bytes);
    }
    return bytes;
  }

  private writePageHeader(pageStart: number, remaining: number): number {
    const segmentNumber = Math.floor(pageStart / this.segmentSize);
    const offset = pageStart % this.segmentSize;
    const bytes = this.segment(segmentNumber);
    const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 40);
    const long = offset === 0;
    view.setUint16(0, this.magic, true);
    view.setUint16(2, (long ? 2 : 0) | (remaining > 0 ? 1 : 0), true);
    view.setUint32(4, this.timeline, true);
    view.setUint32(8, pageStart % 0x1_0000_0000, true);
    view.setUint32(12, Math.floor(pageStart / 0x1_0000_0000), true);
    view.setUint32(16, remaining, true);
    if (long) {
      view.setBigUint64(24, this.systemIdentifier, true);
      view.setUint32(32, this.segmentSize, true);
      view.setUint32(36, PAGE, true);
      return 40;
    }
    return 24;
  }

  /** Appends a record with the given payload (everything after the 24-byte header). */
  appendRecord(rmid: number, info: number, payload: Uint8Array, xid = 0): number {
    const total = 24 + payload.length;
    const record = new Uint8Array(total);
    const view = new DataView(record.buffer);
    view.setUint32(0, total, true);
    view.setUint32(4, xid, true);
    view.setBigUint64(8, BigInt(this.previous), true);
    record[16] = info;
    record[17] = rmid;
    record.set(payload, 24);
    const crc = crc32c(record.subarray(0, 20), crc32c(record.subarray(24)));
    view.setUint32(20, crc, true);
    if (this.position % PAGE === 0) this.position += this.writePageHeader(this.position, 0);
    const lsn = this.position;
    let written = 0;
    while (written < total) {
      if (this.position % PAGE === 0) this.position += this.writePageHeader(this.position, total - written);
      const room = PAGE - (this.position % PAGE);
      const take = Math.min(room, total - written);
      const segmentNumber = Math.floor(this.position / this.segmentSize);
      this.segment(segmentNumber).set(record.subarray(written, written + take), this.position % this.segmentSize);
      written += take;
      this.position += take;
    }
    this.position = (this.position + 7) & ~7;
    if (this.position % PAGE === 0) this.position += this.writePageHeader(this.position, 0);
    this.previous = lsn;
    return lsn;
  }

  /** A record of rmgr `rmid` carrying `length` bytes of main data. */
  appendPlain(length: number, rmid = 10, fill = 0x5a): number {
    return this.appendRecord(rmid, 0, mainDataPayload(new Uint8Array(length).fill(fill)));
  }

  appendCheckpoint(kind: 'shutdown' | 'online', redo: number, walLevelVersion17 = true): number {
    const data = new Uint8Array(88);
    const view = new DataView(data.buffer);
    view.setBigUint64(0, BigInt(redo), true);
    view.setUint32(8, this.timeline, true);
    view.setUint32(12, this.timeline, true);
    data[16] = 1;
    if (walLevelVersion17) view.setInt32(20, 1, true);
    view.setBigUint64(24, 1000n, true);
    view.setBigInt64(64, 1_700_000_000n, true);
    return this.appendRecord(0, kind === 'shutdown' ? 0x00 : 0x10, mainDataPayload(data));
  }

  appendBackupEnd(backupStart: number): number {
    const data = new Uint8Array(8);
    new DataView(data.buffer).setBigUint64(0, BigInt(backupStart), true);
    return this.appendRecord(0, 0x50, mainDataPayload(data));
  }

  appendSwitch(): number {
    const lsn = this.appendRecord(0, 0x40, new Uint8Array(0));
    const segmentNumber = Math.floor(lsn / this.segmentSize);
    this.position = (segmentNumber + 1) * this.segmentSize;
    return lsn;
  }

  /** Ends the WAL: writes the page header of the page where the next record would go. */
  build(): BuiltSegment[] {
    if (this.position % PAGE !== 0) {
      const pageStart = this.position - (this.position % PAGE);
      const segmentNumber = Math.floor(pageStart / this.segmentSize);
      if (!this.segments.has(segmentNumber)) this.writePageHeader(pageStart, 0);
    } else {
      this.writePageHeader(this.position, 0);
    }
    return [...this.segments.entries()]
      .sort(([a], [b]) => a - b)
      .map(([number, bytes]) => ({ name: walFileNameForSegment(this.timeline, BigInt(number), this.segmentSize), bytes }));
  }
}

/** Payload with only main data: the short or long data header, then the data. */
export function mainDataPayload(data: Uint8Array): Uint8Array {
  if (data.length < 256) {
    const payload = new Uint8Array(2 + data.length);
    payload[0] = 255;
    payload[1] = data.length;
    payload.set(data, 2);
    return payload;
  }
  const payload = new Uint8Array(5 + data.length);
  payload[0] = 254;
  new DataView(payload.buffer).setUint32(1, data.length, true);
  payload.set(data, 5);
  return payload;
}

/** A pg_control image of the given version with the CRC set. */
export function buildControlFile(
  options: {
    version?: 1300 | 1700 | 1800;
    state?: number;
    checkPoint?: bigint;
    redo?: bigint;
    timeline?: number;
    systemIdentifier?: bigint;
    segmentSize?: number;
    minRecoveryPoint?: bigint;
  } = {},
): Uint8Array {
  const version = options.version ?? 1700;
  const bytes = new Uint8Array(8192);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, options.systemIdentifier ?? 7000000000000000001n, true);
  view.setUint32(8, version, true);
  view.setUint32(12, version === 1300 ? 202209061 : version === 1700 ? 202406281 : 202506291, true);
  view.setUint32(16, options.state ?? 1, true);
  view.setBigInt64(24, 1_700_000_000n, true);
  view.setBigUint64(32, options.checkPoint ?? 0x1000028n, true);
  view.setBigUint64(40, options.redo ?? options.checkPoint ?? 0x1000028n, true);
  view.setUint32(48, options.timeline ?? 1, true);
  view.setUint32(52, options.timeline ?? 1, true);
  bytes[56] = 1;
  if (version >= 1700) view.setInt32(60, 1, true);
  view.setBigUint64(64, 740n, true);
  view.setBigUint64(136, options.minRecoveryPoint ?? 0n, true);
  view.setInt32(172, 1, true);
  view.setInt32(180, 100, true);
  view.setUint32(204, 8, true);
  view.setFloat64(208, 1234567.0, true);
  view.setUint32(216, 8192, true);
  view.setUint32(220, 131072, true);
  view.setUint32(224, 8192, true);
  view.setUint32(228, options.segmentSize ?? 16 * 1024 * 1024, true);
  view.setUint32(232, 64, true);
  view.setUint32(236, 32, true);
  view.setUint32(240, 1996, true);
  view.setUint32(244, 2048, true);
  bytes[248] = 1;
  const crcOffset = version === 1800 ? 292 : 288;
  if (version === 1800) bytes[256] = 1;
  view.setUint32(crcOffset, crc32c(bytes.subarray(0, crcOffset)), true);
  return bytes;
}

/** Splits bytes into chunks of the given sizes (cycled), to test chunk-boundary handling. */
export function* chunked(bytes: Uint8Array, sizes: readonly number[]): Generator<Uint8Array> {
  let offset = 0;
  let index = 0;
  while (offset < bytes.length) {
    const size = Math.max(1, sizes[index++ % sizes.length] ?? bytes.length);
    yield bytes.subarray(offset, offset + size);
    offset += size;
  }
}
