// The release configuration (.changeset/config.json) against the workspace as it is: what
// `changeset status`, `changeset version` and `changeset publish` read first, with the same code
// (@changesets/config's readConfig: the workspace's packages found by @manypkg/get-packages, the
// config checked against them). A published package that depends on the ignored testing package
// (the CLI once declared it as an optional peer dependency) makes every changeset command refuse
// the repository; this fails first, in the unit tier, without git or a network.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfig } from '@changesets/config';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

describe('.changeset/config.json', () => {
  it('is valid for this workspace: no errors or warnings; the SDK and the CLI share a version, the testing package is not released', async () => {
    const { config, errors, warnings } = await readConfig(ROOT);
    expect(errors, 'changesets refuses the configuration (npx changeset status shows the same)').toBeUndefined();
    expect(warnings).toEqual([]);
    expect(config?.fixed.map((group) => [...group].sort())).toEqual([['@kubectl-dbaas/sdk', 'kubectl-dbaas']]);
    expect(config?.ignore).toEqual(['@kubectl-dbaas/testing']);
  });
});
