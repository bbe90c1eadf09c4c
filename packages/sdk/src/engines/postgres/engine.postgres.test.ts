// postgresEngine's online backup session against real servers: what it holds, and that a lost
// session (server SIGKILLed, backend terminated by someone else) is reported at once through
// onLost, while ending the session on purpose is not.
import { afterAll, describe, expect, it } from 'vitest';

import { availablePostgresMajors, cleanupPostgresAfterAll, startPostgres } from '@kubectl-dbaas/testing';

import { postgresEngine } from './engine.js';

cleanupPostgresAfterAll(afterAll);

const major = availablePostgresMajors().at(-1)!;

function lostPromise(onLost: ((l: (e: Error) => void) => () => void) | undefined): { lost: Promise<Error>; at: () => number | undefined } {
  let at: number | undefined;
  const lost = new Promise<Error>((resolve) => {
    onLost?.((e) => {
      at = Date.now();
      resolve(e);
    });
  });
  return { lost, at: () => at };
}

describe(`postgresEngine online backup session, PostgreSQL ${major}`, () => {
  it('names the temporary slot and backend it holds; onLost fires when the server is SIGKILLed, and the slot is gone after crash recovery', async () => {
    const server = await startPostgres({ major });
    const engine = await postgresEngine(server.connectionConfig);
    const session = await engine.beginOnlineBackup!({ label: 'lost-test' });
    const slot = session.holds?.slotName;
    expect(slot).toMatch(/^dbaas_backup_[0-9a-f]+$/);
    expect(session.holds?.description).toContain(`temporary replication slot ${slot}`);
    expect(session.holds?.backendPid).toBeTypeOf('number');
    expect(await server.query('select slot_name from pg_replication_slots')).toEqual([{ slot_name: slot }]);

    const { lost, at } = lostPromise(session.onLost?.bind(session));
    const killedAt = Date.now();
    await server.kill();
    const error = await lost;
    // Either the socket dies with the server, or the backend notices its postmaster's death first
    // and says so ("terminating connection due to unexpected postmaster exit"): a race, both right.
    expect(error.message).toMatch(/terminated|unexpected postmaster exit|ECONNRESET|closed/i);
    expect(at()! - killedAt).toBeLessThan(5_000);
    // A listener added after the loss is called at once.
    expect(await lostPromise(session.onLost?.bind(session)).lost).toBe(error);
    // abort() after the loss neither hangs nor throws (the server is down).
    await session.abort(error);
    await engine.close();

    await server.start();
    expect(await server.query('select slot_name from pg_replication_slots')).toEqual([]);
    await server.destroy();
  });

  it('onLost fires when the backend is terminated from another session; stop/release and abort end the session without firing it', async () => {
    const server = await startPostgres({ major });
    const engine = await postgresEngine(server.connectionConfig);

    const ended = await engine.beginOnlineBackup!({ label: 'ended-on-purpose' });
    let fired = 0;
    ended.onLost?.(() => (fired += 1));
    await ended.stop();
    await ended.release();
    const aborted = await engine.beginOnlineBackup!({ label: 'aborted-on-purpose' });
    aborted.onLost?.(() => (fired += 1));
    await aborted.abort(new Error('test'));
    await new Promise((r) => setTimeout(r, 300));
    expect(fired).toBe(0);

    const terminated = await engine.beginOnlineBackup!({ label: 'terminated' });
    const { lost } = lostPromise(terminated.onLost?.bind(terminated));
    await server.query('select pg_terminate_backend($1)', [terminated.holds!.backendPid]);
    expect((await lost).message).toMatch(/terminat/i);
    await terminated.abort();
    expect(await server.query('select slot_name from pg_replication_slots')).toEqual([]);
    await engine.close();
    await server.destroy();
  });
});
