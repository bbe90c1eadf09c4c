// The PostgreSQL implementation of the engine hooks, on the live inspector of wal/live.ts (one SQL
// layer): CHECKPOINT and pg_control facts for `checkpoint`, the held session with a temporary
// replication slot for `online`.
import { connectLive, type LiveInspector, type PostgresConnectionConfig } from '../../wal/live.js';
import type { EngineHooks, EngineMetadata, EngineOnlineBackup } from '../engine.js';

/**
 * Engine hooks for PostgreSQL (14-18), connected to `config`.
 *
 * @throws DbaasError `PG_CONNECTION_FAILED` when the server cannot be reached.
 * @example
 * ```ts
 * const engine = await postgresEngine('postgresql://postgres@127.0.0.1:5432/postgres');
 * const facts = await engine.describe(); // { engine: 'postgres', engineVersion: '17.6', systemIdentifier: 74...n, timeline: 1 }
 * await engine.close();
 * ```
 */
export async function postgresEngine(config: PostgresConnectionConfig): Promise<EngineHooks> {
  const live: LiveInspector = await connectLive(config);
  const version = `${live.serverVersion.major}.${live.serverVersion.minor}`;
  const describe = async (): Promise<EngineMetadata> => {
    const system = await live.controlSystem();
    const timeline = await live.timeline();
    return { engine: 'postgres', engineVersion: version, systemIdentifier: system.systemIdentifier, timeline };
  };
  return {
    engine: 'postgres',
    describe,
    async checkpoint() {
      const cp = await live.checkpoint();
      const walSegmentSize = await live.walSegmentSize();
      return { checkpointLsn: cp.checkpointLsn, redoLsn: cp.redoLsn, timeline: cp.timeline, firstWalFile: cp.redoWalFile, walSegmentSize };
    },
    async beginOnlineBackup({ label, signal }) {
      const backup = await live.startOnlineBackup({ label, fast: true, replicationSlot: true, ...(signal ? { signal } : {}) });
      const s = backup.started;
      const session: EngineOnlineBackup = {
        startMetadata: { startLsn: s.startLsn, timeline: s.timeline, firstWalFile: s.startWalFile, walSegmentSize: s.walSegmentSize },
        async stop() {
          const done = await backup.stop({ keepSlot: true });
          return {
            stopLsn: done.stopLsn,
            lastWalFile: done.stopWalFile,
            backupLabel: done.labelFile,
            ...(done.tablespaceMap ? { tablespaceMap: done.tablespaceMap } : {}),
          };
        },
        release: () => backup.release(),
        abort: (reason) => backup.abort(reason),
        holds: {
          description: `${s.slotName ? `temporary replication slot ${s.slotName}, ` : ''}backend ${s.backendPid}`,
          ...(s.slotName ? { slotName: s.slotName } : {}),
          backendPid: s.backendPid,
        },
        onLost: (listener) => backup.onSessionLost(listener),
      };
      return session;
    },
    async serverIdentity() {
      const address = await live.serverAddress();
      return { ...(address ? { address } : {}), inRecovery: await live.isInRecovery(), tablespaces: await live.tablespaces() };
    },
    close: () => live.close(),
  };
}
