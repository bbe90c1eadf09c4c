import { describe, expect, it } from 'vitest';
import { connectionFromArgs, connectionGiven, dsnEngine, mysqlConnectionFromArgs } from './connection.js';
import { UsageError } from './usage-error.js';

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

describe('connectionFromArgs and MySQL URLs', () => {
  it("ignores a mysql:// $DATABASE_URL (it is not PostgreSQL's)", () => {
    expect(connectionFromArgs({}, { DATABASE_URL: 'mysql://root@h/app' })).toEqual({ application_name: 'kubectl-dbaas' });
  });
});

describe('dsnEngine', () => {
  it('reads the scheme: postgres(ql):// and libpq key=value are PostgreSQL, mysql:// and mariadb:// MySQL', () => {
    expect(dsnEngine('postgresql://a@h/db')).toBe('postgres');
    expect(dsnEngine('postgres://a@h/db')).toBe('postgres');
    expect(dsnEngine('host=/run/postgresql dbname=app')).toBe('postgres');
    expect(dsnEngine('mysql://root@127.0.0.1:3306/app')).toBe('mysql');
    expect(dsnEngine('MariaDB://root@h')).toBe('mysql');
  });

  it('refuses another scheme as a usage error naming both accepted forms', () => {
    expect(() => dsnEngine('sqlserver://sa@h')).toThrow(UsageError);
    expect(() => dsnEngine('sqlserver://sa@h')).toThrow(/postgresql:\/\/.*mysql:\/\//);
  });
});

describe('mysqlConnectionFromArgs', () => {
  it('maps the flags to mysql2 options and takes the password from $MYSQL_PWD only', () => {
    expect(mysqlConnectionFromArgs({ host: '127.0.0.1', port: 13306, dbUser: 'root', dbname: 'app' }, { MYSQL_PWD: 's3cret', PGPASSWORD: 'other' })).toEqual({
      host: '127.0.0.1',
      port: 13306,
      user: 'root',
      password: 's3cret',
      database: 'app',
    });
    expect(mysqlConnectionFromArgs({ host: '127.0.0.1' }, { PGPASSWORD: 'other' })).not.toHaveProperty('password');
  });

  it("takes the mysql client's variables when no flag or URL is given: $MYSQL_HOST, $MYSQL_TCP_PORT, the login name", () => {
    expect(mysqlConnectionFromArgs({}, { MYSQL_HOST: 'db.local', MYSQL_TCP_PORT: '3307', USER: 'alice' })).toEqual({
      host: 'db.local',
      port: 3307,
      user: 'alice',
    });
    expect(() => mysqlConnectionFromArgs({}, { MYSQL_TCP_PORT: 'x' })).toThrow(/MYSQL_TCP_PORT/);
  });

  it('a host starting with / is the socket', () => {
    expect(mysqlConnectionFromArgs({ host: '/run/mysqld/mysqld.sock' }, {})).toEqual({ socketPath: '/run/mysqld/mysqld.sock' });
  });

  it('--dsn (or a mysql:// $DATABASE_URL) is the uri; flags override it; $MYSQL_PWD fills only a URL without a password', () => {
    expect(mysqlConnectionFromArgs({ dsn: 'mysql://root@h1:3306/app', host: 'h2' }, { MYSQL_PWD: 'pw', MYSQL_HOST: 'ignored', USER: 'ignored' })).toEqual({
      uri: 'mysql://root@h1:3306/app',
      host: 'h2',
      password: 'pw',
    });
    expect(mysqlConnectionFromArgs({ dsn: 'mysql://root:inurl@h1/app' }, { MYSQL_PWD: 'pw' })).toEqual({ uri: 'mysql://root:inurl@h1/app' });
    expect(mysqlConnectionFromArgs({}, { DATABASE_URL: 'mysql://root@h/app' })).toEqual({ uri: 'mysql://root@h/app' });
    expect(mysqlConnectionFromArgs({}, { DATABASE_URL: 'postgres://x@y/z' })).toEqual({});
  });
});

describe('connectionGiven per engine', () => {
  it("MySQL: $MYSQL_HOST or a mysql:// $DATABASE_URL count, PostgreSQL's variables do not", () => {
    expect(connectionGiven({}, { MYSQL_HOST: '127.0.0.1' }, 'mysql')).toBe(true);
    expect(connectionGiven({}, { DATABASE_URL: 'mysql://root@h' }, 'mysql')).toBe(true);
    expect(connectionGiven({}, { PGHOST: '/run/postgresql', DATABASE_URL: 'postgres://x@y/z' }, 'mysql')).toBe(false);
    expect(connectionGiven({}, { DATABASE_URL: 'mysql://root@h', MYSQL_HOST: 'h' }, 'postgres')).toBe(false);
  });
});
