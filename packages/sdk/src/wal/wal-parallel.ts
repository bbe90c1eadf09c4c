// Summarises WAL segment files on a small pool of worker threads. Segments are independent until
// joinWalSegmentSummaries, so each worker scans whole files and sends back their summaries (plain
// data: structured clone carries the bigints and byte arrays). The worker entry is wal-worker.ts,
// built by tsup as dist/wal-worker.js and dist/wal-worker.cjs beside the bundle that loads it.
import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { WalScanOptions, WalSegmentSummary } from './wal-scanner.js';
import { walWasm } from './wal-wasm.js';

/** Read size of a segment file: large enough for few syscalls, small enough to stay in L2 cache. */
const READ_CHUNK = 1024 * 1024;

export type SegmentScanOptions = Omit<WalScanOptions, 'workers' | 'maxBytes'>;

type Summarize = (name: string, data: Iterable<Uint8Array>, options: SegmentScanOptions) => Promise<WalSegmentSummary>;

/** The chunks of a file, read synchronously into one reused buffer (the scanner copies what it keeps). */
export function* readFileChunks(path: string): Generator<Uint8Array> {
  const fd = openSync(path, 'r');
  const buffer = takeBuffer();
  try {
    for (;;) {
      const read = readSync(fd, buffer, 0, READ_CHUNK, null);
      if (read === 0) return;
      yield read === READ_CHUNK ? buffer : buffer.subarray(0, read);
    }
  } finally {
    returnBuffer(buffer);
    closeSync(fd);
  }
}

/** One read buffer kept for the next file (a fresh megabyte per segment only feeds the GC). */
let spareBuffer: Uint8Array | undefined;
/** The read buffer inside the WebAssembly memory, once handed out: the scanner walks pages where they were read. */
let wasmBuffer: Uint8Array | undefined;

/** A read buffer that nobody else uses until {@link returnBuffer}. */
function takeBuffer(): Uint8Array {
  if (spareBuffer !== undefined) {
    const buffer = spareBuffer;
    spareBuffer = undefined;
    return buffer;
  }
  if (wasmBuffer === undefined) {
    wasmBuffer = walWasm()?.readBuffer(READ_CHUNK);
    if (wasmBuffer !== undefined) return wasmBuffer;
  }
  return new Uint8Array(READ_CHUNK);
}

function returnBuffer(buffer: Uint8Array): void {
  if (spareBuffer === undefined || buffer === wasmBuffer) spareBuffer = buffer;
}

/** Like {@link readFileChunks}, without blocking the thread on the reads. */
export async function* readFileChunksAsync(path: string): AsyncGenerator<Uint8Array> {
  const handle = await open(path, 'r');
  const buffer = takeBuffer();
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, null);
      if (bytesRead === 0) return;
      yield bytesRead === READ_CHUNK ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    returnBuffer(buffer);
    await handle.close();
  }
}

/** Default pool size: one worker per core, none on a single core (the calling thread scans). */
export function defaultWorkerCount(segments: number): number {
  const configured = process.env['KUBECTL_DBAAS_WAL_WORKERS'];
  const cores = configured !== undefined && /^\d+$/.test(configured) ? Number(configured) : availableParallelism();
  return cores > 1 ? Math.min(cores, segments) : 0;
}

interface Job {
  id: number;
  name: string;
  path: string;
  options: SegmentScanOptions;
}

type Reply =
  | { id: number; summary: WalSegmentSummary }
  | { id: number; error: { message: string; code?: string; errno?: number; syscall?: string; path?: string } };

/** Where this module is: a URL for ESM and the sources, a path for the CJS bundle. */
function moduleLocation(): { file: string; format: 'esm' | 'cjs' | 'ts' } {
  const metaUrl = (import.meta as { url?: string }).url;
  if (typeof metaUrl === 'string') {
    const file = fileURLToPath(metaUrl);
    return { file, format: /\.[cm]?ts$/.test(file) ? 'ts' : 'esm' };
  }
  return { file: __filename, format: 'cjs' };
}

function startWorker(): Worker {
  const { file, format } = moduleLocation();
  const dir = dirname(file);
  if (format === 'esm') return new Worker(new URL(pathToFileURL(join(dir, 'wal-worker.js'))));
  if (format === 'cjs') return new Worker(join(dir, 'wal-worker.cjs'));
  // Sources (vitest, tsx): load TypeScript in the worker through tsx's loader.
  const tsxApi = pathToFileURL(createRequire(file).resolve('tsx/esm/api')).href;
  const entry = pathToFileURL(join(dir, 'wal-worker.ts')).href;
  return new Worker(`import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, { eval: true });
}

function errorFromReply(error: Extract<Reply, { error: unknown }>['error']): Error {
  return Object.assign(new Error(error.message), error);
}

/** Idle workers end after this long without work (their memory goes back to the system). */
const IDLE_MS = 30_000;

interface Task {
  job: Job;
  resolve: (summary: WalSegmentSummary) => void;
  reject: (error: Error) => void;
}

/**
 * The thread's pool of worker threads that summarise segment files, one file per worker at a time.
 * It is shared by the scans of the process and grows to the largest size asked for; idle workers
 * are unref'd (they do not keep the process alive) and end after 30 s. If workers cannot start (a
 * bundler that dropped wal-worker.js, say), files are scanned in the calling thread: slower, same
 * summaries.
 */
class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Task[] = [];
  private readonly running = new Map<Worker, Task>();
  private nextId = 0;
  private broken = false;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly summarizeHere: Summarize) {}

  state(): { workers: number; broken: boolean } {
    return { workers: this.workers.length, broken: this.broken };
  }

  grow(size: number): void {
    while (!this.broken && this.workers.length < size) {
      let worker: Worker;
      try {
        worker = startWorker();
      } catch {
        this.broken = this.workers.length === 0;
        return;
      }
      worker.unref();
      worker.on('message', (reply: Reply) => this.onReply(worker, reply));
      worker.on('error', () => this.onWorkerGone(worker));
      worker.on('exit', () => this.onWorkerGone(worker));
      this.workers.push(worker);
      this.idle.push(worker);
    }
  }

  run(name: string, path: string, options: SegmentScanOptions): Promise<WalSegmentSummary> {
    if (this.broken) return this.summarizeHere(name, readFileChunks(path), options);
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, name, path, options }, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    if (this.idleTimer !== undefined) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const task = this.queue.shift()!;
      this.running.set(worker, task);
      worker.ref(); // a job in flight keeps the process alive
      worker.postMessage(task.job);
    }
    if (this.running.size === 0 && this.queue.length === 0 && this.workers.length > 0) {
      this.idleTimer = setTimeout(() => this.retire(), IDLE_MS);
      this.idleTimer.unref();
    }
  }

  private retire(): void {
    this.idleTimer = undefined;
    if (this.running.size > 0 || this.queue.length > 0) return;
    const workers = this.workers.splice(0);
    this.idle.length = 0;
    for (const worker of workers) void worker.terminate();
  }

  private onReply(worker: Worker, reply: Reply): void {
    const task = this.running.get(worker);
    if (task === undefined || task.job.id !== reply.id) return;
    this.running.delete(worker);
    worker.unref();
    this.idle.push(worker);
    if ('error' in reply) task.reject(errorFromReply(reply.error));
    else task.resolve(reply.summary);
    this.dispatch();
  }

  /** A worker failed to load or crashed: its job goes back to the queue; with no worker left, jobs run here. */
  private onWorkerGone(worker: Worker): void {
    const index = this.workers.indexOf(worker);
    if (index < 0) return; // retired, or already handled
    this.workers.splice(index, 1);
    const idleIndex = this.idle.indexOf(worker);
    if (idleIndex >= 0) this.idle.splice(idleIndex, 1);
    const task = this.running.get(worker);
    this.running.delete(worker);
    if (task !== undefined) this.queue.unshift(task);
    if (this.workers.length === 0) {
      this.broken = true;
      for (const { job, resolve, reject } of this.queue.splice(0)) {
        this.summarizeHere(job.name, readFileChunks(job.path), job.options).then(resolve, reject);
      }
    } else {
      this.dispatch();
    }
  }
}

let pool: WorkerPool | undefined;

/**
 * Runs the summaries of segment files on the shared pool, at most `size` at a time for this
 * caller, in the order they are submitted.
 */
export class SegmentPool {
  private readonly pool: WorkerPool;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly size: number,
    summarizeHere: Summarize,
  ) {
    pool ??= new WorkerPool(summarizeHere);
    this.pool = pool;
    this.pool.grow(size);
  }

  /** Waits for a free slot of this caller (bounded work in flight), then submits the file. */
  async submit(name: string, path: string, options: SegmentScanOptions): Promise<{ done: Promise<WalSegmentSummary> }> {
    while (this.inFlight >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    const done = this.pool.run(name, path, options);
    const release = (): void => {
      this.inFlight--;
      this.waiting.shift()?.();
    };
    done.then(release, release);
    return { done };
  }
}

/** How the shared pool stands (tests check that workers really ran). Internal. */
export function walWorkerPoolState(): { workers: number; broken: boolean } | undefined {
  return pool?.state();
}
