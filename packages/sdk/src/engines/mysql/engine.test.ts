import { describe, expect, it } from 'vitest';
import { binlogStatusStatement, onlineLockMethod, parseMysqlVersion } from './engine.js';
import { scanMysqlErrorLog } from './verify.js';

describe('MySQL/MariaDB version facts', () => {
  it.each([
    ['10.11.19-MariaDB-0+deb12u1-log', '', 'mariadb', '10.11.19', 'backup-stage', 'SHOW MASTER STATUS'],
    ['5.5.5-10.6.16-MariaDB', '', 'mariadb', '10.6.16', 'backup-stage', 'SHOW MASTER STATUS'],
    ['10.4.0-MariaDB', '', 'mariadb', '10.4.0', 'ftwrl', 'SHOW MASTER STATUS'],
    ['10.4.1-MariaDB', '', 'mariadb', '10.4.1', 'backup-stage', 'SHOW MASTER STATUS'],
    ['11.4.3-MariaDB-ubu2404', '', 'mariadb', '11.4.3', 'backup-stage', 'SHOW MASTER STATUS'],
    ['10.3.39', 'mariadb.org binary distribution', 'mariadb', '10.3.39', 'ftwrl', 'SHOW MASTER STATUS'],
    ['8.0.36', 'MySQL Community Server - GPL', 'mysql', '8.0.36', 'ftwrl', 'SHOW MASTER STATUS'],
    ['8.0.36-28', 'Percona Server (GPL), Release 28', 'mysql', '8.0.36', 'ftwrl', 'SHOW MASTER STATUS'],
    ['8.4.2', 'MySQL Community Server - GPL', 'mysql', '8.4.2', 'ftwrl', 'SHOW BINARY LOG STATUS'],
    ['9.1.0', '', 'mysql', '9.1.0', 'ftwrl', 'SHOW BINARY LOG STATUS'],
  ] as const)('%s (%s) -> %s %s, lock %s, %s', (raw, comment, flavor, version, lock, statement) => {
    const v = parseMysqlVersion(raw, comment);
    expect([v.flavor, v.version]).toEqual([flavor, version]);
    expect(onlineLockMethod(v)).toBe(lock);
    expect(binlogStatusStatement(v)).toBe(statement);
  });

  it('refuses a version without x.y.z', () => {
    expect(() => parseMysqlVersion('unknown')).toThrow(/not a MySQL\/MariaDB version/);
  });
});

describe('scanMysqlErrorLog', () => {
  it('finds the corruption lines MariaDB wrote on the torn copies of the experiments, and crash recovery', () => {
    const log = [
      '2026-11-22  2:26:29 0 [Note] InnoDB: Starting crash recovery from checkpoint LSN=94151022',
      '2026-11-22  2:26:29 0 [ERROR] InnoDB: Not applying INSERT_HEAP_DYNAMIC due to corruption on [page id: space=5, page number=328]',
      '2026-11-22  2:26:29 0 [ERROR] InnoDB: Set innodb_force_recovery=1 to ignore corruption.',
      '2026-11-22  2:26:30 0 [Note] InnoDB: 128 rollback segments are active.',
    ].join('\n');
    const r = scanMysqlErrorLog(log);
    expect(r.crashRecovery).toBe(true);
    expect(r.errors).toHaveLength(2);
    expect(r.errors[0]).toMatch(/Not applying INSERT_HEAP_DYNAMIC/);
  });

  it('a clean start (after a clean shutdown) has no errors and no crash recovery', () => {
    const log = [
      '2026-11-22  2:15:20 0 [Note] InnoDB: End of log at LSN=44404',
      "2026-11-22  2:15:20 0 [Warning] 'user' entry 'root@vm' ignored in --skip-name-resolve mode.",
      '2026-11-22  2:15:20 0 [Note] /usr/sbin/mariadbd: ready for connections.',
    ].join('\n');
    expect(scanMysqlErrorLog(log)).toEqual({ errors: [], crashRecovery: false });
  });

  it('flags a page LSN in the future even when not tagged [ERROR]', () => {
    const line =
      '2026-11-22 [Warning] InnoDB: Page [page id: space=5, page number=3] log sequence number 99999 is in the future! Current system log sequence number 5000.';
    expect(scanMysqlErrorLog(line).errors).toEqual([line]);
  });
});
