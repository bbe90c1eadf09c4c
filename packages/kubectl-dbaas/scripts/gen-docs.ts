// Writes docs/cli.md, the CLI reference, from the command definitions (their --help texts).
//   npx tsx packages/kubectl-dbaas/scripts/gen-docs.ts
// src/docs/cli-reference.test.ts fails when the committed file differs from what this writes.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCliReference } from '../src/docs/cli-reference.js';

const target = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/cli.md');
await writeFile(target, await renderCliReference());
process.stdout.write(`wrote ${target}\n`);
