import { describe, expect, it } from 'vitest';
import { connectionFromArgs, connectionGiven } from './connection.js';

describe('connectionFromArgs', () => {
  it('lets flags win over the connection string and leaves the rest to libpq variables', () => {
    expect(connectionFromArgs({ dsn: 'postgres://a@h1/db', host: 'h2', port: 6543 }, {})).toEqual({
      connectionString: 'postgres://a@h1/db',
      host: 'h2',
      port: 6543,
      application_name: 'kubectl-dbaas',
    });
  });

  it('falls back to $DATABASE_URL', () => {
    expect(connectionFromArgs({}, { DATABASE_URL: 'postgres://x@y/z' })).toEqual({
      connectionString: 'postgres://x@y/z',
      application_name: 'kubectl-dbaas',
    });
  });

  it('sets nothing when nothing is given, so pg reads PGHOST/PGPORT/PGUSER/PGPASSWORD itself', () => {
    expect(connectionFromArgs({}, {})).toEqual({ application_name: 'kubectl-dbaas' });
  });
});

describe('connectionGiven', () => {
  it('is true for any connection flag, $DATABASE_URL or $PGHOST, false otherwise', () => {
    expect(connectionGiven({}, {})).toBe(false);
    expect(connectionGiven({}, { PGUSER: 'me' })).toBe(false);
    expect(connectionGiven({ port: 5433 }, {})).toBe(true);
    expect(connectionGiven({}, { PGHOST: '/run/postgresql' })).toBe(true);
    expect(connectionGiven({}, { DATABASE_URL: 'postgres://x@y/z' })).toBe(true);
  });
});
