import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Reporter, TestCase, TestModule } from 'vitest/node';
import { skipReasonOf } from './packages/testing/src/skip-reason.js';

function moduleName(testModule: TestModule): string {
  return testModule.moduleId.replace(`${process.cwd()}/`, '');
}

/** Why a skipped test was skipped: its ctx.skip(note), else skipWhen's reason on it or a describe around it. */
function reasonOf(test: TestCase): string | undefined {
  const result = test.result();
  const metas: object[] = [test.meta()];
  for (let parent = test.parent; parent.type === 'suite'; parent = parent.parent) metas.push(parent.meta());
  return skipReasonOf(result.state === 'skipped' ? result.note : undefined, metas);
}

/** Counts carried from one vitest run to the next of `npm test` (scripts/run-tests.mjs). */
interface Carried {
  passed: number;
  failed: string[];
  skipped: string[];
}

/** The first line of a failed test's first error: enough to tell which failure it was from a log's tail. */
function firstErrorLine(test: TestCase): string {
  const error = test.result().errors?.[0];
  const line = (error?.message ?? 'no error recorded').split('\n')[0]!;
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/**
 * Ends the run with one plain line, `Tests: N passed, N failed, N skipped`, that any CI can read,
 * after a `failed:` line for each failure (its first error line) and a `skipped:` line for each skip.
 * Skipped tests are listed with their names and why they were skipped (ctx.skip(note), or
 * skipWhen(reason) of packages/testing on the test or a describe around it), so a skip is never
 * mistaken for a pass. With `DBAAS_TEST_SUMMARY_FILE` set, the counts of the runs before (written
 * to that file) are added, so the last line of `npm test` counts every test of its runs.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    const failed: string[] = [];
    const skipped: string[] = [];
    for (const testModule of testModules) {
      for (const test of testModule.children.allTests()) {
        const state = test.result().state;
        const name = `${moduleName(testModule)} > ${test.fullName}`;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed.push(`${name}: ${firstErrorLine(test)}`);
        else skipped.push(`${name}: ${reasonOf(test) ?? 'NO REASON GIVEN (skip with skipWhen(reason) or ctx.skip(reason))'}`);
      }
      // A failed beforeAll leaves its tests skipped without a reason: the hook's error is the failure.
      for (const suite of testModule.children.allSuites()) {
        const error = suite.errors()[0];
        if (error) failed.push(`${moduleName(testModule)} > ${suite.fullName}: ${(error.message ?? 'failed').split('\n')[0]}`);
      }
      const moduleError = testModule.errors()[0];
      if (moduleError || (testModule.state() === 'failed' && [...testModule.children.allTests()].length === 0)) {
        failed.push(`${moduleName(testModule)}: ${(moduleError?.message ?? 'the file failed to load').split('\n')[0]}`);
      }
    }
    const file = process.env.DBAAS_TEST_SUMMARY_FILE;
    if (file) {
      const before: Carried = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Carried) : { passed: 0, failed: [], skipped: [] };
      passed += before.passed;
      failed.unshift(...before.failed);
      skipped.unshift(...before.skipped);
      writeFileSync(file, JSON.stringify({ passed, failed, skipped } satisfies Carried));
    }
    for (const name of skipped) process.stdout.write(`skipped: ${name}\n`);
    // Failures last, just above the count: a CI log's tail then names every failure of every run.
    for (const name of failed) process.stdout.write(`failed: ${name}\n`);
    process.stdout.write(`Tests: ${passed} passed, ${failed.length} failed, ${skipped.length} skipped\n`);
  }
}
