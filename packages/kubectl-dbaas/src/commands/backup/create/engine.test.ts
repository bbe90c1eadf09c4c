import { DbaasError } from '@kubectl-dbaas/sdk';
import { describe, expect, it } from 'vitest';
import { chooseEngine } from './engine.js';

const mariadbPod = {
  engine: 'mariadb' as const,
  source: 'image' as const,
  evidence: 'image localhost/kubectl-dbaas-test/mariadb:10.11',
  workload: 'pod/shop-0',
};
const nothing = { engine: undefined, source: 'none' as const, evidence: 'no image, label or PVC name names an engine' };
const conflict = {
  engine: undefined,
  source: 'conflict' as const,
  evidence: 'image evidence disagrees: image mysql:8.4 -> mysql; image postgres:17 -> postgres',
  workload: 'pod/x-0',
};

function thrown(fn: () => unknown): DbaasError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DbaasError) return error;
    throw error;
  }
  throw new Error('did not throw');
}

describe('chooseEngine (backup create: which connection options to build)', () => {
  it('takes what the target shows, and tells the SDK', () => {
    expect(chooseEngine({ detection: mariadbPod })).toEqual({
      engine: 'mariadb',
      family: 'mysql',
      reason: 'image localhost/kubectl-dbaas-test/mariadb:10.11 (pod/shop-0)',
      explicit: true,
    });
    expect(chooseEngine({ detection: { engine: 'postgres', source: 'image', evidence: 'image postgres:17' }, dsn: 'postgres' }).family).toBe('postgres');
  });

  it('--engine wins over the detection; --engine mysql keeps a detected MariaDB flavor', () => {
    expect(chooseEngine({ flag: 'postgres', detection: mariadbPod })).toMatchObject({ engine: 'postgres', reason: '--engine' });
    expect(chooseEngine({ flag: 'mysql', detection: mariadbPod }).engine).toBe('mariadb');
    expect(chooseEngine({ flag: 'mysql' })).toMatchObject({ engine: 'mysql', family: 'mysql', explicit: true });
  });

  it('a --dsn of the other engine contradicts the detection or --engine: an error naming both, not a guess', () => {
    const e = thrown(() => chooseEngine({ detection: mariadbPod, dsn: 'postgres' }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/runs mariadb .*pod\/shop-0.*postgresql:\/\//);
    expect(e.fix).toMatch(/--engine postgres/);
    expect(thrown(() => chooseEngine({ flag: 'postgres', dsn: 'mysql' })).message).toMatch(/--engine postgres and a mysql:\/\/ --dsn disagree/);
  });

  it('when the target shows nothing, the --dsn scheme decides, else PostgreSQL by default (not told to the SDK)', () => {
    expect(chooseEngine({ detection: nothing, dsn: 'mysql' })).toMatchObject({ engine: 'mysql', explicit: true });
    expect(chooseEngine({ detection: nothing })).toMatchObject({ engine: 'postgres', explicit: false });
    expect(chooseEngine({ detection: nothing }).reason).toMatch(/--engine mysql/);
  });

  it('conflicting evidence without --engine or --dsn is an error asking for --engine', () => {
    const e = thrown(() => chooseEngine({ detection: conflict }));
    expect(e.message).toMatch(/cannot tell the target's engine: image evidence disagrees/);
    expect(e.fix).toMatch(/--engine postgres or --engine mysql/);
    expect(chooseEngine({ detection: conflict, dsn: 'mysql' }).engine).toBe('mysql');
  });
});
