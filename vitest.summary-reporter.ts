import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

/** Counts carried from one vitest run to the next of `npm test` (scripts/run-tests.mjs). */
interface Carried {
  passed: number;
  failed: number;
  skipped: string[];
}

/**
 * Ends the run with one plain line, `Tests: N passed, N failed, N skipped`, that any CI can read.
 * Skipped tests are listed with their names, so a skip is never mistaken for a pass. With
 * `DBAAS_TEST_SUMMARY_FILE` set, the counts of the runs before (written to that file) are added, so
 * the last line of `npm test` counts every test of its runs.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    const skipped: string[] = [];
    for (const testModule of testModules) {
      for (const test of testModule.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        else skipped.push(`${testModule.moduleId.replace(`${process.cwd()}/`, '')} > ${test.fullName}`);
      }
      if (testModule.state() === 'failed' && [...testModule.children.allTests()].length === 0) failed += 1;
    }
    const file = process.env.DBAAS_TEST_SUMMARY_FILE;
    if (file) {
      const before: Carried = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Carried) : { passed: 0, failed: 0, skipped: [] };
      passed += before.passed;
      failed += before.failed;
      skipped.unshift(...before.skipped);
      writeFileSync(file, JSON.stringify({ passed, failed, skipped } satisfies Carried));
    }
    for (const name of skipped) process.stdout.write(`skipped: ${name}\n`);
    process.stdout.write(`Tests: ${passed} passed, ${failed} failed, ${skipped.length} skipped\n`);
  }
}
