// backup create's MySQL/MariaDB connection flags against a real MariaDB (Debian's mariadbd, run by
// the testing fixtures): what the flags and $MYSQL_PWD map to connects as the SDK's mysqlEngine,
// with the password from the environment only, and a wrong one fails with the SDK's error without
// the password in it. The built CLI (dist/cli.js, password in its environment, never in argv)
// refuses a mysql:// --dsn where only PostgreSQL is meant and an unknown scheme before any cluster
// is read. The backup itself needs a cluster (detection reads the pod): see the cluster tier.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDbaasError, mysqlEngine } from '@kubectl-dbaas/sdk';
import { cleanupMariadbAfterAll, mariadbUnavailable, skipWhen, startMariadb, type MariadbServer } from '@kubectl-dbaas/testing';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlConnectionFromArgs } from '../../../connection.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../dist/cli.js');
const why = mariadbUnavailable();
cleanupMariadbAfterAll(afterAll);

let server: MariadbServer;
const password = `pw-${randomBytes(9).toString('base64url')}`;

beforeAll(async () => {
  if (why) return;
  server = await startMariadb();
  const conn = await mysql.createConnection(server.connectionConfig);
  try {
    await conn.query("CREATE USER 'dbaas'@'%' IDENTIFIED BY ?", [password]);
    await conn.query("GRANT ALL ON *.* TO 'dbaas'@'%'");
  } finally {
    await conn.end();
  }
}, 120_000);

describe('backup create: MySQL/MariaDB connection flags on a real MariaDB', skipWhen(why), () => {
  it('--host/--port/--db-user and $MYSQL_PWD connect; the engine says mariadb', async () => {
    const config = mysqlConnectionFromArgs({ host: '127.0.0.1', port: server.port, dbUser: 'dbaas' }, { MYSQL_PWD: password });
    const engine = await mysqlEngine(config);
    try {
      expect(engine.engine).toBe('mariadb');
      expect((await engine.describe()).engine).toBe('mariadb');
    } finally {
      await engine.close();
    }
  });

  it('a mysql:// --dsn with flags overriding it connects the same way', async () => {
    const config = mysqlConnectionFromArgs({ dsn: `mysql://dbaas@127.0.0.1:1/mysql`, port: server.port }, { MYSQL_PWD: password });
    const engine = await mysqlEngine(config);
    await engine.close();
    expect(engine.version.flavor).toBe('mariadb');
  });

  it("$PGPASSWORD is not MySQL's, and a wrong $MYSQL_PWD fails with MYSQL_CONNECTION_FAILED and a fix, never the password", async () => {
    for (const environment of [{ PGPASSWORD: password }, { MYSQL_PWD: `${password}-wrong` }]) {
      const error = await mysqlEngine(mysqlConnectionFromArgs({ host: '127.0.0.1', port: server.port, dbUser: 'dbaas' }, environment)).catch((e: unknown) => e);
      expect(isDbaasError(error, 'MYSQL_CONNECTION_FAILED')).toBe(true);
      const e = error as Error & { fix?: string };
      expect(e.message).toMatch(/Access denied for user 'dbaas'/);
      expect(e.fix).toMatch(/port-forward/);
      expect(`${e.message} ${e.fix}`).not.toContain(password);
    }
  });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env['PATH'], HOME: process.env['HOME'], NO_COLOR: '1', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
      },
    );
  });
}

describe('the built CLI with MySQL URLs', skipWhen(why ?? (existsSync(CLI) ? undefined : `${CLI} is not built (npm run build)`)), () => {
  it('wal status refuses a mysql:// --dsn as a usage error (exit 2) saying why, and connects nowhere', async () => {
    const r = await runCli(['wal', 'status', '--dsn', `mysql://dbaas@127.0.0.1:${server.port}`], { MYSQL_PWD: password });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/wal status reads PostgreSQL's WAL; MySQL\/MariaDB have none/);
    expect(r.stderr).not.toContain(password);
  });

  it("backup create refuses a --dsn that is neither engine's before reading the cluster (exit 2)", async () => {
    const r = await runCli(['backup', 'create', '--pod', 'shop-0', '--dsn', 'sqlserver://sa@127.0.0.1', '--server', 'https://127.0.0.1:1'], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--dsn: a sqlserver:\/\/ URL is neither PostgreSQL's nor MySQL's/);
  });
});
