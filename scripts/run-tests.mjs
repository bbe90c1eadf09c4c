#!/usr/bin/env node
// `npm test`'s test step: two vitest runs in one summary. The first runs the `lifecycle` tier alone
// (it starts and kills whole clusters with a node, and a machine runs one node at a time); the
// second runs every other tier, the `cluster` tier on one shared cluster. The summary reporter adds
// the first run's counts to the second's last line (DBAAS_TEST_SUMMARY_FILE).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const dir = mkdtempSync(path.join(tmpdir(), 'dbaas-test-summary-'));
const summary = path.join(dir, 'summary.json');

function vitest(args, extraEnv) {
  return new Promise((resolve) => {
    const child = spawn('vitest', ['run', ...args], {
      stdio: 'inherit',
      env: { ...process.env, DBAAS_TEST_SUMMARY_FILE: summary, ...extraEnv },
    });
    child.on('error', (err) => {
      console.error(`cannot run vitest: ${err.message} (run through npm, which puts node_modules/.bin on PATH)`);
      resolve(1);
    });
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

let code = 1;
try {
  const lifecycle = await vitest(['--project', 'lifecycle'], { DBAAS_TEST_LIFECYCLE: '1' });
  const rest = await vitest([], {});
  code = lifecycle !== 0 ? lifecycle : rest;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode = code;
