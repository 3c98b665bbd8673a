// Decode scheduling on the page side. Each lane (a caller-chosen name: one per object for clicks,
// one for hover previews) keeps at most one request waiting behind the one running: a newer
// request in the same lane replaces the waiting one, which resolves to null (superseded), so fast
// pointer movement never builds a backlog and a preview can never displace a click.

interface Waiting<T> {
  run: () => Promise<T>;
  resolve: (r: T | null) => void;
  reject: (e: unknown) => void;
}

export class Lanes<T> {
  private readonly running = new Set<string>();
  private readonly waiting = new Map<string, Waiting<T>>();

  /** Runs `run` in `lane` now, or after the lane's current request; null if superseded first. */
  submit(lane: string, run: () => Promise<T>): Promise<T | null> {
    if (this.running.has(lane) || this.waiting.has(lane)) {
      this.waiting.get(lane)?.resolve(null);
      return new Promise((resolve, reject) => this.waiting.set(lane, { run, resolve, reject }));
    }
    return this.start(lane, run);
  }

  /** Drops every waiting request (they resolve to null), e.g. when a new image comes in. */
  clear(): void {
    for (const w of this.waiting.values()) w.resolve(null);
    this.waiting.clear();
  }

  /** How many requests wait behind a running one (for tests and telemetry). */
  get pending(): number {
    return this.waiting.size;
  }

  private start(lane: string, run: () => Promise<T>): Promise<T> {
    this.running.add(lane);
    const settle = () => {
      this.running.delete(lane);
      // The next one starts after the caller has handled this result (a task later, when every
      // continuation of this promise has run), so its prompt can build on that result.
      if (this.waiting.has(lane)) setTimeout(() => this.pump(lane), 0);
    };
    return run().then(
      (r) => {
        settle();
        return r;
      },
      (e) => {
        settle();
        throw e;
      },
    );
  }

  /** Starts the lane's waiting request (the newest one submitted), if any. */
  private pump(lane: string): void {
    const next = this.waiting.get(lane);
    if (!next || this.running.has(lane)) return;
    this.waiting.delete(lane);
    this.start(lane, next.run).then(next.resolve, next.reject);
  }
}
