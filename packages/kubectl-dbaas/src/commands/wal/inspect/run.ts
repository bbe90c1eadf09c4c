import { inspectDataDirectory, type DataDirectoryInspection } from '@kubectl-dbaas/sdk';
import { renderFields } from '../../../output.js';

/** What `kubectl dbaas wal inspect` prints: the SDK's inspection plus whether the copy is restorable. */
export interface WalInspectReport extends DataDirectoryInspection {
  source: string;
  restorable: boolean;
}

export interface WalInspectArgs {
  source: string;
  atomicSnapshot: boolean;
}

/** Inspects a data directory or a `.snap` / `.tar.gz` of one. */
export async function runWalInspect(args: WalInspectArgs): Promise<WalInspectReport> {
  const inspection = await inspectDataDirectory(args.source, { atomicSnapshot: args.atomicSnapshot });
  return { source: args.source, restorable: inspection.safe, ...inspection };
}

export function renderWalInspect(report: WalInspectReport): string {
  const control = report.controlFile;
  const wal = report.wal;
  const summary = renderFields([
    ['source', report.source],
    ['verdict', report.verdict],
    ['restorable', report.restorable ? 'yes' : 'no'],
    ['postgres', report.postgresMajorVersion],
    ['system identifier', control?.systemIdentifier],
    ['cluster state', control?.state],
    ['checkpoint', control?.checkPoint],
    ['redo', control?.checkPointCopy?.redo as string | undefined],
    ['timeline', control?.checkPointCopy?.timeline as number | undefined],
    ['backup label', report.backupLabel ? `start ${report.backupLabel.startWalLocation}, label "${report.backupLabel.label}"` : undefined],
    ['WAL needed', report.requiredWal.from ? `${report.requiredWal.from} .. ${report.requiredWal.to ?? '?'}` : undefined],
    ['WAL segments found', report.found.walSegments],
    ['valid WAL', wal.firstValidLsn ? `${wal.firstValidLsn} .. ${wal.lastValidLsn ?? '?'}` : undefined],
    ['WAL ends', `at ${wal.end.lsn}: ${wal.end.message}`],
    ['missing segments', report.missingSegments.length > 0 ? report.missingSegments.join(', ') : undefined],
  ]);
  const reasons = report.reasons.map((reason) => `  - ${reason}`).join('\n');
  return reasons ? `${summary}\nreasons:\n${reasons}` : summary;
}
