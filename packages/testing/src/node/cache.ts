// Content keys and the cache lock of the image builder (node/images.ts).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** JSON with object keys sorted at every level, so that equal inputs give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`${value} cannot be part of a content key`);
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') {
    throw new Error(`a ${typeof value} cannot be part of a content key`);
  }
  return JSON.stringify(value);
}

/**
 * The cache key of a set of inputs: the first 16 hex digits of the SHA-256 of their canonical JSON.
 *
 * @example
 * contentKey({ builder: 1, pauseC: 'sha256:...' }); // 'a1b2c3d4e5f60718'
 */
export function contentKey(inputs: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(inputs)).digest('hex').slice(0, 16);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` holding the lock directory `lockDir` (made with mkdir, which is atomic; the holder's
 * pid inside). A lock whose holder is gone is taken over; otherwise waits, logging once a minute.
 */
export async function withLock<T>(lockDir: string, fn: () => Promise<T>, opts: { log?: (l: string) => void; timeoutMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60 * 60_000);
  await mkdir(path.dirname(lockDir), { recursive: true });
  let lastLog = 0;
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number((await readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => '')).trim());
    // No pid a minute after the mkdir: its maker died between mkdir and writing the pid.
    const orphaned = !(owner > 0) && Date.now() - ((await stat(lockDir).catch(() => undefined))?.mtimeMs ?? Date.now()) > 60_000;
    if ((owner > 0 && !pidAlive(owner)) || orphaned) {
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${lockDir} (held by pid ${owner || 'unknown'})`);
    if (Date.now() - lastLog > 60_000) {
      opts.log?.(`waiting for ${lockDir} (another build, pid ${owner || 'starting'})`);
      lastLog = Date.now();
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  try {
    await writeFile(path.join(lockDir, 'pid'), String(process.pid));
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
