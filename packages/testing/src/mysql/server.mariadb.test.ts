// The MariaDB fixtures themselves: start/stop/kill/restart on temporary and given directories, the
// unprivileged user, and nothing left behind (processes, directories), also when a start fails.
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processAlive } from '../postgres/processes.js';
import { makeTemporaryDirectory } from '../postgres/copy.js';
import { registeredResourceCount, stopAllPostgres } from '../postgres/registry.js';
import { postgresRunAs } from '../postgres/user.js';
import { MariadbStartError, cleanupMariadbAfterAll, isMariadbDataDirectory, mariadbUnavailable, startMariadb, startMariadbOnDirectory } from './server.js';
import { skipWhen } from '../skip-reason.js';

const why = mariadbUnavailable();
if (why) console.warn(`[dbaas-testing] SKIPPING MariaDB fixture tests (not passed): ${why}`);
cleanupMariadbAfterAll(afterAll);

describe('MariaDB fixtures', skipWhen(why), () => {
  it('initializes and starts as the unprivileged user on a random port; stop is a clean shutdown, kill a crash the next start recovers', async () => {
    const server = await startMariadb();
    const pid = server.pid!;
    const [row] = await server.query<{ v: string; u: string }>('SELECT VERSION() AS v, CURRENT_USER() AS u');
    expect(row!.v).toMatch(/MariaDB/);
    const runAs = postgresRunAs();
    if (runAs.switched) {
      const status = (await import('node:fs')).readFileSync(`/proc/${pid}/status`, 'utf8');
      expect(status).toMatch(new RegExp(`^Uid:\\s+${runAs.uid}\\b`, 'm'));
    }
    await server.query('CREATE DATABASE d');
    await server.query('CREATE TABLE d.t (x INT PRIMARY KEY) ENGINE=InnoDB');
    await server.query('INSERT INTO d.t VALUES (1), (2)');
    await server.stop();
    expect(processAlive(pid)).toBe(false);
    expect(server.logOfLastStart()).toMatch(/Shutdown complete/);
    await server.start();
    expect(server.logOfLastStart()).not.toMatch(/crash recovery/i);
    await server.query('INSERT INTO d.t VALUES (3)');
    await server.kill();
    await server.start();
    expect((await server.query<{ n: number }>('SELECT COUNT(*) AS n FROM d.t'))[0]!.n).toBe(3);
    const runtime = server.runtimeDirectory;
    const data = server.dataDirectory;
    await server.destroy();
    expect(existsSync(runtime)).toBe(false);
    expect(existsSync(data)).toBe(false); // the fixture made it
  });

  it('on a given directory: never removes it; started again with startMariadbOnDirectory', async () => {
    const dir = path.join(await makeTemporaryDirectory('mariadb-given-'), 'data');
    const first = await startMariadb({ dataDirectory: dir });
    await first.query('CREATE DATABASE kept');
    await first.destroy();
    expect(isMariadbDataDirectory(dir)).toBe(true);
    const again = await startMariadbOnDirectory(dir);
    expect(await again.query<{ s: string }>("SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'kept'")).toHaveLength(1);
    await again.destroy();
    expect(existsSync(dir)).toBe(true);
  });

  it('a failed start throws MariadbStartError with the log, leaves no process and no runtime directory', async () => {
    const dir = path.join(await makeTemporaryDirectory('mariadb-broken-'), 'data');
    const first = await startMariadb({ dataDirectory: dir });
    await first.destroy();
    await writeFile(path.join(dir, 'ib_logfile0'), Buffer.alloc(1 << 20, 0x41)); // a redo log of garbage
    const tmpBefore = (await readdir('/tmp')).filter((e) => e.startsWith('dbaas-mariadb-')).length;
    const e = await startMariadbOnDirectory(dir, { timeoutMs: 60_000 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MariadbStartError);
    expect((e as MariadbStartError).log).toMatch(/\[ERROR\]/);
    expect((await readdir('/tmp')).filter((x) => x.startsWith('dbaas-mariadb-')).length).toBe(tmpBefore);
    const ps = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
    const mine = [];
    for (const p of ps) {
      try {
        const cmd = (await import('node:fs')).readFileSync(`/proc/${p}/cmdline`, 'utf8');
        if (cmd.includes(dir)) mine.push(p);
      } catch {
        // gone
      }
    }
    expect(mine).toEqual([]);
  });

  it('refuses to initialize a non-empty directory and to start on one that holds no data directory', async () => {
    const dir = await makeTemporaryDirectory('mariadb-nonempty-');
    await mkdir(path.join(dir, 'data'));
    await writeFile(path.join(dir, 'data', 'x'), 'x');
    await expect(startMariadb({ dataDirectory: path.join(dir, 'data'), initialize: true })).rejects.toThrow(/needs an empty directory/);
    await expect(startMariadbOnDirectory(path.join(dir, 'data'))).rejects.toThrow(/holds no MariaDB data directory/);
  });

  it('stopAllPostgres (the shared registry) stops every MariaDB and removes its directories', async () => {
    const a = await startMariadb();
    const b = await startMariadb();
    const pids = [a.pid!, b.pid!];
    expect(registeredResourceCount()).toBeGreaterThanOrEqual(2);
    await stopAllPostgres();
    expect(pids.map(processAlive)).toEqual([false, false]);
    expect([existsSync(a.runtimeDirectory), existsSync(b.runtimeDirectory)]).toEqual([false, false]);
  });
});
