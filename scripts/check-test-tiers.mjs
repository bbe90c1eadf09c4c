#!/usr/bin/env node
// Fails when a test file of the repository (git ls-files '*.test.ts') is in no vitest project of
// vitest.config.ts or in more than one: a file in none never runs (a test that cannot fail), a file
// in two runs with two tiers' needs. Asks vitest itself which project's include/exclude takes each
// file, with every tier on (DBAAS_TEST_LIFECYCLE=1 adds the lifecycle project); runs no test and
// starts no cluster. Run by `npm test` before the tests.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createVitest } from 'vitest/node';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.DBAAS_TEST_LIFECYCLE = '1';

const tracked = execFileSync('git', ['ls-files', '-z', '--', '*.test.ts'], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter((file) => file !== '')
  .map((file) => path.join(root, file));

const vitest = await createVitest('test', { watch: false, root, config: path.join(root, 'vitest.config.ts') });
let projectsOf;
try {
  projectsOf = new Map(tracked.map((file) => [file, []]));
  for (const spec of await vitest.globTestSpecifications()) {
    const names = projectsOf.get(spec.moduleId);
    // A file vitest finds that git does not track (a stray local file) is none of this check's business.
    if (names !== undefined) names.push(spec.project.name);
  }
} finally {
  await vitest.close();
}

const problems = [...projectsOf].flatMap(([file, names]) => {
  const relative = path.relative(root, file);
  if (names.length === 0)
    return [`${relative}: in no test project (name it *.test.ts under packages/*/src for unit, or *.<tier>.test.ts; see vitest.config.ts)`];
  if (names.length > 1) return [`${relative}: in ${names.length} test projects (${names.join(', ')}); a file belongs to exactly one tier`];
  return [];
});
if (problems.length > 0) {
  for (const problem of problems) console.error(`check-test-tiers: ${problem}`);
  process.exitCode = 1;
} else {
  console.log(`check-test-tiers: ${tracked.length} test files, each in exactly one project`);
}
