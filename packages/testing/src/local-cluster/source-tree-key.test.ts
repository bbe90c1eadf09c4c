import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sourceTreeKey } from './binaries.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'source-tree-key-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

describe('sourceTreeKey (the cache key of a local-source Go tool)', () => {
  const go = 'go version go1.26.8 linux/amd64';
  const files = { 'go.mod': 'module m\n', 'go.sum': 'x\n', 'main.go': 'package main\n', 'driver/d.go': 'package driver\n' };

  it('is the same for the same files and changes with a source file, a nested one, go.sum or go version', async () => {
    const base = await sourceTreeKey(await tree(files), go);
    expect(base).toMatch(/^[0-9a-f]{16}$/);
    expect(await sourceTreeKey(await tree(files), go)).toBe(base);
    expect(await sourceTreeKey(await tree({ ...files, 'main.go': 'package main // changed\n' }), go)).not.toBe(base);
    expect(await sourceTreeKey(await tree({ ...files, 'driver/d.go': 'package driver\n\n' }), go)).not.toBe(base);
    expect(await sourceTreeKey(await tree({ ...files, 'go.sum': 'y\n' }), go)).not.toBe(base);
    expect(await sourceTreeKey(await tree(files), 'go version go1.26.9 linux/amd64')).not.toBe(base);
  });

  it('ignores _test.go files, which are not in the binary, but not a renamed source file', async () => {
    const base = await sourceTreeKey(await tree(files), go);
    expect(await sourceTreeKey(await tree({ ...files, 'driver/d_test.go': 'package driver\n' }), go)).toBe(base);
    const moved = await tree(files);
    await rename(path.join(moved, 'driver', 'd.go'), path.join(moved, 'driver', 'e.go'));
    expect(await sourceTreeKey(moved, go)).not.toBe(base);
  });
});
