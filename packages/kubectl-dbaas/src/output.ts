import { stringify as toYaml } from 'yaml';
import type { OutputFormat } from './global-options.js';

/**
 * Writes a command's result to stdout in the chosen format. `json` and `yaml` print one document
 * and nothing else; `text` uses the command's own renderer.
 */
export function writeResult<T>(
  result: T,
  format: OutputFormat,
  renderText: (result: T) => string,
  write: (text: string) => void = (text) => process.stdout.write(text),
): void {
  const text =
    format === 'json' ? JSON.stringify(result, jsonReplacer, 2) : format === 'yaml' ? toYaml(result, yamlReplacer) : renderText(result);
  write(text.endsWith('\n') ? text : `${text}\n`);
}

/** bigint values (LSNs, sizes) print as decimal strings: JSON has no 64-bit integers. */
function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

function yamlReplacer(_key: unknown, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** Renders rows of label/value pairs as aligned text. */
export function renderFields(fields: ReadonlyArray<readonly [string, string | number | boolean | undefined | null]>): string {
  const shown = fields.filter(([, value]) => value !== undefined && value !== null && value !== '');
  const width = Math.max(0, ...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${`${label}:`.padEnd(width + 2)}${String(value)}`).join('\n');
}
