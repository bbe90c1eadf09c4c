import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DbaasError } from '../errors.js';

/**
 * One entry of a tar archive as it streams past. `data` must be read to the end (or drained with
 * {@link drainTarEntry}) before the next entry arrives.
 *
 * @example
 * ```ts
 * for await (const entry of readTarEntries(createReadStream('volume.snap'))) console.log(entry.path);
 * ```
 */
export interface TarEntry {
  /** Path inside the archive with a leading `./` removed. */
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  /** Target of a symbolic link. */
  linkTarget: string | undefined;
  data: AsyncIterable<Uint8Array>;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

async function* peekable(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) yield chunk;
}

/**
 * Reads a tar archive, gzip-compressed or not (detected from its first bytes), from a stream,
 * without writing anything to disk: the way the CSI hostpath driver's `.snap` files (`tar czf`
 * of the volume directory) are inspected. Entries come in archive order.
 *
 * @throws DbaasError `SNAPSHOT_ARCHIVE_INVALID` when the bytes are not a (gzipped) tar archive.
 * @example
 * ```ts
 * for await (const entry of readTarEntries(createReadStream('snapshot.snap'))) {
 *   if (entry.path === 'global/pg_control') control = readControlFile(await readTarEntry(entry));
 *   else await drainTarEntry(entry);
 * }
 * ```
 */
export async function* readTarEntries(source: Readable | AsyncIterable<Uint8Array>): AsyncGenerator<TarEntry> {
  const chunks = peekable(source as AsyncIterable<Uint8Array>);
  const first = await chunks.next();
  if (first.done) {
    throw new DbaasError('SNAPSHOT_ARCHIVE_INVALID', 'the snapshot archive is empty', { fix: 'Check that the snapshot file was written completely.' });
  }
  const head = first.value;
  const compressed = head.length >= 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1;
  // Imported here, not with the SDK: only archive reads need it (start-up; bench/cli-startup).
  const { default: tar } = await import('tar-stream');
  const extractor = tar.extract();
  const input = compressed ? createGunzip() : undefined;
  const sink = input ?? extractor;
  if (input !== undefined) {
    input.pipe(extractor);
    input.on('error', (error) => extractor.destroy(error));
  }
  // Feed the archive bytes with backpressure, in the background; errors surface in the loop below.
  const feeding = (async () => {
    const write = (chunk: Uint8Array): Promise<void> =>
      new Promise((resolve, reject) => {
        const ok = (sink as NodeJS.WritableStream).write(chunk, (error?: Error | null) => (error ? reject(error) : undefined));
        if (ok) resolve();
        else (sink as NodeJS.WritableStream).once('drain', resolve);
      });
    try {
      await write(head);
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) await write(next.value);
      (sink as NodeJS.WritableStream).end();
    } catch (error) {
      extractor.destroy(error as Error);
    }
  })();
  try {
    for await (const entry of extractor) {
      const header = entry.header;
      const type =
        header.type === 'file' || header.type === 'contiguous-file'
          ? 'file'
          : header.type === 'directory'
            ? 'directory'
            : header.type === 'symlink'
              ? 'symlink'
              : 'other';
      yield {
        path: header.name.replace(/^(\.\/)+/, '').replace(/\/+$/, ''),
        type,
        size: header.size ?? 0,
        linkTarget: header.linkname ?? undefined,
        data: entry as AsyncIterable<Uint8Array>,
      };
      // Whatever the consumer left unread must be drained for the next entry to arrive.
      entry.resume();
    }
  } catch (error) {
    throw new DbaasError('SNAPSHOT_ARCHIVE_INVALID', `the snapshot archive cannot be read: ${(error as Error).message}`, {
      cause: error,
      fix: 'Check that the file is a complete tar or tar.gz archive (the CSI hostpath driver writes tar czf).',
    });
  } finally {
    await feeding.catch(() => undefined);
  }
}

/**
 * Reads a (small) tar entry into memory, refusing entries larger than `maxBytes`.
 *
 * @throws DbaasError `SNAPSHOT_ARCHIVE_INVALID` when the entry is larger than `maxBytes`.
 * @example
 * ```ts
 * const bytes = await readTarEntry(entry, 8192);
 * ```
 */
export async function readTarEntry(entry: TarEntry, maxBytes = 1024 * 1024): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of entry.data) {
    length += chunk.length;
    if (length > maxBytes) {
      throw new DbaasError('SNAPSHOT_ARCHIVE_INVALID', `${entry.path} is larger than ${maxBytes} bytes`, { details: { path: entry.path } });
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/**
 * Skips the rest of a tar entry.
 *
 * @example
 * ```ts
 * await drainTarEntry(entry);
 * ```
 */
export async function drainTarEntry(entry: TarEntry): Promise<void> {
  for await (const chunk of entry.data) void chunk;
}

/**
 * Opens a tar or tar.gz file as a stream of entries.
 *
 * @example
 * ```ts
 * for await (const entry of readTarFile('/var/lib/csi-hostpath-data/snap-1.snap')) console.log(entry.path);
 * ```
 */
export function readTarFile(path: string): AsyncGenerator<TarEntry> {
  return readTarEntries(createReadStream(path, { highWaterMark: 1024 * 1024 }));
}
