import { DbaasError } from '../errors.js';
import { formatLsn, isWalFileName, parseLsn, type Lsn } from './lsn.js';

/**
 * The contents of a `backup_label` file (written by `pg_backup_stop` / `pg_basebackup`) or of a
 * backup history file (`<segment>.<offset>.backup` in `pg_wal`, which adds the STOP lines).
 *
 * @example
 * ```ts
 * const label: BackupLabel = parseBackupLabel(text);
 * console.log(formatLsn(label.checkpointLocation));
 * ```
 */
export interface BackupLabel {
  /** `START WAL LOCATION`: the redo pointer of the backup's starting checkpoint. */
  startWalLocation: Lsn;
  /** The segment that holds the start location, as the label names it. */
  startWalFile: string;
  /** `STOP WAL LOCATION`: only in backup history files. */
  stopWalLocation?: Lsn;
  stopWalFile?: string;
  /** `CHECKPOINT LOCATION`: the checkpoint record recovery starts from. */
  checkpointLocation: Lsn;
  /** `BACKUP METHOD`: `streamed` (PostgreSQL 15+ always) or `pg_start_backup` (exclusive, <= 14). */
  backupMethod?: string;
  /** `BACKUP FROM`: `primary` or `standby`. */
  backupFrom?: string;
  /** `START TIME` as PostgreSQL wrote it (`YYYY-MM-DD HH:MM:SS TZ`). */
  startTime?: string;
  label?: string;
  startTimeline?: number;
  stopTime?: string;
  stopTimeline?: number;
  /** PostgreSQL 17+: the backup is incremental and needs `pg_combinebackup`. */
  incrementalFromLsn?: Lsn;
  incrementalFromTimeline?: number;
}

const WAL_LOCATION = /^([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}) \(file ([0-9A-F]{24})\)$/;

function invalidLabel(message: string, details: Record<string, unknown> = {}): DbaasError {
  return new DbaasError('BACKUP_LABEL_INVALID', `invalid backup_label: ${message}`, {
    fix: 'Use the backup_label that pg_backup_stop() returned for this backup, unchanged.',
    details,
  });
}

function parseLabelLsn(key: string, value: string): Lsn {
  try {
    return parseLsn(value);
  } catch (error) {
    throw invalidLabel(`${key} "${value}" is not an LSN`, { key, value, cause: String(error) });
  }
}

function parseTimeline(key: string, value: string): number {
  if (!/^\d{1,10}$/.test(value) || Number(value) < 1 || Number(value) > 0xffffffff) {
    throw invalidLabel(`${key} "${value}" is not a timeline ID`, { key, value });
  }
  return Number(value);
}

function parseWalLocation(key: string, value: string): { lsn: Lsn; file: string } {
  const match = WAL_LOCATION.exec(value);
  if (!match || !isWalFileName(match[2] ?? '')) {
    throw invalidLabel(`${key} "${value}" is not "X/Y (file NAME)"`, { key, value });
  }
  return { lsn: parseLabelLsn(key, match[1] ?? ''), file: match[2] ?? '' };
}

/**
 * Parses a `backup_label` (or backup history file). Lines are `KEY: value`; `START WAL LOCATION`
 * and `CHECKPOINT LOCATION` are required, as PostgreSQL requires them. Unknown keys are rejected so
 * that a format change is noticed rather than silently dropped.
 *
 * @throws DbaasError `BACKUP_LABEL_INVALID` when a line or value is malformed or a required key is missing.
 * @example
 * ```ts
 * const label = parseBackupLabel(await readFile(`${pgdata}/backup_label`, 'utf8'));
 * label.startTimeline; // 1
 * ```
 */
export function parseBackupLabel(text: string): BackupLabel {
  const result: Partial<BackupLabel> = {};
  const seen = new Set<string>();
  for (const [index, rawLine] of text.split('\n').entries()) {
    // PostgreSQL reads the label with fscanf, which skips blank lines and trailing whitespace.
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const colon = line.indexOf(': ');
    if (colon <= 0) throw invalidLabel(`line ${index + 1} is not "KEY: value"`, { line });
    const key = line.slice(0, colon);
    const value = line.slice(colon + 2);
    if (seen.has(key)) throw invalidLabel(`${key} appears twice`, { key });
    seen.add(key);
    switch (key) {
      case 'START WAL LOCATION': {
        const { lsn, file } = parseWalLocation(key, value);
        result.startWalLocation = lsn;
        result.startWalFile = file;
        break;
      }
      case 'STOP WAL LOCATION': {
        const { lsn, file } = parseWalLocation(key, value);
        result.stopWalLocation = lsn;
        result.stopWalFile = file;
        break;
      }
      case 'CHECKPOINT LOCATION':
        result.checkpointLocation = parseLabelLsn(key, value);
        break;
      case 'BACKUP METHOD':
        result.backupMethod = value;
        break;
      case 'BACKUP FROM':
        result.backupFrom = value;
        break;
      case 'START TIME':
        result.startTime = value;
        break;
      case 'LABEL':
        result.label = value;
        break;
      case 'START TIMELINE':
        result.startTimeline = parseTimeline(key, value);
        break;
      case 'STOP TIME':
        result.stopTime = value;
        break;
      case 'STOP TIMELINE':
        result.stopTimeline = parseTimeline(key, value);
        break;
      case 'INCREMENTAL FROM LSN':
        result.incrementalFromLsn = parseLabelLsn(key, value);
        break;
      case 'INCREMENTAL FROM TLI':
        result.incrementalFromTimeline = parseTimeline(key, value);
        break;
      default:
        throw invalidLabel(`unknown key "${key}"`, { key });
    }
  }
  if (result.startWalLocation === undefined || result.startWalFile === undefined) {
    throw invalidLabel('START WAL LOCATION is missing');
  }
  if (result.checkpointLocation === undefined) throw invalidLabel('CHECKPOINT LOCATION is missing');
  return result as BackupLabel;
}

/**
 * Writes a {@link BackupLabel} in PostgreSQL's format and order; `parseBackupLabel` reads it back
 * unchanged. LSNs are written unpadded, as PostgreSQL 14-18 write them.
 *
 * @example
 * ```ts
 * await writeFile(`${pgdata}/backup_label`, formatBackupLabel(label));
 * ```
 */
export function formatBackupLabel(label: BackupLabel): string {
  const lines: string[] = [`START WAL LOCATION: ${formatLsn(label.startWalLocation)} (file ${label.startWalFile})`];
  if (label.stopWalLocation !== undefined) {
    lines.push(`STOP WAL LOCATION: ${formatLsn(label.stopWalLocation)} (file ${label.stopWalFile ?? ''})`);
  }
  lines.push(`CHECKPOINT LOCATION: ${formatLsn(label.checkpointLocation)}`);
  if (label.backupMethod !== undefined) lines.push(`BACKUP METHOD: ${label.backupMethod}`);
  if (label.backupFrom !== undefined) lines.push(`BACKUP FROM: ${label.backupFrom}`);
  if (label.startTime !== undefined) lines.push(`START TIME: ${label.startTime}`);
  if (label.label !== undefined) lines.push(`LABEL: ${label.label}`);
  if (label.startTimeline !== undefined) lines.push(`START TIMELINE: ${label.startTimeline}`);
  if (label.stopTime !== undefined) lines.push(`STOP TIME: ${label.stopTime}`);
  if (label.stopTimeline !== undefined) lines.push(`STOP TIMELINE: ${label.stopTimeline}`);
  if (label.incrementalFromLsn !== undefined) lines.push(`INCREMENTAL FROM LSN: ${formatLsn(label.incrementalFromLsn)}`);
  if (label.incrementalFromTimeline !== undefined) lines.push(`INCREMENTAL FROM TLI: ${label.incrementalFromTimeline}`);
  return `${lines.join('\n')}\n`;
}

/**
 * One line of a `tablespace_map`: the tablespace OID (the symlink name in `pg_tblspc`) and where
 * the link points.
 *
 * @example
 * ```ts
 * const entry: TablespaceMapEntry = { oid: 16384, path: '/mnt/fast' };
 * ```
 */
export interface TablespaceMapEntry {
  oid: number;
  path: string;
}

/**
 * Parses a `tablespace_map` file: lines `OID PATH`, where a backslash escapes a newline, carriage
 * return or backslash inside the path (as `pg_backup_start` writes them).
 *
 * @throws DbaasError `BACKUP_LABEL_INVALID` when a line is not `OID PATH`.
 * @example
 * ```ts
 * parseTablespaceMap('16384 /mnt/fast\n'); // [{ oid: 16384, path: '/mnt/fast' }]
 * ```
 */
export function parseTablespaceMap(text: string): TablespaceMapEntry[] {
  const entries: TablespaceMapEntry[] = [];
  let line = '';
  let escaped = false;
  const finishLine = (): void => {
    if (line.length === 0) return;
    const match = /^(\d+) (.*)$/s.exec(line);
    const oid = match ? Number(match[1]) : Number.NaN;
    if (!match || !Number.isSafeInteger(oid) || oid > 0xffffffff || (match[2] ?? '').length === 0) {
      throw new DbaasError('BACKUP_LABEL_INVALID', `invalid tablespace_map line "${line}"`, {
        fix: 'Use the tablespace_map that pg_backup_stop() returned for this backup, unchanged.',
        details: { line },
      });
    }
    entries.push({ oid, path: match[2] ?? '' });
    line = '';
  };
  for (const char of text) {
    if (escaped) {
      line += char;
      escaped = false;
    } else if (char === '\\') {
      escaped = true;
    } else if (char === '\n' || char === '\r') {
      finishLine();
    } else {
      line += char;
    }
  }
  if (escaped) line += '\\';
  finishLine();
  return entries;
}

/**
 * Writes a `tablespace_map` that {@link parseTablespaceMap} and PostgreSQL read back unchanged.
 *
 * @example
 * ```ts
 * formatTablespaceMap([{ oid: 16384, path: '/mnt/fast' }]); // '16384 /mnt/fast\n'
 * ```
 */
export function formatTablespaceMap(entries: readonly TablespaceMapEntry[]): string {
  return entries.map((entry) => `${entry.oid} ${entry.path.replace(/[\\\n\r]/g, (c) => `\\${c}`)}\n`).join('');
}
