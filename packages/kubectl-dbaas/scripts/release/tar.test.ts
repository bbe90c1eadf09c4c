import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tarGz } from './tar.js';

describe('tarGz', () => {
  const entries = [
    { name: 'kubectl-dbaas', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
    { name: 'LICENSE', data: Buffer.alloc(1000, 0x41), mode: 0o644 },
  ];

  it('is reproducible: same input, same bytes', () => {
    expect(tarGz(entries).equals(tarGz(entries))).toBe(true);
  });

  it('is read back by GNU tar with names, contents and modes', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tar-test-'));
    try {
      writeFileSync(path.join(dir, 'a.tar.gz'), tarGz(entries));
      expect(execFileSync('tar', ['-tzf', path.join(dir, 'a.tar.gz')], { encoding: 'utf8' })).toBe('kubectl-dbaas\nLICENSE\n');
      execFileSync('tar', ['-xzf', path.join(dir, 'a.tar.gz'), '-C', dir]);
      expect(readFileSync(path.join(dir, 'LICENSE')).equals(entries[1]!.data)).toBe(true);
      expect(statSync(path.join(dir, 'kubectl-dbaas')).mode & 0o777).toBe(0o755);
      expect(execFileSync(path.join(dir, 'kubectl-dbaas'), { encoding: 'utf8' })).toBe('hi\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
