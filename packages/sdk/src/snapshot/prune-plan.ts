// Pure prune planning: which backup sets a retention policy keeps and which it deletes, and why.
// Buckets are UTC days, ISO weeks (Monday first) and months; a set kept by any rule is kept.
import { DbaasError, isDbaasError } from '../errors.js';
import type { BackupSet } from './backup-sets.js';

/**
 * A retention policy. At least one rule is required. `keepLast`, `keepDaily`, `keepWeekly` and
 * `keepMonthly` count **ready** sets only (a failed backup never takes the place of a good one);
 * `maxAge` keeps every set, whatever its state, requested within that time.
 *
 * @example
 * ```ts
 * const policy: PrunePolicy = { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 6, maxAge: '2d' };
 * ```
 */
export interface PrunePolicy {
  /** Keep the N newest ready sets. */
  keepLast?: number;
  /** Keep every set requested within this age: milliseconds, or `90m`, `36h`, `7d`, `2w`. */
  maxAge?: number | string;
  /** For the N most recent UTC days that have a ready set, keep the newest set of each day. */
  keepDaily?: number;
  /** Same per ISO week (UTC, weeks start on Monday). */
  keepWeekly?: number;
  /** Same per UTC calendar month. */
  keepMonthly?: number;
}

/**
 * One set's fate in a {@link PrunePlan}, with every reason (all rules that keep it, or why it goes).
 *
 * @example
 * ```ts
 * for (const d of plan.delete) console.log(`delete ${d.namespace}/${d.name}: ${d.reasons.join('; ')}`);
 * ```
 */
export interface PruneDecision {
  namespace: string;
  name: string;
  action: 'keep' | 'delete';
  reasons: string[];
  time: Date;
  state: BackupSet['state'];
  /** The snapshot names the set consists of (what a delete removes). */
  snapshots: string[];
}

/**
 * Result of {@link planPrune}: every set once, newest first, split into keep and delete.
 *
 * @example
 * ```ts
 * const plan = planPrune(sets, { keepLast: 2 }, new Date());
 * console.log(`${plan.keep.length} kept, ${plan.delete.length} to delete`);
 * ```
 */
export interface PrunePlan {
  now: Date;
  policy: PrunePolicy;
  decisions: PruneDecision[];
  keep: PruneDecision[];
  delete: PruneDecision[];
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * Parses a duration: a number of milliseconds, or `<n><unit>` with unit `s`, `m`, `h`, `d`, `w`
 * (compound forms such as `1d12h` too).
 *
 * @throws DbaasError `INVALID_ARGUMENT`
 * @example
 * ```ts
 * parseDuration('7d'); // 604800000
 * parseDuration('1d12h'); // 129600000
 * ```
 */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new DbaasError('INVALID_ARGUMENT', `duration ${value} must be a non-negative number of milliseconds`);
    return value;
  }
  const text = value.trim();
  if (!/^(\d+(\.\d+)?[smhdw])+$/.test(text)) {
    throw new DbaasError('INVALID_ARGUMENT', `"${value}" is not a duration`, { fix: 'Use a number and a unit s, m, h, d or w, e.g. 36h, 7d, 2w, 1d12h.' });
  }
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)([smhdw])/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms;
}

/**
 * UTC day bucket `YYYY-MM-DD`.
 *
 * @example
 * ```ts
 * dayBucket(new Date('2026-03-01T23:59:59Z')); // '2026-03-01'
 * ```
 */
export function dayBucket(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/**
 * ISO 8601 week bucket `YYYY-Www` in UTC (Monday first; the week belongs to the year of its Thursday).
 *
 * @example
 * ```ts
 * weekBucket(new Date('2027-01-01T00:00:00Z')); // '2026-W53'
 * ```
 */
export function weekBucket(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const dow = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - dow); // the Thursday of this week
  const year = t.getUTCFullYear();
  const week = Math.ceil(((t.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/**
 * UTC month bucket `YYYY-MM`.
 *
 * @example
 * ```ts
 * monthBucket(new Date('2026-03-31T23:00:00Z')); // '2026-03'
 * ```
 */
export function monthBucket(d: Date): string {
  return d.toISOString().slice(0, 7);
}

/** `maxAge` parsed, its errors naming the option. */
function maxAgeOf(value: number | string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    if (isDbaasError(error))
      throw new DbaasError(error.code, `maxAge: ${error.message}`, { ...(error.fix ? { fix: error.fix } : {}), option: 'maxAge', cause: error });
    throw error;
  }
}

function count(name: keyof PrunePolicy, n: number | undefined): number {
  if (n === undefined) return 0;
  if (!Number.isInteger(n) || n < 0) throw new DbaasError('INVALID_ARGUMENT', `${name} must be a non-negative integer, got ${n}`, { option: name });
  return n;
}

/**
 * Plans a prune: which backup sets a {@link PrunePolicy} keeps and which it deletes, with the
 * reason for each. A set kept by any rule is kept. Always kept, whatever the policy: sets not
 * managed by kubectl-dbaas, sets whose metadata does not parse, sets in progress (pending, or being
 * deleted already), and the newest ready set. Failed sets are deleted unless `maxAge` keeps them.
 * Pure: give it a fixed `now` to test it.
 *
 * @throws DbaasError `INVALID_ARGUMENT` when the policy has no rule or a bad number
 * @example
 * ```ts
 * const { items } = await client.list({ namespace: 'db' });
 * const plan = planPrune(items, { keepDaily: 7, keepWeekly: 4 }, new Date());
 * ```
 */
export function planPrune(sets: readonly BackupSet[], policy: PrunePolicy, now: Date): PrunePlan {
  const keepLast = count('keepLast', policy.keepLast);
  const buckets = [
    { rule: 'daily', n: count('keepDaily', policy.keepDaily), key: dayBucket },
    { rule: 'weekly', n: count('keepWeekly', policy.keepWeekly), key: weekBucket },
    { rule: 'monthly', n: count('keepMonthly', policy.keepMonthly), key: monthBucket },
  ];
  const maxAgeMs = policy.maxAge === undefined ? undefined : maxAgeOf(policy.maxAge);
  if ([policy.keepLast, policy.maxAge, policy.keepDaily, policy.keepWeekly, policy.keepMonthly].every((v) => v === undefined)) {
    throw new DbaasError('INVALID_ARGUMENT', 'a prune policy needs at least one rule: keepLast, maxAge, keepDaily, keepWeekly or keepMonthly', {
      fix: "Set one, for example keepLast: 7, or maxAge: '30d'.",
      option: 'keepLast',
    });
  }
  const sorted = [...sets].sort((a, b) => b.time.getTime() - a.time.getTime() || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  const reasons = new Map<BackupSet, string[]>();
  const add = (s: BackupSet, r: string) => reasons.get(s)!.push(r);
  for (const s of sorted) reasons.set(s, []);

  for (const s of sorted) {
    if (!s.managed) add(s, 'not managed by kubectl-dbaas: never pruned');
    else if (s.metadataError) add(s, `metadata does not parse (${s.metadataError}): never pruned automatically`);
    if (s.snapshots.some((x) => x.deleting)) add(s, 'already being deleted');
    else if (s.state === 'pending') add(s, 'in progress (not ready yet, no error)');
  }
  const ready = sorted.filter((s) => s.state === 'ready' && s.managed && !s.metadataError);
  if (ready[0]) add(ready[0], 'newest ready backup: never pruned');
  for (const [i, s] of ready.slice(0, keepLast).entries()) add(s, `keep-last ${keepLast} (#${i + 1})`);
  for (const b of buckets) {
    if (b.n === 0) continue;
    const seen = new Set<string>();
    for (const s of ready) {
      const key = b.key(s.time);
      if (seen.has(key)) continue;
      if (seen.size >= b.n) break;
      seen.add(key);
      add(s, `${b.rule} ${key} (newest of ${seen.size}/${b.n})`);
    }
  }
  if (maxAgeMs !== undefined) {
    for (const s of sorted) if (now.getTime() - s.time.getTime() <= maxAgeMs) add(s, `within max-age ${policy.maxAge} (requested ${s.time.toISOString()})`);
  }

  const decisions: PruneDecision[] = sorted.map((s) => {
    const kept = reasons.get(s)!;
    const why: string[] = [];
    if (kept.length === 0) {
      if (s.state === 'error') why.push(`failed (${s.error ?? 'error'})${maxAgeMs !== undefined ? ` and older than max-age ${policy.maxAge}` : ''}`);
      else why.push(`not kept by any rule (${describePolicy(policy)})`);
      if (s.missingWal) why.push('online backup without its -wal snapshot: not restorable');
    }
    return {
      namespace: s.namespace,
      name: s.name,
      action: kept.length > 0 ? 'keep' : 'delete',
      reasons: kept.length > 0 ? kept : why,
      time: s.time,
      state: s.state,
      snapshots: s.snapshots.map((x) => x.name),
    };
  });
  return {
    now,
    policy,
    decisions,
    keep: decisions.filter((d) => d.action === 'keep'),
    delete: decisions.filter((d) => d.action === 'delete'),
  };
}

/**
 * A policy in words, e.g. `keep-last 3, daily 7, max-age 30d`.
 *
 * @example
 * ```ts
 * describePolicy({ keepLast: 3, maxAge: '30d' }); // 'keep-last 3, max-age 30d'
 * ```
 */
export function describePolicy(policy: PrunePolicy): string {
  const parts: string[] = [];
  if (policy.keepLast !== undefined) parts.push(`keep-last ${policy.keepLast}`);
  if (policy.keepDaily !== undefined) parts.push(`daily ${policy.keepDaily}`);
  if (policy.keepWeekly !== undefined) parts.push(`weekly ${policy.keepWeekly}`);
  if (policy.keepMonthly !== undefined) parts.push(`monthly ${policy.keepMonthly}`);
  if (policy.maxAge !== undefined) parts.push(`max-age ${policy.maxAge}`);
  return parts.join(', ');
}
