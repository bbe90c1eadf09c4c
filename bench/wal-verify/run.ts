// Times the SDK's WAL scanner against `pg_waldump --quiet` over the same >= 1 GiB of real WAL,
// in the same run. Usage: npx tsx bench/wal-verify/run.ts [--wal-dir DIR] [--gib 1]
// Without --wal-dir it makes the WAL with PostgreSQL 15 (Debian's /usr/lib/postgresql/15) and pgbench.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanWal, walSegmentsFromDirectory, crc32cImplementation } from '../../packages/sdk/src/index.js';

const PG_BIN = process.env['PG_BIN'] ?? '/usr/lib/postgresql/15/bin';
const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const targetBytes = Number(option('--gib') ?? '1') * 1024 ** 3;

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
  pgbench(['-i', '-s', String(Math.ceil((targetBytes / (1024 ** 3)) * 60))]);
  while (walBytes(walDir) < targetBytes * 1.05) pgbench(['-c', '4', '-T', '15']);
  asPostgres(`${PG_BIN}/pg_ctl`, ['-D', data, '-m', 'fast', '-w', 'stop']);
  return { walDir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Runs pg_waldump under /usr/bin/time -v for its peak RSS. */
function timeWaldump(walDir: string, first: string, last: string): Promise<{ seconds: number; maxRssKiB: number; output: string }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-v', `${PG_BIN}/pg_waldump`, '--quiet', '-p', walDir, first, last]);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      resolve({ seconds, maxRssKiB: Number(rss?.[1] ?? 0), output: stderr.split('\n').filter((l) => l.includes('pg_waldump')).join('\n') });
    });
  });
}

async function main(): Promise<void> {
  const given = option('--wal-dir');
  const { walDir, cleanup } = given ? { walDir: given, cleanup: () => undefined } : makeWal();
  try {
    const names = readdirSync(walDir).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort();
    const bytes = walBytes(walDir);
    // Warm the page cache so both read from memory.
    execFileSync('cat', names.map((n) => join(walDir, n)), { stdio: ['ignore', 'ignore', 'ignore'], maxBuffer: 1 << 30 });
    const waldump = await timeWaldump(walDir, names[0]!, names.at(-1)!);
    const rssBefore = process.memoryUsage().rss;
    const started = process.hrtime.bigint();
    const report = await scanWal(await walSegmentsFromDirectory(walDir));
    const ours = Number(process.hrtime.bigint() - started) / 1e9;
    const maxRssKiB = process.resourceUsage().maxRSS;
    console.log(`WAL: ${names.length} segments, ${(bytes / 1024 ** 3).toFixed(2)} GiB in ${walDir}`);
    console.log(`ours: ${report.recordCount} records, valid ${report.firstValidLsn}..${report.lastValidLsn}, end ${report.end.reason} (CRC-32C: ${crc32cImplementation()})`);
    console.log(`pg_waldump: ${waldump.output || '(no error)'}`);
    console.log(`time      ours ${ours.toFixed(2)} s   pg_waldump --quiet ${waldump.seconds.toFixed(2)} s   ratio ${(ours / waldump.seconds).toFixed(2)}`);
    console.log(`peak RSS  ours ${(maxRssKiB / 1024).toFixed(0)} MiB (process, rss before scan ${(rssBefore / 1024 ** 2).toFixed(0)} MiB)   pg_waldump ${(waldump.maxRssKiB / 1024).toFixed(0)} MiB`);
    console.log(`throughput ours ${(bytes / 1024 ** 2 / ours).toFixed(0)} MiB/s   pg_waldump ${(bytes / 1024 ** 2 / waldump.seconds).toFixed(0)} MiB/s`);
  } finally {
    if (!given && !args.includes('--keep')) cleanup();
  }
}

await main();
