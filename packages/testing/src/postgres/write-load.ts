import pg from 'pg';

/** Where a {@link WriteLoad} connects: a `PostgresServer`, or a database in a pod (`PostgresPod`). */
export interface WriteTarget {
  readonly connectionConfig: pg.ClientConfig;
}

/**
 * Writers inserting one row per transaction into `t (id bigint primary key, w int, pad text)`;
 * `acked` holds [id, acknowledgement time] of every commit the server acknowledged, so a test can
 * check that a restore holds every row acknowledged before a backup's cut.
 *
 * @example
 * const load = new WriteLoad(server, { writers: 4 }).start();
 * await sleep(2000);
 * await load.stop();
 * const acked = load.ackedBefore(cutAt);
 *
 * // A lull made, not hoped for: no transaction in flight from pause() until resume().
 * await load.pause();
 * await backup();
 * load.resume();
 */
export class WriteLoad {
  static #next = 1_000_000_000;
  acked: [number, number][] = [];
  errors = 0;
  /** The last error a writer met (a lost connection, a refused commit) and when, for an assertion's message. */
  lastError: { message: string; at: number } | undefined;
  readonly writers: number;
  #stop = false;
  #paused = false;
  #resume: (() => void) | undefined;
  #resumed: Promise<void> | undefined;
  #idle = new Set<number>();
  #idleWaiters: (() => void)[] = [];
  #loops: Promise<void>[] = [];
  readonly #server: WriteTarget;
  readonly #ratePerSecond: number | undefined;

  /** `ratePerSecond`: total commits per second over all writers; default as fast as they can. */
  constructor(server: WriteTarget, options: { writers?: number; ratePerSecond?: number } = {}) {
    this.#server = server;
    this.writers = options.writers ?? 4;
    this.#ratePerSecond = options.ratePerSecond;
  }

  start(): this {
    for (let w = 0; w < this.writers; w++) this.#loops.push(this.#run(w + 1));
    return this;
  }

  async #run(w: number): Promise<void> {
    let client: pg.Client | undefined;
    const pause = this.#ratePerSecond ? (1000 * this.writers) / this.#ratePerSecond : 0;
    while (!this.#stop) {
      try {
        if (pause) await new Promise((r) => setTimeout(r, pause));
        if (this.#paused) await this.#parked(w);
        if (this.#stop) break;
        if (!client) {
          client = new pg.Client({ ...this.#server.connectionConfig, application_name: `writer-${w}` });
          client.on('error', () => undefined);
          await client.connect();
        }
        const id = WriteLoad.#next++;
        await client.query('insert into t (id, w, pad) values ($1, $2, repeat(md5($3), 4))', [id, w, String(id)]);
        this.acked.push([id, Date.now()]);
      } catch (error) {
        this.errors += 1;
        this.lastError = { message: (error as Error).message, at: Date.now() };
        await client?.end().catch(() => undefined);
        client = undefined;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await client?.end().catch(() => undefined);
  }

  /** Parks writer `w` until resume() (or stop()). */
  async #parked(w: number): Promise<void> {
    this.#idle.add(w);
    for (const wake of this.#idleWaiters.splice(0)) wake();
    await this.#resumed;
    this.#idle.delete(w);
  }

  /**
   * Stops issuing transactions and resolves once every writer is parked: no transaction of this
   * load is in flight from then until {@link resume}. Acknowledged rows stay in `acked`.
   */
  async pause(): Promise<void> {
    if (!this.#paused) {
      this.#paused = true;
      this.#resumed = new Promise<void>((resolve) => (this.#resume = resolve));
    }
    while (this.#idle.size < this.writers && !this.#stop) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Lets the writers go on after {@link pause}. */
  resume(): void {
    this.#paused = false;
    this.#resume?.();
    this.#resume = undefined;
  }

  async stop(): Promise<void> {
    this.#stop = true;
    this.resume();
    for (const wake of this.#idleWaiters.splice(0)) wake();
    await Promise.all(this.#loops);
  }

  /** Commits, errors and the last error, for an assertion's message. */
  describe(): string {
    const last = this.acked.at(-1);
    return (
      `${this.acked.length} commits acknowledged${last ? ` (the last ${Date.now() - last[1]} ms ago)` : ''}, ${this.errors} errors` +
      (this.lastError ? ` (the last ${Date.now() - this.lastError.at} ms ago: ${this.lastError.message})` : '')
    );
  }

  ackedBefore(t: number): number[] {
    return this.acked.filter(([, at]) => at < t).map(([id]) => id);
  }

  rate(from: number, to: number): number {
    return this.acked.filter(([, at]) => at >= from && at < to).length / Math.max(0.001, (to - from) / 1000);
  }
}
