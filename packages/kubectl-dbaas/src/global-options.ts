import type { Argv } from 'yargs';
import { z } from 'zod';

/** Output formats every command understands, as kubectl's `-o`. */
export const OUTPUT_FORMATS = ['text', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** kubectl's global flags, declared once at the root and parsed with zod, never cast. */
export const globalOptionsSchema = z.object({
  kubeconfig: z.string().min(1).optional(),
  context: z.string().min(1).optional(),
  namespace: z.string().min(1).optional(),
  allNamespaces: z.boolean().default(false),
  output: z.enum(OUTPUT_FORMATS).default('text'),
});
export type GlobalOptions = z.infer<typeof globalOptionsSchema>;

/** Adds kubectl's global flags to the root command. */
export function withGlobalOptions<T>(argv: Argv<T>) {
  return argv
    .option('kubeconfig', { type: 'string', describe: 'Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)', global: true })
    .option('context', { type: 'string', describe: 'The kubeconfig context to use', global: true })
    .option('namespace', { alias: 'n', type: 'string', describe: "Namespace (default: the context's namespace)", global: true })
    .option('all-namespaces', { alias: 'A', type: 'boolean', describe: 'Across all namespaces', global: true })
    .option('output', { alias: 'o', choices: OUTPUT_FORMATS, default: 'text' as OutputFormat, describe: 'Output format', global: true });
}
