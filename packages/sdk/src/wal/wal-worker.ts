// Worker-thread entry of the segment pool (wal-parallel.ts): summarises the segment files it is
// sent, one at a time, and posts each summary back. Built by tsup as dist/wal-worker.{js,cjs}.
import { parentPort } from 'node:worker_threads';
import { readFileChunks, type SegmentScanOptions } from './wal-parallel.js';
import { summarizeWalSegment } from './wal-scanner.js';

interface Job {
  id: number;
  name: string;
  path: string;
  options: SegmentScanOptions;
}

const port = parentPort;
if (port !== null) {
  port.on('message', (job: Job) => {
    summarizeWalSegment(job.name, readFileChunks(job.path), job.options).then(
      (summary) => port.postMessage({ id: job.id, summary }),
      (error: unknown) => {
        const e = error as NodeJS.ErrnoException;
        port.postMessage({
          id: job.id,
          error: { message: e?.message ?? String(error), code: e?.code, errno: e?.errno, syscall: e?.syscall, path: e?.path },
        });
      },
    );
  });
}
