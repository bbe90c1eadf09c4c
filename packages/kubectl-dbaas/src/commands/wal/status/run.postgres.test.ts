// `kubectl dbaas wal status` against a real PostgreSQL 17 server: the report WalInspector.status
// gives, with LSNs as text, matching what the server itself says.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { availablePostgresMajors, cleanupPostgresAfterAll, startPostgres, type PostgresServer } from '@kubectl-dbaas/testing';

import { renderWalStatus, runWalStatus } from './run.js';

cleanupPostgresAfterAll(afterAll);

const MAJOR = 17;

describe(`wal status on PostgreSQL ${MAJOR}`, () => {
  let server: PostgresServer;

  beforeAll(async () => {
    expect(availablePostgresMajors()).toContain(MAJOR);
    server = await startPostgres({ major: MAJOR });
  });

  afterAll(async () => {
    await server?.destroy();
  });

  it('reports the server, its WAL positions and last checkpoint as the server reports them', async () => {
    const config = server.connectionConfig;
    const password = config.password === undefined ? '' : `:${encodeURIComponent(String(config.password))}`;
    const dsn = `postgresql://${encodeURIComponent(String(config.user))}${password}@${config.host}:${config.port}/postgres`;
    const report = await runWalStatus({ dsn });
    const [row] = await server.query<{ v: string; c: string; r: string; f: string }>(
      "select current_setting('server_version') as v, checkpoint_lsn::text as c, redo_lsn::text as r, redo_wal_file as f from pg_control_checkpoint()",
    );
    expect(report.server).toEqual({ version: row!.v, major: MAJOR });
    expect(report.inRecovery).toBe(false);
    expect(report.timeline).toBe(1);
    expect(report.currentLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(report.receiveLsn).toBeNull();
    expect(report.lastCheckpoint).toMatchObject({ checkpointLsn: row!.c, redoLsn: row!.r, redoWalFile: row!.f, timeline: 1 });
    expect(report.walSegmentSize).toBe(16 * 1024 * 1024);
    const text = renderWalStatus(report);
    expect(text).toMatch(/^server: +PostgreSQL /m);
    expect(text).toMatch(/^role: +primary$/m);
    expect(text).toContain(`${row!.c} (redo ${row!.r}, ${row!.f})`);
  });
});
