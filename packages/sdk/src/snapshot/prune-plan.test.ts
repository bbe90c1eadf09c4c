import { describe, expect, it } from 'vitest';
import { isDbaasError } from '../errors.js';
import type { BackupSet, SnapshotState } from './backup-sets.js';
import { dayBucket, monthBucket, parseDuration, planPrune, weekBucket } from './prune-plan.js';

function set(name: string, time: string, state: SnapshotState = 'ready', extra: Partial<BackupSet> = {}): BackupSet {
  const snap = { namespace: 'db', name, role: 'data' as const, managed: true, state, deleting: false };
  return {
    namespace: 'db',
    name,
    snapshots: [snap],
    data: snap,
    managed: true,
    state,
    time: new Date(time),
    timeSource: 'requested-at',
    missingWal: false,
    volumes: [],
    missingVolumes: [],
    ...extra,
  };
}
const NOW = new Date('2026-03-10T12:00:00Z');
const names = (ds: { name: string }[]) => ds.map((d) => d.name);

describe('buckets', () => {
  it('UTC day, ISO week (Monday first, year of the Thursday), month', () => {
    expect(dayBucket(new Date('2026-03-01T23:59:59Z'))).toBe('2026-03-01');
    expect(weekBucket(new Date('2026-03-09T00:00:00Z'))).toBe('2026-W11'); // Monday
    expect(weekBucket(new Date('2026-03-08T23:59:59Z'))).toBe('2026-W10'); // Sunday
    expect(weekBucket(new Date('2027-01-01T00:00:00Z'))).toBe('2026-W53');
    expect(weekBucket(new Date('2024-12-30T00:00:00Z'))).toBe('2025-W01');
    expect(monthBucket(new Date('2026-02-28T23:00:00Z'))).toBe('2026-02');
  });
  it('parseDuration', () => {
    expect(parseDuration('7d')).toBe(7 * 86_400_000);
    expect(parseDuration('1d12h')).toBe(36 * 3_600_000);
    expect(parseDuration(5000)).toBe(5000);
    expect(() => parseDuration('7 days')).toThrow(/not a duration/);
  });
});

describe('planPrune', () => {
  it('refuses an empty policy or a bad rule, naming the option (never a CLI flag)', () => {
    const refusal = (policy: Parameters<typeof planPrune>[1]) => {
      try {
        planPrune([], policy, NOW);
      } catch (e) {
        if (isDbaasError(e)) return { code: e.code, kind: e.kind, option: e.option, text: `${e.message} ${e.fix ?? ''}` };
        throw e;
      }
      return expect.unreachable();
    };
    for (const [policy, option] of [
      [{}, 'keepLast'],
      [{ keepDaily: -1 }, 'keepDaily'],
      [{ keepLast: 1.5 }, 'keepLast'],
      [{ maxAge: '7 days' }, 'maxAge'],
    ] as const) {
      const r = refusal(policy);
      expect(r).toMatchObject({ code: 'INVALID_ARGUMENT', kind: 'usage', option });
      expect(r.text).not.toMatch(/--/);
    }
  });

  it('keepLast keeps the N newest ready sets and deletes the rest, with reasons', () => {
    const sets = [set('s1', '2026-03-01T00:00:00Z'), set('s2', '2026-03-02T00:00:00Z'), set('s3', '2026-03-03T00:00:00Z'), set('s4', '2026-03-04T00:00:00Z')];
    const plan = planPrune(sets, { keepLast: 2 }, NOW);
    expect(names(plan.keep)).toEqual(['s4', 's3']);
    expect(names(plan.delete)).toEqual(['s2', 's1']);
    expect(plan.keep[0]!.reasons).toEqual(['newest ready backup: never pruned', 'keep-last 2 (#1)']);
    expect(plan.delete[0]!.reasons[0]).toMatch(/not kept by any rule \(keep-last 2\)/);
  });

  it('daily/weekly/monthly keep the newest set of each of the N most recent buckets; a set kept by any rule is kept', () => {
    const sets = [
      set('mar10-b', '2026-03-10T06:00:00Z'),
      set('mar10-a', '2026-03-10T01:00:00Z'),
      set('mar09', '2026-03-09T23:00:00Z'), // Monday, week 11
      set('mar08', '2026-03-08T23:00:00Z'), // Sunday, week 10
      set('mar02', '2026-03-02T10:00:00Z'), // week 10
      set('feb20', '2026-02-20T10:00:00Z'),
      set('jan31', '2026-01-31T23:59:59Z'),
      set('jan05', '2026-01-05T00:00:00Z'),
    ];
    const plan = planPrune(sets, { keepDaily: 2, keepWeekly: 2, keepMonthly: 3 }, NOW);
    const byName = Object.fromEntries(plan.decisions.map((d) => [d.name, d]));
    expect(names(plan.keep)).toEqual(['mar10-b', 'mar09', 'mar08', 'feb20', 'jan31']);
    expect(byName['mar10-b']!.reasons).toEqual([
      'newest ready backup: never pruned',
      'daily 2026-03-10 (newest of 1/2)',
      'weekly 2026-W11 (newest of 1/2)',
      'monthly 2026-03 (newest of 1/3)',
    ]);
    expect(byName['mar09']!.reasons).toEqual(['daily 2026-03-09 (newest of 2/2)']);
    expect(byName['mar08']!.reasons).toEqual(['weekly 2026-W10 (newest of 2/2)']);
    expect(byName['feb20']!.reasons).toEqual(['monthly 2026-02 (newest of 2/3)']);
    expect(byName['jan31']!.reasons).toEqual(['monthly 2026-01 (newest of 3/3)']);
    expect(names(plan.delete)).toEqual(['mar10-a', 'mar02', 'jan05']);
  });

  it('maxAge keeps every set within the age (any state); failed sets outside it are deleted', () => {
    const sets = [
      set('new-failed', '2026-03-10T00:00:00Z', 'error', { error: 'cannot get claim' }),
      set('two-days', '2026-03-08T12:00:00Z'),
      set('old', '2026-03-01T00:00:00Z'),
      set('old-failed', '2026-02-01T00:00:00Z', 'error', { error: 'tar: file changed as we read it' }),
    ];
    const plan = planPrune(sets, { maxAge: '2d' }, NOW);
    expect(names(plan.keep)).toEqual(['new-failed', 'two-days']);
    expect(plan.keep[1]!.reasons).toEqual(['newest ready backup: never pruned', 'within max-age 2d (requested 2026-03-08T12:00:00.000Z)']);
    expect(names(plan.delete)).toEqual(['old', 'old-failed']);
    expect(plan.delete[1]!.reasons[0]).toBe('failed (tar: file changed as we read it) and older than max-age 2d');
  });

  it('never deletes the newest ready set, pending sets, sets being deleted, unmanaged sets or sets with bad metadata', () => {
    const deleting = set('deleting', '2026-01-04T00:00:00Z', 'error');
    deleting.snapshots = [{ ...deleting.snapshots[0]!, deleting: true }];
    const sets = [
      set('failed', '2026-03-09T00:00:00Z', 'error', { error: 'x' }),
      set('pending', '2026-03-08T00:00:00Z', 'pending'),
      set('only-ready', '2026-01-01T00:00:00Z'),
      set('foreign', '2026-01-02T00:00:00Z', 'ready', { managed: false }),
      set('bad-meta', '2026-01-03T00:00:00Z', 'ready', { metadataError: 'bad-meta: stop-lsn invalid' }),
      deleting,
    ];
    const plan = planPrune(sets, { keepLast: 0, maxAge: '1h' }, NOW);
    expect(names(plan.delete)).toEqual(['failed']);
    const reason = (n: string) => plan.decisions.find((d) => d.name === n)!.reasons[0];
    expect(reason('only-ready')).toBe('newest ready backup: never pruned');
    expect(reason('pending')).toBe('in progress (not ready yet, no error)');
    expect(reason('foreign')).toBe('not managed by kubectl-dbaas: never pruned');
    expect(reason('bad-meta')).toMatch(/^metadata does not parse/);
    expect(reason('deleting')).toBe('already being deleted');
  });

  it('failed sets never fill keep-last or bucket slots', () => {
    const sets = [
      set('f1', '2026-03-10T00:00:00Z', 'error'),
      set('f2', '2026-03-09T00:00:00Z', 'error'),
      set('good', '2026-03-08T00:00:00Z'),
      set('good-old', '2026-03-07T00:00:00Z'),
    ];
    const plan = planPrune(sets, { keepLast: 2, keepDaily: 1 }, NOW);
    expect(names(plan.keep)).toEqual(['good', 'good-old']);
    expect(names(plan.delete)).toEqual(['f1', 'f2']);
  });
});
