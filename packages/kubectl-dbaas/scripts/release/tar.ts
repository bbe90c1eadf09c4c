import { gzipSync } from 'node:zlib';

/**
 * One regular file of a tar archive.
 *
 * @example
 * ```ts
 * const entry: TarEntry = { name: 'LICENSE', data: Buffer.from('...'), mode: 0o644 };
 * ```
 */
export interface TarEntry {
  name: string;
  data: Uint8Array;
  mode: number;
}

/**
 * A reproducible `.tar.gz` (POSIX ustar, regular files only): fixed owner, mtime 0 and gzip header,
 * so the same inputs give the same bytes, and the same sha256 in the Krew manifest.
 *
 * @example
 * ```ts
 * writeFileSync('x.tar.gz', tarGz([{ name: 'LICENSE', data: license, mode: 0o644 }]));
 * ```
 */
export function tarGz(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    if (Buffer.byteLength(entry.name) > 100) throw new Error(`tar: name too long: ${entry.name}`);
    const header = Buffer.alloc(512);
    header.write(entry.name, 0, 100, 'utf8');
    header.write(octal(entry.mode, 8), 100, 'ascii');
    header.write(octal(0, 8), 108, 'ascii'); // uid
    header.write(octal(0, 8), 116, 'ascii'); // gid
    header.write(octal(entry.data.length, 12), 124, 'ascii');
    header.write(octal(0, 12), 136, 'ascii'); // mtime
    header.fill(0x20, 148, 156); // checksum field counts as spaces
    header.write('0', 156, 'ascii'); // regular file
    header.write('ustar\u000000', 257, 'binary');
    header.write('root', 265, 'ascii');
    header.write('root', 297, 'ascii');
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'ascii');
    blocks.push(header, Buffer.from(entry.data), Buffer.alloc((512 - (entry.data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks), { level: 9 });
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\u0000`;
}
