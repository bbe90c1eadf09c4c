// The option groups several commands declare the same way: --timeout (a deadline), --dry-run
// (client or server), and the relations between flags (one excludes another, one needs another).
// Each group is a typed yargs mixin with its zod field, so a command declares and parses it in one
// line. Loaded at start-up with the commands' index.ts: no SDK here (bench/cli-startup).
import type { Argv, Options } from 'yargs';
import * as z from 'zod/mini';
import { parseKubeDuration } from './duration.js';
import { UsageError } from './usage-error.js';

/**
 * Adds `--timeout DURATION` (kubectl's duration syntax: 90s, 5m, 1h) with the command's default.
 *
 * @example
 * ```ts
 * builder: (argv) => withTimeout(argv, '15m', 'Deadline of the whole restore');
 * ```
 */
export function withTimeout<T>(argv: Argv<T>, defaultValue: string, describe: string) {
  return argv.option('timeout', { type: 'string', default: defaultValue, describe: `${describe} (90s, 5m, 1h)` });
}

/**
 * The zod field of {@link withTimeout}, to extend a command's argument schema with.
 *
 * @example
 * ```ts
 * const schema = z.extend(globalOptionsSchema, { ...timeoutShape('15m') });
 * ```
 */
export function timeoutShape(defaultValue: string) {
  return { timeout: z._default(z.string(), defaultValue) };
}

/**
 * `--timeout` in milliseconds: a kubectl duration of more than 0.
 *
 * @throws UsageError for another text or 0.
 * @example
 * ```ts
 * timeoutMs('2m'); // 120000
 * ```
 */
export function timeoutMs(text: string): number {
  const ms = parseKubeDuration(text, '--timeout');
  if (ms <= 0) throw new UsageError('--timeout must be more than 0');
  return ms;
}

/**
 * The values of `--dry-run`, as kubectl's: `none` (a real run), `client` (nothing sent to the API
 * server), `server` (each object validated with `dryRun=All`, nothing stored).
 *
 * @example
 * ```ts
 * DRY_RUN.includes('server'); // true
 * ```
 */
export const DRY_RUN = ['none', 'client', 'server'] as const;

/** One of {@link DRY_RUN}. */
export type DryRun = (typeof DRY_RUN)[number];

/**
 * Adds `--dry-run none|client|server`; `describe` says what the command prints instead of acting.
 *
 * @example
 * ```ts
 * builder: (argv) => withDryRun(argv, 'Print every object it would create');
 * ```
 */
export function withDryRun<T>(argv: Argv<T>, describe: string) {
  return argv.option('dry-run', {
    choices: DRY_RUN,
    default: 'none' as DryRun,
    describe: `${describe}: client (no API writes) or server (each validated with dryRun=All)`,
  });
}

/** The zod field of {@link withDryRun}. */
export const dryRunShape = { dryRun: z._default(z.enum(DRY_RUN), 'none') };

/**
 * How a command's flags relate: `conflicts` (flag -> the flags it cannot go with), `implies`
 * (flag -> the flags it needs). Flags as typed, without dashes.
 *
 * @example
 * ```ts
 * const relations: FlagRelations = { conflicts: { backup: ['pvc'] }, implies: { wait: ['yes'] } };
 * ```
 */
export interface FlagRelations {
  conflicts?: Readonly<Record<string, readonly string[]>>;
  implies?: Readonly<Record<string, readonly string[]>>;
}

/**
 * Declares `options` and how they relate, so yargs refuses a bad combination as a usage error
 * before the command runs, and each flag's help names its relations (`[not with: --pvc]`,
 * `[needs: --yes]`; yargs' own help does not show them). A flag in a relation gets no yargs
 * `default` (its zod field has it): yargs would count a default as given.
 *
 * @example
 * ```ts
 * builder: (argv) => withFlagRelations(argv, { wait: { type: 'boolean', describe: 'Wait until gone' }, yes: { type: 'boolean', describe: 'Delete' } }, { implies: { wait: ['yes'] } });
 * ```
 */
export function withFlagRelations<T>(argv: Argv<T>, options: Readonly<Record<string, Options>>, relations: FlagRelations): Argv<T> {
  const notes = new Map<string, string[]>();
  const note = (flag: string, text: string) => notes.set(flag, [...(notes.get(flag) ?? []), text]);
  const dashed = (flags: readonly string[]) => flags.map((f) => `--${f}`).join(', ');
  for (const [flag, others] of Object.entries(relations.conflicts ?? {})) note(flag, `[not with: ${dashed(others)}]`);
  for (const [flag, needed] of Object.entries(relations.implies ?? {})) note(flag, `[needs: ${dashed(needed)}]`);
  let out = argv;
  for (const [flag, option] of Object.entries(options)) {
    const { default: _dropped, ...rest } = option;
    const related = notes.get(flag);
    out = out.option(flag, related ? { ...rest, describe: `${option.describe ?? ''} ${related.join(' ')}`.trim() } : option);
  }
  for (const [flag, others] of Object.entries(relations.conflicts ?? {})) out = out.conflicts(flag, [...others]);
  for (const [flag, needed] of Object.entries(relations.implies ?? {})) out = out.implies(flag, [...needed]);
  return out;
}

/**
 * yargs' messages for flags that do not go together, in this CLI's words (set on the root).
 *
 * @example
 * ```ts
 * yargs(args).updateStrings(FLAG_RELATION_MESSAGES);
 * ```
 */
export const FLAG_RELATION_MESSAGES = {
  'Arguments %s and %s are mutually exclusive': '--%s and --%s do not go together: give one of them',
  'Implications failed:': 'a flag needs another one (flag -> the flag it needs):',
};
