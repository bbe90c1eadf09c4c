import { describe, expect, it } from 'vitest';
import { isDbaasError } from '../../errors.js';
import { chooseConsistencyMode, ENGINE_MODES, snapshotAtomicity } from '../../manifests/atomicity.js';

const hostpath = snapshotAtomicity('hostpath.csi.k8s.io');
const ebs = snapshotAtomicity('ebs.csi.aws.com');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return isDbaasError(e) ? e.code : 'not-a-DbaasError';
  }
}

describe('chooseConsistencyMode for MySQL/MariaDB', () => {
  it('defaults: online on atomic drivers, fenced on non-atomic ones; PostgreSQL unchanged', () => {
    for (const engine of ['mysql', 'mariadb'] as const) {
      expect(chooseConsistencyMode(ebs, undefined, { engine })).toBe('online');
      expect(chooseConsistencyMode(hostpath, undefined, { engine })).toBe('fenced');
    }
    expect(chooseConsistencyMode(ebs, undefined, { engine: 'postgres' })).toBe('checkpoint');
    expect(chooseConsistencyMode(hostpath, 'online', { engine: 'postgres' })).toBe('online');
    expect(chooseConsistencyMode(hostpath, 'online')).toBe('online');
  });

  it('refuses online and crash on a non-atomic driver (measured torn copies), naming fenced; force takes the risk', () => {
    for (const mode of ['online', 'crash'] as const) {
      let error: unknown;
      try {
        chooseConsistencyMode(hostpath, mode, { engine: 'mariadb' });
      } catch (e) {
        error = e;
      }
      expect(isDbaasError(error, 'MODE_UNSAFE')).toBe(true);
      const e = error as { message: string; fix?: string };
      expect(e.message).toMatch(/not atomic/);
      expect(e.fix).toMatch(/--mode fenced/);
      if (mode === 'online') expect(e.message).toMatch(/BACKUP STAGE BLOCK_COMMIT.*still flushes pages/);
      expect(chooseConsistencyMode(hostpath, mode, { engine: 'mariadb', force: true })).toBe(mode);
    }
    expect(codeOf(() => chooseConsistencyMode(hostpath, 'online', { engine: 'mysql' }))).toBe('MODE_UNSAFE');
  });

  it('has no checkpoint mode, on any driver', () => {
    expect(codeOf(() => chooseConsistencyMode(ebs, 'checkpoint', { engine: 'mysql' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => chooseConsistencyMode(hostpath, 'checkpoint', { engine: 'mariadb', force: true }))).toBe('INVALID_ARGUMENT');
  });

  it('ENGINE_MODES agrees with chooseConsistencyMode for every engine, mode and driver kind', () => {
    for (const engine of ['postgres', 'mysql', 'mariadb'] as const) {
      for (const [kind, atomicity] of [
        ['atomic', ebs],
        ['nonAtomic', hostpath],
      ] as const) {
        for (const mode of ['crash', 'checkpoint', 'fenced', 'online'] as const) {
          const allowed = (ENGINE_MODES[engine][kind] as readonly string[]).includes(mode);
          expect([engine, kind, mode, codeOf(() => chooseConsistencyMode(atomicity, mode, { engine })) === undefined]).toEqual([engine, kind, mode, allowed]);
        }
      }
    }
  });
});
