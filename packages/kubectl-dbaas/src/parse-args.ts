import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { UsageError } from './usage-error.js';

// zod/mini loads no messages by default ("Invalid input"); the English ones name what was expected.
z.config(en());

/**
 * Turns yargs' untyped argv into a command's typed arguments. A failure is a usage error (exit 2)
 * that names each bad flag.
 */
export function parseArgs<Schema extends z.ZodMiniType>(schema: Schema, argv: unknown): z.infer<Schema> {
  const parsed = schema.safeParse(argv);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const flag =
      issue.path.length > 0
        ? `--${issue.path
            .map(String)
            .join('.')
            .replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`
        : 'arguments';
    return `${flag}: ${issue.message}`;
  });
  throw new UsageError(problems.join('\n'));
}
