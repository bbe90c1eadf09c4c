// `npm run demo`: the README's first command. Shows, on an embedded PostgreSQL, why a file-by-file
// copy of a running server (what the CSI hostpath driver's `tar czf` snapshot is) cannot be trusted,
// and that an online backup with a replication slot, backup_label and the WAL to the stop LSN can:
// the WalInspector judges both copies and PostgreSQL is started on the good one to prove it.
import { copyFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { connectLive, formatLsn, inspectDataDirectory, type DataDirectoryInspection } from '@kubectl-dbaas/sdk';
import { copyDataDirectory, makeTemporaryDirectory, startPostgres, startPostgresOnDirectory, stopAllPostgres } from './postgres/index.js';

const MAJOR = 17;
const WRITERS = 4;

const startedAt = Date.now();
const say = (text: string) => process.stdout.write(`[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)} s] ${text}\n`);

async function main(): Promise<void> {
  say(`starting an embedded PostgreSQL ${MAJOR}`);
  const source = await startPostgres({ major: MAJOR });
  await source.query('CREATE TABLE orders (id bigserial PRIMARY KEY, writer int NOT NULL, payload text NOT NULL)');
  await source.query("INSERT INTO orders (writer, payload) SELECT 0, repeat('x', 200) FROM generate_series(1, 20000)");
  say(`PostgreSQL ${MAJOR} on port ${source.port}, data in ${source.dataDirectory}; 20000 rows loaded`);

  const load = startWriteLoad(source.connectionConfig);
  say(`${WRITERS} writers inserting continuously`);
  await sleep(1000);

  const workspace = await makeTemporaryDirectory('dbaas-demo-');

  say('copy 1: file by file while the server runs, as the hostpath driver snapshots (tar of the live directory)');
  const tornCopy = path.join(workspace, 'torn-copy');
  await copyDataDirectory(source.dataDirectory, tornCopy, { exclude: ['postmaster.pid', 'postmaster.opts'], tolerateVanished: true });
  report(await inspectDataDirectory(tornCopy));

  say('copy 2: online backup: temporary replication slot, pg_backup_start, copy, pg_backup_stop, then the WAL to the stop LSN');
  const inspector = await connectLive(source.connectionConfig);
  const goodCopy = path.join(workspace, 'online-copy');
  let acknowledgedBeforeStart: bigint;
  try {
    acknowledgedBeforeStart = load.acknowledged();
    const backup = await inspector.startOnlineBackup({ label: 'kubectl-dbaas demo', fast: true, replicationSlot: true });
    say(`  backup started at ${formatLsn(backup.started.startLsn)} (${backup.started.startWalFile}), slot ${backup.started.slotName}`);
    await copyDataDirectory(source.dataDirectory, goodCopy, {
      exclude: ['postmaster.pid', 'postmaster.opts', 'pg_wal/'],
      tolerateVanished: true,
    });
    await inspector.switchWal();
    const stopped = await backup.stop({ keepSlot: true });
    say(`  backup stopped at ${formatLsn(stopped.stopLsn)} (${stopped.stopWalFile})`);
    await writeFile(path.join(goodCopy, 'backup_label'), stopped.labelFile, { mode: 0o600 });
    if (stopped.tablespaceMap) await writeFile(path.join(goodCopy, 'tablespace_map'), stopped.tablespaceMap, { mode: 0o600 });
    const copied = await copyWalRange(path.join(source.dataDirectory, 'pg_wal'), path.join(goodCopy, 'pg_wal'), stopped.startWalFile, stopped.stopWalFile);
    say(`  copied ${copied} WAL segment(s) ${stopped.startWalFile} .. ${stopped.stopWalFile}; releasing the slot`);
    await backup.release();
  } finally {
    await inspector.close();
  }
  report(await inspectDataDirectory(goodCopy));

  const writes = await load.stop();
  say(`writers stopped after ${writes} acknowledged inserts`);
  await source.stop({ mode: 'fast' });

  say(`starting PostgreSQL ${MAJOR} on copy 2 (replays the WAL to the end of the backup)`);
  const restored = await startPostgresOnDirectory(goodCopy, MAJOR);
  const [{ missing }] = (await restored.query<{ missing: string }>(
    'SELECT count(*) AS missing FROM generate_series(1, $1::bigint) AS g(id) WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = g.id)',
    [acknowledgedBeforeStart.toString()],
  )) as [{ missing: string }];
  await restored.query('CREATE EXTENSION IF NOT EXISTS amcheck');
  const indexes = await restored.query<{ name: string }>(
    "SELECT c.relname AS name, bt_index_check(c.oid, true) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam WHERE am.amname = 'btree' AND c.relpersistence <> 't'",
  );
  say(`  recovered; rows acknowledged before the backup started: ${acknowledgedBeforeStart}, missing: ${missing}; amcheck passed on ${indexes.length} indexes`);
  await restored.stop({ mode: 'fast' });
  if (missing !== '0') throw new Error(`${missing} acknowledged rows are missing from the restored copy`);
  say('done: the torn copy is flagged, the online backup restores with every acknowledged row');
}

function report(inspection: DataDirectoryInspection): void {
  say(`  WalInspector verdict: ${inspection.verdict} (${inspection.safe ? 'safe to start' : 'NOT safe to start'})`);
  for (const reason of inspection.reasons) say(`    - ${reason}`);
}

/** Concurrent writers; `acknowledged()` is the highest id whose INSERT has committed, with all lower ids committed too. */
function startWriteLoad(config: pg.ClientConfig) {
  let running = true;
  let count = 0;
  const committed = new Set<bigint>();
  let contiguous = 0n;
  const advance = () => {
    while (committed.has(contiguous + 1n)) committed.delete(++contiguous);
  };
  const writers = Array.from({ length: WRITERS }, async (_, writer) => {
    const client = new pg.Client(config);
    await client.connect();
    try {
      while (running) {
        const result = await client.query<{ id: string }>("INSERT INTO orders (writer, payload) VALUES ($1, repeat('y', 200)) RETURNING id", [writer + 1]);
        committed.add(BigInt(result.rows[0]?.id ?? '0'));
        count += 1;
      }
    } finally {
      await client.end();
    }
  });
  return {
    acknowledged: () => {
      // Ids below 20001 were loaded before the writers; the writers continue the sequence.
      if (contiguous === 0n) contiguous = 20000n;
      advance();
      return contiguous;
    },
    stop: async () => {
      running = false;
      await Promise.all(writers);
      return count;
    },
  };
}

async function copyWalRange(from: string, to: string, first: string, last: string): Promise<number> {
  const names = (await readdir(from)).filter((name) => /^[0-9A-F]{24}$/.test(name) && name >= first && name <= last);
  for (const name of names) await copyFile(path.join(from, name), path.join(to, name));
  return names.length;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopAllPostgres());
