import type { OutputFormat } from './global-options.js';
import { UsageError } from './usage-error.js';

/**
 * How a command prints its result: `text` for people; `name` (optional) for `-o name`: what the
 * result is called, one per line (kubectl prints `kind/name`; each command decides its own).
 *
 * @example
 * ```ts
 * const renderers: Renderers<{ source: string }> = { text: (r) => `source: ${r.source}`, name: (r) => r.source };
 * ```
 */
export interface Renderers<T> {
  text: (result: T) => string;
  name?: (result: T) => string | readonly string[];
}

/**
 * Writes a command's result to stdout in the chosen format. `json` and `yaml` print one document
 * and nothing else; `text` uses the command's own renderer; `name` prints the names the command
 * gives its result, one per line (a usage error for a command that has none). The YAML library is
 * loaded only for `-o yaml`.
 *
 * @example
 * ```ts
 * await writeResult({ source: '/pgdata' }, 'name', { text: (r) => r.source, name: (r) => r.source });
 * // prints "/pgdata\n"
 * ```
 */
export async function writeResult<T>(
  result: T,
  format: OutputFormat,
  render: ((result: T) => string) | Renderers<T>,
  write: (text: string) => void = (text) => process.stdout.write(text),
): Promise<void> {
  const renderers: Renderers<T> = typeof render === 'function' ? { text: render } : render;
  let text: string;
  if (format === 'json') text = JSON.stringify(result, jsonReplacer, 2);
  else if (format === 'yaml') text = (await loadYaml()).stringify(result, yamlReplacer);
  else if (format === 'name') {
    if (!renderers.name) throw new UsageError('this command has no -o name output; use -o text, json or yaml');
    const names = renderers.name(result);
    text = (typeof names === 'string' ? [names] : names).join('\n');
    if (text === '') return; // nothing to name: print nothing, as kubectl does for an empty list
  } else text = renderers.text(result);
  write(text.endsWith('\n') ? text : `${text}\n`);
}

/**
 * Prints a dry run: the objects it would create as one `List`, and what the plan found, line by
 * line. For `-o text` the list is YAML on stdout preceded by the lines as `# ` comments (a file
 * `kubectl apply -f` takes as it is); for the other formats the lines go to stderr and the list to
 * stdout in that format (`name`: `names` of the list).
 *
 * @example
 * ```ts
 * await writeDryRun(['mode fenced'], { apiVersion: 'v1', kind: 'List', items: [] }, 'text', () => []);
 * ```
 */
export async function writeDryRun<L extends { items: readonly unknown[] }>(
  lines: readonly string[],
  list: L,
  format: OutputFormat,
  names: (list: L) => readonly string[],
): Promise<void> {
  if (format === 'text') {
    const comments = lines.map((l) => `# ${l}\n`).join('');
    await writeResult(
      list,
      'yaml',
      () => '',
      (text) => process.stdout.write(`${comments}${text}`),
    );
    return;
  }
  process.stderr.write(lines.map((l) => `${l}\n`).join(''));
  await writeResult(list, format, { text: () => '', name: names });
}

/** The YAML library, loaded on first use (bundled as CommonJS: its functions may sit on `default`). */
async function loadYaml(): Promise<{ stringify: typeof import('yaml').stringify }> {
  const loaded: typeof import('yaml') & { default?: typeof import('yaml') } = await import('yaml');
  return typeof loaded.stringify === 'function' ? loaded : loaded.default!;
}

/** bigint values (LSNs, sizes) print as decimal strings: JSON has no 64-bit integers. */
function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

function yamlReplacer(_key: unknown, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * Renders rows of label/value pairs as aligned text; empty values are left out.
 *
 * @example
 * ```ts
 * renderFields([['a', 1], ['long label', 'x']]); // 'a:          1\nlong label: x'
 * ```
 */
export function renderFields(fields: ReadonlyArray<readonly [string, string | number | boolean | undefined | null]>): string {
  const shown = fields.filter(([, value]) => value !== undefined && value !== null && value !== '');
  const width = Math.max(0, ...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${`${label}:`.padEnd(width + 2)}${String(value)}`).join('\n');
}

/**
 * Renders rows as kubectl prints tables: upper-case headers, columns padded to their widest cell
 * and separated by three spaces, no trailing spaces; an empty cell prints `<none>`.
 *
 * @example
 * ```ts
 * renderTable(['NAME', 'STATE'], [['nightly', 'ready']]); // 'NAME      STATE\nnightly   ready'
 * ```
 */
export function renderTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | undefined>>): string {
  const cells = [headers, ...rows.map((row) => headers.map((_, i) => (row[i] === undefined || row[i] === '' ? '<none>' : row[i]!)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! + 3)))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}
