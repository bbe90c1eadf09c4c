import { formatLsn, WalInspector, type ArchiverStats, type Lsn } from '@kubectl-dbaas/sdk';
import { connectionFromArgs, type ConnectionArgs } from '../../../connection.js';
import { renderFields } from '../../../output.js';

/** What `kubectl dbaas wal status` reports: the SDK's {@link WalInspector.status} with LSNs as `X/Y` text. */
export interface WalStatusReport {
  server: { version: string; major: number };
  inRecovery: boolean;
  timeline: number;
  currentLsn: string | null;
  insertLsn: string | null;
  flushLsn: string | null;
  currentWalFile: string | null;
  receiveLsn: string | null;
  replayLsn: string | null;
  walSegmentSize: number;
  dataChecksums: boolean;
  lastCheckpoint: { checkpointLsn: string; redoLsn: string; redoWalFile: string; timeline: number; time: string };
  archiver: ArchiverStats;
}

export async function runWalStatus(args: ConnectionArgs): Promise<WalStatusReport> {
  const { server, positions, walSegmentSize, dataChecksums, lastCheckpoint, archiver } = await new WalInspector().status(connectionFromArgs(args));
  return {
    server: { version: server.text, major: server.major },
    inRecovery: positions.inRecovery,
    timeline: positions.timeline,
    currentLsn: lsnText(positions.currentLsn),
    insertLsn: lsnText(positions.insertLsn),
    flushLsn: lsnText(positions.flushLsn),
    currentWalFile: positions.currentWalFile,
    receiveLsn: lsnText(positions.receiveLsn),
    replayLsn: lsnText(positions.replayLsn),
    walSegmentSize,
    dataChecksums,
    lastCheckpoint: {
      checkpointLsn: formatLsn(lastCheckpoint.checkpointLsn),
      redoLsn: formatLsn(lastCheckpoint.redoLsn),
      redoWalFile: lastCheckpoint.redoWalFile,
      timeline: lastCheckpoint.timeline,
      time: lastCheckpoint.checkpointTime.toISOString(),
    },
    archiver,
  };
}

function lsnText(lsn: Lsn | null): string | null {
  return lsn === null ? null : formatLsn(lsn);
}

export function renderWalStatus(report: WalStatusReport): string {
  const archiver = report.archiver;
  return renderFields([
    ['server', `PostgreSQL ${report.server.version}`],
    ['role', report.inRecovery ? 'standby (in recovery)' : 'primary'],
    ['timeline', report.timeline],
    ['current LSN', report.currentLsn],
    ['insert LSN', report.insertLsn],
    ['flush LSN', report.flushLsn],
    ['current WAL file', report.currentWalFile],
    ['receive LSN', report.receiveLsn],
    ['replay LSN', report.replayLsn],
    ['WAL segment size', `${report.walSegmentSize / (1024 * 1024)} MiB`],
    ['data checksums', report.dataChecksums ? 'on' : 'off'],
    [
      'last checkpoint',
      `${report.lastCheckpoint.checkpointLsn} (redo ${report.lastCheckpoint.redoLsn}, ${report.lastCheckpoint.redoWalFile}) at ${report.lastCheckpoint.time}`,
    ],
    [
      'archiver',
      `${archiver.archivedCount} archived, ${archiver.failedCount} failed${archiver.lastFailedWal ? ` (last failed ${archiver.lastFailedWal})` : ''}`,
    ],
  ]);
}
