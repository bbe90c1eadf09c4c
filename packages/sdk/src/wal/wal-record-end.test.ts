import { describe, expect, it } from 'vitest';

import { formatLsn } from './lsn.js';
import { scanWal } from './wal-scanner.js';
import { WalBuilder } from './wal-test-builder.js';

// Found by inspector.postgres.test.ts (a PG 14 checkpoint record crossing a page): the scanner reports
// the end of a record as `lsn + xl_tot_len`, which leaves out the page header(s) between its start
// and its end when it crosses a page. PostgreSQL's end of record (EndRecPtr, what pg_backup_stop and
// minRecoveryPoint are made of) counts them. Affects WalCheckpointRecord.end, WalEvent.end and
// WalScanReport.lastValidLsn. Fixed in wal-scanner.ts (the end is where the record's last byte lies).
const SEGMENT = 1024 * 1024;
const PAGE = 8192;

describe('scanWal: the end of a record that crosses a page', () => {
  it('counts the page header the record spans (checkpoint end, lastValidLsn)', async () => {
    const builder = new WalBuilder({ segmentSize: SEGMENT, startSegment: 1 });
    builder.appendPlain(100);
    // Fill the first page up to 48 bytes before its end: total length = remaining - 48 (8-aligned).
    while (PAGE - (builder.position % PAGE) > 200) builder.appendPlain(100);
    const remaining = PAGE - (builder.position % PAGE);
    builder.appendPlain(remaining - 48 - 26);
    expect(PAGE - (builder.position % PAGE)).toBe(48);
    const redo = builder.position;
    const checkpoint = builder.appendCheckpoint('online', redo); // 114 bytes: 48 on this page, 66 on the next
    const totalLength = 24 + 2 + 88;
    const trueEnd = checkpoint + totalLength + 24; // plus the next page's short header

    const report = await scanWal(builder.build().map((s) => ({ name: s.name, data: [s.bytes] })));
    expect(report.checkpoints).toHaveLength(1);
    expect(report.checkpoints[0]!.lsn).toBe(formatLsn(BigInt(checkpoint)));
    expect(report.checkpoints[0]!.end).toBe(formatLsn(BigInt(trueEnd)));
    expect(report.lastValidLsn).toBe(formatLsn(BigInt(trueEnd)));
  });
});
