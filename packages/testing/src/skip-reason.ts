// Test options that skip a test (or a describe block) and say why, in the form the root's summary
// reporter (vitest.summary-reporter.ts) prints in its final `skipped:` list. vitest's
// `it.skipIf(condition)` records no reason; `it(name, skipWhen(reason), fn)` does.
// Plain data: nothing of vitest is imported here.

/**
 * Options for `it(name, options, fn)` / `describe(name, options, fn)`: skipped when `reason` is
 * defined, with the reason in the test's meta (`skipReason`).
 *
 * @example
 * ```ts
 * it('restores a backup', skipWhen(info.hostpathUnavailable), async () => { ... });
 * describe('MariaDB fixtures', skipWhen(mariadbUnavailable()), () => { ... });
 * ```
 */
export function skipWhen(reason: string | undefined): { skip: boolean; meta: object } {
  return { skip: reason !== undefined, meta: reason === undefined ? {} : { skipReason: reason } };
}

/**
 * The reason a skipped test carries: its own `ctx.skip(note)`, else the `skipReason` of its own
 * meta or of the nearest enclosing describe block that has one.
 *
 * @example
 * ```ts
 * skipReasonOf(undefined, [{}, { skipReason: 'no CSI hostpath plugin' }]); // 'no CSI hostpath plugin'
 * ```
 */
export function skipReasonOf(note: string | undefined, metas: ReadonlyArray<object>): string | undefined {
  if (note) return note;
  for (const meta of metas) {
    const reason = (meta as { skipReason?: unknown }).skipReason;
    if (typeof reason === 'string' && reason !== '') return reason;
  }
  return undefined;
}
