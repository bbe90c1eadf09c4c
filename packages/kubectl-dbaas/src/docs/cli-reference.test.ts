import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { helpText, renderCliReference } from './cli-reference.js';

const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../docs/cli.md');

describe('docs/cli.md', () => {
  it('is what scripts/gen-docs.ts generates from the command definitions (run it after changing a command)', async () => {
    const committed = readFileSync(DOC, 'utf8');
    expect(committed, 'docs/cli.md is stale: run npx tsx packages/kubectl-dbaas/scripts/gen-docs.ts').toBe(await renderCliReference());
  });

  it('documents every command, the exit codes and -o name', async () => {
    const doc = await renderCliReference();
    for (const command of [
      'backup create',
      'backup list',
      'backup describe',
      'backup delete',
      'backup prune',
      'restore',
      'verify',
      'wal inspect',
      'wal status',
      'completion',
      'version',
    ])
      expect(doc).toContain(`### \`kubectl dbaas ${command}\``);
    expect(doc).toMatch(/\| 2 \| Usage error/);
    expect(doc).toContain('| `name` |');
  });
});

describe('helpText', () => {
  it('renders a command help without running it', async () => {
    const help = await helpText(['wal', 'inspect']);
    expect(help).toContain('kubectl dbaas wal inspect [source]');
    expect(help).toContain('--atomic-snapshot');
    expect(help).toContain('--output');
  });
});
