import { isDbaasError, parseLsn, WalInspector, type DataDirectoryInspection, type Lsn } from '@kubectl-dbaas/sdk';
import { renderFields } from '../../../output.js';
import { UsageError } from '../../../usage-error.js';

/** What `kubectl dbaas wal inspect` prints: the SDK's inspection plus whether the copy is restorable. */
export interface WalInspectReport extends DataDirectoryInspection {
  source: string;
  restorable: boolean;
}

export interface WalInspectArgs {
  source: string;
  atomicSnapshot: boolean;
  /** `--backup-stop-lsn`: the LSN `pg_backup_stop()` returned (`X/Y`). */
  backupStopLsn?: string | undefined;
}

/** Inspects a data directory or a `.snap` / `.tar.gz` of one. */
export async function runWalInspect(args: WalInspectArgs): Promise<WalInspectReport> {
  let backupStopLsn: Lsn | undefined;
  try {
    backupStopLsn = args.backupStopLsn === undefined ? undefined : parseLsn(args.backupStopLsn);
  } catch (error) {
    if (isDbaasError(error, 'INVALID_LSN')) throw new UsageError(`--backup-stop-lsn: ${error.message}`);
    throw error;
  }
  const inspection = await new WalInspector().inspect(args.source, {
    atomicSnapshot: args.atomicSnapshot,
    ...(backupStopLsn !== undefined ? { backupStopLsn } : {}),
  });
  return { source: args.source, restorable: inspection.safe, ...inspection };
}

/**
 * The `WAL needed` line: from where replay starts to where it must reach. Without a fixed end
 * (a crash-consistent copy) recovery replays all the valid WAL there is.
 */
function walNeededText(required: WalInspectReport['requiredWal']): string | undefined {
  if (!required.from) return undefined;
  if (required.to) return `${required.from} .. ${required.to} (${required.firstSegment ?? '?'} .. ${required.lastSegment ?? '?'})`;
  return `${required.from} .. the end of the valid WAL (recovery replays all of it; no later point is required)`;
}

/**
 * Where the WAL ends. On a restorable copy that is the normal end of the WAL written so far
 * (PostgreSQL's own recovery stops there the same way), not an error.
 */
function walEndText(report: WalInspectReport): string {
  const end = report.wal.end;
  if (report.restorable) return `${end.lsn}: the normal end of the WAL written so far (${end.message})`;
  return `at ${end.lsn}: ${end.message}`;
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
    ['WAL needed', walNeededText(report.requiredWal)],
    ['WAL segments found', report.found.walSegments],
    ['valid WAL', wal.firstValidLsn ? `${wal.firstValidLsn} .. ${wal.lastValidLsn ?? '?'}` : undefined],
    [report.restorable ? 'WAL written up to' : 'WAL ends', walEndText(report)],
    ['missing segments', report.missingSegments.length > 0 ? report.missingSegments.join(', ') : undefined],
  ]);
  const reasons = report.reasons.map((reason) => `  - ${reason}`).join('\n');
  const hint =
    report.verdict === 'online-backup-incomplete' && report.missingSegments.length === 0
      ? '\nhint: pass --backup-stop-lsn LSN (what pg_backup_stop() returned; backup describe shows it as stopLsn) to name the missing WAL segments'
      : '';
  return `${reasons ? `${summary}\nreasons:\n${reasons}` : summary}${hint}`;
}
