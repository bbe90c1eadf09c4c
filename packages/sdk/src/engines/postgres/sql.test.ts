import { describe, expect, it } from 'vitest';

import { DbaasError } from '../../errors.js';
import { openSession, sqlError } from './sql.js';

describe('sqlError', () => {
  it('keeps the SQLSTATE and adds a fix for permission errors', () => {
    const error = sqlError(Object.assign(new Error('permission denied for function pg_backup_start'), { code: '42501' }), 'select pg_backup_start($1)');
    expect(error).toBeInstanceOf(DbaasError);
    expect(error.code).toBe('PG_QUERY_FAILED');
    expect(error.details).toMatchObject({ sqlState: '42501', sql: 'select pg_backup_start($1)' });
    expect(error.fix).toMatch(/superuser/);
  });

  it('explains replication slots that cannot be used', () => {
    const error = sqlError(
      Object.assign(new Error('replication slots can only be used if max_replication_slots > 0'), { code: '55000' }),
      'select pg_create_physical_replication_slot($1, true, true)',
    );
    expect(error.fix).toMatch(/max_replication_slots/);
  });

  it('reports a terminated session as a connection failure', () => {
    const error = sqlError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }), 'select 1');
    expect(error.code).toBe('PG_CONNECTION_FAILED');
  });

  it('passes DbaasErrors through', () => {
    const original = new DbaasError('BACKUP_ABORTED', 'x');
    expect(sqlError(original, 'select 1')).toBe(original);
  });
});

describe('openSession', () => {
  it('fails with PG_CONNECTION_FAILED and names the address', async () => {
    const error = await openSession('postgresql://postgres@127.0.0.1:1/postgres', { connectTimeoutMs: 2000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DbaasError);
    expect((error as DbaasError).code).toBe('PG_CONNECTION_FAILED');
    expect((error as DbaasError).message).toContain('127.0.0.1:1');
  });
});
