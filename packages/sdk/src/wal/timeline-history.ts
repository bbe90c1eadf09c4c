import { DbaasError } from '../errors.js';
import { formatLsn, parseLsn, type Lsn } from './lsn.js';

/**
 * One line of a timeline history file: timeline `timeline` ended at `switchPoint`, where its
 * child timeline began, for `reason`.
 *
 * @example
 * ```ts
 * const entry: TimelineHistoryEntry = { timeline: 1, switchPoint: parseLsn('0/3000000'), reason: 'no recovery target specified' };
 * ```
 */
export interface TimelineHistoryEntry {
  timeline: number;
  switchPoint: Lsn;
  reason: string;
}

const HISTORY_FILE_NAME = /^([0-9A-F]{8})\.history$/;

/**
 * The timeline a history file belongs to, from its name (`00000002.history` -> 2), or
 * `undefined` when the name is not a history file name.
 *
 * @example
 * ```ts
 * timelineOfHistoryFile('00000002.history'); // 2
 * ```
 */
export function timelineOfHistoryFile(name: string): number | undefined {
  const match = HISTORY_FILE_NAME.exec(name);
  return match ? Number.parseInt(match[1] ?? '0', 16) : undefined;
}

/**
 * Parses a timeline history file (`pg_wal/0000000N.history`): lines `TLI<TAB>X/Y<TAB>reason`,
 * blank lines and `#` comments ignored. Timelines must increase from line to line, as PostgreSQL
 * requires.
 *
 * @throws DbaasError `TIMELINE_HISTORY_INVALID` on a malformed line or decreasing timelines.
 * @example
 * ```ts
 * parseTimelineHistory('1\t0/3000000\tno recovery target specified\n');
 * // [{ timeline: 1, switchPoint: 50331648n, reason: 'no recovery target specified' }]
 * ```
 */
export function parseTimelineHistory(text: string): TimelineHistoryEntry[] {
  const entries: TimelineHistoryEntry[] = [];
  for (const [index, rawLine] of text.split('\n').entries()) {
    const line = rawLine.replace(/\r$/, '').replace(/^[ \t]+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split('\t');
    const [timelineText, switchPointText] = fields;
    const reason = fields.slice(2).join('\t');
    const invalid = (why: string): DbaasError =>
      new DbaasError('TIMELINE_HISTORY_INVALID', `invalid timeline history line ${index + 1}: ${why}`, {
        fix: 'Take the history file from pg_wal of the server that wrote it, unchanged.',
        details: { line: rawLine },
      });
    if (timelineText === undefined || !/^\d{1,10}$/.test(timelineText)) throw invalid('expected a timeline ID');
    const timeline = Number(timelineText);
    if (timeline < 1 || timeline > 0xffffffff) throw invalid(`timeline ${timeline} out of range`);
    let switchPoint: Lsn;
    try {
      switchPoint = parseLsn(switchPointText ?? '');
    } catch {
      throw invalid('expected a WAL location switchpoint');
    }
    const previous = entries.at(-1);
    if (previous !== undefined && timeline <= previous.timeline) {
      throw invalid('timeline IDs must be in increasing sequence');
    }
    entries.push({ timeline, switchPoint, reason });
  }
  return entries;
}

/**
 * Writes timeline history entries in PostgreSQL's format; {@link parseTimelineHistory} reads them back.
 *
 * @example
 * ```ts
 * formatTimelineHistory([{ timeline: 1, switchPoint: 0x3000000n, reason: 'no recovery target specified' }]);
 * // '1\t0/3000000\tno recovery target specified\n'
 * ```
 */
export function formatTimelineHistory(entries: readonly TimelineHistoryEntry[]): string {
  return entries.map((entry) => `${entry.timeline}\t${formatLsn(entry.switchPoint)}\t${entry.reason}\n`).join('');
}
