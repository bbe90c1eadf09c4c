import type { Argv } from 'yargs';
// zod/mini: the same parsing as zod with tree-shakable functions; the CLI loads ~35 KB of it at
// start-up instead of ~750 KB (bench/cli-startup).
import * as z from 'zod/mini';

/**
 * Output formats every command understands, as kubectl's `-o`: `name` prints only what the
 * command's result is called (one per line), for scripts.
 *
 * @example
 * ```ts
 * OUTPUT_FORMATS.includes('name'); // true
 * ```
 */
export const OUTPUT_FORMATS = ['text', 'json', 'yaml', 'name'] as const;

/** One of {@link OUTPUT_FORMATS}. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * kubectl's global flags, declared once at the root and parsed with zod, never cast.
 *
 * @example
 * ```ts
 * globalOptionsSchema.parse({ output: 'json' }).allNamespaces; // false
 * ```
 */
export const globalOptionsSchema = z.object({
  kubeconfig: z.optional(z.string().check(z.minLength(1))),
  context: z.optional(z.string().check(z.minLength(1))),
  namespace: z.optional(z.string().check(z.minLength(1))),
  allNamespaces: z._default(z.boolean(), false),
  output: z._default(z.enum(OUTPUT_FORMATS), 'text'),
});

/** The parsed global flags. */
export type GlobalOptions = z.infer<typeof globalOptionsSchema>;

/**
 * Adds kubectl's global flags to the root command.
 *
 * @example
 * ```ts
 * withGlobalOptions(yargs(['-o', 'json'])).parseSync().output; // 'json'
 * ```
 */
export function withGlobalOptions<T>(argv: Argv<T>) {
  return argv
    .option('kubeconfig', { type: 'string', describe: 'Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)', global: true })
    .option('context', { type: 'string', describe: 'The kubeconfig context to use', global: true })
    .option('namespace', { alias: 'n', type: 'string', describe: "Namespace (default: the context's namespace)", global: true })
    .option('all-namespaces', { alias: 'A', type: 'boolean', describe: 'Across all namespaces', global: true })
    .option('output', { alias: 'o', choices: OUTPUT_FORMATS, default: 'text' as OutputFormat, describe: 'Output format', global: true });
}
