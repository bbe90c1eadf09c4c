import { UsageError } from './usage-error.js';

// µ written as \u00b5: the bundles stay ASCII-only (V8 stores a source with any other character in
// two bytes per character, which doubles the single executable's startup snapshot).
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, '\u00b5s': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration as kubectl's `--timeout` and `--request-timeout` do (Go's `time.ParseDuration`):
 * one or more `<number><unit>` with unit `ns`, `us`, `ms`, `s`, `m`, `h` (`90s`, `5m`, `1h30m`,
 * `1.5h`), or `0`. A bare number other than 0 is refused: kubectl would read `--timeout=30` as an
 * error too, and guessing seconds or milliseconds hides mistakes.
 *
 * @throws UsageError naming the flag and the accepted form.
 * @example
 * ```ts
 * parseKubeDuration('1m30s', '--timeout'); // 90000
 * ```
 */
export function parseKubeDuration(text: string, flag: string): number {
  const value = text.trim();
  if (value === '0') return 0;
  if (!/^(\d+(\.\d+)?(ns|us|\u00b5s|ms|s|m|h))+$/.test(value)) {
    throw new UsageError(`${flag}: "${text}" is not a duration; use a number with a unit (ms, s, m, h), e.g. 90s, 5m, 1h30m`);
  }
  let ms = 0;
  for (const m of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return Math.round(ms);
}

/**
 * A duration in kubectl's short style for ages: `45s`, `12m`, `3h5m`, `4d6h`, `400d`.
 *
 * @example
 * ```ts
 * formatAge(3 * 3_600_000 + 5 * 60_000); // '3h5m'
 * ```
 */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return `${d}d${h % 24 ? `${h % 24}h` : ''}`;
  return `${d}d`;
}

/**
 * A duration as the timings of a run print it: seconds with one decimal.
 *
 * @example
 * ```ts
 * formatSeconds(7_940); // '7.9s'
 * ```
 */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
