// Times the SDK's WAL scanner against `pg_waldump --quiet` over the same >= 1 GiB of real WAL,
// in the same run, and prints wall time, CPU time and peak memory of both (see bench/README.md).
// Usage: npx tsx bench/wal-verify/run.ts [--wal-dir DIR] [--gib 1] [--runs 3] [--workers N] [--json FILE] [--keep]
// Without --wal-dir it makes the WAL with PostgreSQL 15 (Debian's /usr/lib/postgresql/15) and pgbench.
// The last line of stdout is the result as JSON (also written to --json FILE when given).
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanWal, walSegmentsFromDirectory, crc32cImplementation, type WalScanReport } from '../../packages/sdk/src/index.js';

const PG_BIN = process.env['PG_BIN'] ?? '/usr/lib/postgresql/15/bin';
const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const targetBytes = Number(option('--gib') ?? '1') * 1024 ** 3;
const runs = Math.max(1, Number(option('--runs') ?? '3'));
const workersOption = option('--workers');
const workers = workersOption === undefined ? undefined : Number(workersOption);

function asPostgres(command: string, commandArgs: string[]): string {
  const isRoot = process.getuid?.() === 0;
  const [file, fileArgs] = isRoot ? ['runuser', ['-u', 'postgres', '--', command, ...commandArgs]] : [command, commandArgs];
  return execFileSync(file, fileArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function walBytes(dir: string): number {
  return readdirSync(dir)
    .filter((n) => /^[0-9A-F]{24}$/.test(n))
    .reduce((sum, n) => sum + statSync(join(dir, n)).size, 0);
}

function makeWal(): { walDir: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'wal-bench-'));
  chmodSync(root, 0o777);
  const data = join(root, 'data');
  asPostgres(`${PG_BIN}/initdb`, ['-D', data, '-U', 'postgres', '-A', 'trust']);
  writeFileSync(
    join(data, 'postgresql.auto.conf'),
    "max_wal_size = '64GB'\nwal_keep_size = '64GB'\ncheckpoint_timeout = '1h'\nfsync = off\nsynchronous_commit = off\n",
  );
  const port = String(50000 + Math.floor(Math.random() * 10000));
  asPostgres(`${PG_BIN}/pg_ctl`, ['-D', data, '-o', `-p ${port} -k ${root}`, '-l', join(root, 'log'), '-w', 'start']);
  const walDir = join(data, 'pg_wal');
  const pgbench = (extra: string[]): string => asPostgres(`${PG_BIN}/pgbench`, ['-h', root, '-p', port, '-U', 'postgres', ...extra, 'postgres']);
  pgbench(['-i', '-s', String(Math.ceil((targetBytes / 1024 ** 3) * 60))]);
  while (walBytes(walDir) < targetBytes * 1.05) pgbench(['-c', '4', '-T', '15']);
  asPostgres(`${PG_BIN}/pg_ctl`, ['-D', data, '-m', 'fast', '-w', 'stop']);
  return { walDir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

interface Measurement {
  wallSeconds: number;
  /** User + system CPU seconds (all threads). */
  cpuSeconds: number;
  userSeconds: number;
  systemSeconds: number;
  maxRssMiB: number;
}

/** Runs pg_waldump under /usr/bin/time -v: its rusage (CPU, peak RSS) is the child's own. */
function timeWaldump(walDir: string, first: string, last: string): Promise<Measurement & { output: string }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-v', `${PG_BIN}/pg_waldump`, '--quiet', '-p', walDir, first, last]);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      const field = (label: string): number => Number(new RegExp(`${label}: ([\\d.]+)`).exec(stderr)?.[1] ?? Number.NaN);
      const userSeconds = field('User time \\(seconds\\)');
      const systemSeconds = field('System time \\(seconds\\)');
      resolve({
        wallSeconds,
        userSeconds,
        systemSeconds,
        cpuSeconds: userSeconds + systemSeconds,
        maxRssMiB: field('Maximum resident set size \\(kbytes\\)') / 1024,
        output: stderr
          .split('\n')
          .filter((l) => l.startsWith('pg_waldump'))
          .join('\n'),
      });
    });
  });
}

/** Our scan, in this process; CPU from process.resourceUsage(), which counts the worker threads too. */
async function timeOurs(walDir: string): Promise<Measurement & { report: WalScanReport }> {
  const before = process.resourceUsage();
  const started = process.hrtime.bigint();
  const report = await scanWal(await walSegmentsFromDirectory(walDir), workers === undefined ? {} : { workers });
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const after = process.resourceUsage();
  const userSeconds = (after.userCPUTime - before.userCPUTime) / 1e6;
  const systemSeconds = (after.systemCPUTime - before.systemCPUTime) / 1e6;
  return { wallSeconds, userSeconds, systemSeconds, cpuSeconds: userSeconds + systemSeconds, maxRssMiB: after.maxRSS / 1024, report };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(): Promise<void> {
  const given = option('--wal-dir');
  const { walDir, cleanup } = given ? { walDir: given, cleanup: () => undefined } : makeWal();
  try {
    const names = readdirSync(walDir)
      .filter((n) => /^[0-9A-F]{24}$/.test(n))
      .sort();
    const bytes = walBytes(walDir);
    // Warm the page cache so both read from memory.
    execFileSync(
      'cat',
      names.map((n) => join(walDir, n)),
      { stdio: ['ignore', 'ignore', 'ignore'], maxBuffer: 1 << 30 },
    );
    const rssBeforeMiB = process.memoryUsage().rss / 1024 ** 2;
    const oursRuns: Array<Measurement & { report: WalScanReport }> = [];
    const waldumpRuns: Array<Measurement & { output: string }> = [];
    // Alternate the two so that a busy machine slows both alike; report medians.
    for (let run = 0; run < runs; run++) {
      waldumpRuns.push(await timeWaldump(walDir, names[0]!, names.at(-1)!));
      oursRuns.push(await timeOurs(walDir));
    }
    const report = oursRuns[0]!.report;
    const waldumpErrorAt = /error in WAL record at ([0-9A-F]+\/[0-9A-F]+)/.exec(waldumpRuns[0]!.output)?.[1];
    const summarize = (list: Measurement[]) => ({
      wallSeconds: median(list.map((m) => m.wallSeconds)),
      cpuSeconds: median(list.map((m) => m.cpuSeconds)),
      userSeconds: median(list.map((m) => m.userSeconds)),
      systemSeconds: median(list.map((m) => m.systemSeconds)),
      maxRssMiB: Math.max(...list.map((m) => m.maxRssMiB)),
      wallRuns: list.map((m) => Number(m.wallSeconds.toFixed(3))),
      cpuRuns: list.map((m) => Number(m.cpuSeconds.toFixed(3))),
    });
    const ours = summarize(oursRuns);
    const waldump = summarize(waldumpRuns);
    const result = {
      bench: 'wal-verify',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, availableParallelism: availableParallelism(), model: cpus()[0]?.model, loadAverage: (await import('node:os')).loadavg() },
      walDir,
      segments: names.length,
      bytes,
      runs,
      ours: {
        ...ours,
        rssBeforeScanMiB: Number(rssBeforeMiB.toFixed(1)),
        workers: workers ?? 'default',
        crc32c: crc32cImplementation(),
        records: report.recordCount,
        lastRecordLsn: report.lastRecordLsn,
        end: report.end.reason,
      },
      pgWaldump: { ...waldump, output: waldumpRuns[0]!.output },
      // pg_waldump stops at the same record when it reports an error in the last valid record's successor.
      sameEnd: waldumpErrorAt === undefined ? null : waldumpErrorAt === report.lastRecordLsn,
      wallRatio: ours.wallSeconds / waldump.wallSeconds,
      cpuRatio: ours.cpuSeconds / waldump.cpuSeconds,
    };
    const mib = bytes / 1024 ** 2;
    console.log(`WAL: ${names.length} segments, ${bytes} bytes (${(bytes / 1024 ** 3).toFixed(2)} GiB) in ${walDir}; ${runs} run(s) each, medians`);
    console.log(
      `ours: ${report.recordCount} records, valid ${report.firstValidLsn}..${report.lastValidLsn}, end ${report.end.reason} (CRC-32C: ${crc32cImplementation()}, workers: ${workers ?? 'default'})`,
    );
    console.log(`pg_waldump: ${waldumpRuns[0]!.output || '(no error)'}`);
    console.log(`same end as pg_waldump: ${result.sameEnd === null ? 'n/a' : result.sameEnd}`);
    console.log(
      `wall      ours ${ours.wallSeconds.toFixed(3)} s   pg_waldump ${waldump.wallSeconds.toFixed(3)} s   ratio ${result.wallRatio.toFixed(2)}   (runs: ours ${ours.wallRuns.join(' ')}; pg_waldump ${waldump.wallRuns.join(' ')})`,
    );
    console.log(
      `CPU       ours ${ours.cpuSeconds.toFixed(3)} s (user ${ours.userSeconds.toFixed(3)} + sys ${ours.systemSeconds.toFixed(3)})   pg_waldump ${waldump.cpuSeconds.toFixed(3)} s (user ${waldump.userSeconds.toFixed(3)} + sys ${waldump.systemSeconds.toFixed(3)})   ratio ${result.cpuRatio.toFixed(2)}`,
    );
    console.log(
      `peak RSS  ours ${ours.maxRssMiB.toFixed(0)} MiB (whole process incl. node and tsx; ${rssBeforeMiB.toFixed(0)} MiB before the scans)   pg_waldump ${waldump.maxRssMiB.toFixed(1)} MiB`,
    );
    console.log(
      `throughput ours ${(mib / ours.wallSeconds).toFixed(0)} MiB/s wall, ${(mib / ours.cpuSeconds).toFixed(0)} MiB/CPU-s   pg_waldump ${(mib / waldump.wallSeconds).toFixed(0)} MiB/s wall, ${(mib / waldump.cpuSeconds).toFixed(0)} MiB/CPU-s`,
    );
    const json = JSON.stringify(result);
    const jsonFile = option('--json');
    if (jsonFile !== undefined) writeFileSync(jsonFile, `${json}\n`);
    console.log(json);
  } finally {
    if (!given && !args.includes('--keep')) cleanup();
  }
}

await main();
