// The cache lock of the image builder, on a real temporary directory.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withLock } from './cache.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('withLock', () => {
  it('runs holders one after the other and removes the lock afterwards', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'dbaas-lock-test-'));
    const lock = path.join(dir, 'x.lock');
    const events: string[] = [];
    const holder = (name: string) =>
      withLock(lock, async () => {
        events.push(`${name} in`);
        await new Promise((r) => setTimeout(r, 300));
        events.push(`${name} out`);
        return name;
      });
    expect(await Promise.all([holder('a'), holder('b')])).toEqual(['a', 'b']);
    // Which one takes the lock first is a race; that they never overlap is the point.
    const first = events[0]?.split(' ')[0];
    const second = first === 'a' ? 'b' : 'a';
    expect(events).toEqual([`${first} in`, `${first} out`, `${second} in`, `${second} out`]);
    await expect(import('node:fs/promises').then((fs) => fs.stat(lock))).rejects.toThrow(/ENOENT/);
  });

  it('takes over a lock whose holder is gone, and releases the lock when the holder throws', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'dbaas-lock-test-'));
    const lock = path.join(dir, 'y.lock');
    await mkdir(lock);
    await writeFile(path.join(lock, 'pid'), '2147483646'); // no such process
    await expect(
      withLock(
        lock,
        async () => {
          throw new Error('boom');
        },
        { timeoutMs: 5_000 },
      ),
    ).rejects.toThrow('boom');
    expect(await withLock(lock, async () => 'again', { timeoutMs: 5_000 })).toBe('again');
  });
});
