import { describe, expect, it } from 'vitest';
import { renderTable } from '../../../output.js';
import { NOW, sets, snapshot } from '../backup-test-fixtures.js';
import { backupListItem, emptyListMessage, renderBackupList, type BackupListDocument } from './run.js';

const doc = (namespace: string | null, ...items: ReturnType<typeof sets>): BackupListDocument => ({
  kind: 'BackupList',
  namespace,
  items: items.map(backupListItem),
});

describe('backup list rendering', () => {
  const listed = sets(
    snapshot('nightly-2', 'data', { mode: 'online', hoursAgo: 2, size: '2Gi' }),
    snapshot('nightly-2', 'wal', { mode: 'online', hoursAgo: 2, size: '2Gi' }),
    snapshot('nightly-1', 'data', { mode: 'fenced', hoursAgo: 26 }),
    snapshot('broken-1', 'data', { mode: 'online', hoursAgo: 50, ready: false, error: 'tar: file changed as we read it' }),
    snapshot('pending-1', 'data', { mode: 'fenced', hoursAgo: 0.01, ready: false }),
  );

  it('prints kubectl columns, newest first: NAME, MODE, STATE, SOURCE, CUT AGE, SIZE, WAL', () => {
    expect(renderBackupList(doc('db', ...listed), { now: NOW })).toBe(
      [
        'NAME        MODE     STATE          SOURCE      CUT AGE   SIZE   WAL',
        'pending-1   fenced   pending        data-pg-0   -         -      -',
        'nightly-2   online   ready          data-pg-0   119m      2Gi    2Gi',
        'nightly-1   fenced   ready          data-pg-0   25h       1Gi    -',
        'broken-1    online   error,no-wal   data-pg-0   -         -      missing',
      ].join('\n'),
    );
  });

  it('adds NAMESPACE with -A; an empty list renders nothing and says so as kubectl does', () => {
    const text = renderBackupList(doc(null, ...sets(snapshot('a', 'data', { namespace: 'ns1' }))), { now: NOW });
    expect(text.split('\n')[0]).toMatch(/^NAMESPACE {3}NAME {3}MODE/);
    expect(text.split('\n')[1]).toMatch(/^ns1 {9}a {6}fenced/);
    expect(renderBackupList(doc('db'))).toBe('');
    expect(emptyListMessage(doc('db'))).toBe('No backups found in db namespace.');
    expect(emptyListMessage(doc(null))).toBe('No backups found.');
  });

  it('the JSON item carries state, error, times as ISO 8601 and metadata with LSNs as X/Y', () => {
    const [online] = sets(
      snapshot('o', 'data', { mode: 'online', extra: { startLsn: 0x3000028n, stopLsn: 0x1_0000_0100n, systemIdentifier: 7400000000000000001n } }),
      snapshot('o', 'wal', { mode: 'online' }),
    );
    const item = JSON.parse(JSON.stringify(backupListItem(online!))) as ReturnType<typeof backupListItem>;
    expect(item).toMatchObject({ name: 'o', mode: 'online', state: 'ready', missingWal: false, timeSource: 'requested-at' });
    expect(item.data?.metadata).toMatchObject({ startLsn: '0/3000028', stopLsn: '1/100', systemIdentifier: '7400000000000000001', engine: 'postgres' });
    expect(item.wal?.name).toBe('o-wal');
    expect(item.time).toBe(new Date(NOW.getTime() - 3_600_000).toISOString());
  });
});

describe('backup list cut', () => {
  it("is the instant recorded in dbaas.io/cut-at (as backup describe shows it), not the driver's creationTime", () => {
    const object = snapshot('cut', 'data', { mode: 'fenced' });
    const recorded = new Date(Date.parse(String(object.status!.creationTime!)) + 7_800).toISOString();
    object.metadata.annotations = { ...object.metadata.annotations, 'dbaas.io/cut-at': recorded };
    const [set] = sets(object);
    expect(backupListItem(set!).data?.cutAt).toBe(recorded);
  });
});

describe('renderTable', () => {
  it('pads columns by three spaces, no trailing space, <none> for empty cells', () => {
    expect(
      renderTable(
        ['NAME', 'STATE', 'X'],
        [
          ['a', 'ready', ''],
          ['longer', undefined, 'y'],
        ],
      ),
    ).toBe('NAME     STATE    X\na        ready    <none>\nlonger   <none>   y');
  });
});
