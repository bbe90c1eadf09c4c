import { planPrune } from '@kubectl-dbaas/sdk';
import { describe, expect, it } from 'vitest';
import { NOW, sets, snapshot } from '../backup-test-fixtures.js';
import { pruneDocument, renderPrune } from './run.js';

const listed = sets(
  snapshot('b1', 'data', { hoursAgo: 1 }),
  snapshot('b2', 'data', { hoursAgo: 25 }),
  snapshot('b3', 'data', { hoursAgo: 49 }),
  snapshot('b4', 'data', { hoursAgo: 73, ready: false, error: 'failed' }),
);

describe('backup prune rendering', () => {
  it('dry run: every backup with its fate and reason, and how to delete', () => {
    const doc = pruneDocument({ ...planPrune(listed, { keepLast: 2 }, NOW), dryRun: true, deleted: [] });
    const text = renderPrune(doc);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^ACTION +NAME +STATE +AGE +REASON$/);
    expect(lines.filter((l) => l.startsWith('would-delete')).map((l) => l.split(/\s+/)[1])).toEqual(['b3', 'b4']);
    expect(lines.filter((l) => l.startsWith('keep')).map((l) => l.split(/\s+/)[1])).toEqual(['b1', 'b2']);
    expect(lines.at(-1)).toBe('Dry run: 2 of 4 backups would be deleted. Run again with --yes to delete them.');
    expect(doc).toMatchObject({ kind: 'BackupPrunePlan', dryRun: true, policy: { keepLast: 2 }, deleted: [] });
  });

  it('after --yes: what was deleted; nothing to delete says so', () => {
    const plan = planPrune(listed, { keepLast: 2 }, NOW);
    const done = pruneDocument({
      ...plan,
      dryRun: false,
      deleted: plan.delete.map((d) => ({ namespace: d.namespace, name: d.name, deleted: d.snapshots, gone: true })),
    });
    expect(renderPrune(done).split('\n').at(-1)).toBe('Deleted 2 of 4 backups (b3, b4).');
    expect(renderPrune(done)).toMatch(/^deleted +b3/m);
    const none = pruneDocument({ ...planPrune(listed, { keepLast: 10, maxAge: '30d' }, NOW), dryRun: true, deleted: [] });
    expect(renderPrune(none).split('\n').at(-1)).toBe('Nothing to delete: the policy keeps all 4 backups.');
  });
});
